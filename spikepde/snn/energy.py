"""Synaptic-operation counts and energy estimates of a spiking forward pass.

Convention (the usual one in SNN papers, e.g. the Spikformer / Spike-driven Transformer
appendices; see ``shared/research/snn_anchors.md`` §5):

* a **spike** arriving at a synapse costs one accumulate (AC): ``SOPs(ℓ) = spikes(ℓ) × fan_out(ℓ)``;
* the **first layer** sees real-valued coordinates, so it costs multiply-accumulates (MACs):
  ``in_dim × width₀`` per sample — once per sample, because the input current is constant over
  the T steps;
* the membrane update of every neuron at every step (leak multiply + add) is reported
  separately as ``neuron_updates`` and is *not* included in the energy figure (as in most
  papers; it would add ``T × Σ n_ℓ`` MACs per sample).

Energies per operation: 45 nm CMOS, 32-bit float, from M. Horowitz, "Computing's energy problem
(and what we can do about it)", ISSCC 2014: add 0.9 pJ, multiply 3.7 pJ, so **0.9 pJ per AC and
4.6 pJ per MAC**. These are compute-only *estimates*: memory traffic, which often dominates on
real hardware, is excluded (Yan et al., arXiv:2409.08290).
"""
from __future__ import annotations

from dataclasses import dataclass

from .network import SpikeStats

E_AC_PJ = 0.9   # pJ per 32-bit float accumulate, 45 nm (Horowitz 2014)
E_MAC_PJ = 4.6  # pJ per 32-bit float multiply-accumulate, 45 nm (Horowitz 2014)


@dataclass(frozen=True)
class OpCounts:
    """Operation counts *per sample* of one forward pass."""

    synaptic_ops: float       # ACs driven by spikes (hidden layers and readout)
    macs: float               # real-valued MACs (first layer)
    neuron_updates: float     # membrane updates (T × neurons), not in the energy estimate
    dense_macs: float         # MACs of the equivalent non-spiking network evaluated T times

    def energy_pj(self, e_ac: float = E_AC_PJ, e_mac: float = E_MAC_PJ) -> float:
        """Estimated compute energy per sample in picojoules."""
        return self.synaptic_ops * e_ac + self.macs * e_mac


def count_ops(stats: SpikeStats) -> OpCounts:
    """Per-sample operation counts from the spike statistics of a forward pass."""
    B = max(stats.samples, 1)
    sops = sum(s * f for s, f in zip(stats.spikes, stats.fan_out)) / B
    macs = stats.in_dim * stats.neurons[0] + stats.readout_macs
    updates = stats.T * sum(stats.neurons)
    dense = macs + stats.T * sum(n * f for n, f in zip(stats.neurons, stats.fan_out))
    return OpCounts(synaptic_ops=sops, macs=float(macs), neuron_updates=float(updates),
                    dense_macs=float(dense))


def energy_report(stats: SpikeStats) -> dict[str, float]:
    """A flat dict of spike rate, operation counts and energy (pJ per sample) for metrics files."""
    ops = count_ops(stats)
    return {
        "spike_rate": stats.mean_rate,
        "spike_rate_per_layer": stats.rates,
        "synaptic_ops_per_sample": ops.synaptic_ops,
        "macs_per_sample": ops.macs,
        "neuron_updates_per_sample": ops.neuron_updates,
        "energy_pj_per_sample": ops.energy_pj(),
        "dense_equivalent_energy_pj_per_sample": ops.dense_macs * E_MAC_PJ,
    }

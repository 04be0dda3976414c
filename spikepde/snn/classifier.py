"""The spiking classifier: a LIF MLP with batch normalisation and class-group goodness read-outs.

Layer ℓ = 1..L has weights ``W_ℓ`` (no bias), a batch normalisation without its own affine
part, a per-unit scale ``γ_ℓ`` and shift ``β_ℓ``, and integrate-and-fire neurons
(:func:`spikepde.snn.lif.lif_scan`, ``β_leak = 1``, threshold θ, reset by subtraction). With
``s_0`` the standardised input (a constant current, direct encoding) and ``s_ℓ[t]`` the spikes::

    z_ℓ[t] = W_ℓ s_{ℓ−1}[t]                        (a linear map of spikes: accumulates only)
    I_ℓ[t] = θ (γ_ℓ (z_ℓ[t] − μ_ℓ) / σ_ℓ + β_ℓ)      (μ, σ: batch statistics of z̄ = mean_t z[t]
                                                     in training, running averages in eval)
    s_ℓ    = LIF(I_ℓ)                               (spikes [T, B, n_ℓ])

In eval mode μ, σ are constants, so ``I_ℓ[t] = W'_ℓ s_{ℓ−1}[t] + b'_ℓ`` with folded weights and
the whole network *is* a :class:`spikepde.snn.network.SpikingMLP` (same neuron, same layer
code): evaluation runs that class on the folded parameters (:meth:`SpikingClassifier.folded_params`).

Read-outs: ``cwc`` groups each layer's units into C class groups and scores class k by the mean
squared rate of its group; ``hinton`` appends a label block to the input and scores every
label by the layer's mean squared rate (C passes). The overall prediction adds the per-layer
scores normalised to sum 1 over a set of layers chosen on validation data
(:func:`choose_readout`). How the weights are trained (Forward-Forward, BPTT, ADMM) lives in
:mod:`spikepde.train`; this module knows none of it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .lif import LIFConfig, lif_scan
from .network import SpikeStats, SpikingMLP

#: goodness read-outs: class groups (one pass) or the label in the input (C passes)
VARIANTS = ("cwc", "hinton")
BN_EPS = 1e-5


def largest_remainder(total: int, weights: torch.Tensor, minimum: int = 0) -> list[int]:
    """Integer sizes ``n_k ≥ minimum`` with ``Σ n_k = total`` and ``n_k − minimum ∝ weights_k``.

    Each class first gets ``minimum``; the remaining ``R = total − C·minimum`` is split as
    ``⌊R w_k / Σw⌋`` and the leftover units go to the largest fractional parts (ties: lower k).
    """
    C = len(weights)
    rest = total - C * minimum
    if rest < 0:
        raise ValueError(f"cannot give {C} groups at least {minimum} units out of {total}")
    quota = weights.double().clamp_min(0) / weights.double().clamp_min(0).sum() * rest
    base = torch.floor(quota).long()
    order = torch.argsort(-(quota - base), stable=True)
    base[order[: rest - int(base.sum())]] += 1
    return [minimum + int(b) for b in base]


def group_matrix(group_of: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``M [n, C]`` with ``M[j, k] = 1/|G_k|`` if unit j is in group k, so ``g = a² M``."""
    onehot = F.one_hot(group_of, n_classes).to(torch.float32)
    return onehot / onehot.sum(0, keepdim=True).clamp_min(1.0)


@dataclass
class SpikingClassifier:
    """A spiking MLP classifier with class-group (or label-input) goodness read-outs.

    Attributes:
        in_dim: input features (without the label block).
        widths: hidden widths.
        n_classes: C.
        T, lif: time steps and neuron parameters (shared with :class:`SpikingMLP`).
        variant: ``"cwc"`` or ``"hinton"``.
        label_strength: λ of the label block (hinton).
        params: ``layers.{i}.weight [n_i, n_{i−1}]``, ``layers.{i}.scale``, ``layers.{i}.shift``.
        buffers: ``layers.{i}.running_mean``, ``layers.{i}.running_var`` (BN running statistics).
        groups: per layer, the class group of every unit (``[n_i]`` long).
        readout: indices of the layers whose normalised goodness is summed for the prediction.
    """

    in_dim: int
    widths: tuple[int, ...]
    n_classes: int
    T: int
    lif: LIFConfig
    variant: str = "cwc"
    label_strength: float = 1.0
    params: dict[str, torch.Tensor] = field(default_factory=dict)
    buffers: dict[str, torch.Tensor] = field(default_factory=dict)
    groups: list[torch.Tensor] = field(default_factory=list)
    readout: list[int] = field(default_factory=list)

    @property
    def input_dim(self) -> int:
        """Width of the first layer's input (features plus the label block for hinton)."""
        return self.in_dim + (self.n_classes if self.variant == "hinton" else 0)

    @property
    def n_layers(self) -> int:
        return len(self.widths)

    # ------------------------------------------------------------------ construction
    def init(self, generator: torch.Generator, init_scale: float = 0.5, init_shift: float = 0.3,
             device="cpu") -> "SpikingClassifier":
        """Random weights ``U(±√(3/fan_in))``, γ = init_scale, β = init_shift, equal groups."""
        sizes = (self.input_dim,) + self.widths
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.params[f"layers.{i}.weight"] = uniform_weights((n_out, n_in), math.sqrt(3.0 / n_in), generator).to(device)
            self.params[f"layers.{i}.scale"] = torch.full((n_out,), init_scale, device=device)
            self.params[f"layers.{i}.shift"] = torch.full((n_out,), init_shift, device=device)
            self.buffers[f"layers.{i}.running_mean"] = torch.zeros(n_out, device=device)
            self.buffers[f"layers.{i}.running_var"] = torch.ones(n_out, device=device)
            equal = largest_remainder(n_out, torch.ones(self.n_classes))
            self.groups.append(torch.repeat_interleave(torch.arange(self.n_classes), torch.tensor(equal)).to(device))
        self.readout = [self.n_layers - 1]
        return self

    # ------------------------------------------------------------------ training-mode pieces
    def drive(self, i: int, s_mean: torch.Tensor, train: bool,
              momentum: float = 0.1) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Time-averaged normalised drive ``r̃ = γ (W s̄ − μ)/σ + β`` of layer i, and ``(μ, 1/σ)``.

        In training mode μ, σ² are the batch statistics of ``W s̄`` (and the running averages are
        updated without gradient); in eval mode the running averages are used.
        """
        W = self.params[f"layers.{i}.weight"]
        z = s_mean @ W.T
        if train:
            mu, var = z.mean(0), z.var(0, unbiased=False)
            with torch.no_grad():
                rm, rv = self.buffers[f"layers.{i}.running_mean"], self.buffers[f"layers.{i}.running_var"]
                rm.mul_(1 - momentum).add_(momentum * mu.detach())
                rv.mul_(1 - momentum).add_(momentum * var.detach())
        else:
            mu, var = self.buffers[f"layers.{i}.running_mean"], self.buffers[f"layers.{i}.running_var"]
        inv = torch.rsqrt(var + BN_EPS)
        r = self.params[f"layers.{i}.scale"] * (z - mu) * inv + self.params[f"layers.{i}.shift"]
        return r, (mu, inv)

    def currents(self, i: int, s_in: torch.Tensor, mu: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
        """Per-step input currents ``I[t] = θ (γ (W s[t] − μ)/σ + β)``; ``s_in`` is ``[T,B,n]`` or ``[B,n]``."""
        W = self.params[f"layers.{i}.weight"]
        z = (s_in.reshape(-1, s_in.shape[-1]) @ W.T).reshape(*s_in.shape[:-1], -1)
        gain = self.params[f"layers.{i}.scale"] * inv
        return self.lif.threshold * (gain * (z - mu) + self.params[f"layers.{i}.shift"])

    def spikes(self, currents: torch.Tensor, differentiable: bool = False) -> torch.Tensor:
        """The layer's LIF neurons (:func:`lif_scan`); constant ``[B, n]`` currents run T steps."""
        T = self.T if currents.dim() == 2 else None
        return lif_scan(currents, self.lif, T=T, differentiable=differentiable)

    # ------------------------------------------------------------------ eval mode: a SpikingMLP
    def folded_params(self) -> dict[str, torch.Tensor]:
        """Eval-mode parameters in :class:`SpikingMLP` form: ``W' = θ γ/σ · W``, ``b' = θ (β − γ μ/σ)``."""
        out = {}
        theta = self.lif.threshold
        for i in range(self.n_layers):
            inv = torch.rsqrt(self.buffers[f"layers.{i}.running_var"] + BN_EPS)
            gain = self.params[f"layers.{i}.scale"] * inv
            out[f"layers.{i}.weight"] = theta * gain[:, None] * self.params[f"layers.{i}.weight"]
            out[f"layers.{i}.bias"] = theta * (self.params[f"layers.{i}.shift"]
                                               - gain * self.buffers[f"layers.{i}.running_mean"])
        return {k: v.detach() for k, v in out.items()}

    def mlp(self) -> SpikingMLP:
        """The equivalent :class:`SpikingMLP` (its readout is unused: we read goodness instead)."""
        return SpikingMLP(self.input_dim, self.widths, out_dim=self.n_classes, T=self.T, lif=self.lif)

    @torch.no_grad()
    def layer_spikes(self, X: torch.Tensor) -> list[torch.Tensor]:
        """True LIF forward pass in eval mode: spike trains ``[T, B, n_ℓ]`` of every layer."""
        return self.mlp().hidden_spikes(self.folded_params(), X, differentiable=False)

    @torch.no_grad()
    def layer_scores(self, X: torch.Tensor, chunk: int = 1024) -> list[torch.Tensor]:
        """Per-layer class scores ``[N, C]`` from the spike rates of the true forward pass.

        ``cwc``: ``g_k = mean_{j∈G_k} r_j²`` with ``r`` the firing rates (one pass).
        ``hinton``: ``G(x, c) = mean_j r_j²`` with label c in the input (C passes).
        """
        parts = [self._scores_chunk(X[i: i + chunk]) for i in range(0, len(X), chunk)]
        return [torch.cat([p[l] for p in parts]) for l in range(self.n_layers)]

    def _scores_chunk(self, X: torch.Tensor) -> list[torch.Tensor]:
        if self.variant == "cwc":
            rates = [s.mean(0) for s in self.layer_spikes(X)]
            return [(r * r) @ group_matrix(g, self.n_classes) for r, g in zip(rates, self.groups)]
        per_label = []
        for c in range(self.n_classes):
            label = torch.full((len(X),), c, dtype=torch.long, device=X.device)
            rates = [s.mean(0) for s in self.layer_spikes(self.with_label(X, label))]
            per_label.append([(r * r).mean(1) for r in rates])
        return [torch.stack([pl[l] for pl in per_label], dim=1) for l in range(self.n_layers)]

    def with_label(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Append the label block ``λ e_y`` (hinton variant)."""
        return torch.cat([X, self.label_strength * F.one_hot(y, self.n_classes).to(X.dtype)], dim=1)

    def predict(self, X: torch.Tensor, layers: list[int] | None = None) -> torch.Tensor:
        """Overall scores ``[N, C]``: the sum of normalised goodness over ``layers`` (default: the readout)."""
        return combine_scores(self.layer_scores(X), self.readout if layers is None else layers)

    def spike_stats(self, X: torch.Tensor) -> SpikeStats:
        """Spike counts of one eval pass, for :func:`spikepde.snn.energy.energy_report`.

        The last layer's spikes each feed one goodness accumulator (fan-out 1); the hinton
        variant's C label passes are counted by the caller.
        """
        spikes = self.layer_spikes(X if self.variant == "cwc" else
                                   self.with_label(X, torch.zeros(len(X), dtype=torch.long, device=X.device)))
        return SpikeStats(spikes=[float(s.sum()) for s in spikes], neurons=list(self.widths),
                          samples=len(X), T=self.T, fan_out=list(self.widths[1:]) + [1],
                          in_dim=self.input_dim)

    # ------------------------------------------------------------------ checkpoint
    def state(self) -> dict:
        """A checkpoint dict of tensors, numbers and strings (``weights_only``-loadable)."""
        return {"in_dim": self.in_dim, "widths": list(self.widths), "n_classes": self.n_classes,
                "T": self.T, "beta": self.lif.beta, "threshold": self.lif.threshold,
                "variant": self.variant, "label_strength": self.label_strength,
                "params": {k: v.detach().clone() for k, v in self.params.items()},
                "buffers": {k: v.clone() for k, v in self.buffers.items()},
                "groups": [g.clone() for g in self.groups], "readout": list(self.readout)}

    @classmethod
    def from_state(cls, state: dict) -> "SpikingClassifier":
        """Rebuild a classifier from :meth:`state`."""
        model = cls(state["in_dim"], tuple(state["widths"]), state["n_classes"], state["T"],
                    LIFConfig(beta=state["beta"], threshold=state["threshold"], reset="subtract"),
                    state["variant"], state["label_strength"])
        model.params = {k: v.clone() for k, v in state["params"].items()}
        model.buffers = {k: v.clone() for k, v in state["buffers"].items()}
        model.groups = [g.clone() for g in state["groups"]]
        model.readout = list(state["readout"])
        return model


def combine_scores(layer_scores: list[torch.Tensor], layers: list[int]) -> torch.Tensor:
    """``Σ_{ℓ∈layers} s^ℓ / Σ_c s^ℓ_c``: per-layer scores normalised to sum 1, then added."""
    return sum(s / (s.sum(1, keepdim=True) + 1e-12) for s in (layer_scores[l] for l in layers))


def readout_candidates(n_layers: int) -> dict[str, list[int]]:
    """The layer sets the overall prediction may use: each layer, all, and all but the first."""
    cands = {f"layer{l + 1}": [l] for l in range(n_layers)}
    if n_layers > 1:
        cands["sum_all"] = list(range(n_layers))
    if n_layers > 2:
        cands["sum_2_to_L"] = list(range(1, n_layers))
    return cands


def choose_readout(layer_scores: list[torch.Tensor], y: torch.Tensor) -> tuple[str, list[int], float]:
    """The candidate layer set with the best accuracy on ``(layer_scores, y)`` (the validation split)."""
    best = None
    for name, layers in readout_candidates(len(layer_scores)).items():
        acc = float((combine_scores(layer_scores, layers).argmax(1) == y).float().mean())
        if best is None or acc > best[2]:
            best = (name, layers, acc)
    return best


def uniform_weights(shape, bound, generator) -> torch.Tensor:
    """``U(−bound, bound)`` weights drawn from ``generator`` (on the CPU)."""
    return (2 * torch.rand(shape, generator=generator) - 1) * bound

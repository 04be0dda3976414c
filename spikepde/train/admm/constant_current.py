"""ADMM of one hidden LIF layer on constant inputs, its state held per sample, not per step.

With a single hidden layer whose input is constant over time (every PDE and regression run of
depth 1) and the exact first-layer block (``first_layer="exact"``), the ``[T, B, n]`` arrays of
:class:`~spikepde.train.admm.engine.LIFADMM` carry no more than ``[B, n]`` of information:

* (v, s) is always the LIF trajectory of a constant current z (the block's own output), so
  ``v[t] − βv[t−1] + θs[t−1] = z`` at every t and the dynamics residual is ``z − Wx̂``;
* the scaled dual λ of the dynamics, a sum of those residuals, is the same at every t;
* the relaxed spikes are ``a[t] = s[t] + (ā − s̄)``: the rate ā says it all.

:class:`ConstantCurrentADMM` keeps z, λ and ā (``[B, n]`` each) and recomputes trajectories in
blocks of :func:`block_rows` samples where a sum over them is needed (rates, spike flips, residual
norms, the dual residual). Every update is the same closed form as the general engine's; the
differences are float rounding: the general engine's dynamics residual is the rounding of the
recurrence (~1e-7 RMS in float32), here it is exactly ``z − Wx̂``. Memory: about 8 ``[B, n]``
arrays and 4 ``[T, rows, n]`` blocks instead of ~13 ``[T, B, n]`` arrays.
"""
from __future__ import annotations

import math

import torch

from .blocks import last_layer_rate, last_layer_rate_metric, lif_states, violation
from .engine import LIFADMM
from .exact_block import (consistent_update, lif_pieces, relaxed_current_update, relaxed_rate,
                          relaxed_rate_nodes)
from .linalg import weight_update, with_ones

#: Entries of one ``[T, rows, n]`` block of recomputed trajectories (8 MB in float32).
BLOCK_ELEMENTS = 1 << 21


def block_rows(T: int, n: int) -> int:
    """Samples per block of recomputed trajectories: ``[T, rows, n]`` holds about
    :data:`BLOCK_ELEMENTS` entries. Why so small: a block allocated and freed many times per
    iteration above glibc's largest mmap threshold (32 MB) is mapped and unmapped every time —
    poisson1d (T = 64, 256 LIF) with 512-sample blocks (34 MB) spent 78 s of its 65 s wall time
    in the kernel; 128-sample blocks (8 MB) take it to 33 s, with 7 s in the kernel."""
    return max(16, BLOCK_ELEMENTS // max(1, T * n))


class ConstantCurrentADMM(LIFADMM):
    """:class:`LIFADMM` for one hidden layer with the exact block, state ``[B, n]`` (see the
    module docstring). ``V``, ``S``, ``A`` and ``Lam`` are rebuilt in full only when read."""

    relaxed_step = True

    def __init__(self, x, widths, T, lif, out_dim, params, cfg):
        if len(widths) != 1 or cfg.first_layer != "exact":
            raise ValueError("the constant-current engine is for one hidden layer with the exact block")
        if cfg.hidden_step not in ("exact", "relaxed"):
            raise ValueError(f"hidden_step must be 'exact' or 'relaxed', not {cfg.hidden_step!r}")
        # the relaxation's nodes come from the margin-free staircase: h̃ models the true rate
        self.rate_nodes = (relaxed_rate_nodes(lif_pieces(T, lif.beta, lif.threshold))
                           if cfg.hidden_step == "relaxed" else None)
        super().__init__(x, widths, T, lif, out_dim, params, cfg)

    def start_state(self) -> None:
        """z from the forward pass of the initial weights, λ = 0, ā = its rate, ν = 0."""
        self.current = self.x1 @ self.W[0].T
        self.lam = torch.zeros_like(self.current)
        self.a_bar = self.modelled_rate()
        self.Nu = torch.zeros_like(self.a_bar)

    def modelled_rate(self) -> torch.Tensor:
        """The rate that the relaxation ā = rate(z) ties ā to: the spike rate s̄ of z's trajectory
        (``hidden_step="exact"``), or h̃(z), the staircase's linear interpolation
        (``"relaxed"``, :func:`~spikepde.train.admm.exact_block.relaxed_rate_nodes`): on the
        staircase the current moves only when the readout's pull on the rate exceeds about half
        a level, 1/(2T); on h̃ every pull moves it, and the true LIF pass projects back to spikes."""
        if self.rate_nodes is None:
            return self.spike_rate()
        return relaxed_rate(self.current, self.rate_nodes)

    # ---------------------------------------------------------------- trajectories, in blocks
    def blocks(self, current=None):
        """``(rows, v, s)`` for consecutive blocks of samples of the trajectories of ``current``
        (default: the layer's)."""
        current = self.current if current is None else current
        step = block_rows(self.T, current.shape[1])
        for start in range(0, current.shape[0], step):
            rows = slice(start, start + step)
            v, s = lif_states(current[rows], self.lif, self.T)
            yield rows, v, s

    def spike_rate(self, current=None) -> torch.Tensor:
        """s̄ = mean_t s ``[B, n]`` (the layer's own is kept until its current is replaced: the
        sweep, the duals and the residuals all read it)."""
        own = current is None or current is self.current
        current = self.current if current is None else current
        cached = getattr(self, "_rate", None)
        if own and cached is not None and cached[0] is current:
            return cached[1]
        out = torch.empty_like(current)
        for rows, _, s in self.blocks(current):
            out[rows] = s.mean(0)
        if own:
            self._rate = (current, out)
        return out

    # ---------------------------------------------------------------- the general engine's view
    @property
    def V(self):
        return [lif_states(self.current, self.lif, self.T)[0]]

    @property
    def S(self):
        return [lif_states(self.current, self.lif, self.T)[1]]

    @property
    def A(self):
        s = self.S[0]
        return [s + (self.a_bar - s.mean(0))]

    @property
    def Lam(self):
        return [self.lam.expand(self.T, *self.lam.shape).clone()]

    def dynamics_residual(self, l: int = 0) -> torch.Tensor:
        return (self.current - self.drive(0)).expand(self.T, *self.current.shape)

    def readout_input(self) -> torch.Tensor:
        return with_ones(self.a_bar)

    # ---------------------------------------------------------------- one iteration
    def sweep_hidden(self) -> None:
        """W, (v, s) through z, and ā — the general engine's updates for one layer."""
        # E = v − βv₋ + θs₋ + λ = z + λ at every step
        self.W[0] = weight_update(self.current + self.lam, self.x1, self.ridge(self.rho, self.cfg.rho),
                                  steps=self.T)
        old = self.current
        if self.rate_nodes is None:
            self.current = consistent_update(self.drive(0) - self.lam, self.a_bar + self.Nu, self.pieces,
                                             self.rho, self.kappa, rate=True)
        else:
            self.current = relaxed_current_update(self.drive(0) - self.lam, self.a_bar + self.Nu,
                                                  self.rate_nodes, self.rho, self.kappa)
        self.last_flips = self._flips(old)
        s_bar = self.modelled_rate()
        if self.metric is not None:
            self.a_bar = last_layer_rate_metric(self.W_out, self.Z + self.Mu, s_bar, self.T,
                                                self.rho_out, self.kappa, self.metric, self.Nu)
        else:
            self.a_bar = last_layer_rate(self.W_out, self.Z + self.Mu, s_bar, self.T, self.rho_out,
                                         self.kappa, self.Nu if self.cfg.rate_dual else None)

    def _flips(self, old) -> int:
        flips = 0
        for (rows, _, s_new), (_, _, s_old) in zip(self.blocks(), self.blocks(old)):
            flips += int((s_new != s_old).sum())
        return flips

    def dual_ascent(self) -> None:
        if self.cfg.duals == "all":
            self.lam = self.lam + (self.current - self.drive(0))
        self.Mu = self.Mu + (self.Z - self.readout_input() @ self.W_out.T)
        if self.cfg.rate_dual:
            self.Nu = self.Nu + (self.a_bar - self.modelled_rate())

    def rescale_dynamics_duals(self, factor: float) -> None:
        self.lam = self.lam / factor

    # ---------------------------------------------------------------- residuals
    def residual_summary(self) -> dict:
        """The general engine's residuals (same definitions), summed block by block."""
        th, m, T = self.lif.threshold, self.margin, self.T
        drive = self.drive(0)
        offset = self.a_bar - self.modelled_rate()
        sq = {"dynamics": T * float((self.current - drive).square().sum()), "heaviside": 0.0,
              "relaxation": T * float(offset.square().sum())}
        lhs = T * float(self.current.square().sum())
        rhs = T * float(drive.square().sum())
        for rows, v, s in self.blocks():
            viol = violation(v, s, th, m)
            sq["heaviside"] += float(viol.square().sum())
            lhs += float(v.square().sum()) + float((s + offset[rows]).square().sum())
            rhs += float(viol.sub_(v).square_().sum()) + float(s.square().sum())
        entries = T * self.current.numel()
        out = self.readout_input() @ self.W_out.T
        sq["output"] = float((self.Z - out).square().sum())
        lhs += float(self.Z.square().sum())
        rhs += float(out.square().sum())
        counts = {"dynamics": entries, "heaviside": entries, "relaxation": entries, "output": self.Z.numel()}
        r2 = sum(sq.values())
        return {"primal": math.sqrt(r2 / max(1, sum(counts.values()))),
                "relative": math.sqrt(r2) / max(math.sqrt(lhs), math.sqrt(rhs), 1e-300),
                "parts": {k: math.sqrt(sq[k] / max(1, counts[k])) for k in sq}}

    def primal_parts(self) -> dict:
        raise NotImplementedError("use residual_summary (the parts are not held in full)")

    def potential_snapshot(self):
        return self.current.clone()

    def potential_change(self, snapshot) -> float:
        total = 0.0
        for (_, v_new, _), (_, v_old, _) in zip(self.blocks(), self.blocks(snapshot)):
            total += float((v_new - v_old).square().sum())
        return math.sqrt(total / max(1, self.T * self.current.numel()))

    # ---------------------------------------------------------------- checkpoints
    def state(self) -> dict:
        return {k: getattr(self, k) for k in ("W", "W_out", "current", "lam", "a_bar", "Nu", "Z", "Mu",
                                               "iteration", "rho", "rho_out", "gamma", "kappa")}


def engine_class(widths, cfg) -> type[LIFADMM]:
    """One hidden layer with the exact block keeps its state per sample
    (:class:`ConstantCurrentADMM`, T times less memory); otherwise the general engine."""
    return ConstantCurrentADMM if len(widths) == 1 and cfg.first_layer == "exact" else LIFADMM

"""The ADMM state of a LIF network on a fixed set of samples, and one iteration of its sweeps."""
from __future__ import annotations

import math

import torch

from ...snn.lif import LIFConfig
from .blocks import (last_layer_update, last_layer_update_metric, lif_states, potential_update,
                     relaxed_spike_update, spike_update, violation)
from .config import ADMMConfig
from .exact_block import consistent_update, lif_pieces
from .linalg import rms, ridge_solve, shift, weight_update, with_ones


class LIFADMM:
    """ADMM state and sweeps for a LIF MLP on a fixed set of samples (docs/methods/admm.md).

    Args:
        x: encoded inputs ``[B, d]`` (constant input current of layer 1).
        widths: hidden widths; T: steps; lif: LIF parameters (reset by subtraction).
        out_dim: readout size; params: initial ``SpikingMLP`` parameters.
        cfg: :class:`ADMMConfig`.
    """

    #: Whether the engine has the rate-relaxed hidden step (``hidden_step="relaxed"``).
    relaxed_step = False

    def __init__(self, x, widths, T, lif: LIFConfig, out_dim, params, cfg: ADMMConfig):
        if lif.reset != "subtract":
            raise ValueError("ADMM models the reset by subtraction (reset='subtract')")
        self.x, self.T, self.lif, self.cfg = x, T, lif, cfg
        self.L = len(widths)
        self.rho, self.rho_out = cfg.rho, cfg.rho_out
        self.gamma, self.kappa = cfg.gamma, cfg.kappa
        self.W = [torch.cat([params[f"layers.{i}.weight"], params[f"layers.{i}.bias"][:, None]], 1).clone()
                  for i in range(self.L)]
        self.W_out = torch.cat([params["readout.weight"], params["readout.bias"][:, None]], 1).clone()
        self.x1 = with_ones(x)
        self.start_state()
        self.Z = self.readout_input() @ self.W_out.T
        self.Mu = torch.zeros_like(self.Z)
        self.iteration = 0
        self.last_primal = self.last_dual = float("nan")
        self.last_flips = 0
        self.readout_ridge = cfg.ridge      # ε of the readout least squares (at the initial ρ_o)
        if cfg.first_layer not in ("exact", "split"):
            raise ValueError(f"first_layer must be 'exact' or 'split', not {cfg.first_layer!r}")
        if cfg.hidden_step != "exact" and not self.relaxed_step:
            raise ValueError(f"hidden_step={cfg.hidden_step!r} is for one hidden layer with first_layer='exact' "
                             "(the constant-current engine); use hidden_step='exact'")
        self.pieces = (lif_pieces(T, lif.beta, lif.threshold, self.margin)
                       if cfg.first_layer == "exact" else None)
        self.metric = None       # PhysicsMetric: the output penalty ρ_o/2‖·‖²_H (prox PDEs)

    def start_state(self) -> None:
        """Potentials and spikes of the forward pass of the initial weights, a = s, duals 0."""
        self.V, self.S = [], []
        inp = self.x1
        for l in range(self.L):
            v, s = lif_states(inp @ self.W[l].T, self.lif, self.T)
            self.V.append(v)
            self.S.append(s)
            inp = with_ones(s)
        self.A = [s.clone() for s in self.S]
        self.Lam = [torch.zeros_like(v) for v in self.V]
        self.Nu = torch.zeros_like(self.A[-1][0])    # scaled dual of the last layer's rate ā = s̄

    # ---------------------------------------------------------------- pieces
    @property
    def margin(self) -> float:
        return self.cfg.margin * self.lif.threshold

    def layer_input(self, l: int) -> torch.Tensor:
        return self.x1 if l == 0 else with_ones(self.A[l - 1])

    def drive(self, l: int) -> torch.Tensor:
        """W_l â_{l−1}[t]: ``[B, n]`` for layer 1 (constant), else ``[T, B, n]``."""
        return self.layer_input(l) @ self.W[l].T

    def dynamics_residual(self, l: int) -> torch.Tensor:
        """D_l[t] = v[t] − β v[t−1] + θ s[t−1] − W â[t]."""
        v, s = self.V[l], self.S[l]
        return v - self.lif.beta * shift(v) + self.lif.threshold * shift(s) - self.drive(l)

    def readout_input(self) -> torch.Tensor:
        return with_ones(self.A[-1].mean(0))

    def primal_parts(self) -> dict[str, torch.Tensor]:
        """The constraint violations, block by block (flattened; see :meth:`residual_summary`)."""
        th = self.lif.threshold
        parts = {"dynamics": torch.cat([self.dynamics_residual(l).flatten() for l in range(self.L)]),
                 "heaviside": torch.cat([violation(self.V[l], self.S[l], th, self.margin).flatten()
                                         for l in range(self.L)]),
                 "relaxation": torch.cat([(self.A[l] - self.S[l]).flatten() for l in range(self.L)]),
                 "output": (self.Z - self.readout_input() @ self.W_out.T).flatten()}
        return parts

    def residual_summary(self) -> dict:
        """Primal residuals in one pass over the state (the same numbers as :meth:`primal_parts`).

        ``primal``: RMS of all constraint violations, ``‖r‖₂/√p`` (p: the number of constraint
        entries, Boyd et al. 2011 §3.3.1's absolute scale); ``relative``:
        ``‖r‖₂ / max(‖lhs‖₂, ‖rhs‖₂)`` (their relative scale) with lhs/rhs per block (D)
        ``v[t] − βv[t−1] + θs[t−1]`` / ``W â[t]``, (H) v / its projection on C_s, (A) a / s,
        (O) z / ``W_o â_L``; ``parts``: the RMS of each block.
        """
        th, m, beta = self.lif.threshold, self.margin, self.lif.beta
        sq = dict.fromkeys(("dynamics", "heaviside", "relaxation", "output"), 0.0)
        n = dict.fromkeys(sq, 0)
        lhs = rhs = 0.0
        for l in range(self.L):
            v, s, a = self.V[l], self.S[l], self.A[l]
            lhs_d = v - beta * shift(v) + th * shift(s)
            drive = self.drive(l)
            drive = drive.expand_as(v) if drive.dim() == 2 else drive
            viol = violation(v, s, th, m)
            sq["dynamics"] += float(torch.sub(lhs_d, drive).square_().sum())
            sq["heaviside"] += float(viol.square().sum())
            sq["relaxation"] += float(torch.sub(a, s).square_().sum())
            for k in ("dynamics", "heaviside", "relaxation"):
                n[k] += v.numel()
            lhs += float(lhs_d.square_().sum()) + float(v.square().sum()) + float(a.square().sum())
            rhs += float(drive.square().sum()) + float(viol.sub_(v).square_().sum()) + float(s.square().sum())
        out = self.readout_input() @ self.W_out.T
        sq["output"] = float((self.Z - out).square().sum())
        n["output"] = self.Z.numel()
        lhs += float(self.Z.square().sum())
        rhs += float(out.square().sum())
        r2 = sum(sq.values())
        return {"primal": math.sqrt(r2 / max(1, sum(n.values()))),
                "relative": math.sqrt(r2) / max(math.sqrt(lhs), math.sqrt(rhs), 1e-300),
                "parts": {k: math.sqrt(sq[k] / max(1, n[k])) for k in sq}}

    def primal_residual(self) -> float:
        """RMS of all constraint violations (see :meth:`residual_summary`)."""
        return self.residual_summary()["primal"]

    def primal_residual_relative(self) -> float:
        """‖r‖₂ / max(‖lhs‖₂, ‖rhs‖₂) over all constraints (see :meth:`residual_summary`)."""
        return self.residual_summary()["relative"]

    # ---------------------------------------------------------------- one iteration
    def ridge(self, rho: float, rho0: float) -> float:
        """ε of a weight step whose penalty is now ρ: the weight decay is a fixed term of the
        objective, so relative to ρ/2‖·‖² it scales as ρ₀/ρ (floor 1e-12 for the Cholesky)."""
        return max(self.cfg.ridge * rho0 / rho, 1e-12)

    def sweep_hidden(self) -> None:
        """W_l, (v_l, s_l), a_l for l = 1..L (Gauss–Seidel order)."""
        cfg, lif = self.cfg, self.lif
        beta, th, m = lif.beta, lif.threshold, self.margin
        rho = self.rho
        flips = 0
        for l in range(self.L):
            v, s, lam = self.V[l], self.S[l], self.Lam[l]
            E = v - beta * shift(v) + th * shift(s) + lam
            self.W[l] = weight_update(E, self.layer_input(l), self.ridge(rho, cfg.rho))
            drive = self.drive(l)
            if l == 0 and self.pieces is not None:
                # exact joint block over the LIF-consistent trajectories of a constant current
                last = l == self.L - 1
                z = consistent_update(drive - lam.mean(0), self.A[l].mean(0) + self.Nu if last else self.A[l],
                                      self.pieces, rho, self.kappa, rate=last)
                self.V[l], s_new = lif_states(z, lif, self.T)
            else:
                drive = drive.expand_as(v) if drive.dim() == 2 else drive
                c = drive - th * shift(s) - lam
                self.V[l] = v = potential_update(v, c, s, beta, th, m, rho, self.gamma, cfg.active_set_iters)
                # constraint t+1 without its reset term θ s[t]
                d_next = torch.zeros_like(v)
                d_next[:-1] = v[1:] - beta * v[:-1] - drive[1:] + lam[1:]
                a_target = self.A[l] + self.Nu if l == self.L - 1 else self.A[l]
                s_new = spike_update(v, a_target, d_next, th, m, rho, self.gamma, self.kappa)
            flips += int((s_new != s).sum())
            self.S[l] = s = s_new
            if l < self.L - 1:
                vn, sn, lamn = self.V[l + 1], self.S[l + 1], self.Lam[l + 1]
                En = vn - beta * shift(vn) + th * shift(sn) + lamn
                self.A[l] = relaxed_spike_update(self.W[l + 1], En, s, rho, self.kappa)
            else:
                if self.metric is not None:
                    self.A[l] = last_layer_update_metric(self.W_out, self.Z + self.Mu, s, self.rho_out,
                                                         self.kappa, self.metric, self.Nu)
                else:
                    self.A[l] = last_layer_update(self.W_out, self.Z + self.Mu, s, self.rho_out, self.kappa,
                                                  self.Nu if self.cfg.rate_dual else None)
        self.last_flips = flips

    def readout_least_squares(self) -> None:
        eps = max(self.readout_ridge * self.cfg.rho_out / self.rho_out, 1e-14)
        if self.metric is None:
            self.W_out = weight_update((self.Z + self.Mu)[None], self.readout_input(), eps)
            return
        # W_o minimising ‖z + μ − Â w‖²_H: G = ÂᵀHÂ, rhs = (z + μ)ᵀHÂ
        G, R = self.metric.normal_equations(self.readout_input(), self.Z + self.Mu)
        self.W_out = ridge_solve(G, R, eps, f"raise admm readout_ridge (now {self.readout_ridge:g})").to(self.W_out.dtype)

    def potential_snapshot(self):
        """What :meth:`potential_change` compares the potentials after an iteration with."""
        return [v.clone() for v in self.V]

    def potential_change(self, snapshot) -> float:
        """RMS change of every membrane potential since ``snapshot`` (the dual residual's part)."""
        return rms(torch.cat([(v - w).flatten() for v, w in zip(self.V, snapshot)]))

    def output_dual(self, dZ: torch.Tensor) -> float:
        """RMS of the output part of the dual residual for a change dZ of z (ρ_o not included):
        dZ, or H dZ with the physics metric."""
        if self.metric is None:
            return rms(dZ)
        return rms(self.metric.apply(dZ.to(torch.float64)))

    def update_duals(self) -> None:
        """Dual ascent, then the penalty continuation (both after the warm start).

        Scaled duals: ``λ ← λ + r`` with the ρ the primal steps used, *then* ``λ ← λ ρ/ρ'`` when
        ρ grows to ρ' (the unscaled dual ρλ is what carries over; Boyd et al. 2011, §3.4.1).
        """
        if self.iteration <= self.cfg.warm_start:
            return
        self.dual_ascent()
        g = self.cfg.penalty_growth
        g_out = g if self.cfg.output_growth is None else self.cfg.output_growth
        if g != 1.0 and self.rho * g <= self.cfg.rho * self.cfg.penalty_max * (1 + 1e-12):
            self.rho *= g
            self.gamma *= g
            self.kappa *= g
            self.rescale_dynamics_duals(g)
            self.Nu = self.Nu / g
        if g_out != 1.0 and self.rho_out * g_out <= self.cfg.rho_out * self.cfg.penalty_max * (1 + 1e-12):
            self.rho_out *= g_out
            self.Mu = self.Mu / g_out

    def dual_ascent(self) -> None:
        """``λ ← λ + r`` on the dynamics, the output and (with the rate dual) the last rate."""
        if self.cfg.duals == "all":
            for l in range(self.L):
                self.Lam[l] = self.Lam[l] + self.dynamics_residual(l)
        self.Mu = self.Mu + (self.Z - self.readout_input() @ self.W_out.T)
        if self.cfg.rate_dual:
            self.Nu = self.Nu + (self.A[-1].mean(0) - self.S[-1].mean(0))

    def rescale_dynamics_duals(self, factor: float) -> None:
        """``λ ← λ / factor`` for a penalty ρ grown by ``factor`` (the unscaled ρλ carries over)."""
        self.Lam = [lam / factor for lam in self.Lam]

    def balance(self, primal: float, dual: float) -> None:
        """Residual balancing (Boyd et al. 2011, §3.4.1), factor 2, threshold 10."""
        if not self.cfg.balance or not (primal > 0 and dual > 0):
            return
        factor = 2.0 if primal > 10 * dual else 0.5 if dual > 10 * primal else 1.0
        if factor != 1.0:
            self.rho *= factor
            self.rho_out *= factor
            self.rescale_dynamics_duals(factor)
            self.Mu = self.Mu / factor

    def params(self, out_dim: int) -> dict[str, torch.Tensor]:
        """The weights as a ``SpikingMLP`` parameter dict."""
        p = {}
        for l, W in enumerate(self.W):
            p[f"layers.{l}.weight"] = W[:, :-1].clone()
            p[f"layers.{l}.bias"] = W[:, -1].clone()
        p["readout.weight"] = self.W_out[:, :-1].clone()
        p["readout.bias"] = self.W_out[:, -1].clone()
        return p

    def state(self) -> dict:
        return {k: getattr(self, k) for k in ("W", "W_out", "V", "S", "A", "Lam", "Nu", "Z", "Mu",
                                               "iteration", "rho", "rho_out", "gamma", "kappa")}

    def load(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, v)


def admm_iteration(engine: LIFADMM, output_step) -> tuple[float, float]:
    """One ADMM iteration; ``output_step(engine)`` updates W_out and Z. Returns (primal, dual)."""
    engine.iteration += 1
    engine.rho_used, engine.rho_out_used = engine.rho, engine.rho_out
    V_old = engine.potential_snapshot()
    Z_old = engine.Z.clone()
    engine.sweep_hidden()
    output_step(engine)
    engine.update_duals()
    summary = engine.residual_summary()
    primal = summary["primal"]
    engine.last_parts, engine.last_primal_relative = summary["parts"], summary["relative"]
    # the ρ the primal steps used (update_duals may have grown it since)
    rho, rho_out = engine.rho_used, engine.rho_out_used
    dual = rho * engine.potential_change(V_old) + rho_out * engine.output_dual(engine.Z - Z_old)
    engine.balance(primal, dual)
    engine.last_primal, engine.last_dual = primal, dual
    return primal, dual

"""The closed-form block updates of one ADMM sweep, each the exact minimiser of its sub-problem
(derivations: docs/methods/admm.md): membrane potentials, Heaviside spikes, relaxed spikes, the
last layer's rate, the output variable; and the LIF states of a forward pass."""
from __future__ import annotations

import torch

from ...snn.lif import LIFConfig, lif_scan_inplace
from .linalg import cholesky, shift, thomas


def lif_states(current: torch.Tensor, lif: LIFConfig, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Membrane potentials and spikes of a LIF layer (reset by subtraction), ``[T, B, n]`` each.

    ``current`` is ``[B, n]`` (constant over t) or ``[T, B, n]``: the network's own recurrence
    (:func:`spikepde.snn.lif.lif_scan_inplace`), keeping the membrane as well.
    """
    spikes = torch.empty((T,) + tuple(current.shape[-2:]), dtype=current.dtype, device=current.device)
    membrane = torch.empty_like(spikes)
    lif_scan_inplace(current, lif, spikes, membrane)
    return membrane, spikes


def boundary(s: torch.Tensor, theta: float, margin: float) -> torch.Tensor:
    """The nearest point of C_s's boundary: θ for a spike, θ − δ for silence."""
    return torch.where(s > 0.5, torch.full_like(s, theta), torch.full_like(s, theta - margin))


def violation(v: torch.Tensor, s: torch.Tensor, theta: float, margin: float) -> torch.Tensor:
    """Signed distance outside C_s (0 inside): ``v − P_{C_s}(v)``."""
    return torch.where(s > 0.5, (v - theta).clamp(max=0), (v - theta + margin).clamp(min=0))


def potential_objective(v, c, s, beta, theta, margin, rho, gamma) -> torch.Tensor:
    """``ρ/2 Σ_t (v[t] − β v[t−1] − c[t])² + γ/2 Σ_t dist(v[t], C_{s[t]})²`` per trajectory."""
    dyn = v - beta * shift(v) - c
    return 0.5 * rho * dyn.square().sum(0) + 0.5 * gamma * violation(v, s, theta, margin).square().sum(0)


def potential_update(v0, c, s, beta, theta, margin, rho, gamma, iters: int = 8) -> torch.Tensor:
    """Exact minimiser of :func:`potential_objective` over v (all trajectories at once).

    Active-set (semismooth Newton) iteration from ``v0``: with 𝒜 the entries outside their
    set, solve the tridiagonal ``(ρDᵀD + γ diag(1_𝒜)) v = ρDᵀc + γ 1_𝒜 p``; stop when 𝒜 is
    unchanged (then the gradient vanishes exactly).
    """
    T = v0.shape[0]
    p = boundary(s, theta, margin)
    base = torch.full_like(v0, rho * (1 + beta * beta))
    base[-1] = rho
    dtc = c.clone()
    dtc[:-1] -= beta * c[1:]
    dtc = rho * dtc
    v = v0
    active = violation(v, s, theta, margin) != 0
    for _ in range(max(1, iters)):
        g = gamma * active.to(v.dtype)
        v = thomas(-rho * beta, base + g, dtc + g * p)
        new_active = violation(v, s, theta, margin) != 0
        # entries inside the set that are exactly on the boundary stay active (no flip-flop)
        new_active = new_active | (active & (violation(v, s, theta, margin) == 0)
                                   & ((v - p).abs() < 1e-7 * max(1.0, theta)))
        if bool((new_active == active).all()):
            break
        active = new_active
    del T
    return v


def spike_costs(v, a, d_next, theta, margin, rho, gamma, kappa):
    """Costs of the two branches s = 0 and s = 1 of the Heaviside sub-problem, elementwise.

    ``d_next`` is constraint t+1 without its reset term (zeros at the last step, where no
    reset follows).
    """
    dist1 = (theta - v).clamp(min=0)
    dist0 = (v - theta + margin).clamp(min=0)
    c0 = 0.5 * gamma * dist0.square() + 0.5 * kappa * a.square() + 0.5 * rho * d_next.square()
    c1 = (0.5 * gamma * dist1.square() + 0.5 * kappa * (a - 1).square()
          + 0.5 * rho * (d_next + theta).square())
    return c0, c1


def spike_update(v, a, d_next, theta, margin, rho, gamma, kappa) -> torch.Tensor:
    """Exact minimiser of the separable binary spike sub-problem (the cheaper branch)."""
    c0, c1 = spike_costs(v, a, d_next, theta, margin, rho, gamma, kappa)
    return (c1 < c0).to(v.dtype)


def relaxed_spike_update(W_next, E_next, s, rho, kappa) -> torch.Tensor:
    """a minimising ``ρ/2 Σ‖E − W̃ a − b‖² + κ/2 Σ‖a − s‖²`` (layer feeding a hidden layer)."""
    Wt, b = W_next[:, :-1], W_next[:, -1]
    n = Wt.shape[1]
    M = rho * Wt.T @ Wt + kappa * torch.eye(n, dtype=s.dtype, device=s.device)
    rhs = rho * (E_next - b) @ Wt + kappa * s
    L = cholesky(M, "the relaxed-spike system ρW̃ᵀW̃ + κI", f"raise admm kappa (now {kappa:g})")
    return torch.cholesky_solve(rhs.reshape(-1, n).T, L).T.reshape(s.shape)


def last_layer_update(W_out, Z, s, rho_out, kappa, nu=None) -> torch.Tensor:
    """a minimising ``ρ_o/2 ‖Z − W̃_o ā − b_o‖² + κ/2 Σ_t ‖a[t] − s[t]‖²`` (ā = mean_t a).

    Split a[t] = ā + δ[t] with Σ_t δ[t] = 0: δ = s − s̄ exactly, and ā solves
    ``(ρ_o W̃_oᵀW̃_o + κT I) ā = ρ_o W̃_oᵀ(Z − b_o) + κT s̄``. Z already includes μ. With a scaled
    dual ν on the rate (``κT/2 ‖ā − s̄ + ν‖²``), s̄ − ν takes the place of s̄ in ā's equation.
    """
    s_bar = s.mean(0)
    return s + (last_layer_rate(W_out, Z, s_bar, s.shape[0], rho_out, kappa, nu) - s_bar)


def last_layer_rate(W_out, Z, s_bar, T, rho_out, kappa, nu=None) -> torch.Tensor:
    """The rate ā of :func:`last_layer_update` from the spike rate s̄ ``[B, n]`` alone."""
    Wt, b = W_out[:, :-1], W_out[:, -1]
    n = Wt.shape[1]
    target = s_bar if nu is None else s_bar - nu
    M = rho_out * Wt.T @ Wt + kappa * T * torch.eye(n, dtype=s_bar.dtype, device=s_bar.device)
    rhs = rho_out * (Z - b) @ Wt + kappa * T * target
    L = cholesky(M, "the last layer's system ρ_oW̃ᵀW̃ + κTI", f"raise admm kappa (now {kappa:g})")
    return torch.cholesky_solve(rhs.T, L).T


def last_layer_update_metric(W_out, Z, s, rho_out, kappa, metric, nu=None) -> torch.Tensor:
    """a minimising ``ρ_o/2 ‖Z − W̃_o ā − b_o‖²_H + κ/2 Σ_t ‖a[t] − s[t]‖²`` (one output).

    As in :func:`last_layer_update`, ``a[t] = s[t] + (ā − s̄)``; only ā's component along w̃
    (the readout row) enters the penalty, so ``ā = t + d w̃ᵀ/‖w̃‖²`` (t = s̄, or s̄ − ν with the
    rate dual) with d ∈ ℝ^N solving ``(ρ_o H + c I) d = ρ_o H e``, ``e = Z − b − t w̃``,
    ``c = κT/‖w̃‖²`` — an N × N system, solved through Woodbury with the eigendecomposition of
    R Rᵀ (``metric``: a :class:`~spikepde.train.admm.prox.PhysicsMetric`, H = RᵀR + δI).
    """
    s_bar = s.mean(0)
    return s + (last_layer_rate_metric(W_out, Z, s_bar, s.shape[0], rho_out, kappa, metric, nu) - s_bar)


def last_layer_rate_metric(W_out, Z, s_bar, T, rho_out, kappa, metric, nu=None) -> torch.Tensor:
    """The rate ā of :func:`last_layer_update_metric` from the spike rate s̄ ``[B, n]`` alone."""
    if W_out.shape[0] != 1:
        raise ValueError("the physics metric is for one output")
    w = W_out[0, :-1].to(torch.float64)
    target = s_bar if nu is None else s_bar - nu
    ww = float(w @ w)
    if ww == 0.0:
        return target
    e = (Z[:, 0] - W_out[0, -1]).to(torch.float64) - target.to(torch.float64) @ w
    c = kappa * T / ww
    d = metric.solve(rho_out, rho_out * metric.delta + c, rho_out * metric.apply(e))
    return target + (d[:, None] * w[None] / ww).to(s_bar.dtype)


def output_update(Y, m, mu, rho_out) -> torch.Tensor:
    """z minimising ``½‖z − Y‖² + ρ_o/2 ‖z − m + μ‖²``."""
    return (Y + rho_out * (m - mu)) / (1 + rho_out)

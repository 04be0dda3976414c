r"""ADMM training of a LIF network with closed-form block updates (``--method admm``).

No surrogate gradient and no back-propagation: every block is an exact minimiser of its
sub-problem (a least-squares solve, a banded linear solve, a two-branch comparison, or a
comparison of the pieces of the LIF response to a constant current).
Seeds: Taylor et al., ICML 2016 (arXiv:1605.02026) for the structure; Perin, Bidini, Mazzieri,
Rossi, arXiv:2505.05527 for posing LIF training this way (their update formulas could not be
read; what follows is our own derivation).

Network and notation
--------------------
Hidden layers l = 1..L of LIF neurons (leak β, threshold θ, reset by subtraction), T steps,
samples stacked along a batch axis. ``â = [a; 1]`` appends the bias input. Layer 1 receives the
encoded input x̃ as a constant current (``SpikingMLP``), layer l ≥ 2 the spikes of layer l−1.
The readout reads the last layer's rates: ``u = W_o [mean_t s_L[t]; 1]``.

Variables: weights ``W_l`` (bias as last column) and ``W_o``; membrane potentials
``v_l[t]`` ∈ ℝ; spikes ``s_l[t]`` ∈ {0, 1}; relaxed transmitted spikes ``a_l[t]`` ∈ ℝ (what
the next layer and the readout read, as Taylor's activations); outputs ``z``.

Constraints (the unrolled LIF network, v[0] = s[0] = 0)::

    (D)  v_l[t] = β v_l[t−1] − θ s_l[t−1] + W_l â_{l−1}[t]      (â_0[t] = [x̃; 1] for all t)
    (H)  s_l[t] = H(v_l[t] − θ)    ⇔   v_l[t] ∈ C_{s}:  C_1 = {v ≥ θ},  C_0 = {v ≤ θ − δ}
    (A)  a_l[t] = s_l[t]           (last layer: ā_L = mean_t s_L[t], at every t)
    (O)  z = W_o [ā_L; 1],  ā_L = mean_t a_L[t]

δ (``margin``) is 0 by default: (H) is then the Heaviside itself (closed sets), and the true
forward pass of *any* weights satisfies (D), (H), (A) exactly — the constraints can reach
zero. With δ > 0 they cannot in general: a silent step with θ − δ < v < θ is infeasible, and
moving every sample's current out of those bands with one weight vector per neuron is an
infeasible linear system for most data (measured on digits with δ = 0.05θ: the dynamics dual
grew linearly and the primal residual stalled at 1e-3).

Augmented Lagrangian (scaled duals λ on (D), μ on (O); (H) and (A) are penalties as in
Taylor, since duals on a non-convex set constraint carry no meaning)::

    ℓ(z) + ρ/2 Σ_{l,t} ‖D_l[t] + λ_l[t]‖² + γ/2 Σ dist(v_l[t], C_{s_l[t]})²
         + κ/2 Σ ‖a_l[t] − s_l[t]‖² + ρ_o/2 ‖z − W_o â_L + μ‖²

Block updates (sweep l = 1..L, then readout, output, duals), each exact:

* **W_l** (ridge least squares, time folded into the sample axis):
  ``W_l = (Σ_{t,b} e[t] â[t]ᵀ)(Σ_{t,b} â[t] â[t]ᵀ + εI)⁻¹`` with
  ``e[t] = v[t] − β v[t−1] + θ s[t−1] + λ[t]``. Both sums are Gram matrices that can be
  accumulated over batches; layer 1's constant input makes them ``(Σ_t e[t]) x̂ᵀ`` and
  ``T x̂ x̂ᵀ``. The weight decay ε/2‖W‖² is a fixed term of the objective, so relative to the
  growing ρ it is ε ρ₀/ρ (float64 Cholesky).
* **(v_1, s_1) jointly — the exact block of the constant-current layer** (``first_layer=
  "exact"``, the default). Layer 1's current is constant in t, so the trajectories that
  satisfy (H) exactly and (D) up to a constant offset are ``(v, s) = LIF(z)`` for one scalar
  current z per neuron and sample (a pre-activation in Taylor's sense; v[0] = z). The LIF
  response is piecewise constant in z (:func:`lif_pieces`: 37 pieces for T = 8, 453 for
  T = 32, each with its spike train S_p; the margin δ shortens each piece to where its silent
  steps keep v ≤ θ − δ). On this family the block objective is
  ``ρT/2 (z − m)² + κ/2 ‖a − S_p‖²`` (``m = W x̂ − mean_t λ``; for the last layer, read only
  through its rate, ``κT/2 (ā − mean_t S_p)²``), minimised on piece p by ``z = clip(m, p)``:
  :func:`consistent_update` compares the pieces and keeps the cheapest, so a spike train can
  change in one step (the split steps below cannot: all three terms of their s-cost favour the
  current spike, a coordinated (v, s) move is needed; they flipped none in 20 iterations on
  digits). (D) is then violated only by the offset z − W x̂, (H) not at all.
* **v_l** (split layers: l ≥ 2, time-varying input, or ``first_layer="split"``; per neuron
  and sample, over t): minimise
  ``ρ/2 Σ_t (v[t] − β v[t−1] − c[t])² + γ/2 Σ_t dist(v[t], C_{s[t]})²`` with
  ``c[t] = W â[t] − θ s[t−1] − λ[t]``. The objective is convex and C¹ (dist² of a convex set);
  for a fixed active set 𝒜 (entries outside their set) it is the quadratic with normal
  equations ``(ρ DᵀD + γ diag(1_𝒜)) v = ρ Dᵀc + γ diag(1_𝒜) p`` (D: lower bidiagonal with 1,
  −β; p: the nearest boundary, θ or θ − δ) — tridiagonal, solved by the Thomas algorithm.
  The active set is iterated to a fixed point (a semismooth Newton method, exact when it
  stops: the gradient ``ρ Dᵀ(Dv − c) + γ (v − P_C(v))`` then vanishes).
* **s_l** (split layers; exact Heaviside sub-problem, separable given v and a): for each
  entry compare
  ``cost(s) = γ/2 dist(v[t], C_s)² + κ/2 (a[t] − s)² + ρ/2 (d[t+1] + θ s)²`` for s = 0 and
  s = 1, where ``d[t+1] = v[t+1] − β v[t] − W â[t+1] + λ[t+1]`` is constraint t+1 without
  its reset term (the reset's effect on the next step); keep the cheaper.
* **a_l**, l < L: ``(ρ W̃ᵀW̃ + κ I) a[t] = ρ W̃ᵀ(e_{l+1}[t] − b_{l+1}) + κ s[t]`` (W̃ = W_{l+1}
  without its bias column) — one n×n solve for all (t, b). For the last layer only the mean
  enters (O): ``a[t] = s[t] + (ā − s̄)`` with
  ``(ρ_o W̃_oᵀW̃_o + κ T I) ā = ρ_o W̃_oᵀ(z + μ − b_o) + κ T s̄``.
  **Target of the last hidden layer** (Taylor's choice): it is this ā — derived from the
  readout and the output variable z.
* **W_o**: ridge least squares of ``z + μ`` on ``[ā_L; 1]`` (classification, regression), or
  the physics least squares below (PDEs).
* **z**: ``ℓ(z) = ½‖z − Y‖²`` (one-hot Y for classification, data for regression):
  ``z = (Y + ρ_o (m − μ)) / (1 + ρ_o)``, m = W_o â_L.
* **Duals**: ``λ ← λ + D`` (if ``duals="all"``), ``μ ← μ + (z − m)``, after ``warm_start``
  iterations (Taylor's warm start).
* **Penalty continuation** (after the warm start, with the duals): ρ, ρ_o, γ, κ ← τ·(…) with
  τ = ``penalty_growth`` = 2, until ρ reaches ``penalty_max`` = 1e6 times its start; the
  scaled duals are divided by τ *after* their update (``λ ← (λ + r)/τ``: the unscaled dual ρλ
  carries over, Boyd et al. 2011 §3.4.1 — dividing before the update, as an earlier version
  did, leaves a residual that does not vanish). Nonconvex ADMM reaches feasibility with an
  increasing penalty (Wang, Yin & Zeng 2019 need ρ above a threshold set by the Lipschitz
  constants; the continuation gets there without knowing it): the relative weight of the loss
  falls, and the iterate settles on a point of the constraint set. Since the joint block makes
  (D), (H), (A) satisfiable by the forward pass, that point exists.

Residuals (:meth:`LIFADMM.residual_summary`): **primal** = RMS of all constraint violations,
``‖r‖₂/√p`` over the p entries of (D), (H) as dist, (A), (O) (Boyd et al. 2011 §3.3.1's
absolute scale); **relative** primal = ``‖r‖₂ / max(‖lhs‖₂, ‖rhs‖₂)`` (their relative scale:
per block (D) ``v − βv₋ + θs₋`` / ``Wâ``, (H) v / P_C(v), (A) a / s, (O) z / ``W_o â``); the
RMS of each block; dual = ``ρ·RMS(Δv) + ρ_o·RMS(Δz)`` (``RMS(HΔz)`` with the physics metric H below; s = ρAᵀBΔz, with the ρ the step used;
it grows with the continuation unless the iterate stops moving). The reductions reported are
first ADMM iterate → last. **Residual balancing** (``balance=True``, Boyd §3.4.1): if
primal > 10·dual, ρ, ρ_o ← 2ρ, 2ρ_o (scaled duals ÷ 2); if dual > 10·primal, ρ ← ρ/2 (duals × 2).

Defaults: ρ = 1, ρ_o = 1, γ = 10 (Taylor's re-implementation's β = 1, γ = 10), κ = 1, δ = 0,
ε = 1e-8 (relative to the mean Gram diagonal), warm start 3 iterations, duals on all dynamics
constraints, τ = 2 up to 1e6, no balancing. Measured on digits (1295 images, 256 LIF, T = 8,
20 iterations, ``benchmarks/admm.py``): primal 6.6e-3 → 2.2e-8 (3e5×; relative residual
2.3e-3 → 7.4e-9), halving with every doubling of the penalties, where the old split block with
δ = 0.05θ stalled at 9e-4 (7×). The hidden layer learns nothing, though: not one spike moved
in those 20 iterations. The readout pull reaches the spikes only through
``ā − s̄ ≈ ρ_o W̃_oᵀ(z + μ − W_o â)/(κT)``, of order 1e-3, while moving to another piece needs
|ā − s̄| ≳ 1/(2T) = 0.06 (with ε = 1e-4, an earlier default, about 1e3 spikes per iteration
moved — all from the weight decay's drift of W, none from the loss). A smaller κ lets the pull
through, but the readout then fits relaxed rates the true pass does not produce: κ = 0.01
moved 100–700 spikes per iteration, left the residual where it started (0.99×) and fell to
86.9 % test (89.7 % at the iterate chosen on validation), against 92.2 % / 94.2 % with κ = 1.
ADMM here is a closed-form trainer of the readout on fixed spiking features.

Physics-informed readout (linear PDEs; Picard for nonlinear ones)
-----------------------------------------------------------------
With the hidden weights fixed, the network output ``u = Φ w`` (Φ = [rates, 1] of the TRUE
LIF pass) is linear in the readout w. The PDE residual ``r = N[u]`` is linearised at the
current iterate u_k: ``r ≈ r(F_k) + Σ_α J_α (F_α − F_{k,α})`` with ``J_α = ∂r/∂F_α``
(forward-mode jvp on the residual *expression*, not on the network). For a linear PDE this is
exact. ``linearisation="picard"`` (the default for nonlinear residuals) drops J_0, the
dependence on u itself, keeping u frozen at u_k where it multiplies a derivative: for Burgers
``u_t + u u_x − ν u_xx`` becomes ``u_t + u_k u_x − ν u_xx``. ``"newton"`` keeps J_0
(Gauss–Newton).

Two forms of the PDE rows:

* ``strong``: rows ``Σ_α J_α ∂^α Φ`` at the collocation points with the feature jets of
  ``SpikingMLP.forward_jet`` (surrogate Taylor-mode derivatives). The true rates are piecewise
  constant in x, and the surrogate derivatives are not the derivatives of those values, so the
  rows are inconsistent with the evaluated field; on poisson1d (256 LIF, T = 8) it reaches a
  relative L2 of only 0.45.
* ``weak`` (default where it applies: box domain, constant coefficients, derivative order ≤ 3):
  minimum-residual least squares in a dual norm. For cubic B-spline test functions ψ_k
  compactly supported in the box, ``⟨L u, ψ_k⟩ = ⟨u, L*ψ_k⟩`` (no boundary terms) with
  ``L* ψ = Σ_α (−1)^{|α|} J_α ∂^α ψ`` — every derivative falls on the smooth ψ, the network is
  only integrated. Minimising ``gᵀ M⁻¹ g`` with ``g_k = ⟨u, L*ψ_k⟩ − ⟨f, ψ_k⟩`` and
  ``M_kl = ⟨L*ψ_k, L*ψ_l⟩`` equals ``‖P_V (u − u*)‖²_{L²}``, the L² error projected on
  V = span{L*ψ_k}; the conditions (rows of true values on their points) fix the rest. It is
  whitened by the Cholesky factor of M, so it is an ordinary least squares again. Integrals
  use a midpoint tensor grid (8(K+3) points in 1-D, 2(K+3) per axis in 2-D: on heat1d
  4(K+3) gave the same error, 3.39e-2, at twice the memory). K = 400 in 1-D, 40 per axis in
  2-D, 10 per axis in 3-D (:func:`weak_sizes`; heat2d's (x, y, t) with 40 would be a
  64000 × 64000 Gram, 33 GB; with 10: 1000 tests, 26³ = 17576 quadrature points, 1.5 GB for
  the default network). Before allocating, the trainer estimates its large arrays
  (:func:`memory_estimate`) and refuses a run above ``memory_limit_gb`` (default 3/4 of the
  RAM, at most 8 GB) with a one-line error naming the setting to lower; a singular or
  non-finite linear system, or an allocation that fails anyway, is also reported in one line
  (:class:`spikepde.errors.ConfigurationError`, exit code 2 in the CLI).

Conditions give rows of their own, linearised by Newton whatever the PDE's linearisation
(they are linear in u; Picard's freezing of u would drop a Dirichlet row: burgers' readout
then ignored its initial and boundary values and returned u ≈ 0, relative L2 1.0). A pointwise
condition gives one row per point; a ``periodic`` one samples pairs (n points on the min face,
then their partners) and gives ``n·(1 + derivatives)`` rows, the differences of the features
(or of their jets ∂_x^k) at the paired points (:func:`condition_linear_map`).

For PDEs in the weak form whose conditions read only values of u (``pde_output="prox"``, the
default where it applies: poisson1d, poisson2d, heat1d, heat2d, advection1d, …) the ADMM is the
same as for classification with the physics loss as ℓ: the samples are the quadrature grid and
the condition points, the loss of the values z there is ``ℓ(z) = ½‖R z − y‖²`` (R: the
whitened weak rows and the condition rows acting on values, :meth:`PDEReadout.value_rows`;
``R Φ`` is exactly the readout rows of features Φ), and its prox is a linear solve
(:class:`QuadraticProx`, Woodbury on the small ``RRᵀ``). Three choices make this run honest
*and* convergent:

* **Taylor's start** (``pde_start="forward"``, the default): v, s, a from the forward pass of
  the initial weights, the readout as initialised, z from the physics term (the prox of ℓ at
  the initial network's output), all duals zero. The primal residual starts at the violation
  of (O) and must be driven down by the iterations.
* **The output penalty in ℓ's own metric** (``output_metric="physics"``, :class:`PhysicsMetric`):
  ``ρ_o/2 ‖z − W_o â + μ‖²_H`` with ``H = RᵀR + δI`` (δ = ``metric_floor``·‖RᵀR‖₂ = 1e-6·…),
  ρ_o = 1. The z-step becomes ``((1 + ρ_o)RᵀR + ρ_oδ I) z = Rᵀy + ρ_o H c`` and W_o the least
  squares of z + μ in H's norm (the physics least squares plus δ times the L² fit), the last
  layer's ā-step an N × N system solved by Woodbury (:func:`last_layer_update_metric`). In the
  Euclidean metric ρ_o must match the stiffest curvature of ℓ, and the curvatures of ℓ on the
  features span ~1e6 (poisson1d, 256 LIF, T = 64: singular values of R Q, Q an orthonormal
  basis of the features, from 0.20 to 3.8e-4); a readout-only model of that ADMM (fixed true
  features, 256 iterations, ρ_o from 1 to 1e-3 times the curvature, with and without
  continuation) ended at relative errors 0.55–0.99 — and the full run from the initialised
  readout at 1.0 after 16 iterations. In H's metric every direction of ℓ moves by the same
  fraction ρ_o/(1 + ρ_o) and the readout-only model reaches the physics least squares' error
  in about 10 iterations.
* **ρ_o fixed, a dual on the last layer's rate** (``output_growth=1``, ``rate_dual=True``, the
  defaults with the metric): ρ, γ, κ grow after the warm start as for classification, ρ_o
  does not — growing it shrinks the loss's weight and froze z before the optimum (poisson1d,
  T = 64: relative error stalled at 7.5e-2 after 14 iterations). Without a dual on ā = s̄
  the multiplier of (O) keeps ā away from the true rates by O(∇ℓ/κ), and the readout, fitted
  to ā, is read by the true network through s̄ (poisson1d, 96 LIF, T = 8: the training loss of
  the true network rose from 1.1e-2 to 0.3 in 12 iterations); with ν on ā = s̄ (ν ← ν + ā − s̄,
  rescaled with κ) the readout reads the true rates at convergence.

Measured (``benchmarks/admm.py``; 256 LIF, one layer): poisson1d, T = 64, 12 iterations:
primal residual 3.5e-4 → 6.1e-7 (579×, floored by the float32 rounding of the dynamics
constraints, ~1e-6 RMS), relative L2 5.68e-3 at the iterate chosen by training loss (10);
poisson2d, T = 32: 5.1e-4 → 3.7e-7 (1.4e3×), 6.32e-2; heat1d, T = 32: 1.2e-4 → 2.1e-7 (576×),
3.39e-2. The old start
(``pde_start="physics"``: the physics least squares readout of the initial features, whose
forward pass is feasible, so the residual starts at rounding level and has nothing to lose)
reaches the same errors at once. The iterate kept is the one with the lowest training loss ℓ
of the true network (never the reference error).

Otherwise (``pde_output="pinned"``: strong form, Burgers by Picard, derivative conditions)
the readout is the physics least squares on the TRUE features, and z is pinned to that
solution u_k (ℓ is the indicator of that target).

Evaluation always runs the true LIF forward pass of the learned weights (``SpikingMLP``).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..snn.lif import LIFConfig
from ..snn.network import SpikingMLP
from .base import Trainer


# ======================================================================== configuration
@dataclass
class ADMMConfig:
    """Penalties and options (see the module docstring for their roles)."""

    rho: float = 1.0            # dynamics constraints (D)
    rho_out: float = 1.0        # output constraint (O)
    gamma: float = 10.0         # Heaviside consistency (H) of the split layers
    kappa: float = 1.0          # relaxed spikes a = s (A)
    margin: float = 0.0         # δ/θ: a silent neuron sits at least δ below threshold (0: the exact Heaviside)
    ridge: float = 1e-8         # ε of the weight least squares, relative to the Gram diagonal (at the initial ρ)
    warm_start: int = 3         # iterations before the duals and the penalties move
    duals: str = "all"          # "all": λ on (D) and μ on (O); "output": μ only (Taylor)
    balance: bool = False       # residual balancing of ρ, ρ_o
    first_layer: str = "exact"  # "exact": joint (v, s) block of the constant-current layer; "split"
    active_set_iters: int = 8   # semismooth-Newton passes of the v-step (split layers)
    pde_form: str = "auto"      # "weak" | "strong" | "auto"
    linearisation: str = "auto"  # "picard" | "newton" | "auto"
    test_per_axis: int = 0      # weak form: B-splines per axis (0: automatic)
    quad_per_axis: int = 0      # weak form: midpoint points per axis (0: automatic)
    readout_ridge: float = 1e-10
    hidden_updates: bool = True  # run the hidden-layer ADMM sweeps on PDE tasks
    pde_output: str = "auto"     # "prox": physics loss as the output step; "pinned"; "auto"
    pde_start: str = "forward"   # prox: "forward" (Taylor: forward pass, z from the physics term), "physics", "network"
    penalty_growth: float = 2.0  # ρ, ρ_o, γ, κ ← growth·(…) each iteration after the warm start
    output_growth: float | None = None  # growth of ρ_o alone (None: penalty_growth; 1 with the physics metric)
    penalty_max: float = 1e6     # cap of that growth, as a multiple of the initial penalties
    memory_limit_gb: float = 0.0  # refuse runs estimated above this (0: 3/4 of the RAM, at most 8 GB)
    output_metric: str = "auto"  # prox PDEs: "physics" (penalty ‖·‖²_H, H = RᵀR + δI) | "euclidean"; "auto": physics
    metric_floor: float = 1e-6   # δ of H relative to ‖RᵀR‖₂
    rate_dual: bool | None = None  # a dual ν on the last layer's rate ā = s̄ (None: with the physics metric)


def _rms(x: torch.Tensor) -> float:
    return float(x.square().mean().sqrt()) if x.numel() else 0.0


def lif_states(current: torch.Tensor, lif: LIFConfig, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Membrane potentials and spikes of a LIF layer (reset by subtraction), ``[T, B, n]`` each.

    ``current`` is ``[B, n]`` (constant over t) or ``[T, B, n]``; the same recurrence as
    :func:`spikepde.snn.lif.lif_scan`, returning v as well.
    """
    v_prev = s_prev = None
    vs, ss = [], []
    for t in range(T):
        i_t = current if current.dim() == 2 else current[t]
        v = i_t if v_prev is None else lif.beta * v_prev - lif.threshold * s_prev + i_t
        s = (v >= lif.threshold).to(v.dtype)
        vs.append(v)
        ss.append(s)
        v_prev, s_prev = v, s
    return torch.stack(vs), torch.stack(ss)


def _shift(x: torch.Tensor) -> torch.Tensor:
    """x[t−1] with x[−1] = 0 along the time axis 0."""
    return torch.cat([torch.zeros_like(x[:1]), x[:-1]])


def _with_one(a: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, torch.ones_like(a[..., :1])], dim=-1)


def cholesky(M: torch.Tensor, what: str, advice: str) -> torch.Tensor:
    """Cholesky factor of a matrix that should be positive definite; otherwise a one-line
    :class:`~spikepde.errors.ConfigurationError` naming the system and the setting to change
    (instead of a LinAlgError traceback)."""
    from ..errors import ConfigurationError

    if not bool(torch.isfinite(M).all()):
        raise ConfigurationError(f"ADMM: {what} ({M.shape[0]}×{M.shape[1]}) has non-finite entries "
                                 f"(the iterate diverged): {advice}")
    L, info = torch.linalg.cholesky_ex(M)
    if int(info) != 0:
        raise ConfigurationError(f"ADMM: {what} ({M.shape[0]}×{M.shape[1]}) is singular or too "
                                 f"ill-conditioned to factorise (pivot {int(info)}): {advice}")
    return L


def _is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or any(k in text for k in ("can't allocate memory", "not enough memory",
                                                                    "out of memory", "failed to allocate"))


def user_facing_errors(fn):
    """Turn the failures a user can cause by the settings — a singular or ill-conditioned linear
    system (``torch.linalg.LinAlgError``), an allocation that does not fit — into a one-line
    :class:`~spikepde.errors.ConfigurationError` saying what to change (the CLI prints it and
    exits 2). Other errors pass unchanged."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..errors import ConfigurationError, SpikePDEError

        try:
            return fn(*args, **kwargs)
        except SpikePDEError:
            raise
        except torch.linalg.LinAlgError as exc:
            raise ConfigurationError(f"ADMM: a linear system is singular or too ill-conditioned "
                                     f"({str(exc).splitlines()[0] if str(exc) else 'LinAlgError'}): raise admm "
                                     "ridge or readout_ridge, or lower --width") from exc
        except (MemoryError, RuntimeError) as exc:
            if not _is_out_of_memory(exc):
                raise
            raise ConfigurationError("ADMM ran out of memory: lower --width, --T or the samples (admm "
                                     "quad_per_axis / test_per_axis for the weak form, --interior-points "
                                     "otherwise), or lower admm memory_limit_gb so that the estimate "
                                     "refuses such runs up front") from exc
    return wrapper


def ridge_solve(G: torch.Tensor, R: torch.Tensor, ridge: float, advice: str | None = None) -> torch.Tensor:
    """``R (G + εI)⁻¹`` for a Gram matrix G (ε relative to G's mean diagonal) by Cholesky.

    Solved in float64 whatever the working precision (the matrices are only (n_in+1)²)."""
    dtype = R.dtype
    G, R = G.to(torch.float64), R.to(torch.float64)
    eps = ridge * float(G.diagonal().mean().clamp_min(1e-30))
    L = cholesky(G + eps * torch.eye(G.shape[0], dtype=G.dtype, device=G.device),
                 "the Gram matrix of a weight least squares",
                 advice or f"raise admm ridge (now {ridge:g} of the mean diagonal)")
    return torch.cholesky_solve(R.T, L).T.to(dtype)


# ======================================================================== block updates
def weight_update(E: torch.Tensor, A_in: torch.Tensor, ridge: float) -> torch.Tensor:
    """W minimising ``Σ_{t,b} ‖E[t,b] − W Â[t,b]‖² + ε‖W‖²`` (Â has the bias column).

    E is ``[T, B, n_out]``; A_in is ``[T, B, n_in+1]`` or ``[B, n_in+1]`` (constant over t).
    """
    dtype = E.dtype
    E, A_in = E.to(torch.float64), A_in.to(torch.float64)
    if A_in.dim() == 2:
        T = E.shape[0]
        G = T * (A_in.T @ A_in)
        R = E.sum(0).T @ A_in
    else:
        a = A_in.reshape(-1, A_in.shape[-1])
        G = a.T @ a
        R = E.reshape(-1, E.shape[-1]).T @ a
    return ridge_solve(G, R, ridge).to(dtype)


def thomas(lower: float, diag: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve the symmetric tridiagonal systems with off-diagonal ``lower`` along axis 0.

    ``diag`` and ``rhs`` are ``[T, ...]``; returns x with ``lower x[t−1] + diag[t] x[t] +
    lower x[t+1] = rhs[t]``. Stable here: the matrix ρDᵀD + γ diag(·) is positive definite.
    """
    T = diag.shape[0]
    c_prime, d_prime = [], []
    for t in range(T):
        if t == 0:
            denom = diag[0]
            c_prime.append(lower / denom)
            d_prime.append(rhs[0] / denom)
        else:
            denom = diag[t] - lower * c_prime[-1]
            c_prime.append(lower / denom)
            d_prime.append((rhs[t] - lower * d_prime[-1]) / denom)
    x = [None] * T
    x[-1] = d_prime[-1]
    for t in range(T - 2, -1, -1):
        x[t] = d_prime[t] - c_prime[t] * x[t + 1]
    return torch.stack(x)


def boundary(s: torch.Tensor, theta: float, margin: float) -> torch.Tensor:
    """The nearest point of C_s's boundary: θ for a spike, θ − δ for silence."""
    return torch.where(s > 0.5, torch.full_like(s, theta), torch.full_like(s, theta - margin))


def violation(v: torch.Tensor, s: torch.Tensor, theta: float, margin: float) -> torch.Tensor:
    """Signed distance outside C_s (0 inside): ``v − P_{C_s}(v)``."""
    return torch.where(s > 0.5, (v - theta).clamp(max=0), (v - theta + margin).clamp(min=0))


def potential_objective(v, c, s, beta, theta, margin, rho, gamma) -> torch.Tensor:
    """``ρ/2 Σ_t (v[t] − β v[t−1] − c[t])² + γ/2 Σ_t dist(v[t], C_{s[t]})²`` per trajectory."""
    dyn = v - beta * _shift(v) - c
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
    T = s.shape[0]
    Wt, b = W_out[:, :-1], W_out[:, -1]
    n = Wt.shape[1]
    s_bar = s.mean(0) if nu is None else s.mean(0) - nu
    M = rho_out * Wt.T @ Wt + kappa * T * torch.eye(n, dtype=s.dtype, device=s.device)
    rhs = rho_out * (Z - b) @ Wt + kappa * T * s_bar
    L = cholesky(M, "the last layer's system ρ_oW̃ᵀW̃ + κTI", f"raise admm kappa (now {kappa:g})")
    a_bar = torch.cholesky_solve(rhs.T, L).T
    return s + (a_bar - s.mean(0))


def last_layer_update_metric(W_out, Z, s, rho_out, kappa, metric: "PhysicsMetric", nu=None) -> torch.Tensor:
    """a minimising ``ρ_o/2 ‖Z − W̃_o ā − b_o‖²_H + κ/2 Σ_t ‖a[t] − s[t]‖²`` (one output).

    As in :func:`last_layer_update`, ``a[t] = s[t] + (ā − s̄)``; only ā's component along w̃
    (the readout row) enters the penalty, so ``ā = t + d w̃ᵀ/‖w̃‖²`` (t = s̄, or s̄ − ν with the
    rate dual) with d ∈ ℝ^N solving ``(ρ_o H + c I) d = ρ_o H e``, ``e = Z − b − t w̃``,
    ``c = κT/‖w̃‖²`` — an N × N system, solved through Woodbury with the eigendecomposition of
    R Rᵀ (H = RᵀR + δI).
    """
    T = s.shape[0]
    if W_out.shape[0] != 1:
        raise ValueError("the physics metric is for one output")
    w = W_out[0, :-1].to(torch.float64)
    target = s.mean(0) if nu is None else s.mean(0) - nu
    ww = float(w @ w)
    if ww == 0.0:
        return s + (target - s.mean(0))
    e = (Z[:, 0] - W_out[0, -1]).to(torch.float64) - target.to(torch.float64) @ w
    c = kappa * T / ww
    d = metric.solve(rho_out, rho_out * metric.delta + c, rho_out * metric.apply(e))
    a_bar = target + (d[:, None] * w[None] / ww).to(s.dtype)
    return s + (a_bar - s.mean(0))


def output_update(Y, m, mu, rho_out) -> torch.Tensor:
    """z minimising ``½‖z − Y‖² + ρ_o/2 ‖z − m + μ‖²``."""
    return (Y + rho_out * (m - mu)) / (1 + rho_out)


# ======================================================================== exact (v, s) block
@functools.lru_cache(maxsize=32)
def _lif_pieces_cached(T: int, beta: float, theta: float, margin: float):
    c = [sum(beta ** k for k in range(t + 1)) for t in range(T)]   # ∂v[t]/∂z on a piece

    def pattern(z: float) -> tuple:
        v = s = 0.0
        out = []
        for _ in range(T):
            v = beta * v - theta * s + z
            s = 1.0 if v >= theta else 0.0
            out.append(s)
        return tuple(out)

    def resets(P, t):   # Σ_{k<t} β^{t−1−k} P[k]: accumulated reset in v[t]
        return sum(beta ** (t - 1 - k) * P[k] for k in range(t))

    lo, pats = [-math.inf], [tuple([0.0] * T)]
    while not all(pats[-1]):
        P = pats[-1]
        # on this piece v[t] = c_t z − θ q_t grows with z; the next breakpoint is where the first
        # silent entry reaches θ
        nxt = min(theta * (1 + resets(P, t)) / c[t] for t in range(T) if P[t] == 0.0)
        step = 1e-13
        Q = pattern(nxt * (1 + step) + step)
        while Q == P:            # rounding at the breakpoint: look a little further
            step *= 10
            Q = pattern(nxt * (1 + step) + step)
        lo.append(nxt)
        pats.append(Q)
    hi = lo[1:] + [math.inf]
    up = []
    for p, P in enumerate(pats):
        # margin: silent entries must stay at v ≤ θ − δ, i.e. z ≤ (θ − δ + θ q_t)/c_t
        u = min([(theta - margin + theta * resets(P, t)) / c[t] for t in range(T) if P[t] == 0.0] + [hi[p]])
        up.append(u)
    return lo, up, pats


def lif_pieces(T: int, beta: float, theta: float, margin: float = 0.0, dtype=torch.float64):
    """The spike trains of a LIF neuron (reset by subtraction) driven by a constant current z.

    The response is piecewise constant in z: returns ``(lo, up, patterns)`` with ``patterns[p]``
    ``[P, T]`` the spike train for every z in ``[lo[p], hi[p])`` (``hi[p] = lo[p+1]``;
    ``lo[0] = −∞``, the last piece, all ones, runs to +∞). ``up[p] ≤ hi[p]`` is the end of the
    part of the piece where every silent step also keeps the margin, ``v[t] ≤ θ − δ``
    (``up = hi`` for δ = 0; a piece with ``up < lo`` cannot keep the margin at all). Exact: on a
    piece ``v[t] = c_t z − θ q_t`` with ``c_t = Σ_{k≤t} β^k`` and q_t the decayed resets, so the
    next breakpoint is ``min_t θ(1 + q_t)/c_t`` over the silent steps; a sweep from z = −∞ visits
    every piece (T = 8: 37 pieces, T = 32: 453 for β = 0.9).
    """
    lo, up, pats = _lif_pieces_cached(int(T), float(beta), float(theta), float(margin))
    return (torch.tensor(lo, dtype=dtype), torch.tensor(up, dtype=dtype), torch.tensor(pats, dtype=dtype))


def consistent_update(m: torch.Tensor, a: torch.Tensor, pieces, rho: float, kappa: float,
                      rate: bool = False, window: int = 8, chunk_elements: int = 1 << 21) -> torch.Tensor:
    """The exact joint (v, s) block of a constant-current layer: the current z ``[B, n]``.

    Over the LIF-consistent trajectories (v, s) = LIF(z) — (H) exact, (D) up to the constant
    offset z − Wx̂ — the block objective ``ρ/2 Σ_t (z − m)² + κ/2 Σ_t (a[t] − s[t])²`` is, on
    piece p, ``ρT/2 (z − m)² + κ/2 ‖a − S_p‖²``: minimised by ``z = clip(m, piece p)``; the
    cheapest piece is kept. ``z`` is kept 64 machine epsilons (relative) inside its piece, so
    that the forward pass in the working precision reproduces S_p.
    ``m``: ``[B, n]`` (the drive W x̂ minus the mean scaled dual); ``a``: ``[T, B, n]``.

    ``rate=True`` (the last hidden layer, read only through its rate): the relaxation is on the
    rate, ``κT/2 (ā − mean_t S_p)²`` with ``a`` the rate ā ``[B, n]``. Then the pieces within
    ``window`` of m's own piece are evaluated first; with C* the best of them, a piece further
    out costs at least ``ρT/2 dist(m, piece)² ≥ C*`` when the window spans ``m ± √(2C*/(ρT))``,
    and the entries where it does not are evaluated over every piece — still exact.
    Otherwise every piece is evaluated (``a·S_p`` for all p is one matrix product).
    """
    lo, up, P = pieces
    T = P.shape[1]
    lo, up, P = lo.to(m.dtype), up.to(m.dtype), P.to(m.dtype)
    pad = 64 * torch.finfo(m.dtype).eps * torch.clamp(torch.maximum(lo.abs(), up.abs()).nan_to_num(posinf=1.0), min=1.0)
    lo_in = torch.where(torch.isfinite(lo), lo + pad, lo)
    up_in = torch.where(torch.isfinite(up), up - pad, up)
    inf = torch.tensor(math.inf, dtype=m.dtype)
    sq = P.sum(1)                                      # ‖S_p‖²
    rates = P.mean(1)
    mf = m.reshape(-1)
    af = a.reshape(-1) if rate else a.reshape(T, -1)

    def costs(mm, lo_c, up_c, fit):
        zc = torch.minimum(torch.maximum(mm, lo_c), up_c)
        cost = 0.5 * rho * T * (zc - mm).square() + 0.5 * kappa * fit
        return zc, torch.where(up_c >= lo_c, cost, inf)

    def full(rows: torch.Tensor) -> torch.Tensor:
        res = torch.empty(rows.numel(), dtype=m.dtype)
        step = max(1, chunk_elements // max(1, P.shape[0]))
        for i in range(0, rows.numel(), step):
            r = rows[i:i + step]
            mm = mf[r, None]
            fit = T * (af[r, None] - rates).square() if rate else sq - 2 * (af[:, r].T @ P.T)
            zc, cost = costs(mm, lo_in, up_in, fit)
            res[i:i + step] = torch.gather(zc, 1, cost.argmin(1, keepdim=True))[:, 0]
        return res

    n_p = P.shape[0]
    if not rate or n_p <= 2 * window + 1:
        return full(torch.arange(mf.numel())).reshape(m.shape)
    out = torch.empty_like(mf)
    hi = torch.cat([lo[1:], inf[None]])
    todo = []
    step = max(1, chunk_elements // (2 * window + 1))
    offsets = torch.arange(-window, window + 1)
    for i in range(0, mf.numel(), step):
        mm = mf[i:i + step]
        own = torch.searchsorted(lo, mm.contiguous(), right=True) - 1
        start = (own - window).clamp(0, n_p - 2 * window - 1)
        idx = start[:, None] + offsets + window                       # [N, 2W+1]
        zc, cost = costs(mm[:, None], lo_in[idx], up_in[idx], T * (af[i:i + step, None] - rates[idx]).square())
        best, k = cost.min(1, keepdim=True)
        out[i:i + step] = torch.gather(zc, 1, k)[:, 0]
        reach = (2 * best[:, 0] / (rho * T)).sqrt()
        left_ok = (start == 0) | (mm - lo[start] >= reach)
        right_ok = (start + 2 * window == n_p - 1) | (hi[start + 2 * window] - mm >= reach)
        bad = ~(left_ok & right_ok)
        if bool(bad.any()):
            todo.append(bad.nonzero()[:, 0] + i)
    if todo:
        rows = torch.cat(todo)
        out[rows] = full(rows)
    return out.reshape(m.shape)


# ======================================================================== the ADMM engine
class LIFADMM:
    """ADMM state and sweeps for a LIF MLP on a fixed set of samples (see module docstring).

    Args:
        x: encoded inputs ``[B, d]`` (constant input current of layer 1).
        widths: hidden widths; T: steps; lif: LIF parameters (reset by subtraction).
        out_dim: readout size; params: initial ``SpikingMLP`` parameters.
        cfg: :class:`ADMMConfig`.
    """

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
        self.x1 = _with_one(x)
        self.V, self.S = [], []
        inp = self.x1
        for l in range(self.L):
            cur = inp @ self.W[l].T
            v, s = lif_states(cur, lif, T)
            self.V.append(v)
            self.S.append(s)
            inp = _with_one(s)
        self.A = [s.clone() for s in self.S]
        self.Lam = [torch.zeros_like(v) for v in self.V]
        self.Nu = torch.zeros_like(self.A[-1][0])    # scaled dual of the last layer's rate ā = s̄
        self.Z = _with_one(self.A[-1].mean(0)) @ self.W_out.T
        self.Mu = torch.zeros_like(self.Z)
        self.iteration = 0
        self.last_primal = self.last_dual = float("nan")
        self.last_flips = 0
        self.readout_ridge = cfg.ridge      # ε of the readout least squares (at the initial ρ_o)
        if cfg.first_layer not in ("exact", "split"):
            raise ValueError(f"first_layer must be 'exact' or 'split', not {cfg.first_layer!r}")
        self.pieces = (lif_pieces(T, lif.beta, lif.threshold, self.margin)
                       if cfg.first_layer == "exact" else None)
        self.metric = None       # PhysicsMetric: the output penalty ρ_o/2‖·‖²_H (prox PDEs)

    # ---------------------------------------------------------------- pieces
    @property
    def margin(self) -> float:
        return self.cfg.margin * self.lif.threshold

    def layer_input(self, l: int) -> torch.Tensor:
        return self.x1 if l == 0 else _with_one(self.A[l - 1])

    def drive(self, l: int) -> torch.Tensor:
        """W_l â_{l−1}[t]: ``[B, n]`` for layer 1 (constant), else ``[T, B, n]``."""
        return self.layer_input(l) @ self.W[l].T

    def dynamics_residual(self, l: int) -> torch.Tensor:
        """D_l[t] = v[t] − β v[t−1] + θ s[t−1] − W â[t]."""
        v, s = self.V[l], self.S[l]
        return v - self.lif.beta * _shift(v) + self.lif.threshold * _shift(s) - self.drive(l)

    def readout_input(self) -> torch.Tensor:
        return _with_one(self.A[-1].mean(0))

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
            lhs_d = v - beta * _shift(v) + th * _shift(s)
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
            E = v - beta * _shift(v) + th * _shift(s) + lam
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
                c = drive - th * _shift(s) - lam
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
                En = vn - beta * _shift(vn) + th * _shift(sn) + lamn
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
        # W_o minimising ‖z + μ − Â w‖²_H: G = ÂᵀHÂ = (RÂ)ᵀ(RÂ) + δ ÂᵀÂ, rhs = ÂᵀH(z + μ)
        A = self.readout_input().to(torch.float64)
        HA = self.metric.apply(A)
        G = A.T @ HA
        R = (self.Z + self.Mu).to(torch.float64).T @ HA
        self.W_out = ridge_solve(G, R, eps, f"raise admm readout_ridge (now {self.readout_ridge:g})").to(self.W_out.dtype)

    def output_dual(self, dZ: torch.Tensor) -> float:
        """RMS of the output part of the dual residual for a change dZ of z (ρ_o not included):
        dZ, or H dZ with the physics metric."""
        if self.metric is None:
            return _rms(dZ)
        return _rms(self.metric.apply(dZ.to(torch.float64)))

    def update_duals(self) -> None:
        """Dual ascent, then the penalty continuation (both after the warm start).

        Scaled duals: ``λ ← λ + r`` with the ρ the primal steps used, *then* ``λ ← λ ρ/ρ'`` when
        ρ grows to ρ' (the unscaled dual ρλ is what carries over; Boyd et al. 2011, §3.4.1).
        """
        if self.iteration <= self.cfg.warm_start:
            return
        if self.cfg.duals == "all":
            for l in range(self.L):
                self.Lam[l] = self.Lam[l] + self.dynamics_residual(l)
        self.Mu = self.Mu + (self.Z - self.readout_input() @ self.W_out.T)
        if self.cfg.rate_dual:
            self.Nu = self.Nu + (self.A[-1].mean(0) - self.S[-1].mean(0))
        g = self.cfg.penalty_growth
        g_out = g if self.cfg.output_growth is None else self.cfg.output_growth
        if g != 1.0 and self.rho * g <= self.cfg.rho * self.cfg.penalty_max * (1 + 1e-12):
            self.rho *= g
            self.gamma *= g
            self.kappa *= g
            self.Lam = [lam / g for lam in self.Lam]
            self.Nu = self.Nu / g
        if g_out != 1.0 and self.rho_out * g_out <= self.cfg.rho_out * self.cfg.penalty_max * (1 + 1e-12):
            self.rho_out *= g_out
            self.Mu = self.Mu / g_out

    def balance(self, primal: float, dual: float) -> None:
        """Residual balancing (Boyd et al. 2011, §3.4.1), factor 2, threshold 10."""
        if not self.cfg.balance or not (primal > 0 and dual > 0):
            return
        factor = 2.0 if primal > 10 * dual else 0.5 if dual > 10 * primal else 1.0
        if factor != 1.0:
            self.rho *= factor
            self.rho_out *= factor
            self.Lam = [lam / factor for lam in self.Lam]
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
    V_old = [v.clone() for v in engine.V]
    Z_old = engine.Z.clone()
    engine.sweep_hidden()
    output_step(engine)
    engine.update_duals()
    summary = engine.residual_summary()
    primal = summary["primal"]
    engine.last_parts, engine.last_primal_relative = summary["parts"], summary["relative"]
    # the ρ the primal steps used (update_duals may have grown it since)
    rho, rho_out = engine.rho_used, engine.rho_out_used
    dual = rho * _rms(torch.cat([(v - w).flatten() for v, w in zip(engine.V, V_old)])) \
        + rho_out * engine.output_dual(engine.Z - Z_old)
    engine.balance(primal, dual)
    engine.last_primal, engine.last_dual = primal, dual
    return primal, dual


# ======================================================================== classification
def _supervised_output_step(Y):
    def step(engine: LIFADMM):
        engine.readout_least_squares()
        m = engine.readout_input() @ engine.W_out.T
        engine.Z = output_update(Y, m, engine.Mu, engine.rho_out)
    return step


@user_facing_errors
def train_classifier(X_train, y_train, X_val, y_val, *, hidden: int | tuple = 256, T: int = 8,
                     seed: int = 0, iterations: int = 30, quiet: bool = False,
                     beta: float = 0.9, threshold: float = 1.0, admm: ADMMConfig | None = None,
                     target_scale: float = 1.0, X_test=None, y_test=None):
    """Train a LIF classifier by ADMM (full batch); evaluation with the true LIF pass.

    Args:
        X_train, X_val: ``[N, ...]`` arrays (flattened; standardise them first).
        y_train, y_val: integer labels.
        hidden: width (or widths) of the hidden LIF layer(s).
        T: time steps; iterations: ADMM iterations.
        X_test, y_test: optional, for the convergence curve only (not used in any choice).
    Returns:
        ``(predict_fn, history, extra_metrics)``: ``predict_fn(X) -> scores [N, C]`` (a float64
        tensor; true LIF
        forward pass of the learned weights, rate readout); ``history`` holds the convergence
        curves; the readout weights of the iteration with the best validation accuracy are kept.
    """
    dtype = torch.float64
    widths = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    Xtr = torch.as_tensor(np.asarray(X_train), dtype=dtype).reshape(len(X_train), -1)
    Xva = torch.as_tensor(np.asarray(X_val), dtype=dtype).reshape(len(X_val), -1)
    ytr = torch.as_tensor(np.asarray(y_train), dtype=torch.long)
    yva = np.asarray(y_val)
    C = int(max(int(ytr.max()), int(yva.max())) + 1)
    Y = torch.nn.functional.one_hot(ytr, C).to(dtype) * target_scale
    lif = LIFConfig(beta=beta, threshold=threshold)
    net = SpikingMLP(Xtr.shape[1], widths, out_dim=C, T=T, lif=lif)
    gen = torch.Generator().manual_seed(seed)
    params = net.init_params(gen, dtype=dtype)
    cfg = admm or ADMMConfig()
    engine = LIFADMM(Xtr, widths, T, lif, C, params, cfg)
    engine.readout_least_squares()   # start from the best readout of the initial features

    def predict(p, X):
        X = torch.as_tensor(np.asarray(X.cpu() if torch.is_tensor(X) else X), dtype=dtype).reshape(len(X), -1)
        with torch.no_grad():
            return net.forward(p, X, differentiable=False)

    def accuracy(p, X, y):
        return float((predict(p, X).argmax(1).numpy() == np.asarray(y)).mean())

    history = {k: [] for k in ("iteration", "primal_residual", "primal_residual_relative", "dual_residual",
                               "objective", "train_metric", "test_metric", "val_metric", "spike_flips",
                               "rho", "time")}
    step = _supervised_output_step(Y)
    best = (-1.0, engine.params(C), 0)
    t0 = time.perf_counter()
    for k in range(1, iterations + 1):
        primal, dual = admm_iteration(engine, step)
        p = engine.params(C)
        train_acc, val_acc = accuracy(p, Xtr, ytr.numpy()), accuracy(p, Xva, yva)
        scores = predict(p, Xtr)
        history["iteration"].append(k)
        history["primal_residual"].append(primal)
        history["primal_residual_relative"].append(engine.last_primal_relative)
        history["dual_residual"].append(dual)
        history["spike_flips"].append(engine.last_flips)
        history["rho"].append(engine.rho_used)
        history["objective"].append(float(0.5 * (scores - Y).square().sum(1).mean()))
        history["train_metric"].append(train_acc)
        history["val_metric"].append(val_acc)
        history["test_metric"].append(accuracy(p, X_test, y_test) if X_test is not None else float("nan"))
        history["time"].append(time.perf_counter() - t0)
        if val_acc > best[0]:
            best = (val_acc, p, k)
        if not quiet:
            print(f"admm {k:3d}  primal {primal:.3e} (relative {engine.last_primal_relative:.2e})  dual {dual:.3e}  "
                  f"flips {engine.last_flips}  train {train_acc:.4f}  val {val_acc:.4f}")
    best_params = best[1]
    extra = {"admm_best_iteration": best[2], "admm_val_accuracy": best[0],
             "admm_primal_reduction": (history["primal_residual"][0] / max(history["primal_residual"][-1], 1e-300)
                                       if history["primal_residual"] else float("nan")),
             "admm_primal_reduction_relative": (history["primal_residual_relative"][0]
                                                / max(history["primal_residual_relative"][-1], 1e-300)
                                                if history["primal_residual"] else float("nan")),
             "admm_config": dataclasses.asdict(cfg), "admm_hidden": list(widths), "admm_T": T}
    return (lambda X: predict(best_params, X)), history, extra


# ======================================================================== PDE rows
def _bspline(s: torch.Tensor, order: int) -> torch.Tensor:
    """Uniform cubic B-spline centred at 0 (support [−2, 2]) and its derivatives up to 3."""
    a = s.abs()
    sg = torch.sign(s)
    zero = torch.zeros_like(s)
    if order == 0:
        return torch.where(a < 1, 2 / 3 - a ** 2 + a ** 3 / 2, torch.where(a < 2, (2 - a) ** 3 / 6, zero))
    if order == 1:
        return sg * torch.where(a < 1, -2 * a + 1.5 * a ** 2, torch.where(a < 2, -(2 - a) ** 2 / 2, zero))
    if order == 2:
        return torch.where(a < 1, -2 + 3 * a, torch.where(a < 2, 2 - a, zero))
    if order == 3:
        return sg * torch.where(a < 1, torch.full_like(s, 3.0), torch.where(a < 2, -torch.ones_like(s), zero))
    raise ValueError("cubic B-splines give derivatives up to order 3")


def linearise(residual_fn, X, fields_k, mode: str):
    """Coefficients J_α = ∂r/∂F_α at the fields ``fields_k`` and the offset of the linear model.

    ``r(F) ≈ offset + Σ_α J_α F_α``. Forward-mode jvp of the residual *expression* (pointwise
    algebra of the fields), one per multi-index. ``mode="picard"`` freezes u (drops J_0).
    """
    keys = list(fields_k)
    zero = tuple(0 for _ in keys[0])
    r_k = residual_fn(X, fields_k)
    J = {}
    for a in keys:
        tangent = {b: (torch.ones_like(fields_k[b]) if b == a else torch.zeros_like(fields_k[b])) for b in keys}
        _, j = torch.func.jvp(lambda F: residual_fn(X, F), (fields_k,), (tangent,))
        J[a] = j
    if mode == "picard":
        J[zero] = torch.zeros_like(J[zero])
    offset = r_k - sum(J[a] * fields_k[a] for a in keys)
    return J, offset


def weak_sizes(d: int, cfg: ADMMConfig) -> tuple[int, int]:
    """B-splines and midpoint quadrature points per axis of the weak form in d dimensions.

    Defaults: 400 and 8(K+3) in 1-D; 40 and 2(K+3) in 2-D; 10 and 2(K+3) in 3-D and above
    (10³ = 1000 test functions and 26³ = 17576 quadrature points, the samples of the ADMM
    state: 40 per axis, the 2-D default, would be a 64000 × 64000 Gram matrix, 33 GB).
    """
    K = cfg.test_per_axis or {1: 400, 2: 40}.get(d, 10)
    Mq = cfg.quad_per_axis or (8 * (K + 3) if d == 1 else 2 * (K + 3))
    return int(K), int(Mq)


def memory_limit_bytes(cfg: ADMMConfig) -> float:
    """``cfg.memory_limit_gb`` in bytes; 0: 3/4 of the physical memory, at most 8 GB."""
    if cfg.memory_limit_gb > 0:
        return cfg.memory_limit_gb * 2 ** 30
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 16 * 2 ** 30
    return min(8 * 2 ** 30, 0.75 * ram)


def memory_estimate(*, d: int, form: str, output: str, tests_per_axis: int, quad_per_axis: int,
                    samples: int, condition_rows: int, condition_points: int, widths, T: int,
                    itemsize: int) -> dict[str, float]:
    """Bytes of the large arrays of an ADMM PDE/regression run, by part (an estimate).

    ``weak Gram``: the Gram matrix of L*ψ over the K^d test functions, its Cholesky factor and
    a Kronecker temporary (float64). ``value rows``: the whitened rows R on values (test
    functions and condition rows × quadrature and condition points, float64; built from
    Kronecker products, a few copies alive) and the eigendecomposition of R Rᵀ. ``weak rows``:
    the features on the quadrature grid and their projections (pinned output). ``ADMM state``:
    v, s, a, λ and the previous v of every layer, plus the temporaries of one layer's sweep,
    ``[T, samples, width]`` in the working precision (measured ≈ 13 such arrays for one layer).
    ``weights``: the weights, their Gram matrices and Cholesky factors (float64).
    Measured on heat2d (defaults: 2 × 64 LIF, T = 8, 10 test functions and 26 quadrature points
    per axis): estimate 1.44 GB, peak RSS during training 1.48 GB above the imports.
    """
    parts = {}
    n_tests = tests_per_axis ** d if form == "weak" else 0
    n_quad = quad_per_axis ** d if form == "weak" else 0
    n_feat = max(widths) + 1
    if form == "weak":
        parts["weak Gram"] = 3.0 * n_tests ** 2 * 8
        if output == "prox":
            rows, cols = n_tests + condition_rows, n_quad + condition_points
            parts["value rows"] = 4.0 * rows * cols * 8 + 3.0 * rows * rows * 8
        else:
            parts["weak rows"] = 4.0 * n_quad * n_feat * 8 + 3.0 * n_tests * n_feat * 8 \
                + 6.0 * T * n_quad * max(widths) * itemsize
    parts["ADMM state"] = float(T * samples * itemsize * (5 * sum(widths) + 8 * max(widths)))
    fan = [(n_in + 1) * n for n_in, n in zip((d,) + tuple(widths[:-1]), widths)]
    parts["weights"] = 6.0 * 8 * sum(fan)
    return parts


def condition_linear_map(cond, X, fields_k):
    """A condition's residual as an affine map of the fields: ``r(F) ≈ offset + Σ_α J_α F_α``.

    ``J_α`` is a ``[n_residuals, n_points]`` matrix (Newton linearisation at ``fields_k``; the
    conditions of the catalogue are linear, so it is exact). A pointwise condition (Dirichlet,
    initial, Neumann, operator: one residual per point) has diagonal ``J_α`` (forward-mode jvp
    of the expression, :func:`linearise`). A ``periodic`` condition is not pointwise: its
    ``2n`` points are n points on the min face and then their partners, and its residual has
    ``n·(1 + derivatives)`` entries, the differences ``F_α[:n] − F_α[n:]`` for each derivative α
    — so ``J_α`` has rows ``[… 1 … | … −1 …]``, and the readout rows of features Φ are the
    differences of the features at the paired points. Any other non-pointwise condition is
    handled the same way, with the full Jacobian (``torch.func.jacfwd``).
    """
    keys = list(fields_k)
    r_k = cond.residual(X, fields_k)
    n = X.shape[0]
    if getattr(cond, "kind", None) != "periodic" and r_k.shape[0] == n:
        J, offset = linearise(cond.residual, X, fields_k, "newton")
        return {a: torch.diag(J[a]) for a in keys}, offset
    J = torch.func.jacfwd(lambda F: cond.residual(X, F))(dict(fields_k))
    offset = r_k - sum(J[a] @ fields_k[a] for a in keys)
    return {a: J[a] for a in keys}, offset


class PDEReadout:
    """The physics-informed least squares for the readout (see the module docstring).

    ``rows(net, params, u_fields)`` returns (A, y) with the readout ``w = [W_o, b]`` solving
    ``min ‖A w − y‖²``.
    """

    def __init__(self, compiled, objective, cfg: ADMMConfig, setup: bool = True):
        self.compiled, self.objective, self.cfg = compiled, objective, cfg
        self.d = len(compiled.input_names)
        self.zero = (0,) * self.d
        self.nonlinear = self._is_nonlinear()
        lin = cfg.linearisation
        self.mode = ("picard" if self.nonlinear else "newton") if lin == "auto" else lin
        form = cfg.pde_form
        self.form = ("weak" if self._weak_applies() else "strong") if form == "auto" else form
        self.tests_per_axis, self.quad_per_axis = weak_sizes(self.d, cfg)
        if setup:
            self.setup()

    def setup(self) -> None:
        """Build the weak form's Gram matrix and test functions (the memory-heavy part)."""
        if self.form == "weak":
            self._setup_weak()

    # ------------------------------------------------------------ analysis of the operator
    def _probe(self, X, scale):
        g = torch.Generator().manual_seed(1234)
        F = {a: scale * torch.randn(X.shape[0], generator=g, dtype=X.dtype) for a in self.compiled.derivatives}
        return F

    def _residual(self, X, F):
        return self.compiled.residual(X, F)[0]

    def _is_nonlinear(self) -> bool:
        X = self.objective.points.interior[:64]
        J1, _ = linearise(self._residual, X, self._probe(X, 1.0), "newton")
        J2, _ = linearise(self._residual, X, self._probe(X, 3.0), "newton")
        return any(not torch.allclose(J1[a], J2[a], rtol=1e-6, atol=1e-9) for a in J1)

    def _weak_applies(self) -> bool:
        problem = self.compiled.problem
        if self.nonlinear or getattr(problem, "excluded", None) or self.compiled.n_residuals != 1:
            return False
        if any(max(a) > 3 for a in self.compiled.derivatives):
            return False
        X = self.objective.points.interior
        J, _ = linearise(self._residual, X, self._probe(X, 1.0), "newton")
        # constant up to the rounding of the working precision (float32: ~1e-8 relative)
        tol = 1e-5 if X.dtype == torch.float32 else 1e-10
        return all(float(j.std()) <= tol * (1 + float(j.abs().mean())) for j in J.values())

    # ------------------------------------------------------------ weak form
    def _setup_weak(self):
        c = self.compiled
        d = self.d
        K, Mq = self.tests_per_axis, self.quad_per_axis
        dtype = c.dtype
        lo, hi = c.lower.to(torch.float64), c.upper.to(torch.float64)
        axes = [(torch.arange(Mq, dtype=torch.float64) + 0.5) / Mq * (hi[i] - lo[i]) + lo[i] for i in range(d)]
        self.quad_axes = axes
        self.Xq = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d).to(dtype)
        self.wq = float(torch.prod(hi - lo)) / self.Xq.shape[0]
        self.volume = float(torch.prod(hi - lo))
        # 1-D test functions per axis and derivative order: [Mq, K]
        self.B = []
        for i in range(d):
            h = (hi[i] - lo[i]) / (K + 3)
            centres = lo[i] + (torch.arange(K, dtype=torch.float64) + 2) * h
            s = (axes[i][:, None] - centres[None]) / h
            self.B.append({o: _bspline(s, o) / h ** o for o in range(4)})
        X = self.objective.points.interior
        J, offset = linearise(self._residual, X, self._probe(X, 1.0), "newton")
        self.coef = {a: float(j.mean()) for a, j in J.items() if abs(float(j.mean())) > 1e-14}
        # L*ψ as a list of (coefficient, per-axis orders); Gram M of L*ψ by separability
        terms = [((-1) ** sum(a) * cf, a) for a, cf in self.coef.items()]
        M = 0
        for c1, a1 in terms:
            for c2, a2 in terms:
                G = None
                for i in range(d):
                    g = (self.B[i][a1[i]].T * (hi[i] - lo[i]) / len(axes[i])) @ self.B[i][a2[i]]
                    G = g if G is None else torch.kron(G, g)
                M = M + c1 * c2 * G
        self.terms = terms
        jitter = 1e-12 * float(M.diagonal().mean())
        self.chol = cholesky(M + jitter * torch.eye(M.shape[0], dtype=M.dtype), "the weak form's Gram matrix of L*ψ",
                             f"lower admm test_per_axis (now {K}) or raise quad_per_axis (now {Mq})")
        Fq0 = {a: torch.zeros(self.Xq.shape[0], dtype=dtype) for a in c.derivatives}
        r0 = self._residual(self.Xq, Fq0).to(torch.float64)          # = −f on the grid
        self.rhs = -self._project(r0[:, None])[:, 0]                  # ⟨f, ψ_k⟩

    def _project(self, G: torch.Tensor, orders=None) -> torch.Tensor:
        """⟨G_j, ∂^orders ψ_k⟩ for grid values G ``[Q, m]`` → ``[K^d, m]`` (separable)."""
        d = self.d
        orders = orders or (0,) * d
        shape = [len(a) for a in self.quad_axes] + [G.shape[1]]
        T = G.reshape(shape)
        for i in range(d):
            T = torch.tensordot(T, self.B[i][orders[i]], dims=([0], [0]))   # moves axis to the end
            T = T.movedim(-1, -1)
        # after d contractions the axes are [m, K_1, ..., K_d]
        return (T.reshape(G.shape[1], -1).T) * self.wq

    def _weak_rows(self, features: torch.Tensor):
        """Whitened weak rows for grid features ``[Q, m]``."""
        A = 0
        for cf, orders in self.terms:
            A = A + cf * self._project(features, orders)
        A = torch.linalg.solve_triangular(self.chol, A, upper=False)
        y = torch.linalg.solve_triangular(self.chol, self.rhs[:, None], upper=False)[:, 0]
        scale = self.cfg_weight() / math.sqrt(self.volume)
        return A * scale, y * scale

    def cfg_weight(self) -> float:
        return math.sqrt(self.objective.pde_weight)

    # ------------------------------------------------------------ rows on values (prox output)
    def conditions_are_values(self) -> bool:
        """Every condition reads u only (Dirichlet, initial values): its rows act on values."""
        return all([tuple(a) for a in cond.derivatives] == [self.zero] for cond in self.compiled.conditions)

    def value_condition_points(self) -> list[torch.Tensor]:
        return list(self.objective.points.conditions)

    def value_rows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(R, y)`` with the readout rows equal to ``R`` applied to the values of u.

        Columns: the quadrature grid, then the points of each condition. ``R Φ`` equals the
        (A of :meth:`rows`) for features Φ on those points (float64): the whitened weak rows
        ``C⁻¹ Σ_terms c · (⊗_i B_iᵀ) w_q`` (separable, Kronecker products of the per-axis
        B-spline matrices), then the condition rows ``diag(w J_0)`` with offsets.
        """
        if self.form != "weak" or not self.conditions_are_values():
            raise ValueError("value rows need the weak form and value-only conditions")
        Rw = 0
        for cf, orders in self.terms:
            M = None
            for i in range(self.d):
                Bi = self.B[i][orders[i]].T
                M = Bi if M is None else torch.kron(M, Bi)
            Rw = Rw + cf * M
        Rw = torch.linalg.solve_triangular(self.chol, Rw * self.wq, upper=False)
        yw = torch.linalg.solve_triangular(self.chol, self.rhs[:, None], upper=False)[:, 0]
        scale = self.cfg_weight() / math.sqrt(self.volume)
        blocks_R, blocks_y = [Rw * scale], [yw * scale]
        c = self.compiled
        for cond, Xc in zip(c.conditions, self.objective.points.conditions):
            fields = self._zero_fields(Xc, cond.derivatives)
            w = math.sqrt(float(cond.weight) / max(1, cond.residual(Xc, fields).shape[0]))
            J, offset = condition_linear_map(cond, Xc, fields)
            blocks_R.append(w * J[self.zero].to(torch.float64))      # [residuals, points]
            blocks_y.append(-w * offset.to(torch.float64))
        n = [b.shape[1] for b in blocks_R]
        R = torch.zeros(sum(b.shape[0] for b in blocks_R), sum(n), dtype=torch.float64)
        r0 = c0 = 0
        for b in blocks_R:
            R[r0:r0 + b.shape[0], c0:c0 + b.shape[1]] = b
            r0, c0 = r0 + b.shape[0], c0 + b.shape[1]
        return R, torch.cat(blocks_y)

    # ------------------------------------------------------------ rows
    def rows(self, net: SpikingMLP, params, u_params):
        """(A, y) of the readout least squares at the current hidden weights.

        ``u_params``: the current full parameters (the linearisation point u_k).
        """
        n = net.widths[-1]
        fnet = dataclasses.replace(net, out_dim=n)
        fparams = dict(params)
        fparams["readout.weight"] = torch.eye(n, dtype=params["readout.weight"].dtype)
        fparams["readout.bias"] = torch.zeros(n, dtype=params["readout.weight"].dtype)
        blocks = []
        c = self.compiled
        X = self.objective.points.interior
        if self.form == "weak":
            with torch.no_grad():
                F = _with_one(fnet.features(fparams, self.Xq, differentiable=False)).to(torch.float64)
            A, y = self._weak_rows(F)
            blocks.append((A.to(X.dtype), y.to(X.dtype)))
        else:
            blocks.append(self._strong_rows(fnet, fparams, net, u_params, X,
                                            lambda X_, F: self._residual(X_, F), c.derivatives,
                                            math.sqrt(self.objective.pde_weight / X.shape[0])))
        for cond, Xc in zip(c.conditions, self.objective.points.conditions):
            w = math.sqrt(float(cond.weight) / max(1, cond.residual(Xc, self._zero_fields(Xc, cond.derivatives)).shape[0]))
            blocks.append(self._strong_rows(fnet, fparams, net, u_params, Xc, cond,
                                            [tuple(a) for a in cond.derivatives], w))
        A = torch.cat([b[0] for b in blocks])
        y = torch.cat([b[1] for b in blocks])
        return A, y

    def _zero_fields(self, X, indices):
        return {tuple(a): torch.zeros(X.shape[0], dtype=X.dtype) for a in indices}

    def _strong_rows(self, fnet, fparams, net, u_params, X, residual_fn, indices, weight):
        """Rows ``Σ_α J_α ∂^α[Φ, 1]`` (feature jets through ``forward_jet``; plain values when
        only u is read).

        ``residual_fn``: the PDE residual (pointwise, linearised by ``self.mode``) or a
        :class:`CompiledCondition` (linearised by Newton, :func:`condition_linear_map`: a
        condition is linear in u, and Picard's freezing of u would drop a Dirichlet row)."""
        indices = [tuple(a) for a in indices]
        with torch.no_grad():
            if indices == [self.zero]:
                jets = {self.zero: fnet.features(fparams, X, differentiable=False)}
                fields_k = {self.zero: net.forward(u_params, X, differentiable=False)}
            else:
                jets = fnet.forward_jet(fparams, X, indices)
                jets = {a: v.reshape(v.shape[0], -1) for a, v in jets.items()}   # [N, n] also for n = 1
                fields_k = {a: v for a, v in net.forward_jet(u_params, X, indices).items()}
        fields_k = {a: fields_k[a] for a in jets}
        if hasattr(residual_fn, "residual"):        # a condition
            Jm, offset = condition_linear_map(residual_fn, X, fields_k)
            J = {a: (lambda Phi1, m=m: m @ Phi1) for a, m in Jm.items()}
        else:                                       # the PDE: pointwise
            J, offset = linearise(residual_fn, X, fields_k, self.mode)
            J = {a: (lambda Phi1, j=j: j[:, None] * Phi1) for a, j in J.items()}
        A = 0
        for a, Phi in jets.items():
            Phi1 = torch.cat([Phi, (torch.ones_like(Phi[:, :1]) if a == self.zero else torch.zeros_like(Phi[:, :1]))], 1)
            A = A + J[a](Phi1)
        return A * weight, -offset * weight


def _ls_solve(A: torch.Tensor, y: torch.Tensor, ridge: float) -> torch.Tensor:
    """The physics least squares of the readout, ``(AᵀA + εI) w = Aᵀy`` (float64, Cholesky)."""
    A64, y64 = A.to(torch.float64), y.to(torch.float64)
    G = A64.T @ A64
    eps = ridge * float(G.diagonal().mean().clamp_min(1e-30))
    try:
        if not bool(torch.isfinite(G).all()):
            raise torch.linalg.LinAlgError("non-finite entries")
        w = torch.linalg.solve(G + eps * torch.eye(G.shape[0], dtype=G.dtype), A64.T @ y64)
    except torch.linalg.LinAlgError as exc:
        from ..errors import ConfigurationError

        raise ConfigurationError(f"ADMM: the readout's physics least squares ({G.shape[0]}×{G.shape[0]}) "
                                 f"cannot be solved ({str(exc).splitlines()[0]}): raise admm readout_ridge "
                                 f"(now {ridge:g} of the mean diagonal)") from None
    return w.to(A.dtype)


# ======================================================================== solve() trainer
class QuadraticProx:
    """``argmin_z ½‖R z − y‖² + ρ/2 ‖z − c‖²`` for any ρ > 0 (the output step of a PDE).

    ``(RᵀR + ρI) z = Rᵀy + ρc`` through Woodbury, ``(RᵀR + ρI)⁻¹ = (I − Rᵀ(RRᵀ + ρI)⁻¹R)/ρ``,
    with one eigendecomposition of the small ``RRᵀ`` (rows: test functions and conditions)
    reused for every ρ of the continuation. float64.
    """

    def __init__(self, R: torch.Tensor, y: torch.Tensor):
        self.R, self.y = R.to(torch.float64), y.to(torch.float64)
        self.evals, self.U = torch.linalg.eigh(self.R @ self.R.T)
        self.evals = self.evals.clamp_min(0)
        self.curvature = float(self.evals.max())        # ‖RᵀR‖₂, the Lipschitz constant of ∇ℓ
        self.Rty = self.R.T @ self.y

    def __call__(self, c: torch.Tensor, rho: float) -> torch.Tensor:
        b = self.Rty + rho * c.to(torch.float64)
        w = self.U @ ((self.U.T @ (self.R @ b)) / (self.evals + rho))
        return (b - self.R.T @ w) / rho

    def loss(self, z: torch.Tensor) -> float:
        return 0.5 * float((self.R @ z.to(torch.float64) - self.y).square().sum())

    def metric_prox(self, c: torch.Tensor, rho: float, metric: "PhysicsMetric") -> torch.Tensor:
        """``argmin_z ½‖R z − y‖² + ρ/2 (z − c)ᵀ H (z − c)`` with ``H = RᵀR + δI``:
        ``((1 + ρ) RᵀR + ρδ I) z = Rᵀy + ρ H c``."""
        c = c.to(torch.float64)
        return metric.solve(1.0 + rho, rho * metric.delta, self.Rty + rho * metric.apply(c))


class PhysicsMetric:
    """``H = RᵀR + δI``: the curvature of the physics loss ℓ(z) = ½‖Rz − y‖², floored by δ.

    The output constraint's penalty is ``ρ_o/2 ‖z − W_o â + μ‖²_H`` (ADMM in a metric; a fixed
    positive definite H leaves the method and its convergence theory unchanged, Deng & Yin
    2016, Giselsson & Boyd 2017 for H as a preconditioner). With H equal to ℓ's Hessian (up to
    δ), ℓ is perfectly conditioned in H's norm: the z-step moves every direction of ℓ by the
    same fraction ρ_o/(1 + ρ_o), and the readout step is a least squares in H's norm — the
    physics least squares, regularised by δ times the L² fit. In the Euclidean metric the z-step
    moves the directions of ℓ with curvature λ by λ/(λ + ρ_o), and the curvatures on the
    features span ~1e6 (poisson1d, 256 LIF, T = 64): 256 iterations from the initial network
    left a relative error of 0.55–0.96, where the metric reaches the physics least squares'
    6.5e-3 in about 10 (readout-only model with the true features; the module docstring).
    """

    def __init__(self, prox: QuadraticProx, floor: float):
        self.prox = prox
        self.delta = float(floor) * prox.curvature

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """H x for x ``[N]`` or ``[N, k]`` (float64)."""
        R = self.prox.R
        x = x.to(torch.float64)
        return R.T @ (R @ x) + self.delta * x

    def solve(self, alpha: float, beta: float, v: torch.Tensor) -> torch.Tensor:
        """``(α RᵀR + β I)⁻¹ v`` (Woodbury with ``R Rᵀ = U Λ Uᵀ``; β > 0)."""
        R, U, ev = self.prox.R, self.prox.U, self.prox.evals
        v = v.to(torch.float64)
        f = alpha / (beta + alpha * ev)
        inner = U.T @ (R @ v)
        inner = inner * (f if v.dim() == 1 else f[:, None])
        return (v - R.T @ (U @ inner)) / beta


class ADMMTrainer(Trainer):
    """``spikepde solve --method admm``: one :meth:`step` = one ADMM iteration.

    Regression problems (an Objective with a ``data`` term) use the supervised output step
    with the closed form as data. PDE problems in the weak form with value-only conditions
    (``pde_output="prox"``, the default where it applies) run the same ADMM as classification,
    with the physics loss ``ℓ(z) = ½‖R z − y‖²`` on the values z of the network at the
    quadrature grid and the condition points: its output step is :class:`QuadraticProx`, the
    readout a least squares of z + μ, both in the metric H of :class:`PhysicsMetric`; it starts
    from the forward pass of the initial weights with z from the physics term
    (``pde_start="forward"``). Otherwise (``"pinned"``: strong form, Picard, derivative
    conditions) the readout is the physics least squares on the true features and z is pinned
    to its solution. ADMM options come as ``cfg.admm`` (a dict of :class:`ADMMConfig` fields).
    The surrogate returned is the iterate with the lowest training loss of the TRUE network
    (the physics loss ℓ of its output, or the data loss), never chosen by the reference error.
    """

    name = "admm"
    network = "spiking"
    budget_key = "admm_steps"          # iterations: a few dozen closed-form sweeps
    uses_output_transform = False      # the closed-form readout works on the untransformed output
    residual_forms = ("strong",)       # the Objective's form; the readout has its own weak rows
    residual_form_hint = "admm has its own weak readout (admm={'pde_form': 'weak'})"
    options = ("admm",)

    @classmethod
    def check(cls, cfg) -> None:
        known = {f.name for f in dataclasses.fields(ADMMConfig)}
        unknown = sorted(set(cfg.admm or {}) - known)
        if unknown:
            raise ValueError(f"admm: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")

    @user_facing_errors
    def __init__(self, cfg, compiled, objective, generator):
        from ..derivatives import make_estimator
        from .spiking import spiking_network

        super().__init__(cfg, compiled, objective, generator)
        self.admm_cfg = ADMMConfig(**dict(cfg.admm or {}))
        self.net = spiking_network(cfg, compiled)
        lif = self.net.lif
        widths = self.net.widths
        self.regression = not compiled.has_pde
        self.estimator = make_estimator("surrogate-jvp")
        self.readout = None if self.regression else PDEReadout(compiled, objective, self.admm_cfg, setup=False)
        self.output_mode = "data" if self.regression else self._pde_output_mode()
        self._check_memory(widths)          # before any large allocation (weights included)
        init = self.net.init_params(generator, dtype=self.dtype)
        if self.readout is not None:
            self.readout.setup()
        X = objective.points.interior
        if self.output_mode == "prox":
            X = torch.cat([self.readout.Xq.to(X.dtype)] + list(self.readout.value_condition_points()))
            R, y = self.readout.value_rows()
            self.prox = QuadraticProx(R, y)
        self.X = X
        admm_cfg = self.admm_cfg
        self.output_metric = self._output_metric()
        if self.output_metric == "physics" and admm_cfg.output_growth is None:
            # a fixed ρ_o: the output part converges at a fixed ρ_o in H's norm; growing it shrinks
            # the loss's weight and freezes z before the optimum (poisson1d, T = 64: stalled at a
            # relative error of 7.5e-2 after 14 iterations). ρ, γ, κ keep growing: the relaxation
            # a = s has no dual, only κ → ∞ makes the readout read the true rates
            admm_cfg = dataclasses.replace(admm_cfg, output_growth=1.0)
        if admm_cfg.rate_dual is None:
            admm_cfg = dataclasses.replace(admm_cfg, rate_dual=self.output_metric == "physics")
        if self.output_mode == "prox" and self.output_metric == "euclidean":
            # ρ_o relative to the curvature of ℓ (‖RᵀR‖₂; 1 for the ½‖z − Y‖² of classification)
            admm_cfg = dataclasses.replace(admm_cfg, rho_out=admm_cfg.rho_out * self.prox.curvature)
        self.engine = LIFADMM(self.net.encode(X), widths, cfg.T, lif, 1, init, admm_cfg)
        if self.output_mode == "prox":
            # the readout's weight decay of the physics least squares
            self.engine.readout_ridge = admm_cfg.readout_ridge
            if self.output_metric == "physics":
                self.engine.metric = PhysicsMetric(self.prox, admm_cfg.metric_floor)
        if self.regression:
            self.Y = compiled.exact(X)[:, None]
            self._output_step = _supervised_output_step(self.Y)
            self.engine.Z = self.Y.clone()
            self.engine.readout_least_squares()
        else:
            start = self.admm_cfg.pde_start
            if start not in ("physics", "network", "forward"):
                raise ValueError(f"pde_start must be 'physics', 'network' or 'forward', not {start!r}")
            if self.output_mode == "prox" and start in ("network", "forward"):
                # hidden variables: the forward pass of the initial weights; readout as initialised;
                # duals zero; z = the initial network's output ("network") or the output step from
                # it, the prox of the physics loss (Taylor et al.'s start, "forward")
                self.rows_loss = float("nan")
                self.engine.Z = self.engine.readout_input() @ self.engine.W_out.T
                if start == "forward":
                    self.engine.Z = self._prox(self.engine.Z[:, 0], self.engine.rho_out)[:, None].to(self.engine.Z.dtype)
            else:
                self._physics_readout()       # start from the best readout of the initial features
            self._output_step = self._prox_output_step if self.output_mode == "prox" else self._pde_output_step
        self.params = self.engine.params(1)
        gen = torch.Generator().manual_seed(int(cfg.seed) + 1)
        self.X_test = compiled.sample_interior(2000, gen)
        self.u_test = compiled.exact(self.X_test) if compiled.has_exact else None
        # plotted on a log scale by solve(); the other per-iteration diagnostics (residual of
        # each block, spikes that changed, ρ) go to ``self.block_diagnostics`` (metrics "admm_…")
        self.convergence = {k: [] for k in ("iteration", "primal_residual", "primal_residual_relative",
                                            "dual_residual", "objective", "train_metric", "test_metric")}
        self.block_diagnostics = {k: [] for k in ("primal_dynamics", "primal_heaviside", "primal_relaxation",
                                            "primal_output", "spike_flips", "rho")}
        self.train_loss = self._train_loss(self.params)
        self.best = (self.train_loss, 0, {k: v.clone() for k, v in self.params.items()})

    def _check_memory(self, widths) -> None:
        """Refuse, before allocating, a run whose large arrays would exceed the memory limit
        (:func:`memory_estimate`), naming the setting to lower."""
        d = len(self.compiled.input_names)
        ro = self.readout
        form = ro.form if ro is not None else "data"
        K, Mq = (ro.tests_per_axis, ro.quad_per_axis) if ro is not None else (0, 0)
        conds = list(zip(self.compiled.conditions, self.objective.points.conditions))
        cond_points = sum(int(X.shape[0]) for _, X in conds)
        cond_rows = sum(int(X.shape[0]) // 2 * len(c.derivatives) if c.kind == "periodic" else int(X.shape[0])
                        for c, X in conds)
        samples = (Mq ** d + cond_points) if self.output_mode == "prox" else int(self.objective.points.interior.shape[0])
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        parts = memory_estimate(d=d, form=form, output=self.output_mode, tests_per_axis=K, quad_per_axis=Mq,
                                samples=samples, condition_rows=cond_rows, condition_points=cond_points,
                                widths=widths, T=self.cfg.T, itemsize=itemsize)
        self.memory_estimate = parts
        total, limit = sum(parts.values()), memory_limit_bytes(self.admm_cfg)
        if total <= limit:
            return
        from ..errors import ConfigurationError

        big = max(parts, key=parts.get)
        grid = f"{Mq}^{d} = {Mq ** d} quadrature points" if d > 1 else f"{Mq} quadrature points"
        advice = {
            "weak Gram": f"lower admm test_per_axis (now {K} per axis: {K ** d} test functions)",
            "value rows": f"lower admm test_per_axis (now {K}: {K ** d} test functions) or quad_per_axis "
                          f"(now {grid})",
            "weak rows": f"lower admm quad_per_axis (now {grid}), --width (now {max(widths)}) or --T (now {self.cfg.T})",
            "weights": f"lower --width (now {max(widths)})",
            "ADMM state": (f"lower --width (now {max(widths)}), --T (now {self.cfg.T}) or "
                           + (f"admm quad_per_axis (now {grid}, the samples)" if self.output_mode == "prox"
                              else f"--interior-points (now {samples})")),
        }[big]
        raise ConfigurationError(
            f"ADMM on {self.compiled.problem.name} would need about {total / 2 ** 30:.1f} GB "
            f"({big}: {parts[big] / 2 ** 30:.1f} GB), over the limit of {limit / 2 ** 30:.1f} GB: {advice}, "
            f"or raise admm memory_limit_gb")

    def _pde_output_mode(self) -> str:
        mode = self.admm_cfg.pde_output
        if mode not in ("auto", "prox", "pinned"):
            raise ValueError(f"pde_output must be 'auto', 'prox' or 'pinned', not {mode!r}")
        applies = self.readout.form == "weak" and self.readout.conditions_are_values()
        if mode == "prox" and not applies:
            raise ValueError("pde_output='prox' needs the weak form and conditions on values of u only")
        return ("prox" if applies else "pinned") if mode == "auto" else mode

    # ------------------------------------------------------------ PDE output steps
    def _physics_readout(self) -> None:
        """W_o from the physics least squares on the TRUE features; z ← u_k on the points."""
        params = self.engine.params(1)
        A, y = self.readout.rows(self.net, params, params)
        w = _ls_solve(A, y, self.admm_cfg.readout_ridge)
        self.engine.W_out = w[None].to(self.engine.W_out.dtype)
        self.rows_loss = float((A @ w - y).square().sum())
        with torch.no_grad():
            feats = self.net.features(self.engine.params(1), self.X, differentiable=False)
        self.engine.Z = _with_one(feats) @ self.engine.W_out.T
        self.engine.Mu = torch.zeros_like(self.engine.Z)

    def _pde_output_step(self, engine: LIFADMM) -> None:
        self._physics_readout()

    def _prox(self, c: torch.Tensor, rho: float) -> torch.Tensor:
        """The prox of ℓ at c in the output penalty's metric (H or Euclidean)."""
        if self.engine.metric is not None:
            return self.prox.metric_prox(c, rho, self.engine.metric)
        return self.prox(c, rho)

    def _prox_output_step(self, engine: LIFADMM) -> None:
        """W_o by least squares of z + μ on [ā; 1] (in H's norm), then z = prox of the physics loss."""
        engine.readout_least_squares()
        m = (engine.readout_input() @ engine.W_out.T)[:, 0]
        z = self._prox(m - engine.Mu[:, 0], engine.rho_out)
        engine.Z = z[:, None].to(engine.Z.dtype)

    def _output_metric(self) -> str:
        m = self.admm_cfg.output_metric
        if m not in ("auto", "physics", "euclidean"):
            raise ValueError(f"output_metric must be 'auto', 'physics' or 'euclidean', not {m!r}")
        if self.output_mode != "prox":
            return "euclidean"
        return "physics" if m == "auto" else m

    def _train_loss(self, params) -> float:
        """The training loss of the TRUE network with these parameters (selection criterion)."""
        with torch.no_grad():
            if self.output_mode == "prox":
                return self.prox.loss(self.net.forward(params, self.X, differentiable=False))
            if self.output_mode == "pinned":
                A, y = self.readout.rows(self.net, params, params)
                w = torch.cat([params["readout.weight"][0], params["readout.bias"]]).to(A.dtype)
                return float((A @ w - y).square().sum())
            u = self.net.forward(params, self.X, differentiable=False)
            return 0.5 * float((u - self.Y[:, 0]).square().sum())

    # ------------------------------------------------------------ trainer protocol
    @user_facing_errors
    def step(self) -> float:
        if self.regression or self.admm_cfg.hidden_updates:
            primal, dual = admm_iteration(self.engine, self._output_step)
        else:
            self.engine.iteration += 1
            self._physics_readout()
            summary = self.engine.residual_summary()
            primal, dual = summary["primal"], 0.0
            self.engine.last_primal_relative, self.engine.last_parts = summary["relative"], summary["parts"]
            self.engine.rho_used = self.engine.rho
        self.params = self.engine.params(1)
        self.train_loss = self._train_loss(self.params)
        if self.train_loss < self.best[0]:
            self.best = (self.train_loss, self.engine.iteration, {k: v.clone() for k, v in self.params.items()})
        c = self.convergence
        c["iteration"].append(self.engine.iteration)
        c["primal_residual"].append(primal)
        c["primal_residual_relative"].append(self.engine.last_primal_relative)
        d = self.block_diagnostics
        for k, v in self.engine.last_parts.items():
            d[f"primal_{k}"].append(v)
        d["spike_flips"].append(self.engine.last_flips)
        d["rho"].append(self.engine.rho_used)
        c["dual_residual"].append(dual)
        c["objective"].append(self.prox.loss(self.engine.Z[:, 0]) if self.output_mode == "prox" else self.train_loss)
        c["train_metric"].append(self.train_loss)
        c["test_metric"].append(self._test_error(self.params))
        return self.train_loss

    def _test_error(self, params) -> float:
        if self.u_test is None:
            return float("nan")
        with torch.no_grad():
            u = self.net.forward(params, self.X_test, differentiable=False)
        return float((u - self.u_test).norm() / self.u_test.norm())

    def field(self, params):
        from ..fields import SpikingField

        return SpikingField(self.net, params, self.estimator)

    def terms(self) -> dict[str, float]:
        with torch.no_grad():
            return {k: float(v) for k, v in self.objective.terms(self.field(self.params)).items()}

    def trained_field(self):
        """The selected iterate: the lowest training loss of the true network."""
        from .spiking import trained_spiking_field

        return trained_spiking_field(self.net, self.best[2], self.compiled, self.dtype, "cpu",
                                     transform=False)

    def divergence_hints(self) -> list[str]:
        return [f"a different number of time steps (--T, now {self.cfg.T})",
                f"a narrower network (--width, now {self.cfg.width})"]

    def state_dict(self) -> dict:
        return {"engine": self.engine.state(), "generator": self.generator.get_state(),
                "convergence": self.convergence, "diagnostics": self.block_diagnostics, "best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.engine.load(state["engine"])
        self.generator.set_state(state["generator"])
        self.convergence = state["convergence"]
        self.block_diagnostics = state["diagnostics"]
        self.best = state["best"]
        self.params = self.engine.params(1)
        self.train_loss = self._train_loss(self.params)

    def diagnostics(self) -> dict:
        """The convergence curves (plotted) and the ADMM summary for metrics.json."""
        c = self.convergence
        p, pr = c["primal_residual"], c["primal_residual_relative"]
        out = {"admm_config": dataclasses.asdict(self.admm_cfg),
               "admm_primal_reduction": (p[0] / max(p[-1], 1e-300)) if p else None,
               "admm_primal_reduction_relative": (pr[0] / max(pr[-1], 1e-300)) if pr else None,
               "admm_output": self.output_mode, "admm_output_metric": self.output_metric,
               "admm_selected_iteration": self.best[1],
               "admm_selected_train_loss": self.best[0],
               "admm_final_relative_l2": c["test_metric"][-1] if c["test_metric"] else None,
               "admm_diagnostics": self.block_diagnostics}
        out["convergence"] = c
        if not self.regression:
            out.update(admm_pde_form=self.readout.form, admm_linearisation=self.readout.mode,
                       admm_readout_loss=self.rows_loss)
        return out

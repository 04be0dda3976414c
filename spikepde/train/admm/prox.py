"""The output step of a PDE: the prox of the quadratic physics loss, and the metric H = RᵀR + δI
in which the output constraint is penalised."""
from __future__ import annotations

import torch


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
    6.5e-3 in about 10 (readout-only model with the true features; docs/methods/admm.md).
    """

    def __init__(self, prox: QuadraticProx, floor: float):
        self.prox = prox
        self.delta = float(floor) * prox.curvature

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """H x for x ``[N]`` or ``[N, k]`` (float64)."""
        R = self.prox.R
        x = x.to(torch.float64)
        return R.T @ (R @ x) + self.delta * x

    def normal_equations(self, A: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(AᵀHA, bᵀHA)`` for A ``[N, m]`` and b ``[N, k]`` (float64), from R A and R b: no
        ``[N, m]`` temporary besides A itself (H A would be three of them)."""
        A, b = A.to(torch.float64), b.to(torch.float64)
        RA, Rb = self.prox.R @ A, self.prox.R @ b
        return RA.T @ RA + self.delta * (A.T @ A), Rb.T @ RA + self.delta * (b.T @ A)

    def solve(self, alpha: float, beta: float, v: torch.Tensor) -> torch.Tensor:
        """``(α RᵀR + β I)⁻¹ v`` (Woodbury with ``R Rᵀ = U Λ Uᵀ``; β > 0)."""
        R, U, ev = self.prox.R, self.prox.U, self.prox.evals
        v = v.to(torch.float64)
        f = alpha / (beta + alpha * ev)
        inner = U.T @ (R @ v)
        inner = inner * (f if v.dim() == 1 else f[:, None])
        return (v - R.T @ (U @ inner)) / beta

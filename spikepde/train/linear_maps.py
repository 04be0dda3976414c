"""Residuals as affine maps of the fields: what every closed-form solve linearises.

``linearise`` gives the pointwise coefficients J_α = ∂r/∂F_α of a residual expression at given
fields (forward-mode jvp on the expression, not on a network; ``mode="picard"`` freezes u where
it multiplies a derivative); ``condition_linear_map`` gives a condition's residual as a matrix
map of the fields at its points (periodic pairs included). ADMM's readout rows and the
closed-form readout of :mod:`spikepde.train.closed_form` both build on them.
"""
from __future__ import annotations

import torch


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

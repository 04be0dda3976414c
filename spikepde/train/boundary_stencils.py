"""Where a condition on a face reads the field of a weak-form readout: one-sided stencils on the
quadrature points inside the domain.

A spike raster is piecewise constant with breakpoints far finer than the weak form's quadrature
grid, whose midpoints stop half a spacing short of a face: a value row *at* the face pins a
raster cell that no weak row reads and leaves the field the PDE sees free (poisson_lshape with
rows at the faces: 0.33; helmholtz2d without its output transform: 0.38). The closed-form
readout (:mod:`spikepde.train.closed_form`) therefore reads a value as the linear extrapolation,
along the face's inward normal, from the two nearest quadrature points inside (weights 3/2 and
−1/2 at half and one and a half spacings), and a derivative of order o along the normal (a
periodic u_x, a Neumann condition) by differentiating the polynomial through the o + 2 nearest
ones, in units of a change over one spacing — second-order accurate and coupled to the cells
the PDE constrains.
"""
from __future__ import annotations

import math

import torch


def boundary_stencil(X: torch.Tensor, alpha: tuple[int, ...], axes: list[torch.Tensor], inside):
    """``∂^α u(X) ≈ Σ_j w_j u(P_j)`` for boundary points ``X`` → ``([P_j], [w_j])``, or None
    when ∂^α is not a derivative across every point's face (a tangential or mixed derivative).

    Args:
        X: ``[n, d]`` float64 points on the domain's faces.
        alpha: the derivative's multi-index (all zeros: the value).
        axes: per input the sorted quadrature coordinates (midpoints, uniform).
        inside: ``points → bool [n]``, membership of the closed domain.
    A point with no inward normal (no axis has the domain on exactly one side of it) reads its
    value at itself.
    """
    zero = tuple(0 for _ in alpha)
    normal, inward = inward_normals(X, axes, inside)
    lost = normal < 0                    # no axis with the domain on exactly one side
    if bool(lost.any()) and alpha != zero:
        return None
    order = torch.tensor([alpha[int(i)] for i in normal[~lost]])
    if order.numel() and (sum(alpha) != int(order.max()) or not bool((order == order[0]).all())):
        return None                                  # a tangential derivative, or mixed
    o = int(order[0]) if order.numel() else 0
    m = o + 2
    reads = [X.clone() for _ in range(m)]
    weights = [torch.zeros(X.shape[0], dtype=torch.float64) for _ in range(m)]
    weights[0][lost] = 1.0                           # a value read at the point itself
    for i, axis in enumerate(axes):
        for sign in (1.0, -1.0):
            hit = (normal == i) & (inward == sign)
            if not bool(hit.any()):
                continue
            if axis.numel() < m:
                return None
            v = X[hit, i]
            # the first m quadrature coordinates from v on in the inward direction (v itself
            # when a quadrature point lies on the face)
            if sign > 0:
                k = torch.searchsorted(axis, v, right=False).clamp(max=axis.numel() - m)
                q = torch.stack([axis[k + j] for j in range(m)], 1)
            else:
                k = (torch.searchsorted(axis, v, right=True) - 1).clamp(min=m - 1)
                q = torch.stack([axis[k - j] for j in range(m)], 1)
            # in units of a value change over one quadrature spacing: a row of u_xx is
            # otherwise 1/dx² times a value row, and the Gram matrix of both together is
            # not positive definite in floating point (kdv, 112² tests)
            w = derivative_weights(q, v, o) * float(axis[1] - axis[0]) ** o
            for j in range(m):
                reads[j][hit, i] = q[:, j]
                weights[j][hit] = w[:, j]
    return reads, weights


def inward_normals(X: torch.Tensor, axes: list[torch.Tensor], inside):
    """Per boundary point, the axis of its face's normal and the inward direction (±1);
    −1 and 0 where no axis has the domain on exactly one side."""
    normal = torch.full((X.shape[0],), -1, dtype=torch.long)
    inward = torch.zeros(X.shape[0], dtype=torch.float64)
    for i, axis in enumerate(axes):
        eps = 0.25 * float(axis[1] - axis[0]) if axis.numel() > 1 else 0.0
        for sign in (1.0, -1.0):
            ahead, behind = X.clone(), X.clone()
            ahead[:, i] += sign * eps
            behind[:, i] -= sign * eps
            hit = (normal < 0) & inside(ahead) & ~inside(behind)
            normal[hit], inward[hit] = i, sign
    return normal, inward


def derivative_weights(q: torch.Tensor, v: torch.Tensor, order: int) -> torch.Tensor:
    """Weights ``w [P, m]`` with ``Σ_j w_j f(q_j) = f^{(order)}(v)`` for every polynomial f of
    degree below m (per row: nodes ``q [P, m]``, point ``v [P]``): the derivative of the
    interpolating polynomial, from ``Σ_j w_j (q_j − v)^k = k! δ_{k,order}``."""
    m = q.shape[1]
    h = (q[:, -1] - q[:, 0]).abs().clamp_min(1e-300)[:, None]
    s = (q - v[:, None]) / h                                       # scaled: a well-posed system
    V = torch.stack([s ** k for k in range(m)], 1)                 # [P, k, j]
    rhs = torch.zeros(q.shape[0], m, dtype=q.dtype)
    rhs[:, order] = math.factorial(order)
    return torch.linalg.solve(V, rhs) / h ** order


__all__ = ["boundary_stencil", "derivative_weights", "inward_normals"]

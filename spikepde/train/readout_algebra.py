"""The linear algebra of ``lsq``'s closed-form readout (:mod:`spikepde.train.closed_form`): the
per-axis readout coordinates in which the minimum-norm solve returns the smoothest field, and
the Cholesky solve of the rows' ridged Gram matrix."""
from __future__ import annotations

import torch

from ..errors import ConfigurationError


def sobolev_coordinates(B: torch.Tensor, raster: torch.Tensor, axis: torch.Tensor,
                        length_factor: float) -> torch.Tensor:
    """Readout coordinates of one axis in which the Euclidean norm is a Sobolev norm of the
    axis functions: ``B W^{-1/2}`` with ``W = ∫ φ φᵀ + ℓ² ∫ φ' φ'ᵀ`` over the axis (``φ = raster ·
    B`` on the midpoint grid ``axis``, φ' by differences of neighbouring points, ℓ =
    ``length_factor`` × the axis' length). Directions W does not see (below 1e-12 of its
    largest eigenvalue) are dropped.

    The Kronecker product of such per-axis norms is a mixed H¹ norm of the whole field, so the
    minimum-norm solve in these coordinates returns the smoothest field the rows accept."""
    phi = raster @ B                                   # [Q, m]
    dx = float(axis[1] - axis[0]) if axis.numel() > 1 else 1.0
    ell = length_factor * (float(axis[-1] - axis[0]) + dx)
    slope = (phi[1:] - phi[:-1]) / dx
    W = (phi.T @ phi + ell ** 2 * (slope.T @ slope)) * dx
    evals, V = torch.linalg.eigh(W)
    keep = evals > 1e-12 * evals[-1]
    return B @ (V[:, keep] / evals[keep].sqrt())


def spd_solve(G: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``G⁻¹ y`` for the ridged Gram matrix (symmetric positive definite): Cholesky, half the
    work of LU, factorised in place of G (16384² for 128² tests: 2 GB not held twice)."""
    info = torch.empty((), dtype=torch.int32)
    L, info = torch.linalg.cholesky_ex(G, out=(G, info))
    if int(info) != 0:
        raise ConfigurationError(f"lsq: the rows' Gram matrix ({G.shape[0]} rows) is not positive definite in "
                                 "floating point; lower --width or --T, or use fewer --weak-tests")
    z = torch.linalg.solve_triangular(L, y[:, None], upper=False)
    return torch.linalg.solve_triangular(L.T, z, upper=True)[:, 0]

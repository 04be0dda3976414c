r"""Poisson on the L-shaped domain: 5-point finite differences with Richardson extrapolation.

Problem: :math:`-\Delta u + \kappa u = 1` on :math:`\Omega = [-1, 1]^2 \setminus (0, 1]^2`,
:math:`u = 0` on :math:`\partial\Omega`.  One parameter, ``kappa`` :math:`\ge 0` (default 0):
``kappa = 0`` is DeepXDE's Poisson_Lshape example as written (:math:`-\Delta u = 1`);
``kappa = 1`` is what DeepXDE's ``Poisson_Lshape.npz`` data file actually holds (see the note
at the end).

Scheme.  The 5-point Laplacian on a uniform grid of spacing :math:`h = 1/m` whose nodes include
every output node; the unknowns are the grid nodes strictly inside :math:`\Omega` (nodes on the
re-entrant edges :math:`x = 0, y \ge 0` and :math:`y = 0, x \ge 0` are boundary nodes with value
0, so restricting the square's matrix to the unknowns imposes the boundary condition); the
zero-order term adds :math:`\kappa` to the diagonal.  The symmetric positive-definite system is
solved by a sparse direct (SuperLU) factorisation.

Order.  The re-entrant corner makes :math:`u \sim c\,r^{2/3}\sin(2\theta/3)` near the origin, and
the error at a fixed node then behaves like :math:`e(h) = a_1 h^{4/3} + a_2 h^{2} + a_3 h^{8/3}
+ \dots` (exponents :math:`2\lambda_k` of the singular terms, :math:`\lambda_k = 2k/3`, and the
smooth :math:`h^2`) — measured order 1.35.  Three nested grids :math:`h, h/2, h/4` let two
Richardson steps cancel :math:`h^{4/3}` and :math:`h^2`.  The zero-order term leaves these
exponents unchanged: the corner exponents :math:`\lambda_k = k\pi/\omega = 2k/3` are set by the
principal part (the Laplacian) and the opening angle :math:`\omega = 3\pi/2` alone, and
:math:`\kappa u` only adds terms :math:`r^{\lambda_k + 2j}\sin(\lambda_k\theta')` (:math:`\theta'`
the angle from a re-entrant edge) whose
exponents are again multiples of 2/3 (no resonance: the angular frequency :math:`\lambda_k`
differs from the exponent :math:`\lambda_k + 2`).  Measured on the 1/16 output grid: plain-FD
order 1.38 for :math:`\kappa = 0` and 1.39 for :math:`\kappa = 1`, and the same gain of 15x per
halving of the Richardson levels for both (see the tests).  On the 161-point output grid the
extrapolated fields from the level sets (80, 160, 320) and (160, 320, 640) cells per unit length
differ by 5.8e-6 (relative L2) and 4.7e-5 (max, at the nodes next to the corner, where the
expansion is not yet asymptotic); each halving gains about 10x, so the default
(160, 320, 640) is accurate to about 1e-6 relative.  Cost: about 10–25 s, dominated by the
finest factorisation (1.2 million unknowns); the result is cached.

Output.  A uniform grid on :math:`[-1, 1]^2` with an odd number of points (so that 0 is a node);
the removed quadrant :math:`x > 0, y > 0` holds NaN, the re-entrant edges hold 0.

Note.  DeepXDE's ``Poisson_Lshape.npz`` is *not* a solution of :math:`-\Delta u = 1`: it is
about 10 % low (relative L2 0.10) and breaks the comparison principle (at (-0.5, 0.5) it is
below the exact solution on the inscribed rectangle :math:`[-1, 0] \times [-1, 1]`).  It is a
solution of :math:`-\Delta u + u = 1` (inside each of its spectral elements its own polynomial
Laplacian is :math:`1 - u` to 1e-11): with ``kappa = 1`` this solver matches it to a relative L2 of about
5.4e-5 at its 25921 nodes (4.1e-5 at the 833 nodes it shares with a uniform grid, the file's
own accuracy near the corner singularity); see ``tests/test_reference_poisson_lshape.py``.
"""
from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .solution import ReferenceSolution, check_grid_names, make_axis, resolve_params

NAME = "poisson_lshape_fd"
VERSION = "2"  # 2: the zero-order coefficient kappa
DEFAULT_PARAMS: dict[str, float] = {"kappa": 0.0}
#: Default grid: the 161 x 161 uniform grid of [-1, 1]^2.
DEFAULT_GRID = {"x": {"n": 161, "min": -1.0, "max": 1.0}, "y": {"n": 161, "min": -1.0, "max": 1.0}}
#: The coarsest FD grid is this many times finer than the output grid; then 2x, 4x that.
DEFAULT_REFINE = 2
DEFAULT_LEVELS = 3
#: Richardson exponents, in the order they are eliminated.
EXPONENTS = (4.0 / 3.0, 2.0, 8.0 / 3.0)


def solve_fd(m: int, kappa: float = 0.0) -> np.ndarray:
    """5-point FD solution of -Δu + kappa u = 1 on the (2m+1)^2 grid of [-1, 1]^2 (h = 1/m),
    NaN in the removed quadrant."""
    n = 2 * m + 1
    coords = np.linspace(-1.0, 1.0, n)
    x, y = np.meshgrid(coords, coords, indexing="ij")
    inside = np.zeros((n, n), dtype=bool)
    inside[1:-1, 1:-1] = True
    inside &= (np.arange(n)[:, None] < m) | (np.arange(n)[None, :] < m)  # x < 0 or y < 0, exactly
    second = sp.diags([-np.ones(n - 1), 2.0 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1])
    eye = sp.identity(n)
    lap = (sp.kron(second, eye) + sp.kron(eye, second)).tocsr() * float(m * m)
    idx = np.flatnonzero(inside.ravel())
    a = (lap[idx][:, idx] + float(kappa) * sp.identity(idx.size)).tocsc()
    u = np.zeros(n * n)
    u[idx] = spla.spsolve(a, np.ones(idx.size), permc_spec="MMD_AT_PLUS_A")
    u = u.reshape(n, n)
    u[(x > 0) & (y > 0)] = np.nan
    return u


def richardson(fields: list[np.ndarray], exponents: tuple[float, ...] = EXPONENTS) -> np.ndarray:
    """Extrapolate fields on grids h, h/2, h/4, ... (restricted to common nodes) to h -> 0.

    Each sweep removes the next exponent p: ``R_fine + (R_fine - R_coarse) / (2^p - 1)``.
    """
    level = list(fields)
    for p in exponents[: len(fields) - 1]:
        level = [f + (f - c) / (2.0**p - 1.0) for c, f in zip(level[:-1], level[1:])]
    return level[0]


def solve(params: Mapping[str, float] | None = None, grid: Mapping[str, Any] | None = None, *,
          refine: int = DEFAULT_REFINE, levels: int = DEFAULT_LEVELS) -> ReferenceSolution:
    """L-shape reference of -Δu + kappa u = 1 on a uniform ``n x n`` grid of [-1, 1]^2 (n odd,
    default 161); ``params = {"kappa": ...}`` (default 0, must be >= 0).

    ``refine`` sets the coarsest FD grid relative to the output spacing, ``levels`` the number
    of nested grids (each twice finer) combined by Richardson extrapolation (1 = plain FD).
    """
    p = resolve_params(params, DEFAULT_PARAMS, NAME)
    g = check_grid_names(grid, ("x", "y"), NAME)
    x = make_axis("x", g.get("x"), n=161, lo=-1.0, hi=1.0)
    y = make_axis("y", g.get("y"), n=161, lo=-1.0, hi=1.0)
    for name, axis in (("x", x), ("y", y)):
        if axis.size % 2 == 0 or axis[0] != -1.0 or axis[-1] != 1.0:
            raise ValueError(f"{NAME}: axis '{name}' must be an odd number of points on [-1, 1]")
    kappa = p["kappa"]
    if not (np.isfinite(kappa) and kappa >= 0):  # kappa < 0 can hit an eigenvalue (not SPD)
        raise ValueError(f"{NAME}: kappa must be finite and >= 0, got {kappa}")
    if not 1 <= levels <= len(EXPONENTS) + 1:
        raise ValueError(f"{NAME}: levels must be between 1 and {len(EXPONENTS) + 1}")

    start = time.perf_counter()
    half_x, half_y = (x.size - 1) // 2, (y.size - 1) // 2
    m0 = refine * int(np.lcm(half_x, half_y))
    fields = []
    for level in range(levels):
        m = m0 * 2**level
        u = solve_fd(m, kappa)
        fields.append(u[:: m // half_x, :: m // half_y])
    values = richardson(fields)
    meta = {"solver": NAME, "version": VERSION, "params": p,
            "equation": "-(u_xx + u_yy) + kappa*u = 1",
            "method": "5-point FD + Richardson (exponents 4/3, 2, 8/3)",
            "cells_per_unit": [m0 * 2**k for k in range(levels)],
            "seconds": time.perf_counter() - start}
    return ReferenceSolution(axes={"x": x, "y": y}, values=values, meta=meta)

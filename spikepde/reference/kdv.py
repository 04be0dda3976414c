r"""Korteweg–de Vries reference: Fourier pseudo-spectral in space, ETDRK4 in time.

Problem (Raissi's ``KdV.mat``): :math:`u_t + u u_x + \delta u_{xxx} = 0`, periodic on
:math:`x \in [-1, 1)`, :math:`u(x, 0) = \cos(\pi x)`, :math:`t \in [0, 1]`; parameter ``delta``
(default 0.0025).

Space.  :math:`N` equispaced points, real FFT; mode :math:`m` has wavenumber
:math:`k_m = \pi m` (period 2).  In Fourier space :math:`\hat u_t = L\hat u + \hat N(\hat u)` with
the dispersive part :math:`L = i\delta k^3` (diagonal, purely imaginary, up to
:math:`\delta (\pi N/2)^3 \approx 1.3\cdot10^6` for :math:`N = 512`) and the conservative
nonlinearity :math:`\hat N = -\tfrac{ik}{2}\widehat{u^2}`, dealiased by the 2/3 rule (modes with
:math:`|m| > N/3` of :math:`\widehat{u^2}` are dropped, so no quadratic alias folds back).
Convergence is exponential in :math:`N` for this analytic solution.

Time.  ETDRK4 (Cox & Matthews 2002) integrates :math:`L` exactly, so the step is limited by the
nonlinearity only.  Its diagonal coefficients
:math:`\varphi_k(hL)` suffer cancellation for small :math:`|hL|`; they are evaluated as contour
averages over a circle of radius 1 around each :math:`hL` (Kassam & Trefethen 2005), exact to
round-off for every mode.  Fourth order in the step (measured below).

Output.  The trigonometric interpolant is evaluated at the requested x (on the computational
grid it reproduces the nodal values); the default grid is Raissi's, x = -1 + 2k/512.

Limits.  Valid for :math:`\delta > 0` with solitons resolved by the grid: the narrowest soliton
here has width :math:`\sim\sqrt{12\delta/a}` for amplitude :math:`a` (about 0.12 at a = 2),
resolved by N = 512 to round-off.  Much smaller :math:`\delta` needs larger ``n_modes``.
"""
from __future__ import annotations

import math
import time
from typing import Any, Mapping

import numpy as np

from .solution import ReferenceSolution, check_grid_names, make_axis, resolve_params

NAME = "kdv_spectral"
VERSION = "1"
DEFAULT_PARAMS = {"delta": 0.0025}
#: Default grid: Raissi's KdV.mat grid (x = -1 + 2k/512, k < 512; t 201 points on [0, 1]).
DEFAULT_GRID = {"x": {"n": 512, "min": -1.0, "max": 1.0, "endpoint": False},
                "t": {"n": 201, "min": 0.0, "max": 1.0}}
DEFAULT_MODES = 512
DEFAULT_MAX_DT = 2.5e-4
CONTOUR_POINTS = 64
PERIOD = 2.0


def etdrk4_coefficients(hl: np.ndarray, h: float) -> dict[str, np.ndarray]:
    """Diagonal ETDRK4 coefficients (e^{hL/2}, e^{hL}, Q, f1, f2, f3) by contour averages."""
    roots = np.exp(2j * np.pi * (np.arange(CONTOUR_POINTS) + 0.5) / CONTOUR_POINTS)
    z = hl[:, None] + roots[None, :]
    ez = np.exp(z)
    mean = lambda a: a.mean(axis=1)  # noqa: E731 - trapezoid rule on the circle
    return {
        "e_half": np.exp(hl / 2), "e_full": np.exp(hl),
        "q": h * mean((np.exp(z / 2) - 1) / z),
        "f1": h * mean((-4 - z + ez * (4 - 3 * z + z**2)) / z**3),
        "f2": h * mean((2 + z + ez * (z - 2)) / z**3),
        "f3": h * mean((-4 - 3 * z - z**2 + ez * (4 - z)) / z**3),
    }


def solve(params: Mapping[str, float] | None = None, grid: Mapping[str, Any] | None = None, *,
          n_modes: int = DEFAULT_MODES, max_dt: float = DEFAULT_MAX_DT) -> ReferenceSolution:
    """KdV reference on the requested grid.

    Params: ``delta`` > 0, the coefficient of u_xxx (default 0.0025).  Grid: ``x`` (default 512
    points of [-1, 1) without the right end) and ``t`` (default 201 points on [0, 1], uniform,
    from 0).  ``n_modes`` (even) is the FFT size; the step is the output spacing divided by the
    smallest integer that brings it to ``max_dt`` or below.
    """
    p = resolve_params(params, DEFAULT_PARAMS, NAME)
    delta = p["delta"]
    if not delta > 0:
        raise ValueError(f"{NAME}: delta must be positive, got {delta}")
    if n_modes % 2:
        raise ValueError(f"{NAME}: n_modes must be even")
    g = check_grid_names(grid, ("x", "t"), NAME)
    x = make_axis("x", g.get("x"), n=512, lo=-1.0, hi=1.0, endpoint=False)
    t = make_axis("t", g.get("t"), n=201, lo=0.0, hi=1.0)
    if t[0] != 0.0 or np.any(np.diff(t) <= 0) or not np.allclose(np.diff(t), t[1] - t[0], rtol=1e-9):
        raise ValueError(f"{NAME}: the time axis must be uniform and start at 0")

    start = time.perf_counter()
    nodes = -1.0 + PERIOD * np.arange(n_modes) / n_modes
    m = np.arange(n_modes // 2 + 1)
    k = 2.0 * np.pi * m / PERIOD
    keep = m <= n_modes // 3  # 2/3-rule dealiasing of the quadratic term
    substeps = max(1, math.ceil((t[1] - t[0]) / max_dt - 1e-9))
    h = (t[1] - t[0]) / substeps
    c = etdrk4_coefficients(1j * delta * k**3 * h, h)

    def nonlinear(v: np.ndarray) -> np.ndarray:
        return np.where(keep, -0.5j * k * np.fft.rfft(np.fft.irfft(v, n_modes) ** 2), 0.0)

    def step(v: np.ndarray) -> np.ndarray:
        nv = nonlinear(v)
        a = c["e_half"] * v + c["q"] * nv
        na = nonlinear(a)
        b = c["e_half"] * v + c["q"] * na
        nb = nonlinear(b)
        cc = c["e_half"] * a + c["q"] * (2 * nb - nv)
        nc = nonlinear(cc)
        return c["e_full"] * v + c["f1"] * nv + 2 * c["f2"] * (na + nb) + c["f3"] * nc

    evaluate = _trig_evaluator(x, n_modes)
    v = np.fft.rfft(np.cos(np.pi * nodes))
    out = np.empty((x.size, t.size))
    for j in range(t.size):
        if j > 0:
            for _ in range(substeps):
                v = step(v)
        out[:, j] = evaluate(v)
    out[:, 0] = np.cos(np.pi * x)
    meta = {"solver": NAME, "version": VERSION, "params": p,
            "method": "Fourier pseudo-spectral (2/3 dealiasing) + ETDRK4",
            "n_modes": n_modes, "dt": h, "seconds": time.perf_counter() - start}
    return ReferenceSolution(axes={"x": x, "t": t}, values=out, meta=meta)


def _trig_evaluator(x: np.ndarray, n_modes: int):
    """Function mapping rfft coefficients to the trigonometric interpolant at ``x``."""
    nodes = -1.0 + PERIOD * np.arange(n_modes) / n_modes
    if x.size == n_modes and np.allclose(x, nodes, rtol=0, atol=1e-14):
        return lambda v: np.fft.irfft(v, n_modes)  # the computational grid itself
    m = np.arange(n_modes // 2 + 1)
    weight = np.where((m == 0) | (m == n_modes // 2), 1.0, 2.0) / n_modes
    # rfft is relative to the first node (-1): phase exp(i k (x + 1)).
    basis = np.exp(1j * np.pi * np.outer(x + 1.0, m)) * weight
    return lambda v: (basis @ v).real

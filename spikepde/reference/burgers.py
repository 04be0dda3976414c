r"""Exact viscous Burgers solution by the Cole–Hopf transform.

Problem: :math:`u_t + u u_x = \nu u_{xx}` on :math:`x \in [-1, 1]`, :math:`u(x, 0) = -\sin(\pi x)`,
:math:`u(\pm 1, t) = 0`.

Transform.  :math:`u = -2\nu\,\varphi_x / \varphi` turns Burgers into the heat equation
:math:`\varphi_t = \nu \varphi_{xx}`.  The initial datum gives
:math:`\varphi_0(y) \propto \exp(-\cos(\pi y) / (2\pi\nu))`, which is 2-periodic; the odd,
periodic initial condition makes :math:`u(\pm 1, t) = 0` hold by symmetry, so the whole-line
heat kernel solves the boundary-value problem.  Convolving with the kernel, integrating the
derivative by parts and substituting :math:`y = x - \sqrt{4\nu t}\,z` gives

.. math::
    u(x, t) = -\frac{\int \sin(\pi y)\, e^{-\cos(\pi y)/(2\pi\nu)} e^{-z^2} dz}
                    {\int e^{-\cos(\pi y)/(2\pi\nu)} e^{-z^2} dz},

two integrals against the Hermite weight :math:`e^{-z^2}`, evaluated by Gauss–Hermite
quadrature.  For small :math:`\nu` the factor :math:`e^{-\cos/(2\pi\nu)}` reaches
:math:`e^{1/(2\pi\nu)}` (about :math:`e^{50}` at :math:`\nu = 0.01/\pi`, :math:`e^{1600}` at
:math:`\nu = 10^{-4}`), so the sums are taken in log space: each node's log-weight is shifted by
the largest one before exponentiating (log-sum-exp); the common factor cancels in the ratio.

Number of nodes.  With :math:`a = \sqrt{4\nu t}`, the log-integrand is
:math:`-z^2 - \cos(\pi(x - a z))/(2\pi\nu)`; the second term varies by at most
:math:`1/(\pi\nu)`, so nodes with :math:`z^2 > 1/(\pi\nu) + 40` carry less than
:math:`e^{-40}` of the largest term.  The largest of :math:`n` Gauss–Hermite nodes is about
:math:`\sqrt{2n}`, so :math:`n = \max(1000, \lceil Z^2/2 \rceil)` with
:math:`Z = (\pi\nu)^{-1/2} + 6.5` covers the support (1000 for :math:`\nu \ge 2.2\cdot10^{-4}`,
about 2000 at :math:`\nu = 10^{-4}`).  Near its peak the integrand is a Gaussian in :math:`z` of
width about :math:`1/\sqrt{2\pi t}` (independent of :math:`\nu`), which the node spacing
(:math:`\approx \pi/\sqrt{2n - z^2}`, below 0.1) resolves to round-off.  Measured: half as many
nodes changes u by < 1e-14 for :math:`3\cdot10^{-5} \le \nu \le 1`.  The weights of nodes
beyond :math:`|z| \approx 27` underflow in double precision, so their logarithms are computed
directly (:func:`hermite_rule_log`).

Limits.  Accuracy is round-off (about 1e-14) down to :math:`\nu \approx 10^{-5}`; the node count
grows like :math:`1/\nu` and the cost like :math:`n \cdot N_x N_t`; ``MAX_NODES`` caps it
(:math:`\nu \gtrsim 4\cdot10^{-6}`).  Inside a shock of width :math:`\sim\nu` the values are
exact, but a grid coarser than :math:`\nu` cannot resolve the shock.  :math:`t = 0` uses the
initial condition directly (the kernel degenerates there).
"""
from __future__ import annotations

import math
import time
from typing import Any, Mapping

import numpy as np
from scipy.special import roots_hermite

from .solution import ReferenceSolution, check_grid_names, make_axis, resolve_params

NAME = "burgers_cole_hopf"
VERSION = "1"
DEFAULT_PARAMS = {"nu": 0.01 / math.pi}
#: Default grid: DeepXDE's Burgers.npz grid (x 256 points on [-1, 1], t = 0, 0.01, ..., 0.99).
DEFAULT_GRID = {"x": {"n": 256, "min": -1.0, "max": 1.0}, "t": {"n": 100, "min": 0.0, "max": 0.99}}
MAX_NODES = 40_000


def hermite_nodes_for(nu: float) -> int:
    """Gauss–Hermite node count that covers the integrand's support for viscosity ``nu``."""
    reach = math.sqrt(1.0 / (math.pi * nu)) + 6.5
    n = max(1000, int(math.ceil(reach * reach / 2)))
    if n > MAX_NODES:
        raise ValueError(f"{NAME}: nu={nu:g} needs {n} quadrature nodes (limit {MAX_NODES})")
    return n


def hermite_rule_log(n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Gauss–Hermite nodes and the *logarithms* of their weights.

    ``scipy.special.roots_hermite`` returns the weights themselves, which underflow to 0 for
    :math:`|z| \gtrsim 27` although, for small :math:`\nu`, the Cole–Hopf integrand puts its mass
    out to :math:`|z| \approx (\pi\nu)^{-1/2}` (56 at :math:`\nu = 10^{-4}`).  We keep scipy's
    nodes and compute :math:`\log w_i = -z_i^2 - \log n - 2\log|\psi_{n-1}(z_i)|` from the
    orthonormal Hermite functions :math:`\psi_k`, run by their three-term recurrence with a
    per-node running log-scale so that nothing under- or overflows.
    """
    z, _ = roots_hermite(n)
    log_scale = -0.5 * z * z - 0.25 * math.log(math.pi)  # psi_0 = pi^(-1/4) exp(-z^2/2)
    prev, cur = np.zeros_like(z), np.ones_like(z)
    for k in range(n - 1):
        prev, cur = cur, math.sqrt(2.0 / (k + 1)) * z * cur - math.sqrt(k / (k + 1)) * prev
        big = np.abs(cur) > 1e150
        if big.any():
            s = np.where(big, np.abs(cur), 1.0)
            prev, cur, log_scale = prev / s, cur / s, log_scale + np.log(s)
    return z, -z * z - math.log(n) - 2.0 * (np.log(np.abs(cur)) + log_scale)


def cole_hopf(x: np.ndarray, t: float, nu: float, z: np.ndarray, log_w: np.ndarray) -> np.ndarray:
    """u(x, t) for one time ``t > 0`` at the points ``x`` (Gauss–Hermite nodes ``z``, log-weights)."""
    y = x[:, None] - math.sqrt(4.0 * nu * t) * z[None, :]
    log_terms = log_w[None, :] - np.cos(np.pi * y) / (2.0 * np.pi * nu)
    scaled = np.exp(log_terms - log_terms.max(axis=1, keepdims=True))
    return -np.sum(np.sin(np.pi * y) * scaled, axis=1) / np.sum(scaled, axis=1)


def solve(params: Mapping[str, float] | None = None,
          grid: Mapping[str, Any] | None = None) -> ReferenceSolution:
    """Cole–Hopf reference for Burgers on the requested (x, t) grid.

    Params: ``nu`` > 0 (default 0.01/π).  Grid: ``x`` (default 256 points on [-1, 1]) and
    ``t`` (default 100 points on [0, 0.99]); each an int or ``{"n", "min", "max", "endpoint"}``.
    """
    p = resolve_params(params, DEFAULT_PARAMS, NAME)
    nu = p["nu"]
    if not nu > 0:
        raise ValueError(f"{NAME}: nu must be positive, got {nu}")
    g = check_grid_names(grid, ("x", "t"), NAME)
    x = make_axis("x", g.get("x"), **_defaults("x"))
    t = make_axis("t", g.get("t"), **_defaults("t"))
    if t.min() < 0:
        raise ValueError(f"{NAME}: times must be >= 0")

    start = time.perf_counter()
    n_nodes = hermite_nodes_for(nu)
    z, log_w = hermite_rule_log(n_nodes)
    u = np.empty((x.size, t.size))
    for j, tj in enumerate(t):
        u[:, j] = -np.sin(np.pi * x) if tj == 0.0 else cole_hopf(x, float(tj), nu, z, log_w)
    meta = {"solver": NAME, "version": VERSION, "params": p, "method": "Cole-Hopf, Gauss-Hermite",
            "hermite_nodes": n_nodes, "seconds": time.perf_counter() - start}
    return ReferenceSolution(axes={"x": x, "t": t}, values=u, meta=meta)


def _defaults(name: str) -> dict:
    d = DEFAULT_GRID[name]
    return {"n": d["n"], "lo": d["min"], "hi": d["max"]}

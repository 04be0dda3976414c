"""Reaction–diffusion reference (Chebyshev + Radau): exact linear case, convergence, residual."""
from __future__ import annotations

import numpy as np
import pytest

from spikepde.reference import reaction_diffusion as rd


@pytest.fixture(scope="module")
def default_solution():
    return rd.solve()


def test_initial_and_boundary_values_are_zero(default_solution):
    u = default_solution.values
    assert u.shape == (101, 101)
    assert np.all(u[:, 0] == 0.0)
    assert np.abs(u[[0, -1], :]).max() < 1e-13
    assert 0.9 < u.max() < 1.0 and u.min() > -1e-13  # source >= 0 keeps u >= 0


def test_linear_case_matches_closed_form():
    """k = 0: u = (1 - exp(-D pi^2 t)) sin(pi x) / (D pi^2) exactly (measured error 9e-14)."""
    sol = rd.solve({"k": 0.0, "D": 0.05}, {"x": 41, "t": 21})
    x, t = np.meshgrid(sol.axes["x"], sol.axes["t"], indexing="ij")
    lam = 0.05 * np.pi**2
    np.testing.assert_allclose(sol.values, (1 - np.exp(-lam * t)) * np.sin(np.pi * x) / lam, atol=1e-11)


def test_spatial_convergence_is_spectral(default_solution):
    """Chebyshev degree 8 -> 12 -> 16: max error against N = 32 falls ~300x, ~80x (measured
    1.6e-6, 5e-9, 6e-11): exponential, as the data are smooth and compatible."""
    errors = [np.abs(rd.solve(n_cheb=n).values - default_solution.values).max() for n in (8, 12, 16)]
    assert errors[0] > 1e-7
    assert errors[1] < errors[0] / 30 and errors[2] < errors[1] / 30


def test_time_error_follows_the_tolerance(default_solution):
    """Radau is adaptive, so 'halving the step' is replaced by tightening rtol: 100x tighter
    tolerance must give > 10x smaller error (measured 15x, 96x, 68x for rtol 1e-4 ... 1e-10)."""
    errors = [np.abs(rd.solve(rtol=tol).values - default_solution.values).max()
              for tol in (1e-4, 1e-6, 1e-8)]
    assert errors[0] > 1e-7
    assert errors[1] < errors[0] / 10 and errors[2] < errors[1] / 10


def _residual_ratio(params: dict, check: dict, t0: float) -> float:
    """max |u_t - D u_xx - k u^2 - sin(pi x)| / max term size, central differences h = 1e-3."""
    h = 1e-3
    sol = rd.solve(params, {"x": 1001, "t": {"n": 3, "min": t0 - h, "max": t0 + h}})
    u, x = sol.values, sol.axes["x"][1:-1]
    u_t = (u[1:-1, 2] - u[1:-1, 0]) / (2 * h)
    u_xx = (u[2:, 1] - 2 * u[1:-1, 1] + u[:-2, 1]) / h**2
    mid = u[1:-1, 1]
    terms = [u_t, check["D"] * u_xx, check["k"] * mid**2, np.sin(np.pi * x)]
    size = sum(np.abs(term) for term in terms).max()
    return float(np.abs(terms[0] - terms[1] - terms[2] - terms[3]).max() / size)


@pytest.mark.parametrize("t0", [0.2, 0.9])
def test_residual_is_truncation_level(t0):
    """Measured 6e-9 (t = 0.2) and 3e-8 (t = 0.9); the same field checked against k = 0.05 or
    D = 0.02 leaves 8e-4 ... 4e-2, so the check can fail."""
    params = {"D": 0.01, "k": 0.01}
    assert _residual_ratio(params, params, t0) < 1e-6
    assert _residual_ratio(params, {"D": 0.01, "k": 0.05}, t0) > 1e-4
    assert _residual_ratio(params, {"D": 0.02, "k": 0.01}, t0) > 1e-3


def test_parameters_matter(default_solution):
    other = rd.solve({"k": 0.5}, {"x": 101, "t": 101})
    assert default_solution.relative_l2(other.values) > 0.05

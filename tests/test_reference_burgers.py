"""Cole–Hopf Burgers reference: agreement with DeepXDE's data, residual, quadrature convergence."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import roots_hermite

from spikepde.reference import burgers

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="module")
def default_solution():
    return burgers.solve()


def test_matches_deepxde_burgers_npz(default_solution):
    """DeepXDE's Burgers.npz is itself the Cole–Hopf solution to ~1e-11 (research/env_baselines
    §4a), so two exact evaluations must agree far below any training error: rel. L2 <= 1e-8."""
    path = SHARED / "deepxde" / "Burgers.npz"
    if not path.exists():
        pytest.skip("shared reference data not available")
    data = np.load(path)
    ref = default_solution
    np.testing.assert_array_equal(ref.axes["x"], data["x"][:, 0])
    np.testing.assert_allclose(ref.axes["t"], data["t"][:, 0], rtol=0, atol=1e-15)
    assert ref.relative_l2(data["usol"]) <= 1e-8
    assert ref.max_abs_error(data["usol"]) <= 1e-9


def test_initial_and_boundary_conditions(default_solution):
    x = default_solution.axes["x"]
    np.testing.assert_array_equal(default_solution.values[:, 0], -np.sin(np.pi * x))
    assert np.abs(default_solution.values[[0, -1], :]).max() <= 1e-14
    assert default_solution.values.shape == (256, 100)


def test_log_weights_match_scipy_where_scipy_does_not_underflow():
    z, log_w = burgers.hermite_rule_log(600)
    _, w = roots_hermite(600)
    ok = w > 1e-280
    np.testing.assert_allclose(np.exp(log_w[ok]), w[ok], rtol=1e-10, atol=0)
    assert np.all(np.isfinite(log_w))  # also where scipy's weights are exactly 0
    assert (~ok).sum() > 0


def _field(nu: float, n_nodes: int) -> np.ndarray:
    x = np.linspace(-1, 1, 65)
    z, log_w = burgers.hermite_rule_log(n_nodes)
    return np.stack([burgers.cole_hopf(x, t, nu, z, log_w) for t in (0.1, 0.4, 0.7, 1.0)], axis=1)


def test_quadrature_converges_spectrally():
    """Convergence in the number of Gauss–Hermite nodes is exponential: going 20 -> 40 -> 80
    nodes must cut the error against 1000 nodes by orders of magnitude each time."""
    nu = 0.01 / math.pi
    exact = _field(nu, 1000)
    errors = [np.abs(_field(nu, n) - exact).max() for n in (20, 40, 80)]
    assert errors[0] > 1e-2  # too few nodes really are wrong: the check can fail
    assert errors[1] < 1e-3 * errors[0]
    assert errors[2] < 1e-12


@pytest.mark.parametrize("nu", [1e-4, 0.005, 0.02, 1.0])
def test_default_node_count_is_converged(nu):
    """Halving the chosen node count changes nothing beyond round-off, for small and large nu
    (at nu = 1e-4 the mass sits at |z| ~ 56, where scipy's weights would underflow)."""
    n = burgers.hermite_nodes_for(nu)
    assert np.abs(_field(nu, n) - _field(nu, n // 2)).max() < 1e-13


def _residual_ratio(nu_field: float, nu_pde: float, t0: float) -> float:
    """max |u_t + u u_x - nu u_xx| / max(|u_t| + |u u_x| + |nu u_xx|) by central differences
    (h = 1e-3, dt = 1e-4) for the field computed with ``nu_field``, residual with ``nu_pde``."""
    dx, dt = 1e-3, 1e-4
    grid = {"x": {"n": 2001}, "t": {"n": 3, "min": t0 - dt, "max": t0 + dt}}
    u = burgers.solve({"nu": nu_field}, grid).values
    u_t = (u[1:-1, 2] - u[1:-1, 0]) / (2 * dt)
    u_x = (u[2:, 1] - u[:-2, 1]) / (2 * dx)
    u_xx = (u[2:, 1] - 2 * u[1:-1, 1] + u[:-2, 1]) / dx**2
    uu_x = u[1:-1, 1] * u_x
    terms = np.abs(u_t) + np.abs(uu_x) + np.abs(nu_pde * u_xx)
    return float(np.abs(u_t + uu_x - nu_pde * u_xx).max() / terms.max())


@pytest.mark.parametrize("t0", [0.3, 0.9])
def test_nu_002_satisfies_the_pde(t0):
    """The interior finite-difference residual of the nu = 0.02 field is at the level of the
    O(h^2) truncation error (measured 1.6e-5 and 6e-5 of the largest term), while the same field put
    into the PDE with nu = 0.01 leaves an O(1e-1) residual: the check can fail."""
    assert _residual_ratio(0.02, 0.02, t0) < 1e-4
    assert _residual_ratio(0.02, 0.01, t0) > 1e-2


def test_viscosity_changes_the_field(default_solution):
    other = burgers.solve({"nu": 0.02})
    assert default_solution.relative_l2(other.values) > 0.05
    assert np.all(np.abs(other.values) <= 1.0 + 1e-12)


def test_small_viscosity_is_finite_and_bounded():
    sol = burgers.solve({"nu": 1e-4}, {"x": 129, "t": 11})
    assert np.all(np.isfinite(sol.values))
    assert np.abs(sol.values).max() <= 1.0 + 1e-12
    assert sol.meta["hermite_nodes"] > 1000


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        burgers.solve({"nu": -1.0})
    with pytest.raises(ValueError):
        burgers.solve({"viscosity": 0.1})
    with pytest.raises(ValueError):
        burgers.solve(grid={"y": 10})

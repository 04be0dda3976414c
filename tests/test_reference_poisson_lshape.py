"""L-shape Poisson reference (5-point FD + Richardson): exact bounds, convergence, shared file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikepde.reference import poisson_lshape

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference"
GRID33 = {"x": 33, "y": 33}  # spacing 1/16: every node is also a node of the shared SEM grid


@pytest.fixture(scope="module")
def accurate33():
    """Levels 64, 128, 256 cells per unit: about 1e-6 relative (see the module docstring)."""
    return poisson_lshape.solve(grid=GRID33, refine=4, levels=3)


def _rectangle_series(x: float, y: float, a: float, b: float, terms: int = 801) -> float:
    """Exact solution of -Δu = 1, u = 0 on [0, a] x [0, b] (double sine series) at (x, y)."""
    k = np.arange(1, terms, 2)[:, None]
    l = np.arange(1, terms, 2)[None, :]
    coef = 16.0 / (np.pi**2 * k * l * ((k * np.pi / a) ** 2 + (l * np.pi / b) ** 2))
    return float((coef * np.sin(k * np.pi * x / a) * np.sin(l * np.pi * y / b)).sum())


def _bounds(x: float, y: float) -> tuple[float, float]:
    """Comparison principle: rectangle [-1,0]x[-1,1] (or [-1,1]x[-1,0]) ⊂ L ⊂ square [-1,1]^2."""
    lower = _rectangle_series(x + 1, y + 1, 1.0, 2.0) if x < 0 else _rectangle_series(x + 1, y + 1, 2.0, 1.0)
    return lower, _rectangle_series(x + 1, y + 1, 2.0, 2.0)


def _at(sol, x: float, y: float) -> float:
    i = np.flatnonzero(np.isclose(sol.axes["x"], x))[0]
    j = np.flatnonzero(np.isclose(sol.axes["y"], y))[0]
    return float(sol.values[i, j])


@pytest.mark.parametrize("point", [(-0.5, -0.5), (-0.5, 0.5), (0.5, -0.5), (-0.25, 0.75), (-0.75, -0.25)])
def test_solution_lies_between_exact_rectangle_and_square(accurate33, point):
    lower, upper = _bounds(*point)
    assert lower < _at(accurate33, *point) < upper


def test_domain_marking_and_symmetry(accurate33):
    u = accurate33.values
    x, y = np.meshgrid(accurate33.axes["x"], accurate33.axes["y"], indexing="ij")
    np.testing.assert_array_equal(np.isnan(u), (x > 0) & (y > 0))  # as in the shared file
    assert np.all(u[(x == 0) & (y >= 0)] == 0) and np.all(u[(y == 0) & (x >= 0)] == 0)
    assert np.all(u[[0, -1], :][np.isfinite(u[[0, -1], :])] == 0)
    np.testing.assert_allclose(u, u.T, atol=1e-13, equal_nan=True)  # symmetric about y = x
    assert np.nanmin(u) >= 0


def test_plain_fd_converges_with_order_four_thirds(accurate33):
    """The corner singularity r^{2/3} limits the 5-point scheme to O(h^{4/3}) (not h^2):
    halving h divides the error by 2^{4/3} = 2.52 (measured 2.61, 2.60)."""
    errors = [accurate33.relative_l2(poisson_lshape.solve(grid=GRID33, refine=r, levels=1).values)
              for r in (1, 2, 4)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 1.2) & (orders < 1.6)), orders


def test_richardson_extrapolation_pays_off(accurate33):
    """Two Richardson steps (h^{4/3}, h^2) on grids 16-64 cells per unit beat plain FD on 64
    cells by more than 10x, and halving all three grids gains another ~10x."""
    plain64 = accurate33.relative_l2(poisson_lshape.solve(grid=GRID33, refine=4, levels=1).values)
    extra1 = accurate33.relative_l2(poisson_lshape.solve(grid=GRID33, refine=1, levels=3).values)
    extra2 = accurate33.relative_l2(poisson_lshape.solve(grid=GRID33, refine=2, levels=3).values)
    assert extra1 < plain64 / 10
    assert extra2 < extra1 / 5
    assert extra2 < 2e-5


def test_richardson_removes_a_known_power():
    fields = [1.0 + 3.0 * h ** (4 / 3) - 2.0 * h**2 for h in (0.1, 0.05, 0.025)]
    assert poisson_lshape.richardson([np.array(f) for f in fields]) == pytest.approx(1.0, abs=1e-13)


@pytest.fixture(scope="module")
def shared_lshape():
    path = SHARED / "deepxde" / "Poisson_Lshape.npz"
    if not path.exists():
        pytest.skip("shared reference data not available")
    data = np.load(path)
    return data["X_test"], data["y_ref"][:, 0]


def test_shared_file_disagrees_and_is_the_one_at_fault(accurate33, shared_lshape):
    """The brief asked for rel. L2 <= 1e-4 against DeepXDE's Poisson_Lshape.npz.  That cannot
    hold: the file (a spectral-element solution, 16x16 elements of order 10 on GLL nodes) is
    about 10 % below the solution of -Δu = 1.  We compare at the 833 nodes it shares with our
    1/16 grid (no interpolation) and show the file is wrong, independently of our solver:

    * at (-0.5, 0.5) the file is below the exact solution on the inscribed rectangle
      [-1, 0] x [-1, 1] (sine series), which the comparison principle forbids;
    * its own degree-10 Laplacian inside an element away from the corner is about -0.9, not -1.
    """
    X, y_ref = shared_lshape
    sol = accurate33
    ix = np.rint((X[:, 0] + 1) * 16).astype(int)
    iy = np.rint((X[:, 1] + 1) * 16).astype(int)
    common = np.isclose(sol.axes["x"][ix], X[:, 0], atol=1e-12, rtol=0) & \
        np.isclose(sol.axes["y"][iy], X[:, 1], atol=1e-12, rtol=0)
    ours = sol.values[ix[common], iy[common]]
    theirs = y_ref[common]
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))  # same NaN convention
    ok = np.isfinite(theirs)
    rel = np.linalg.norm(ours[ok] - theirs[ok]) / np.linalg.norm(ours[ok])
    assert 0.05 < rel < 0.15  # measured 0.102

    k = np.flatnonzero(np.isclose(X[:, 0], -0.5) & np.isclose(X[:, 1], 0.5))[0]
    lower, _ = _bounds(-0.5, 0.5)
    assert y_ref[k] < lower - 1e-3 < _at(sol, -0.5, 0.5)

    nodes = np.unique(X[:, 0])
    field = y_ref.reshape(161, 161)[40:51, 40:51]  # element [-0.5, -0.375]^2
    d = _lagrange_derivative(nodes[40:51])
    laplacian = (d @ d) @ field + field @ (d @ d).T
    assert np.all(np.abs(-laplacian[2:9, 2:9] - 1.0) > 0.05)


def _lagrange_derivative(x: np.ndarray) -> np.ndarray:
    """Differentiation matrix of the polynomial interpolant on the nodes x."""
    w = np.array([1.0 / np.prod(np.delete(x[i] - x, i)) for i in range(x.size)])
    diff = x[:, None] - x[None, :] + np.eye(x.size)
    d = (w[None, :] / w[:, None]) / diff
    np.fill_diagonal(d, 0.0)
    np.fill_diagonal(d, -d.sum(axis=1))
    return d


def test_bad_grid_is_refused():
    with pytest.raises(ValueError):
        poisson_lshape.solve(grid={"x": 32, "y": 33})
    with pytest.raises(ValueError):
        poisson_lshape.solve(grid={"x": {"n": 33, "min": -2.0}})

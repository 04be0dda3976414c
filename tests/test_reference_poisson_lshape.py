"""L-shape Poisson reference (5-point FD + Richardson): exact bounds, convergence, shared file.

DeepXDE's ``Poisson_Lshape.npz`` holds the solution of -Δu + u = 1 (kappa = 1), not of the
example's -Δu = 1 (kappa = 0): the tests below show both, independently of our solver, and then
cross-check our kappa = 1 solution against the file to a relative L2 of 1e-4.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from scipy.interpolate import RectBivariateSpline

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


@pytest.fixture(scope="module")
def accurate33_kappa1():
    return poisson_lshape.solve({"kappa": 1.0}, grid=GRID33, refine=4, levels=3)


def _accurate33(kappa, request):
    return request.getfixturevalue("accurate33" if kappa == 0 else "accurate33_kappa1")


@pytest.mark.parametrize("kappa", [0.0, 1.0])
def test_plain_fd_converges_with_order_four_thirds(kappa, request):
    """The corner singularity r^{2/3} limits the 5-point scheme to O(h^{4/3}) (not h^2):
    halving h divides the error by 2^{4/3} = 2.52 (measured 2.60, 2.60 for kappa = 0 and 2.62,
    2.61 for kappa = 1: the zero-order term does not change the corner exponents)."""
    accurate = _accurate33(kappa, request)
    errors = [accurate.relative_l2(poisson_lshape.solve({"kappa": kappa}, grid=GRID33, refine=r,
                                                        levels=1).values)
              for r in (1, 2, 4)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 1.2) & (orders < 1.6)), orders


@pytest.mark.parametrize("kappa", [0.0, 1.0])
def test_richardson_extrapolation_pays_off(kappa, request):
    """Two Richardson steps (h^{4/3}, h^2) on grids 16-64 cells per unit beat plain FD on 64
    cells by more than 10x, and halving all three grids gains another ~10x (the same
    exponents serve kappa = 1)."""
    accurate = _accurate33(kappa, request)
    fd = lambda refine, levels: poisson_lshape.solve({"kappa": kappa}, grid=GRID33,  # noqa: E731
                                                     refine=refine, levels=levels).values
    plain64 = accurate.relative_l2(fd(4, 1))
    extra1 = accurate.relative_l2(fd(1, 3))
    extra2 = accurate.relative_l2(fd(2, 3))
    assert extra1 < plain64 / 10
    assert extra2 < extra1 / 5
    assert extra2 < 2e-5


def test_kappa_lowers_the_solution_and_is_checked():
    """-Δu + kappa u = 1: a larger kappa gives a smaller solution (comparison principle);
    kappa < 0 is refused (the operator can lose definiteness), and so is an unknown name."""
    u0 = poisson_lshape.solve(grid={"x": 17, "y": 17}, refine=2, levels=1).values
    u1 = poisson_lshape.solve({"kappa": 1.0}, grid={"x": 17, "y": 17}, refine=2, levels=1).values
    inside = np.isfinite(u0) & (u0 > 0)
    assert np.all(u1[inside] < u0[inside])
    np.testing.assert_array_equal(np.isnan(u0), np.isnan(u1))
    with pytest.raises(ValueError, match="kappa"):
        poisson_lshape.solve({"kappa": -1.0}, grid={"x": 17, "y": 17})
    with pytest.raises(ValueError, match="unknown"):
        poisson_lshape.solve({"nu": 1.0}, grid={"x": 17, "y": 17})


def test_kappa_is_a_catalogue_parameter_with_its_own_cache_entry(monkeypatch, tmp_path):
    """``load_problem("poisson_lshape", kappa=1)`` passes kappa to the solver and keys the cache
    on it; omitting kappa and giving its default 0 share one entry."""
    import spikepde
    from spikepde import reference

    monkeypatch.setenv("SPIKEPDE_CACHE", str(tmp_path))
    small = {"x": 17, "y": 17}
    default = reference.solve_reference("poisson_lshape_fd", {}, small)
    explicit0 = reference.solve_reference("poisson_lshape_fd", {"kappa": 0.0}, small)
    one = reference.solve_reference("poisson_lshape_fd", {"kappa": 1.0}, small)
    assert default.meta["cache_key"] == explicit0.meta["cache_key"] != one.meta["cache_key"]
    assert one.meta["params"] == {"kappa": 1.0}
    assert np.nanmax(one.values) < np.nanmax(default.values)
    assert len(list((tmp_path / "references").glob("*.npz"))) == 2
    problem = spikepde.load_problem("poisson_lshape", kappa=1)
    assert problem.param_values() == {"kappa": 1.0}


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
    """DeepXDE's Poisson_Lshape.npz is NOT the solution of the example's -Δu = 1 (kappa = 0,
    our default): the file (a spectral-element solution, 16x16 elements of order 10 on GLL
    nodes) is about 10 % below it.  We compare at the 833 nodes it shares with our 1/16 grid
    (no interpolation) and show that the file, not our solver, departs from -Δu = 1:

    * at (-0.5, 0.5) the file is below the exact solution on the inscribed rectangle
      [-1, 0] x [-1, 1] (sine series), which the comparison principle forbids;
    * its own degree-10 Laplacian inside an element away from the corner is about -0.9, not -1.

    This is why the catalogue entry has the parameter kappa and the cross-check below uses
    kappa = 1 (the next test shows the file solves -Δu + u = 1).
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


def _element_blocks(X: np.ndarray, y_ref: np.ndarray):
    """The file's 161 x 161 nodes as 16 x 16 spectral elements of order 10 (11 GLL nodes per
    axis, shared at element interfaces): yields (nodes_x, nodes_y, values) per element of the
    L-shape (the removed quadrant's elements are skipped)."""
    nodes = np.unique(X[:, 0])
    np.testing.assert_array_equal(X[:, 0].reshape(161, 161), np.broadcast_to(nodes[:, None], (161, 161)))
    np.testing.assert_array_equal(X[:, 1].reshape(161, 161), np.broadcast_to(nodes[None, :], (161, 161)))
    field = y_ref.reshape(161, 161)
    for ex in range(16):
        for ey in range(16):
            if ex >= 8 and ey >= 8:
                continue
            sx, sy = slice(10 * ex, 10 * ex + 11), slice(10 * ey, 10 * ey + 11)
            yield nodes[sx], nodes[sy], field[sx, sy]


def test_shared_file_solves_minus_laplacian_plus_u_equals_one(shared_lshape):
    """Independently of our solver: inside each of its 192 elements, the file's own degree-10
    polynomial satisfies -Δy + y = 1 at every interior node to 1e-11 (measured 1.2e-11; a
    least-squares fit of -Δy = a + b y over all elements gives a = 1, b = -1 to 1e-11), i.e. the
    file is a spectral-element solution of -Δu + u = 1 -- the equation of our kappa = 1."""
    X, y_ref = shared_lshape
    worst = 0.0
    for nx, ny, f in _element_blocks(X, y_ref):
        dx2, dy2 = np.linalg.matrix_power(_lagrange_derivative(nx), 2), \
            np.linalg.matrix_power(_lagrange_derivative(ny), 2)
        laplacian = dx2 @ f + f @ dy2.T
        worst = max(worst, np.abs(-laplacian + f - 1.0)[1:-1, 1:-1].max())
    assert worst < 1e-8, worst


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


# --- cross-check of kappa = 1 against the file: relative L2 <= 1e-4 --------------------------
#
# Tolerance.  The file is a spectral-element solution (16 x 16 elements of degree 10); the corner
# singularity r^{2/3}, which polynomials do not resolve, pollutes it globally at the level of
# 4e-5 relative: at the 833 nodes it shares with a uniform grid (no interpolation needed) it
# differs from our Richardson-extrapolated FD solution by 4.1e-5 relative L2 (max 2.4e-5, next to
# the corner), and this does not change when all our grids are halved (our own error is about
# 1e-6, see above).  Evaluating our grid solution at the file's 25921 GLL nodes adds an
# interpolation error of about 1.2e-5 (measured by interpolating the 1/80 grid onto the 1/160
# grid's off-grid nodes); together 5.4e-5.  1e-4 is the bound and leaves a factor ~2.
#
# Interpolation (here, not in the package).  u is smooth on each closed rectangle
# [-1, 0] x [-1, 1] and [-1, 1] x [-1, 0] except at the corner, where u ~ c r^{2/3} sin(2φ/3)
# (φ the angle from the edge x = 0, y > 0).  We subtract that term, with c fitted to the grid
# values within r < 0.2, interpolate the remainder with a bicubic spline on the rectangle that
# contains the point (so no NaN from the removed quadrant enters), and add the term back.
# Plain bicubic interpolation (no corner mode) gives 4.4e-4 (max 3e-3 at the corner): over the
# bound, which is why the mode is subtracted.
KAPPA1_GRID = {"x": 161, "y": 161}  # spacing 1/80; Richardson over 80, 160, 320 cells per unit
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def kappa1_161():
    """-Δu + u = 1 on the 1/80 grid (about 4 s on one core; its error is about 1e-6 relative,
    see the module docstring of the solver)."""
    start = time.perf_counter()
    sol = poisson_lshape.solve({"kappa": 1.0}, grid=KAPPA1_GRID, refine=1, levels=3)
    sol.meta["test_seconds"] = time.perf_counter() - start
    return sol


def _corner_mode(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """r^{2/3} sin(2φ/3), φ ∈ [0, 3π/2] measured from the re-entrant edge x = 0, y > 0."""
    phi = np.mod(np.arctan2(y, x) - np.pi / 2, 2 * np.pi)
    return np.hypot(x, y) ** (2.0 / 3.0) * np.sin(2.0 * phi / 3.0)


def interpolate_lshape(sol, points: np.ndarray) -> np.ndarray:
    """Values of the grid solution ``sol`` at arbitrary ``points`` of the L-shape (NaN in the
    removed quadrant): corner mode subtracted, bicubic splines per rectangle, mode added back."""
    ax, ay = sol.axes["x"], sol.axes["y"]
    ix0, iy0 = int(np.flatnonzero(ax == 0.0)[0]), int(np.flatnonzero(ay == 0.0)[0])
    gx, gy = np.meshgrid(ax, ay, indexing="ij")
    near = np.isfinite(sol.values) & (np.hypot(gx, gy) < 0.2) & (np.hypot(gx, gy) > 0)
    basis = np.stack([_corner_mode(gx[near], gy[near]), gx[near] ** 2, gy[near] ** 2,
                      gx[near] * gy[near]], axis=1)  # u(0, 0) = 0: no constant
    c = np.linalg.lstsq(basis, sol.values[near], rcond=None)[0][0]
    smooth = sol.values - c * _corner_mode(gx, gy)
    left = RectBivariateSpline(ax[: ix0 + 1], ay, smooth[: ix0 + 1, :], kx=3, ky=3, s=0)
    bottom = RectBivariateSpline(ax, ay[: iy0 + 1], smooth[:, : iy0 + 1], kx=3, ky=3, s=0)
    x, y = points[:, 0], points[:, 1]
    out = np.where(x <= 0, left.ev(x, np.clip(y, ay[0], ay[-1])),
                   bottom.ev(x, np.clip(y, ay[0], 0.0)))
    out = out + c * _corner_mode(x, y)
    out[(x > 0) & (y > 0)] = np.nan
    return out


def _relative_l2(ours: np.ndarray, theirs: np.ndarray) -> float:
    """NaN-aware: both must be NaN at the same points (the removed quadrant)."""
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    ok = np.isfinite(theirs)
    return float(np.linalg.norm(ours[ok] - theirs[ok]) / np.linalg.norm(theirs[ok]))


def test_kappa_one_matches_the_shared_file_at_all_its_nodes(kappa1_161, shared_lshape):
    """Relative L2 <= 1e-4 at all 25921 nodes of X_test (measured 5.4e-5)."""
    X, y_ref = shared_lshape
    rel = _relative_l2(interpolate_lshape(kappa1_161, X), y_ref)
    assert rel <= TOLERANCE, rel
    assert kappa1_161.meta["test_seconds"] < 60


def test_kappa_one_matches_the_shared_file_at_common_nodes(kappa1_161, shared_lshape):
    """No interpolation at all: the 833 file nodes on the 1/16 lattice are nodes of our 1/80
    grid; relative L2 4.1e-5 (the file's own accuracy, see the tolerance note above)."""
    X, y_ref = shared_lshape
    ax = kappa1_161.axes["x"]
    i = np.rint((X + 1.0) * 80).astype(int)
    common = np.all(np.isclose(ax[i], X, atol=1e-12, rtol=0), axis=1)
    assert common.sum() == 33 * 33
    rel = _relative_l2(kappa1_161.values[i[common, 0], i[common, 1]], y_ref[common])
    assert rel <= TOLERANCE, rel


def test_corner_interpolation_is_accurate_on_our_own_grid(kappa1_161):
    """The interpolation alone, on our own solutions: from a 1/40 grid (same Richardson levels,
    so the same accuracy) onto the 1/80 grid, relative L2 4.0e-5 (plain bicubic: 6.2e-4).
    Halving the spacing divides it by about 3.3: 1/80 -> 1/160 (a 20 s solve, so not run here)
    measured 1.2e-5, the figure in the tolerance note."""
    coarse = poisson_lshape.solve({"kappa": 1.0}, grid={"x": 81, "y": 81}, refine=2, levels=3)
    gx, gy = np.meshgrid(kappa1_161.axes["x"], kappa1_161.axes["y"], indexing="ij")
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)
    rel = _relative_l2(interpolate_lshape(coarse, points), kappa1_161.values.ravel())
    assert rel < TOLERANCE, rel

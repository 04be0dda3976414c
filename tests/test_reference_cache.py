"""ReferenceSolution files and the on-disk reference cache."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import spikepde.reference as reference
from spikepde.reference import ReferenceSolution, cache_dir, cache_key, cached, get_reference


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEPDE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "references"


def _solution(scale: float = 1.0) -> ReferenceSolution:
    x, y = np.linspace(0, 1, 4), np.linspace(-1, 1, 3)
    values = scale * np.add.outer(x, 10 * y)
    values[0, 0] = np.nan
    return ReferenceSolution({"x": x, "t": y}, values, {"solver": "toy", "n": 4})


class Counter:
    def __init__(self, scale: float = 1.0):
        self.calls, self.scale = 0, scale

    def __call__(self) -> ReferenceSolution:
        self.calls += 1
        return _solution(self.scale)


KEY = {"solver": "toy", "version": "1", "params": {"a": 0.1}, "grid": {"x": 4}}


def test_points_and_values_follow_ij_order():
    sol = _solution()
    pts = sol.points()
    assert pts.shape == (12, 2)
    i = 7  # x index 2, t index 1
    np.testing.assert_array_equal(pts[i], [sol.axes["x"][2], sol.axes["t"][1]])
    assert sol.flat_values()[i] == sol.values[2, 1]
    assert sol.mask().sum() == 11


def test_relative_l2_ignores_reference_nan_but_not_prediction_nan():
    sol = _solution()
    pred = sol.values.copy()
    pred[0, 0] = 123.0  # outside the domain: ignored
    assert sol.relative_l2(pred) == 0.0
    pred[1, 1] += 1.0
    expected = 1.0 / np.linalg.norm(sol.values[sol.mask()])
    assert sol.relative_l2(pred.reshape(-1, 1)) == pytest.approx(expected, rel=1e-14)
    assert sol.max_abs_error(pred.reshape(-1)) == pytest.approx(1.0)
    pred[2, 2] = np.nan
    assert math.isnan(sol.relative_l2(pred))
    with pytest.raises(ValueError):
        sol.relative_l2(np.zeros(5))


def test_save_load_roundtrip_without_pickle(tmp_path):
    sol = _solution()
    sol.meta["params"] = {"nu": np.float64(0.5)}
    path = tmp_path / "s.npz"
    sol.save(path)
    back = ReferenceSolution.load(path)
    assert back.names == ["x", "t"]
    np.testing.assert_array_equal(back.values, sol.values)  # NaN in the same place
    assert back.meta == {"solver": "toy", "n": 4, "params": {"nu": 0.5}}
    with np.load(path, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError):
        ReferenceSolution({"x": np.zeros(3)}, np.zeros(4))


def test_second_call_uses_the_cache(private_cache):
    compute = Counter()
    first = cached(KEY, compute)
    second = cached(KEY, compute)
    assert compute.calls == 1
    np.testing.assert_array_equal(first.values, second.values)
    assert second.meta["cache_key"] == cache_key(KEY)
    assert list(private_cache.glob("*.npz")) == [private_cache / f"{cache_key(KEY)}.npz"]
    assert not list(private_cache.glob("*.tmp"))  # no temporary file left behind


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_damaged_entry_is_recomputed(private_cache, damage):
    compute = Counter()
    cached(KEY, compute)
    path = private_cache / f"{cache_key(KEY)}.npz"
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":  # one byte in the middle of the values array
        raw[len(raw) // 2] ^= 0xFF
    elif damage == "garbage":
        raw = bytearray(b"not an npz file at all")
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    again = cached(KEY, compute)
    assert compute.calls == 2
    np.testing.assert_array_equal(again.values, _solution().values)
    cached(KEY, compute)  # the rewritten entry is good again
    assert compute.calls == 2


def test_entry_with_valid_zip_but_wrong_checksum_is_recomputed(private_cache):
    compute = Counter()
    cached(KEY, compute)
    path = private_cache / f"{cache_key(KEY)}.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["values"] = arrays["values"] + 1.0  # a well-formed file whose data was changed
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    cached(KEY, compute)
    assert compute.calls == 2


def test_different_parameters_or_grid_give_different_entries(private_cache):
    a, b, c = Counter(1.0), Counter(2.0), Counter(3.0)
    cached(KEY, a)
    other_param = {**KEY, "params": {"a": 0.1000001}}
    other_grid = {**KEY, "grid": {"x": 5}}
    assert cached(other_param, b).values[1, 1] == _solution(2.0).values[1, 1]
    cached(other_grid, c)
    assert (a.calls, b.calls, c.calls) == (1, 1, 1)
    assert len(list(private_cache.glob("*.npz"))) == 3
    assert cache_key({**KEY, "version": "2"}) != cache_key(KEY)


def test_key_is_canonical():
    same = {"grid": {"x": 4}, "params": {"a": 0.1 + 1e-17}, "version": "1", "solver": "toy"}
    assert cache_key(same) == cache_key(KEY)
    assert cache_key({**KEY, "params": {"a": 1}}) == cache_key({**KEY, "params": {"a": 1.0}})
    assert cache_key({**KEY, "params": {"a": 0.1 + 1e-15}}) != cache_key(KEY)


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEPDE_CACHE", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere" / "references"


def test_get_reference_uses_the_named_solver_and_caches(monkeypatch, private_cache):
    calls = []
    real = reference.SOLVERS["burgers_cole_hopf"]
    monkeypatch.setitem(reference.SOLVERS, "burgers_cole_hopf",
                        lambda p, g: calls.append(1) or real(p, g))
    problem = SimpleNamespace(reference=SimpleNamespace(solver="burgers_cole_hopf",
                                                        grid={"x": 33, "t": 5}),
                              param_values=lambda: {"nu": 0.05})
    sol = get_reference(problem)
    again = get_reference(problem)
    assert len(calls) == 1
    assert sol.values.shape == (33, 5) and sol.meta["params"] == {"nu": 0.05}
    np.testing.assert_array_equal(sol.values, again.values)
    other = SimpleNamespace(reference=problem.reference, param_values=lambda: {"nu": 0.06})
    assert not np.array_equal(get_reference(other).values, sol.values)
    assert len(calls) == 2


def _toy_problem(**overrides):
    from spikepde.problem import problem_from_dict

    spec = {"name": "toy", "title": "a plane", "kind": "regression", "variables": {"space": ["x", "y"]},
            "domain": {"x": [-1.0, 1.0], "y": [-1.0, 1.0]}, "parameters": {"a": {"default": 2.0}},
            "reference": {"exact": "a*x + y", "grid": {"x": 5, "y": 5}}}
    spec.update(overrides)
    return problem_from_dict(spec)


def test_get_reference_closed_form_with_excluded_box():
    problem = _toy_problem(domain={"x": [-1.0, 1.0], "y": [-1.0, 1.0],
                                   "exclude": [{"x": [0.0, 1.0], "y": [0.0, 1.0]}]})
    sol = get_reference(problem)
    assert sol.values.shape == (5, 5)
    x, y = np.meshgrid(sol.axes["x"], sol.axes["y"], indexing="ij")
    removed = (x > 0) & (y > 0)
    assert np.isnan(sol.values[removed]).all() and removed.sum() == 4
    np.testing.assert_allclose(sol.values[~removed], (2 * x + y)[~removed], rtol=0, atol=0)


def test_get_reference_closed_form_follows_the_parameters():
    sol = get_reference(_toy_problem().with_params(a=3.0))
    X, Y = np.meshgrid(sol.axes["x"], sol.axes["y"], indexing="ij")
    np.testing.assert_allclose(sol.values, 3 * X + Y, rtol=1e-15, atol=1e-15)
    assert sol.meta["params"] == {"a": 3.0}


def test_unknown_solver_is_an_error():
    with pytest.raises(KeyError):
        reference.solve_reference("no_such_solver")


def test_get_reference_reads_problem_grid_axes(private_cache):
    """Problems describe grid axes as objects with n, lo, hi, endpoint (problem.GridAxis)."""
    axis = lambda n, lo, hi, endpoint=True: SimpleNamespace(n=n, lo=lo, hi=hi, endpoint=endpoint)  # noqa: E731
    problem = SimpleNamespace(
        reference=SimpleNamespace(solver="burgers_cole_hopf",
                                  grid={"x": axis(16, -1.0, 1.0, False), "t": axis(3, 0.0, 0.5)}),
        param_values=lambda: {"nu": 0.1})
    sol = get_reference(problem)
    np.testing.assert_array_equal(sol.axes["x"], np.linspace(-1, 1, 16, endpoint=False))
    np.testing.assert_array_equal(sol.axes["t"], [0.0, 0.25, 0.5])


def test_registry_has_the_five_solvers_with_consistent_metadata():
    assert set(reference.SOLVERS) == {"burgers_cole_hopf", "allen_cahn_spectral", "kdv_spectral",
                                      "poisson_lshape_fd", "reaction_diffusion_mol"}
    for name in reference.SOLVERS:
        assert reference.VERSIONS[name]
        grid = reference.DEFAULT_GRIDS[name]
        assert list(grid)[-1] in ("t", "y")  # time (or the second space variable) last

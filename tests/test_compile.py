"""Compiled problems: residuals on exact fields, sampling, determinism, periodic pairs.

These tests exercise the compiled conditions themselves, so they compile with
hard_constraints=False (a hard constraint removes the conditions it enforces)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spikepde.problem import compile_problem, list_problems, load_problem, problem_from_dict

WITH_EXACT = [n for n in list_problems() if load_problem(n).exact is not None]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", WITH_EXACT)
def test_compiled_residuals_vanish_on_the_exact_solution(name):
    compiled = compile_problem(load_problem(name), dtype=torch.float64, hard_constraints=False)
    X = compiled.sample_interior(300, gen())
    fields = compiled.exact_fields(X)
    residual = compiled.residual(X, fields)
    assert residual.shape == (compiled.n_residuals, 300)
    size = max(1.0, max(f.abs().max().item() for f in fields.values()))
    if compiled.n_residuals:
        assert residual.abs().max().item() < 1e-10 * size
    for condition in compiled.conditions:
        Xc = condition.sample(50, gen(1))
        fields = compiled.exact_fields(Xc, condition.derivatives)
        r = condition.residual(Xc, fields)
        assert r.abs().max().item() < 1e-9, condition.label


@pytest.mark.parametrize("name", list_problems())
def test_compiles_in_float32_with_consistent_derivatives(name):
    compiled = compile_problem(load_problem(name), hard_constraints=False)
    assert (0,) * len(compiled.input_names) in compiled.derivatives
    X = compiled.sample_interior(64, gen())
    assert X.dtype == torch.float32 and X.shape == (64, len(compiled.input_names))
    assert torch.all(X >= compiled.lower) and torch.all(X <= compiled.upper)
    fields = {m: torch.zeros(64) for m in compiled.derivatives}
    assert compiled.residual(X, fields).shape == (compiled.n_residuals, 64)
    for condition in compiled.conditions:
        assert set(condition.derivatives) <= set(compiled.derivatives)
        assert condition.points >= 1
        Xc = condition.sample(10, gen())
        fields = {m: torch.zeros(Xc.shape[0]) for m in condition.derivatives}
        assert condition.residual(Xc, fields).ndim == 1


def test_same_seed_same_points():
    compiled = compile_problem(load_problem("burgers"), hard_constraints=False)
    assert torch.equal(compiled.sample_interior(100, gen(7)), compiled.sample_interior(100, gen(7)))
    assert not torch.equal(compiled.sample_interior(100, gen(7)), compiled.sample_interior(100, gen(8)))
    c = compiled.conditions[1]
    assert torch.equal(c.sample(20, gen(3)), c.sample(20, gen(3)))
    torch.manual_seed(0)
    a = compiled.sample_interior(10, gen(1))
    torch.manual_seed(1)  # the global RNG plays no part
    assert torch.equal(a, compiled.sample_interior(10, gen(1)))


def test_lshape_sampling_avoids_the_removed_quadrant():
    compiled = compile_problem(load_problem("poisson_lshape"), hard_constraints=False)
    X = compiled.sample_interior(4000, gen())
    assert X.shape == (4000, 2)
    assert not torch.any((X[:, 0] > 0) & (X[:, 1] > 0))
    assert torch.all(X.abs() <= 1)
    # about a third of the points in each remaining quadrant
    assert ((X[:, 0] < 0) & (X[:, 1] > 0)).float().mean().item() == pytest.approx(1 / 3, abs=0.05)
    (boundary,) = compiled.conditions
    B = boundary.sample(3000, gen(2))
    assert not torch.any((B[:, 0] > 0) & (B[:, 1] > 0))
    on_outer = (B.abs() == 1).any(dim=1)
    on_reentrant = ((B[:, 0] == 0) & (B[:, 1] >= 0)) | ((B[:, 1] == 0) & (B[:, 0] >= 0))
    assert torch.all(on_outer | on_reentrant)
    # the boundary has length 8: 6 outer + 2 re-entrant, sampled in proportion
    assert on_reentrant.float().mean().item() == pytest.approx(2 / 8, abs=0.01)


def test_face_points_are_split_by_area():
    compiled = compile_problem(load_problem("poisson1d"), hard_constraints=False)
    X = compiled.conditions[0].sample(2, gen())
    assert sorted(X[:, 0].tolist()) == [0.0, 1.0]


def test_periodic_pairs_match_except_the_periodic_coordinate():
    compiled = compile_problem(load_problem("advection1d"), hard_constraints=False)
    (periodic,) = [c for c in compiled.conditions if c.kind == "periodic"]
    X = periodic.sample(25, gen())
    assert X.shape == (50, 2)
    low, high = X[:25], X[25:]
    lo, hi = load_problem("advection1d").domain["x"]
    assert torch.all(low[:, 0] == lo) and torch.all(high[:, 0] == hi)
    assert torch.equal(low[:, 1], high[:, 1])
    fields = {(0, 0): torch.cat([torch.arange(25.0), torch.arange(25.0)])}
    fields.update({m: torch.zeros(50) for m in periodic.derivatives if m != (0, 0)})
    assert torch.all(periodic.residual(X, fields) == 0)


def test_neumann_uses_the_outward_normal():
    spec = {"name": "n", "title": "n", "variables": {"space": ["x"]}, "domain": {"x": [0, 1]},
            "pde": {"residual": "u_xx - 2"},
            "conditions": [{"kind": "neumann", "on": ["x_min", "x_max"], "value": "1"}],
            "reference": {"exact": "(x - 0.5)**2", "grid": {"x": 3}}}   # outward slope 1 at both ends
    compiled = compile_problem(problem_from_dict(spec), dtype=torch.float64, hard_constraints=False)
    (neumann,) = compiled.conditions
    X = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    fields = {(1,): torch.tensor([1.0, 1.0], dtype=torch.float64)}  # u = x: du/dx = 1
    # outward normal derivative: -1 at x = 0, +1 at x = 1
    assert neumann.residual(X, fields).tolist() == [-2.0, 0.0]


def test_operator_condition_reads_the_time_derivative():
    compiled = compile_problem(load_problem("wave1d"), dtype=torch.float64, hard_constraints=False)
    (operator,) = [c for c in compiled.conditions if c.kind == "operator"]
    assert operator.derivatives == [(0, 1)]
    X = operator.sample(8, gen())
    assert torch.all(X[:, 1] == 0)
    assert torch.equal(operator.residual(X, {(0, 1): torch.full((8,), 2.0, dtype=torch.float64)}),
                       torch.full((8,), 2.0, dtype=torch.float64))


def test_exact_matches_numpy_and_regression_has_no_pde():
    problem = load_problem("mexican_hat")
    compiled = compile_problem(problem, dtype=torch.float64, hard_constraints=False)
    assert not compiled.has_pde and compiled.conditions == []
    X = compiled.sample_interior(50, gen())
    assert compiled.residual(X, {}).shape == (0, 50)
    assert np.allclose(compiled.exact(X).numpy(), problem.exact_numpy(X.numpy()), rtol=1e-12)


def test_parameters_are_applied_at_compile_time():
    X = torch.tensor([[0.5, 0.0]], dtype=torch.float64)
    fields = {(0, 0): torch.zeros(1, dtype=torch.float64), (1, 0): torch.zeros(1, dtype=torch.float64),
              (0, 1): torch.zeros(1, dtype=torch.float64), (2, 0): torch.ones(1, dtype=torch.float64)}
    slow = compile_problem(load_problem("burgers", nu=0.1), dtype=torch.float64, hard_constraints=False)
    assert slow.residual(X, fields).item() == pytest.approx(-0.1)


def test_reference_grid_and_exact_on_grid():
    problem = load_problem("poisson_lshape")
    axes = problem.reference.axes()
    assert [len(a) for a in axes.values()] == [161, 161]
    burgers = load_problem("burgers")
    t = burgers.reference.axes()["t"]
    assert len(t) == 100 and t[-1] == pytest.approx(0.99)
    kdv = load_problem("kdv").reference.axes()["x"]
    assert len(kdv) == 512 and kdv[-1] < 1.0
    grid = load_problem("heat1d").exact_on_grid()
    assert grid.shape == (101, 101) and np.isfinite(grid).all()


def test_excluded_mask_matches_deepxde_lshape_convention():
    problem = load_problem("poisson_lshape")
    axes = problem.reference.axes()
    mesh = np.meshgrid(axes["x"], axes["y"], indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=1)
    # DeepXDE's Poisson_Lshape.npz has NaN at 6400 points: x > 0 and y > 0, edges x=1, y=1 included
    assert problem.excluded_mask(points).sum() == 80 * 80

"""Every catalogue entry with a closed form satisfies its own PDE and conditions.

The check is symbolic substitution followed by float64 evaluation at random points (exact
``simplify`` is slow and sometimes fails to see zero for sums of trigonometric terms).
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy

from spikepde.problem import list_problems, load_problem
from spikepde.problem.numeric import build_evaluator

WITH_EXACT = [n for n in list_problems() if load_problem(n).exact is not None]
TOL = 1e-10


def evaluate(problem, expr, points: np.ndarray) -> np.ndarray:
    expr = expr.xreplace(problem.substitutions())
    fn = build_evaluator(expr, problem.input_symbols, backend="numpy")
    value = fn([points[:, i] for i in range(points.shape[1])], {})
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (points.shape[0],))


def on_exact(problem, expr):
    """``expr`` with u replaced by the closed form and the derivatives carried out."""
    return expr.subs(problem.u, problem.exact).doit()


def random_points(problem, n=200, seed=0, fixed=None):
    rng = np.random.default_rng(seed)
    cols = []
    for name in problem.input_names:
        lo, hi = problem.domain[name]
        cols.append(rng.uniform(lo, hi, n))
    pts = np.stack(cols, axis=1)
    for name, value in (fixed or {}).items():
        pts[:, problem.input_names.index(name)] = value
    return pts


def scale(problem, expr_terms) -> float:
    """A magnitude to compare residuals against (sum of term sizes), at least 1."""
    return max(1.0, float(np.max(np.abs(expr_terms))))


def test_the_catalogue_has_closed_forms():
    assert {"poisson1d", "poisson2d", "heat1d", "heat2d", "advection1d", "wave1d",
            "diffusion_reaction", "helmholtz2d", "mexican_hat"} <= set(WITH_EXACT)


@pytest.mark.parametrize("name", WITH_EXACT)
def test_exact_solution_satisfies_the_pde(name):
    problem = load_problem(name)
    pts = random_points(problem)
    for residual in problem.residuals:
        values = evaluate(problem, on_exact(problem, residual), pts)
        terms = [evaluate(problem, on_exact(problem, a), pts) for a in sympy.Add.make_args(residual)]
        assert np.max(np.abs(values)) < TOL * scale(problem, terms), residual


@pytest.mark.parametrize("name", WITH_EXACT)
def test_exact_solution_satisfies_every_condition(name):
    problem = load_problem(name)
    for condition in problem.conditions:
        if condition.kind == "periodic":
            var = condition.faces[0].variable
            symbol = problem.symbols[var]
            lo, hi = problem.domain[var]
            for k in range(condition.derivatives + 1):
                derivative = sympy.diff(problem.exact, symbol, k)
                pts = random_points(problem, fixed={var: lo})
                pts_hi = pts.copy()
                pts_hi[:, problem.input_names.index(var)] = hi
                gap = evaluate(problem, derivative, pts) - evaluate(problem, derivative, pts_hi)
                assert np.max(np.abs(gap)) < 1e-9 * max(1.0, np.max(np.abs(evaluate(problem, derivative, pts)))), (k, condition.label)
            continue
        for face in condition.faces:
            bounds = (problem.excluded[face.box] if face.box is not None else problem.domain)
            value = bounds[face.variable][0 if face.side == "min" else 1]
            pts = random_points(problem, fixed={face.variable: value})
            residual = condition.residual_expression(problem.u, face, problem.symbols)
            values = evaluate(problem, on_exact(problem, residual), pts)
            assert np.max(np.abs(values)) < TOL * 100, (condition.label, face.name)


@pytest.mark.parametrize("name", WITH_EXACT)
def test_exact_numpy_matches_sympy(name):
    problem = load_problem(name)
    pts = random_points(problem, n=5, seed=3)
    expected = [float(problem.exact.xreplace(problem.substitutions()).subs(
        dict(zip(problem.input_symbols, p))).evalf(20)) for p in pts]
    assert np.allclose(problem.exact_numpy(pts), expected, rtol=1e-12, atol=1e-14)


WITH_TRANSFORM = [(n, {}) for n in list_problems() if load_problem(n).hard_constraint is not None]


@pytest.mark.parametrize("name, params", WITH_TRANSFORM + [("helmholtz2d", {"a1": 1.3, "a2": 2.7})])
def test_output_transform_satisfies_its_conditions_on_every_face(name, params):
    """u = offset + factor·N meets each enforced condition for any N: on its faces the factor
    is 0 and the offset is the condition's value (at 200 random points per face, not only the
    loader's five; helmholtz2d also with non-integer frequencies, where its offset is not 0)."""
    problem = load_problem(name, **params)
    hc = problem.hard_constraint
    for i in hc.enforces:
        condition = problem.conditions[i]
        for face in condition.faces:
            bounds = problem.excluded[face.box] if face.box is not None else problem.domain
            pts = random_points(problem, fixed={face.variable: bounds[face.variable][0 if face.side == "min" else 1]})
            assert np.max(np.abs(evaluate(problem, hc.factor, pts))) < 1e-12, (name, face.name)
            gap = evaluate(problem, hc.offset - condition.value, pts)
            assert np.max(np.abs(gap)) < 1e-12, (name, face.name, np.max(np.abs(gap)))
    if params:
        assert np.max(np.abs(evaluate(problem, hc.offset, random_points(problem)))) > 0.1

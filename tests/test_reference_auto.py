"""The automatic reference (``reference.solver = "auto"``) against closed forms and the
dedicated solvers, its plan and refusals, and its reported accuracy.

The full acceptance table (Burgers at ν = 0.01/π, the L-shape at full resolution, KdV) is
``benchmarks/auto_reference.py``; here every case runs in seconds.
"""
from __future__ import annotations

import numpy as np
import pytest

from spikepde.errors import SpecError
from spikepde.problem import load_problem, problem_from_dict
from spikepde.problem.auto_plan import EvolutionPlan, NoAutoReference, SteadyPlan, plan
from spikepde.reference import auto, get_reference, mol
from spikepde.reference.auto import auto_reference


def _relative(a, b) -> float:
    mask = np.isfinite(b)
    assert (np.isfinite(a) == mask).all()
    return float(np.linalg.norm(a[mask] - b[mask]) / np.linalg.norm(b[mask]))


def _spec(residual, conditions, domain, *, time=False, exact=None, grid=None, solver="auto",
          exclude=None):
    space = [v for v in domain if v != "t"]
    spec = {"name": "user", "title": "a user's problem",
            "variables": {"space": space, **({"time": "t"} if time else {})},
            "domain": {**domain, **({"exclude": exclude} if exclude else {})},
            "pde": {"residual": residual}, "conditions": conditions}
    reference = {"grid": grid or {v: 41 for v in domain}}
    if exact is not None:
        reference["exact"] = exact
    if solver is not None:
        reference["solver"] = solver
    spec["reference"] = reference
    return spec


def _against_exact(spec) -> tuple[float, dict]:
    """The automatic reference of ``spec`` against its own closed form."""
    problem = problem_from_dict(spec)
    assert problem.reference.solver == "auto"
    result = auto_reference(problem)
    return _relative(result.values, problem.exact_on_grid()), result.meta


DIRICHLET_0 = {"kind": "dirichlet", "on": "boundary", "value": "0"}


# ------------------------------------------------------------------------------- catalogue
@pytest.mark.parametrize("name, params, tolerance", [
    ("heat1d", {}, 1e-8), ("advection1d", {}, 1e-8), ("poisson1d", {}, 1e-8),
    ("wave1d", {}, 1e-6), ("poisson2d", {}, 1e-8), ("reaction_diffusion", {}, 1e-8),
    ("burgers", {"nu": 0.05}, 1e-8), ("allen_cahn", {}, 1e-6)])
def test_the_automatic_reference_matches_the_catalogue_to_1e_5(name, params, tolerance):
    problem = load_problem(name, **params)
    trusted = get_reference(problem)          # a closed form or the dedicated solver
    table = {k: v for k, v in problem.spec["reference"].items() if k not in ("exact", "solver")}
    auto_problem = problem_from_dict({**problem.spec, "reference": {**table, "solver": "auto"}},
                                     **params)
    result = get_reference(auto_problem, use_cache=False)
    assert result.meta["solver"] == "auto" and result.meta["converged"]
    error = _relative(result.values, trusted.values)
    assert error < tolerance
    assert result.meta["error_estimate"] < 1e-6


def test_kinds_of_plan_in_the_catalogue():
    kinds = {}
    for name in ("heat1d", "wave1d", "kdv", "poisson1d", "poisson_lshape", "heat2d", "mexican_hat"):
        try:
            kinds[name] = type(plan(load_problem(name))).__name__
        except NoAutoReference as exc:
            kinds[name] = str(exc)
    assert kinds["heat1d"] == kinds["wave1d"] == kinds["kdv"] == EvolutionPlan.__name__
    assert kinds["poisson1d"] == kinds["poisson_lshape"] == SteadyPlan.__name__
    assert kinds["heat2d"].startswith("2 space variables with time")
    assert kinds["mexican_hat"] == "a regression problem has no equation to solve"
    assert plan(load_problem("poisson_lshape")).reentrant and not plan(load_problem("poisson2d")).reentrant


# ------------------------------------------------------------------------------- conditions
def test_neumann_ends_in_time():
    spec = _spec("u_t - 0.1*u_xx",
                 [{"kind": "initial", "value": "cos(pi*x)"},
                  {"kind": "neumann", "on": "boundary", "value": "0"}],
                 {"x": [0, 1], "t": [0, 1]}, time=True, exact="exp(-0.1*pi**2*t)*cos(pi*x)")
    error, meta = _against_exact(spec)
    assert error < 1e-7 and meta["method"] == "method of lines"


def test_time_dependent_dirichlet_and_a_neumann_flux_on_one_side():
    # u = exp(-t) (x² + 1) + x t: u_t = -exp(-t)(x² + 1) + x, u_xx = 2 exp(-t)
    # residual u_t - u_xx - f with f = -exp(-t)(x² + 3) + x; u(0, t) = exp(-t); u_x(1, t) = 2 exp(-t) + t
    spec = _spec("u_t - u_xx + exp(-t)*(x**2 + 3) - x",
                 [{"kind": "initial", "value": "x**2 + 1"},
                  {"kind": "dirichlet", "on": "x_min", "value": "exp(-t)"},
                  {"kind": "neumann", "on": "x_max", "value": "2*exp(-t) + t"}],
                 {"x": [0, 1], "t": [0, 1]}, time=True, exact="exp(-t)*(x**2 + 1) + x*t")
    error, _ = _against_exact(spec)
    assert error < 1e-8


def test_steady_nonlinear_with_a_neumann_end_takes_several_newton_steps():
    # -u'' + u³ = f for u = cos(pi x): u(0) = 1, u'(1) = 0
    spec = _spec("-u_xx + u**3 - pi**2*cos(pi*x) - cos(pi*x)**3",
                 [{"kind": "dirichlet", "on": "x_min", "value": "1"},
                  {"kind": "neumann", "on": "x_max", "value": "0"}],
                 {"x": [0, 1]}, exact="cos(pi*x)")
    error, meta = _against_exact(spec)
    assert error < 1e-8
    assert meta["levels"][-1]["newton_steps"] > 2


def test_two_dimensional_mixed_derivative_and_nonlinear_term():
    # u = sin(pi x) sin(pi y): u_xy = pi² cos cos, Δu = -2 pi² u
    spec = _spec("-(u_xx + u_yy + u_xy/2) + u**3 - 2*pi**2*sin(pi*x)*sin(pi*y) "
                 "+ pi**2*cos(pi*x)*cos(pi*y)/2 - (sin(pi*x)*sin(pi*y))**3",
                 [DIRICHLET_0], {"x": [0, 1], "y": [0, 1]}, exact="sin(pi*x)*sin(pi*y)",
                 grid={"x": 21, "y": 21})
    error, meta = _against_exact(spec)
    assert error < 1e-6 and meta["richardson_exponents"] == [2.0, 4.0]


def test_the_l_shape_against_its_dedicated_solver_within_the_reported_accuracy(monkeypatch):
    monkeypatch.setattr(auto, "MAX_NODES_2D", 200_000)     # a small grid: seconds, not 25 s
    problem = load_problem("poisson_lshape").with_params(kappa=1.0)
    small = problem_from_dict({**problem.spec, "reference": {"solver": "auto",
                                                            "grid": {"x": 41, "y": 41}}}, kappa=1.0)
    result = auto_reference(small)
    trusted = get_reference(problem_from_dict({**problem.spec, "reference": {
        "solver": "poisson_lshape_fd", "grid": {"x": 41, "y": 41}}}, kappa=1.0))
    error = _relative(result.values, trusted.values)
    assert result.meta["richardson_exponents"] == pytest.approx([4 / 3, 2.0])
    assert error < 1e-4 and error < 5 * result.meta["error_estimate"]


# ------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("residual, conditions, domain, why", [
    ("u_t - u_xx - u_yy", [{"kind": "initial", "value": "0"}, DIRICHLET_0],
     {"x": [0, 1], "y": [0, 1], "t": [0, 1]}, "2 space variables with time"),
    ("u_t*u_t - u_xx", [{"kind": "initial", "value": "0"}, DIRICHLET_0],
     {"x": [0, 1], "t": [0, 1]}, "not linear in u_t"),
    ("u_xt - u_xx", [{"kind": "initial", "value": "0"}, DIRICHLET_0],
     {"x": [0, 1], "t": [0, 1]}, "mixed space-time derivative"),
    ("u_t + u_x", [{"kind": "initial", "value": "0"}, DIRICHLET_0],
     {"x": [0, 1], "t": [0, 1]}, "x-derivatives up to order 1"),
    ("u_tt - u_xx", [{"kind": "initial", "value": "0"}, DIRICHLET_0],
     {"x": [0, 1], "t": [0, 1]}, "no initial velocity"),
    ("u_xxxx - 1", [DIRICHLET_0], {"x": [0, 1]}, "of order 4"),
    ("u_xx - 1", [{"kind": "dirichlet", "on": "x_min", "value": "0"}], {"x": [0, 1]},
     "no condition on x_max"),
])
def test_an_explicit_auto_that_does_not_apply_is_refused_on_reference_solver(residual, conditions,
                                                                            domain, why):
    spec = _spec(residual, conditions, domain, time="t" in domain)
    with pytest.raises(SpecError, match="no automatic reference for this problem") as info:
        problem_from_dict(spec)
    assert info.value.field == "reference.solver" and why in str(info.value)


def test_without_reference_the_same_problems_fall_back_to_residual_metrics():
    spec = _spec("u_t + u_x", [{"kind": "initial", "value": "0"}, DIRICHLET_0],
                 {"x": [0, 1], "t": [0, 1]}, time=True)
    spec.pop("reference")
    problem = problem_from_dict(spec)
    assert not problem.has_reference and "x-derivatives up to order 1" in problem.reference.declined


# ------------------------------------------------------------------------------- contract
def test_parameters_reach_the_solver_and_the_cache_key():
    problem = load_problem("heat1d")
    auto_spec = {**problem.spec, "reference": {"solver": "auto", "grid": {"x": 21, "t": 11}}}
    slow, fast = (problem_from_dict(auto_spec, alpha=a) for a in (0.05, 0.2))
    assert auto.cache_fields(slow) != auto.cache_fields(fast)
    for p, alpha in ((slow, 0.05), (fast, 0.2)):
        values = auto_reference(p).values
        assert abs(values[10, -1] - np.exp(-alpha * np.pi ** 2)) < 1e-8   # x = 0.5, t = 1


def test_the_same_problem_gives_the_same_numbers():
    problem = problem_from_dict({**load_problem("burgers").spec, "reference": {
        "solver": "auto", "grid": {"x": 33, "t": 11}}}, nu=0.1)
    first, second = auto_reference(problem), auto_reference(problem)
    assert np.array_equal(first.values, second.values)
    assert first.meta["error_estimate"] == second.meta["error_estimate"]


def test_an_evaluation_grid_off_the_nodes_is_refused():
    spec = _spec("u_t - u_xx", [{"kind": "initial", "value": "sin(pi*x)"}, DIRICHLET_0],
                 {"x": [0, 1], "t": [0, 1]}, time=True,
                 grid={"x": {"n": 10, "min": 0.05, "max": 0.95 * 0.999}, "t": 5})
    with pytest.raises(NoAutoReference, match="not a set of nodes"):
        auto_reference(problem_from_dict(spec))


def test_the_one_sided_closures_are_avoided_for_stability():
    """findiff's full-accuracy one-sided second derivative has eigenvalues with positive real
    part; the lowered central rows used here have none."""
    from spikepde.reference.fd_terms import derivative_matrix

    matrix = derivative_matrix((101,), 0, 2, 0.01, acc=mol.ACCURACY).toarray()[1:-1, 1:-1]
    assert np.linalg.eigvals(matrix).real.max() < 0


# ------------------------------------------------------------------------------- field check
def test_a_served_reference_is_checked_against_its_problem():
    problem = load_problem("reaction_diffusion")
    facts = get_reference(problem).meta["field_check"]
    assert facts["median_relative_residual"] < 1e-4 and facts["max_condition_error"] < 1e-12


def test_a_reference_field_of_another_equation_is_refused_naming_the_field():
    from spikepde.reference.field_check import check_field

    field = get_reference(load_problem("reaction_diffusion"))     # u_t = D u_xx + k u² + sin(πx)
    with pytest.raises(SpecError, match="does not satisfy this file's PDE") as info:
        check_field(load_problem("heat1d"), field)                # u_t = α u_xx, u(x, 0) = sin(πx)
    assert info.value.field == "reference.solver" and "heat1d.toml" in str(info.value)


def test_a_reference_field_off_its_boundary_values_is_refused():
    from spikepde.reference.field_check import check_field

    problem = load_problem("reaction_diffusion")
    field = get_reference(problem)
    field.values[0, 10:] += 1e-3                                   # u(0, t) = 0 broken
    with pytest.raises(SpecError, match="breaks this file's conditions"):
        check_field(problem, field)


def test_an_automatic_reference_on_an_unusable_grid_is_the_files_error_on_reference_grid():
    spec = _spec("u_t - u_xx", [{"kind": "initial", "value": "sin(pi*x)"}, DIRICHLET_0],
                 {"x": [0, 1], "t": [0, 1]}, time=True,
                 grid={"x": {"n": 10, "min": 0.05, "max": 0.95 * 0.999}, "t": 5})
    with pytest.raises(SpecError, match="no automatic reference on this grid") as info:
        get_reference(problem_from_dict(spec), use_cache=False)
    assert info.value.field == "reference.grid"


def test_a_solution_that_blows_up_is_a_one_line_error_not_a_traceback():
    # u_t = u_xx + u³ from u(x, 0) = 20 sin(πx) blows up in finite time (before t = 0.01)
    spec = _spec("u_t - u_xx - u**3", [{"kind": "initial", "value": "20*sin(pi*x)"}, DIRICHLET_0],
                 {"x": [0, 1], "t": [0, 1]}, time=True, grid={"x": 21, "t": 11})
    with pytest.raises(SpecError, match="the automatic reference failed") as info:
        get_reference(problem_from_dict(spec), use_cache=False)
    assert info.value.field == "reference.solver"


def test_neumann_on_an_excluded_box_face_is_refused_not_misread():
    # the Neumann elimination reads a one-sided row at an end of the interval; a hole's face
    # in 1-D is not one
    spec = _spec("-u_xx - 1",
                 [{"kind": "dirichlet", "on": ["x_min", "x_max"], "value": "0"},
                  {"kind": "neumann", "on": ["exclude[0].x_min", "exclude[0].x_max"], "value": "0"}],
                 {"x": [0, 1]}, exclude=[{"x": [0.4, 0.6]}])
    with pytest.raises(SpecError, match="Neumann at the ends of an interval"):
        problem_from_dict(spec)

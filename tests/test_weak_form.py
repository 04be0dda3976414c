"""Weak-form residuals: integration by parts is exact up to quadrature, fluxes are found."""
import numpy as np
import pytest
import sympy
import torch

import spikepde
from spikepde.problem import numeric
from spikepde.problem.compile import compile_problem
from spikepde.train.weak_form import WeakForm, bspline, split_residual


def _strong_projection(compiled, weak, u_expr):
    """⟨r(u), ψ_k⟩ with the exact derivatives of a smooth u (no integration by parts)."""
    p = compiled.problem
    r = p.residuals[0].xreplace(p.substitutions())
    r_u = r.subs(p.u, u_expr).doit()
    f = numeric.build_evaluator(r_u, p.input_symbols)
    vals = f(list(weak.points.unbind(1)), {})
    vals = vals if isinstance(vals, torch.Tensor) else torch.full((weak.points.shape[0],), float(vals))
    return weak._project(vals.to(weak.points.dtype), (0,) * p.dim)


@pytest.mark.parametrize("name", ["burgers", "kdv", "allen_cahn", "heat1d", "wave1d", "poisson2d",
                                  "poisson_lshape"])
def test_integration_by_parts_matches_strong_projection(name):
    """For a smooth u that is *not* a solution, the weak residual (derivatives on ψ, fluxes
    P(u) for p(u) u_x) equals the projection of the strong residual, to quadrature accuracy."""
    compiled = compile_problem(spikepde.load_problem(name), dtype=torch.float64)
    weak = WeakForm(compiled, test_per_axis=6, quad_per_interval=12)
    syms = compiled.problem.input_symbols
    u_expr = sympy.Integer(1)
    for k, s in enumerate(syms):
        u_expr = u_expr * sympy.cos(0.7 * s + 0.3 * (k + 1))
    u_expr = u_expr + sympy.Rational(1, 3) * syms[0] ** 2
    u_vals = numeric.build_evaluator(u_expr, syms)(list(weak.points.unbind(1)), {})
    g_weak = weak.residual(u_vals)
    g_strong = _strong_projection(compiled, weak, u_expr)
    scale = float(g_strong.abs().max())
    assert scale > 1e-3                                     # the test function sees a residual
    assert float((g_weak - g_strong).abs().max()) < 2e-3 * scale


def test_exact_solution_has_small_weak_residual():
    compiled = compile_problem(spikepde.load_problem("heat1d"), dtype=torch.float64)
    weak = WeakForm(compiled, test_per_axis=10, quad_per_interval=8)
    u = compiled.exact(weak.points)
    g = weak.residual(u)
    x, t = weak.points.unbind(1)
    wrong = weak.residual(u + 0.05 * torch.sin(3 * x + 2 * t))
    assert float(g.abs().max()) < 1e-3 * float(wrong.abs().max())


def test_split_finds_burgers_flux_and_constant_terms():
    p = spikepde.load_problem("burgers")
    terms = split_residual(p.residuals[0].xreplace(p.substitutions()), p.u, p.input_symbols)
    lin = dict((a, c) for c, a in terms.linear)
    assert lin[(0, 1)] == pytest.approx(1.0)                      # u_t
    assert lin[(2, 0)] == pytest.approx(-0.01 / np.pi)            # −ν u_xx
    (axis, P), = terms.fluxes
    assert axis == 0 and sympy.simplify(P - p.u ** 2 / 2) == 0    # u u_x = (u²/2)_x
    assert terms.source == 0


def test_unsupported_terms_are_named():
    x, t = sympy.symbols("x t")
    u = sympy.Function("u")(x, t)
    with pytest.raises(ValueError, match="several derivatives"):
        split_residual(u.diff(x) * u.diff(t), u, (x, t))
    with pytest.raises(ValueError, match="depends"):
        split_residual(x * u.diff(x, 2), u, (x, t))
    compiled = compile_problem(spikepde.load_problem("poisson_lshape"))
    with pytest.raises(ValueError, match="no test function"):
        WeakForm(compiled, test_per_axis=1)     # the one test would cover the excluded quadrant


def test_bspline_derivatives_match_finite_differences():
    s = torch.linspace(-2.5, 2.5, 1001, dtype=torch.float64)
    h = 1e-6
    for o in range(3):
        fd = (bspline(s + h, o) - bspline(s - h, o)) / (2 * h)
        mask = (s.abs() - 1).abs().gt(1e-3) & (s.abs() - 2).abs().gt(1e-3) & s.abs().gt(1e-3)
        assert torch.allclose(fd[mask], bspline(s, o + 1)[mask], atol=1e-5)
    # unit integral
    assert float(bspline(s, 0).sum() * (s[1] - s[0])) == pytest.approx(1.0, abs=1e-6)


def test_weak_objective_fast_forward_gradient_equals_reference():
    """The fast fgrad path reads u on the quadrature grid; it must equal vmap(jvp) of the loss."""
    from spikepde.fields import SpikingField
    from spikepde.snn.network import SpikingMLP
    from spikepde.train.fgrad.estimators import directional_derivatives, sample_directions
    from spikepde.train.fgrad.weight_perturbation import directional_derivatives_fields
    from spikepde.train.objective import Objective, TrainingPoints

    compiled = compile_problem(spikepde.load_problem("burgers"), dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    points = TrainingPoints.sample(compiled, g, interior=64)
    weak = WeakForm(compiled, test_per_axis=5, quad_per_interval=2)
    objective = Objective(compiled, points, weak=weak)
    net = SpikingMLP(2, (12, 10), T=4, lower=tuple(compiled.lower.tolist()),
                     upper=tuple(compiled.upper.tolist()))
    params = net.init_params(g, dtype=torch.float64)
    dirs = sample_directions(params, 3, g)
    loss_ref, d_ref = directional_derivatives(lambda p: objective(SpikingField(net, p)), params, dirs)
    loss, d = directional_derivatives_fields(objective, net, params, dirs)
    assert objective.field_requests()[0][0].shape == (weak.points.shape[0], 2)
    assert float(loss_ref) > 0
    assert abs(float(loss - loss_ref)) <= 1e-10 * float(loss_ref)
    assert torch.allclose(d, d_ref, rtol=1e-9, atol=1e-12 * float(d_ref.abs().max()))


def test_weak_form_option_validation():
    with pytest.raises(ValueError, match="residual_form"):
        spikepde.solve("heat1d", residual_form="weakest", steps=1, out=None, quiet=True)
    with pytest.raises(ValueError, match="admm"):
        spikepde.solve("heat1d", method="admm", residual_form="weak", steps=1, out=None, quiet=True)


def test_per_axis_test_counts():
    """One count per axis: n_x · n_t test functions, still exact up to quadrature."""
    compiled = compile_problem(spikepde.load_problem("heat1d"), dtype=torch.float64)
    weak = WeakForm(compiled, test_per_axis=[12, 6], quad_per_interval=8)
    assert weak.n_tests == 72 and weak.points.shape[0] == 8 * 15 * 8 * 9
    g = weak.residual(compiled.exact(weak.points))
    x, t = weak.points.unbind(1)
    wrong = weak.residual(compiled.exact(weak.points) + 0.05 * torch.sin(3 * x + 2 * t))
    assert float(g.abs().max()) < 1e-3 * float(wrong.abs().max())
    with pytest.raises(ValueError, match="one per axis"):
        WeakForm(compiled, test_per_axis=[4, 4, 4])


def test_auto_residual_form_is_weak_for_spiking_gradient_trainers_only():
    tiny = dict(steps=1, out=None, quiet=True, interior_points=32, width=4, T=2, lbfgs_steps=0)
    assert spikepde.solve("burgers", method="bptt", **tiny).config.residual_form == "weak"
    assert spikepde.solve("burgers", method="fgrad", K=1, **tiny).config.residual_form == "weak"
    assert spikepde.solve("burgers", method="ann", **tiny).config.residual_form == "strong"
    # the L-shape too (tests avoid the excluded box); regression problems keep the data loss
    assert spikepde.solve("poisson_lshape", method="bptt", **tiny).config.residual_form == "weak"
    assert spikepde.solve("mexican_hat", method="bptt", **tiny).config.residual_form == "strong"


def test_cosine_learning_rate_schedule():
    from spikepde.solving import SolveConfig, scheduled_lr

    cfg = SolveConfig(steps=101, lr=1e-2, lr_schedule="cosine")
    lrs = [scheduled_lr(cfg, s) for s in range(101)]
    assert lrs[0] == pytest.approx(1e-2) and lrs[-1] == pytest.approx(5e-4)
    assert lrs[50] == pytest.approx((1e-2 + 5e-4) / 2)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert scheduled_lr(SolveConfig(steps=10, lr=3e-3, lr_schedule="constant"), 7) == 3e-3
    with pytest.raises(ValueError, match="lr_schedule"):
        spikepde.solve("heat1d", lr_schedule="linear", steps=1, out=None, quiet=True)


def test_excluded_box_drops_the_tests_that_reach_into_it():
    compiled = compile_problem(spikepde.load_problem("poisson_lshape"), dtype=torch.float64)
    full = compile_problem(spikepde.load_problem("poisson2d"), dtype=torch.float64)
    weak = WeakForm(compiled, test_per_axis=12, quad_per_interval=4)
    assert 0 < weak.n_tests < 144
    # every kept test vanishes on the excluded quadrant x > 0, y > 0
    x, y = weak.points.unbind(1)
    inside = ((x > 0) & (y > 0)).to(weak.points.dtype)
    assert float(weak._project(inside, (0, 0)).abs().max()) == 0.0
    assert WeakForm(full, test_per_axis=12, quad_per_interval=4).n_tests == 144


def test_one_discretisation_serves_projections_rows_adjoint_and_gram():
    """BSplineTests, shared by the objective's weak form and ADMM's weak rows: the dense rows are
    the projection, the adjoint is its transpose, the Gram matrix is the quadrature of the
    tests' products, and a unit-integral test integrates 1 to 1."""
    from spikepde.train.weak_form import BSplineTests

    tests = BSplineTests([-1.0, 0.0], [1.0, 2.0], [5, 4], [40, 28])
    g = torch.Generator().manual_seed(0)
    v = torch.randn(tests.points.shape[0], dtype=torch.float64, generator=g)
    w = torch.randn(tests.n_tests, dtype=torch.float64, generator=g)
    for orders in [(0, 0), (1, 0), (0, 2), (1, 1)]:
        P = tests.rows(orders)
        torch.testing.assert_close(P @ v, tests.project(v, orders), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(tests.project_adjoint(w, orders), P.T @ w, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(tests.project(torch.ones_like(v), (0, 0)), torch.ones(20, dtype=torch.float64),
                               rtol=1e-9, atol=1e-9)
    terms = [(1.0, (0, 1)), (-0.3, (2, 0))]
    dx = tests.dx[0] * tests.dx[1]
    L = sum(c * tests.rows(a) for c, a in terms)
    torch.testing.assert_close(tests.gram(terms), L @ L.T / dx, rtol=1e-10, atol=1e-10)


def test_linear_operator_of_the_weak_form():
    from spikepde.train.weak_form import weak_applies

    heat = compile_problem(spikepde.load_problem("heat1d"))
    assert sorted(WeakForm(heat, 8).linear_operator()) == sorted([(1.0, (0, 1)), (-0.1, (2, 0))])
    helmholtz = compile_problem(spikepde.load_problem("helmholtz2d"))
    assert any(a == (0, 0) and c != 0 for c, a in WeakForm(helmholtz, 8).linear_operator())   # k² u
    burgers = compile_problem(spikepde.load_problem("burgers"))
    with pytest.raises(ValueError, match="nonlinear"):
        WeakForm(burgers, 8).linear_operator()
    assert weak_applies(burgers) is None and "nonlinear" in weak_applies(burgers, linear=True)
    lshape = compile_problem(spikepde.load_problem("poisson_lshape"))
    assert weak_applies(lshape) is None and "whole box" in weak_applies(lshape, linear=True)


@pytest.mark.parametrize("name", ["burgers", "allen_cahn", "heat1d", "kdv"])
def test_the_jacobian_terms_are_the_derivative_of_the_weak_residual(name):
    # Newton's linearisation against central finite differences of the residual itself
    compiled = compile_problem(spikepde.load_problem(name), dtype=torch.float64)
    weak = WeakForm(compiled, test_per_axis=7, quad_per_interval=3)
    x = weak.points
    u = torch.sin(2 * x[:, 0] + 0.5) * torch.cos(x[:, 1])
    v = torch.cos(3 * x[:, 0]) * (1 + x[:, 1] ** 2)
    h = 1e-5
    numeric_jvp = (weak.residual(u + h * v) - weak.residual(u - h * v)) / (2 * h)
    linear = sum(weak.tests.project(c * v if isinstance(c, torch.Tensor) else c * v, alpha)
                 for c, alpha in weak.jacobian_terms(u))
    torch.testing.assert_close(linear, numeric_jvp, rtol=1e-6, atol=1e-8 * float(numeric_jvp.abs().max()))
    fields = [c for c, _ in weak.jacobian_terms(u) if isinstance(c, torch.Tensor)]
    assert bool(fields) == (name != "heat1d")        # heat1d is linear: numbers only

"""Hard constraints: the output transform satisfies its conditions and differentiates correctly."""
import tomllib

import numpy as np
import pytest
import sympy
import torch

import spikepde
from spikepde.errors import SpecError
from spikepde.problem.compile import compile_problem
from spikepde.problem.spec import problem_from_dict


def test_leibniz_fields_match_sympy():
    p = spikepde.load_problem("burgers")
    cp = compile_problem(p, dtype=torch.float64)
    x, t = p.input_symbols
    g = sympy.sin(2 * x) * sympy.exp(t) + x * t ** 2          # a stand-in for the network N
    u = p.hard_constraint.offset + p.hard_constraint.factor * g
    X = torch.tensor([[0.3, 0.2], [-0.7, 0.9], [0.1, 0.5]], dtype=torch.float64)
    indices = [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1)]
    raw = {}
    for beta in cp.transform.required(indices):
        expr = g
        for sym, k in zip((x, t), beta):
            expr = sympy.diff(expr, sym, k) if k else expr
        f = sympy.lambdify((x, t), expr, "numpy")
        raw[beta] = torch.as_tensor(np.broadcast_to(f(X[:, 0].numpy(), X[:, 1].numpy()), (3,)).copy())
    got = cp.transform.apply(X, raw, indices)
    for alpha in indices:
        expr = u
        for sym, k in zip((x, t), alpha):
            expr = sympy.diff(expr, sym, k) if k else expr
        ref = sympy.lambdify((x, t), expr, "numpy")(X[:, 0].numpy(), X[:, 1].numpy())
        assert np.allclose(got[alpha].numpy(), ref, atol=1e-12), alpha


def test_enforced_conditions_leave_the_loss_and_hold_exactly():
    p = spikepde.load_problem("burgers")
    hard = compile_problem(p)
    soft = compile_problem(p, hard_constraints=False)
    assert len(soft.conditions) == 2 and hard.conditions == []
    r = spikepde.solve(p, method="bptt", steps=2, out=None, quiet=True, width=8, T=3, interior_points=32)
    x = np.linspace(-1, 1, 7)
    ic = r.surrogate(np.stack([x, np.zeros_like(x)], 1))
    bc = r.surrogate(np.array([[-1.0, 0.3], [1.0, 0.8]]))
    assert np.allclose(ic, -np.sin(np.pi * x), atol=1e-6) and np.allclose(bc, 0, atol=1e-6)
    r_soft = spikepde.solve(p, method="bptt", steps=2, out=None, quiet=True, width=8, T=3,
                            interior_points=32, hard_constraints=False)
    assert not np.allclose(r_soft.surrogate(np.stack([x, np.zeros_like(x)], 1)), -np.sin(np.pi * x), atol=1e-3)


def test_a_transform_that_misses_a_condition_is_rejected():
    spec = tomllib.loads(open(spikepde.load_problem("burgers").source, encoding="utf-8").read())
    spec["hard_constraint"]["offset"] = "-sin(pi*x) + 0.1"
    with pytest.raises(SpecError, match="does not satisfy condition"):
        problem_from_dict(spec)
    spec["hard_constraint"]["enforces"] = [5]
    with pytest.raises(SpecError, match="no condition 5"):
        problem_from_dict(spec)

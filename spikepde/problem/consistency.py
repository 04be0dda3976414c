"""A closed form must satisfy its own problem: checked when the file is loaded.

A ``reference.exact`` that does not solve the file's PDE, or breaks one of its conditions, would
score every run against the wrong function and report the number as if it meant something. The
closed form is substituted for u (derivatives carried out symbolically, parameters at their
values) and evaluated in float64 at fixed pseudo-random points: inside the domain for each
residual, on each face of each condition. A residual larger than :data:`TOLERANCE` times the
size of its largest term (at least 1) is a :class:`~spikepde.errors.SpecError` on
``reference.exact`` naming the residual or condition and the size found. What cannot be
judged in float64 is left out rather than refused: a derivative that is a Dirac delta
(differentiated ``heaviside``), or one that grows past :data:`MAX_DERIVATIVE_NODES` parts.
"""
from __future__ import annotations

import numpy as np
import sympy

from spikepde.problem.expr import formula_size
from spikepde.problem.numeric import build_evaluator

#: Largest residual of the closed form accepted, relative to its largest term (at least 1):
#: float64 evaluation leaves ~1e-15, decimals typed for a parameter (0.0031831 for 0.01/pi)
#: ~1e-7; a wrong closed form leaves O(1).
TOLERANCE = 1e-6
#: Points per residual and per condition face.
POINTS = 64
#: Largest derivative of the closed form formed for the check; a closed form whose derivatives
#: grow past it (deeply nested functions differentiated three or four times) is not judged.
MAX_DERIVATIVE_NODES = 5000


def check_exact(problem, error) -> None:
    """Raise ``error("reference.exact", message)`` when ``problem.exact`` does not satisfy the
    problem's residuals and conditions (nothing to do without a closed form or for regression)."""
    if problem.exact is None or problem.data_only:
        return
    rng = np.random.default_rng(0)
    for i, residual in enumerate(problem.residuals):
        where = "the PDE residual" + (f" {i}" if len(problem.residuals) > 1 else "")
        _check(problem, residual, box_points(problem, rng), where, error)
    for k, condition in enumerate(problem.conditions):
        for face in condition.faces:
            box = problem.excluded[face.box] if face.box is not None else problem.domain
            fixed = {face.variable: box[face.variable][0 if face.side == "min" else 1]}
            where = f"conditions[{k}] ({condition.kind} on {face.name})"
            if condition.kind == "periodic":
                _check_periodic(problem, condition, rng, where, error)
                break
            residual = condition.residual_expression(problem.u, face, problem.symbols)
            _check(problem, residual, box_points(problem, rng, fixed=fixed), where, error)


def _check(problem, residual, points, where, error) -> None:
    terms = [_on_exact(problem, term, points) for term in sympy.Add.make_args(residual)]
    total = np.sum(terms, axis=0)
    finite = np.isfinite(total)
    if not finite.any():
        return
    scale = max(1.0, float(np.max(np.abs(np.asarray(terms)[:, finite]))))
    worst = float(np.max(np.abs(total[finite])))
    if worst > TOLERANCE * scale:
        raise error("reference.exact", f"the closed form does not satisfy {where}: residual up "
                                       f"to {worst:.3g} (its largest term {scale:.3g}) at points "
                                       "of the domain; check the formula and the parameters")


def _check_periodic(problem, condition, rng, where, error) -> None:
    var = condition.faces[0].variable
    symbol = problem.symbols[var]
    lo, hi = problem.domain[var]
    points = box_points(problem, rng, fixed={var: lo})
    points_hi = points.copy()
    points_hi[:, problem.input_names.index(var)] = hi
    for order in range(condition.derivatives + 1):
        derivative = sympy.Derivative(problem.u, symbol, order) if order else problem.u
        a, b = _on_exact(problem, derivative, points), _on_exact(problem, derivative, points_hi)
        finite = np.isfinite(a) & np.isfinite(b)
        scale = max(1.0, float(np.max(np.abs(a[finite]), initial=0.0)))
        worst = float(np.max(np.abs(a[finite] - b[finite]), initial=0.0))
        if worst > TOLERANCE * scale:
            raise error("reference.exact", f"the closed form is not periodic as {where} asks: "
                                           f"derivative {order} differs by {worst:.3g} between "
                                           f"{var} = {lo:g} and {var} = {hi:g}")


def _on_exact(problem, expr, points) -> np.ndarray:
    """``expr`` with u replaced by the closed form, evaluated at ``points`` (float64); NaN where
    nothing can be judged (a derivative too large to form, or without a float value)."""
    try:
        substituted = _substitute(problem, expr).xreplace(problem.substitutions())
        fn = build_evaluator(substituted, problem.input_symbols, backend="numpy")
    except (_TooLarge, ValueError):  # ValueError: a Dirac delta from differentiating heaviside
        return np.full(points.shape[0], np.nan)
    with np.errstate(all="ignore"):
        value = fn([points[:, i] for i in range(points.shape[1])], {})
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (points.shape[0],)).copy()


class _TooLarge(Exception):
    """A derivative of the closed form grew past :data:`MAX_DERIVATIVE_NODES`."""


def _substitute(problem, expr):
    """``expr`` with u and its derivatives replaced by the closed form's, differentiated one
    variable at a time with the size watched (never sympy's ``doit``, whose simplification of a
    nested formula's third derivative took 85 s on sin(sin(…(x + t)…)) 40 deep)."""
    memo: dict[tuple, sympy.Expr] = {(): problem.exact}

    def derivative(variables: tuple) -> sympy.Expr:
        if variables not in memo:
            result = sympy.diff(derivative(variables[:-1]), variables[-1])
            if formula_size(result, MAX_DERIVATIVE_NODES) > MAX_DERIVATIVE_NODES:
                raise _TooLarge
            memo[variables] = result
        return memo[variables]

    replacements = {problem.u: problem.exact}
    for node in expr.atoms(sympy.Derivative):
        if node.expr == problem.u:
            variables = tuple(sorted((v for v, n in node.variable_count for _ in range(n)), key=str))
            replacements[node] = derivative(variables)
    return expr.xreplace(replacements)


def box_points(problem, rng, n: int = POINTS, fixed=None) -> np.ndarray:
    """``n`` uniform points of the domain's box (input columns), with ``fixed`` coordinates set
    (``{"t": 0.0}``: points of the face t = 0)."""
    columns = [rng.uniform(*problem.domain[name], n) for name in problem.input_names]
    points = np.stack(columns, axis=1)
    for name, value in (fixed or {}).items():
        points[:, problem.input_names.index(name)] = value
    return points

"""A named reference solver is used only for the problem it solves: checked at load.

Every registered solver computes the solution of one catalogue entry (``burgers_cole_hopf``:
``burgers``), with that entry's parameters taken from the file. A file that names the solver
must therefore *be* that problem — same variables and domain, the same PDE (up to a constant
factor), the same conditions on the same faces with the same values — with any parameter
values. Otherwise the run would be scored against the solution of another equation (a file
with ``solver = "reaction_diffusion_mol"`` and its own PDE was reported at 0.83 as if that
meant something). The comparison is numerical, in float64 at fixed pseudo-random points: the
unknown and its derivatives are given random values, so two residuals agree only when they
are the same function of them.
"""
from __future__ import annotations

import numpy as np
import sympy

from spikepde.problem.consistency import box_points
from spikepde.problem.numeric import build_evaluator, derivative_index

#: Agreement asked of two residuals (after the best constant factor) or two condition values.
TOLERANCE = 1e-9
#: Points per comparison.
POINTS = 32


def check_solver_problem(problem, entry, error) -> None:
    """Raise ``error("reference.solver", message)`` unless ``problem`` is the problem of the
    catalogue entry ``entry`` (a Problem loaded with the file's parameter values)."""
    solver = problem.reference.solver
    head = f"'{solver}' solves the catalogue's '{entry.name}' problem"

    def refuse(what: str):
        return error("reference.solver", f"{head}; this file's {what} — give 'exact', or a "
                                         "solver of this problem")

    if problem.input_names != entry.input_names or problem.domain != entry.domain \
            or problem.excluded != entry.excluded:
        raise refuse(f"variables or domain differ ({_domain_text(problem)} against "
                     f"{_domain_text(entry)})")
    if len(problem.residuals) != len(entry.residuals):
        raise refuse("number of PDE residuals differs")
    rng = np.random.default_rng(0)
    for mine, theirs in zip(problem.residuals, entry.residuals):
        if not _proportional(problem, mine, entry, theirs, box_points(problem, rng, POINTS), rng):
            raise refuse(f"PDE ({problem.residual_text()}) is not the solver's "
                         f"({entry.residual_text()})")
    if sorted(map(_condition_key, problem.conditions)) != sorted(map(_condition_key, entry.conditions)):
        raise refuse("conditions are not the solver's (kinds or faces differ)")
    for theirs in entry.conditions:
        mine = next(c for c in problem.conditions if _condition_key(c) == _condition_key(theirs))
        for face in theirs.faces:
            box = problem.excluded[face.box] if face.box is not None else problem.domain
            where = box[face.variable][0 if face.side == "min" else 1]
            points = box_points(problem, rng, POINTS, {face.variable: where})
            if theirs.kind == "periodic":
                continue
            same = _proportional(problem, mine.residual_expression(problem.u, face, problem.symbols),
                                 entry, theirs.residual_expression(entry.u, face, entry.symbols),
                                 points, rng, factor_free=True)
            if not same:
                raise refuse(f"{mine.kind} condition on {face.name} is not the solver's")


def _proportional(problem, mine, entry, theirs, points, rng, factor_free=False) -> bool:
    """Whether ``mine`` = c · ``theirs`` (c a nonzero constant; c = 1 when ``factor_free``)
    as functions of the points and of random values of u and its derivatives."""
    indices = {derivative_index(d, problem.input_symbols)
               for e, p in ((mine, problem), (theirs, entry))
               for d in e.atoms(sympy.Derivative) if d.expr == p.u}
    fields = {index: rng.normal(size=len(points)) for index in indices | {(0,) * points.shape[1]}}
    a = _evaluate(problem, mine, points, fields)
    b = _evaluate(entry, theirs, points, fields)
    if a is None or b is None:
        return True                           # nothing float64 can judge
    scale = max(1.0, float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    c = 1.0 if factor_free else (float(a @ b) / float(b @ b) if b @ b > 0 else 0.0)
    if not factor_free and c == 0.0:
        return not np.any(a)
    return float(np.max(np.abs(a - c * b))) <= TOLERANCE * scale * max(1.0, abs(c))


def _evaluate(problem, expr, points, fields):
    expr = expr.xreplace(problem.substitutions())
    try:
        fn = build_evaluator(expr, problem.input_symbols, unknown=problem.u, backend="numpy")
    except ValueError:
        return None
    with np.errstate(all="ignore"):
        value = np.broadcast_to(np.asarray(fn([points[:, i] for i in range(points.shape[1])],
                                              fields), dtype=np.float64), (len(points),))
    return value if np.all(np.isfinite(value)) else None


def _condition_key(condition):
    return condition.kind, tuple(sorted(f.name for f in condition.faces)), condition.derivatives


def _domain_text(problem) -> str:
    return " × ".join(f"{v} ∈ [{lo:g}, {hi:g}]" for v, (lo, hi) in problem.domain.items())

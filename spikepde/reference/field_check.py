"""A reference field must satisfy the problem it scores: checked every time it is served.

Closed forms are checked symbolically at load (:mod:`spikepde.problem.consistency`) and a
named solver is matched to its problem (:mod:`spikepde.problem.solver_match`); this is the
check on the *numbers* a solver returns, whichever it is:

* **conditions** — on every grid face that carries a Dirichlet or initial condition, the
  field must equal the condition's value to :data:`CONDITION_TOLERANCE` times max |u|;
* **PDE** — the residual of the field, its derivatives taken by second-order differences on
  the reference grid itself, relative at each interior point to the largest term of the
  residual there. The grid is the evaluation grid, not the solver's, so a shock or a corner
  singularity leaves large values at a few points (Burgers on DeepXDE's 256 × 100 grid: root
  mean square 0.6): the statistic is the **median** over interior points, 1.2e-4 for Burgers
  and at most 1.6e-2 (wave1d's u_tt over 101 time steps) over the catalogue, and a field of
  another equation leaves O(1). Above :data:`RESIDUAL_TOLERANCE` the reference is refused.

A refusal is a :class:`~spikepde.errors.SpecError` on the file's ``reference.solver``.
"""
from __future__ import annotations

import numpy as np
import sympy

from spikepde.errors import SpecError
from spikepde.problem.numeric import build_evaluator, derivative_index

#: Largest median of |residual| / |largest term| accepted over the interior grid points.
RESIDUAL_TOLERANCE = 0.1
#: Largest error on a Dirichlet or initial face, relative to max |u| (at least 1).
CONDITION_TOLERANCE = 1e-6


def check_field(problem, reference) -> dict:
    """The PDE residual and condition errors of ``reference`` (a ReferenceSolution on a grid
    of ``problem``); raises SpecError when they show it is not a solution of ``problem``."""
    if problem.data_only or len(problem.residuals) != 1 or min(reference.shape) < 5:
        return {}
    facts = {"median_relative_residual": _median_relative_residual(problem, reference),
             "max_condition_error": _max_condition_error(problem, reference)}
    scale = max(1.0, float(np.nanmax(np.abs(reference.values))))
    where = f"the reference field of '{reference.meta.get('solver', 'the solver')}'"
    if facts["median_relative_residual"] > RESIDUAL_TOLERANCE:
        raise _refusal(problem, f"{where} does not satisfy this file's PDE (median residual "
                                f"{facts['median_relative_residual']:.3g} of its largest term)")
    if facts["max_condition_error"] > CONDITION_TOLERANCE * scale:
        raise _refusal(problem, f"{where} breaks this file's conditions (off by up to "
                                f"{facts['max_condition_error']:.3g} on a face)")
    return facts


def _refusal(problem, message: str) -> SpecError:
    return SpecError(message, file=getattr(problem, "source", None), field="reference.solver")


def _median_relative_residual(problem, reference) -> float:
    residual = problem.residuals[0].xreplace(problem.substitutions())
    symbols = problem.input_symbols
    axes = list(reference.axes.values())
    indices = {derivative_index(n, symbols) for n in residual.atoms(sympy.Derivative)
               if n.expr == problem.u} | {tuple(0 for _ in axes)}
    fields = {i: _difference(reference.values, axes, i).ravel() for i in indices}
    points = reference.points()
    columns = [points[:, k] for k in range(points.shape[1])]
    terms = [np.broadcast_to(np.asarray(build_evaluator(term, symbols, unknown=problem.u,
                                                        backend="numpy")(columns, fields),
                                        dtype=np.float64), (len(points),))
             for term in sympy.Add.make_args(residual)]
    total, largest = sum(terms), np.max(np.abs(terms), axis=0)
    keep = _interior(reference.shape).ravel() & np.isfinite(total) & (largest > 0)
    if not keep.any():
        return 0.0
    return float(np.median(np.abs(total[keep]) / largest[keep]))


def _difference(values, axes, index) -> np.ndarray:
    """∂^index of the grid values by repeated second-order differences."""
    out = values
    for axis, (coords, order) in enumerate(zip(axes, index)):
        for _ in range(order):
            out = np.gradient(out, coords, axis=axis, edge_order=2)
    return out


def _interior(shape) -> np.ndarray:
    """Grid points at least two nodes from every face (where the differences are central)."""
    mask = np.zeros(shape, dtype=bool)
    mask[tuple(slice(2, -2) for _ in shape)] = True
    return mask


def _max_condition_error(problem, reference) -> float:
    """Largest |u − value| over the grid faces carrying a Dirichlet or initial condition (faces
    of the domain box that the grid reaches; excluded boxes' faces are left out)."""
    worst = 0.0
    points = reference.points()
    values = reference.flat_values()
    columns = [points[:, k] for k in range(points.shape[1])]
    # a point on two faces (x = 0 at t = 0) may carry two conditions that disagree (an initial
    # value not matching the boundary value): it cannot satisfy both, and is left out
    faces_through = sum(np.isclose(points[:, k], bound, rtol=0, atol=1e-12 * (1 + abs(bound)))
                        for k, name in enumerate(problem.input_names)
                        for bound in problem.domain[name])
    single = faces_through <= 1
    for condition in problem.conditions:
        if condition.kind not in ("dirichlet", "initial"):
            continue
        target = np.broadcast_to(np.asarray(build_evaluator(
            condition.value.xreplace(problem.substitutions()), problem.input_symbols,
            backend="numpy")(columns, {}), dtype=np.float64), (len(points),))
        for face in condition.faces:
            if face.box is not None:
                continue
            k = problem.input_names.index(face.variable)
            where = problem.domain[face.variable][0 if face.side == "min" else 1]
            on = np.isclose(points[:, k], where, rtol=0, atol=1e-12 * (1 + abs(where)))
            on &= np.isfinite(values) & single
            if on.any():
                worst = max(worst, float(np.max(np.abs(values[on] - target[on]))))
    return worst

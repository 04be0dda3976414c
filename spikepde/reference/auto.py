"""The automatic reference: a numerical solution computed from the problem's own sympy form.

``reference.solver = "auto"`` (the default for a PDE file without ``[reference]`` when a
scheme applies, see :mod:`spikepde.problem.auto_plan`) runs one of:

* time-dependent, one space variable: the method of lines (:mod:`.mol`, 8th-order central
  differences, Radau) on grids of 1, 2, 4, … times the evaluation grid's cells (at least
  :data:`MIN_CELLS`) until two successive grids agree to :data:`TARGET` (relative L2 on the
  evaluation grid) or the grid reaches :data:`MAX_CELLS`;
* steady, one space variable: the same doubling with finite differences (:mod:`.steady_fd`,
  accuracy 8) and Newton's method;
* steady, two space variables: 5-point differences on three nested grids (1, 2, 4 times a
  refinement of the evaluation grid) and two Richardson steps, with exponents (2, 4) on a box
  and (4/3, 2) when an excluded box makes a re-entrant corner (the r^(2/3) singularity of a
  Laplacian-type equation there — the exponents of :mod:`.poisson_lshape`).

The solver's own accuracy — the relative L2 difference between the two best solutions (the
last two grids; the extrapolated field and the one-step extrapolation in 2-D) — is part of the
result (``meta["error_estimate"]``) and of every run's ``metrics.json``. The estimate is
conservative: it measures the error of the coarser of the two.
"""
from __future__ import annotations

import math
import time

import numpy as np

from spikepde.problem.auto_plan import EvolutionPlan, NoAutoReference, plan
from . import mol, steady_fd
from .solution import ReferenceSolution

#: Version of the automatic solver's numerics (part of the cache key).
VERSION = "1"
#: Refinement stops when two successive grids agree to this relative L2 difference.
TARGET = 1e-7
#: Fewest cells of the first grid in one dimension.
MIN_CELLS = 64
#: Most cells in one dimension (the last grid tried).
MAX_CELLS = 16384
#: Most nodes of the finest grid in two dimensions.
MAX_NODES_2D = 2_000_000
#: Accuracy order of the steady differences in one dimension.
STEADY_ACCURACY_1D = 8


def auto_reference(problem, the_plan=None) -> ReferenceSolution:
    """The automatic reference of ``problem`` on its reference grid (not cached; see
    :func:`spikepde.reference.get_reference`); ``the_plan``: its
    :func:`~spikepde.problem.auto_plan.plan` when already made. Raises
    :class:`~spikepde.problem.auto_plan.NoAutoReference` when no scheme applies."""
    the_plan = plan(problem) if the_plan is None else the_plan
    grid = problem.reference.grid
    axes = {name: axis.points() for name, axis in grid.items()}
    start = time.perf_counter()
    if isinstance(the_plan, EvolutionPlan):
        values, meta = _doubling(lambda cells: mol.solve(the_plan, problem, axes[the_plan.space],
                                                         axes[the_plan.time], cells),
                                 _cells(problem, grid, problem.space[0]), method="method of lines")
    elif len(problem.space) == 1:
        values, meta = _doubling(lambda cells: _steady(the_plan, problem, axes, {problem.space[0]: cells},
                                                       STEADY_ACCURACY_1D),
                                 _cells(problem, grid, problem.space[0]), method="finite differences")
    else:
        values, meta = _richardson(the_plan, problem, axes)
    meta.update(solver="auto", version=VERSION, problem=problem.name, params=problem.param_values(),
                time_s=round(time.perf_counter() - start, 3))
    return ReferenceSolution(axes=axes, values=values, meta=meta)


def cache_fields(problem, the_plan=None) -> dict:
    """What the automatic reference depends on, for the cache key: the plan (equation and
    conditions) with the parameter values, the domain and the grid."""
    the_plan = plan(problem) if the_plan is None else the_plan
    return {"solver": "auto", "version": VERSION, "plan": repr(the_plan),
            "params": problem.param_values(), "domain": repr(problem.domain),
            "excluded": repr(problem.excluded),
            "grid": {n: [a.n, a.lo, a.hi, a.endpoint] for n, a in problem.reference.grid.items()}}


# ------------------------------------------------------------------------------------- schemes
def _steady(the_plan, problem, axes, cells, acc):
    values, info = steady_fd.solve(the_plan, problem, cells, acc)
    return _take(values, problem, axes, cells), info


def _doubling(solve, base_cells: int, method: str):
    """Solve on base·2^k cells until two successive solutions agree to :data:`TARGET`."""
    factor = max(1, math.ceil(MIN_CELLS / base_cells))
    previous, levels = None, []
    while True:
        cells = base_cells * factor
        values, info = solve(cells)
        levels.append(info)
        if previous is not None:
            estimate = _relative_difference(values, previous)
            info["difference_to_previous"] = estimate
            if estimate <= TARGET or 2 * cells > MAX_CELLS:
                break
        previous, factor = values, 2 * factor
    return values, {"method": method, "resolution": f"{cells} cells", "error_estimate": estimate,
                    "converged": estimate <= TARGET, "levels": levels}


def _richardson(the_plan, problem, axes):
    """Three nested 5-point solutions and two Richardson steps (see the module docstring)."""
    base = {v: _cells(problem, problem.reference.grid, v) for v in problem.space}
    factor = _aligned_factor(problem, base)
    if the_plan.reentrant:    # slow convergence (h^(4/3)): as fine as the node budget allows
        while np.prod([8 * factor * base[v] + 1 for v in base]) <= MAX_NODES_2D \
                and _aligned(problem, base, 2 * factor):
            factor *= 2
    while np.prod([4 * factor * base[v] + 1 for v in base]) > MAX_NODES_2D and factor > 1:
        factor //= 2
    if np.prod([4 * factor * base[v] + 1 for v in base]) > MAX_NODES_2D or not _aligned(problem, base, factor):
        raise NoAutoReference("the reference grid is too fine for the automatic finite "
                              f"differences (at most {MAX_NODES_2D} nodes on the finest of three "
                              "nested grids)")
    exponents = (4 / 3, 2.0) if the_plan.reentrant else (2.0, 4.0)
    solutions, levels = [], []
    for k in range(3):
        cells = {v: base[v] * factor * 2 ** k for v in base}
        values, info = _steady(the_plan, problem, axes, cells, 2)
        solutions.append(values)
        levels.append({**info, "cells": cells})
    once = [b + (b - a) / (2 ** exponents[0] - 1) for a, b in zip(solutions, solutions[1:])]
    twice = once[1] + (once[1] - once[0]) / (2 ** exponents[1] - 1)
    finest = {v: base[v] * factor * 4 for v in base}
    return twice, {"method": "finite differences with Richardson extrapolation",
                   "resolution": " x ".join(f"{c} cells" for c in finest.values()),
                   "richardson_exponents": list(exponents),
                   "error_estimate": _relative_difference(twice, once[1]),
                   "converged": True, "levels": levels}


# ------------------------------------------------------------------------------------- grids
def _cells(problem, grid, name: str) -> int:
    """Cells of the domain at the evaluation grid's spacing along ``name`` (the evaluation
    points must be equally spaced nodes of such a grid)."""
    axis = grid[name]
    lo, hi = problem.domain[name]
    spacing = (axis.hi - axis.lo) / ((axis.n - 1) if axis.endpoint else axis.n)
    cells, offset = (hi - lo) / spacing, (axis.lo - lo) / spacing
    if axis.n < 2 or abs(cells - round(cells)) > 1e-6 or abs(offset - round(offset)) > 1e-6:
        raise NoAutoReference(f"the reference grid along {name} ({axis.n} points from {axis.lo:g} "
                              f"to {axis.hi:g}) is not a set of nodes of a uniform grid of the "
                              f"domain [{lo:g}, {hi:g}]")
    return int(round(cells))


def _aligned(problem, base, factor) -> bool:
    """Whether every excluded box's bounds are nodes of the grid ``base · factor``."""
    for box in problem.excluded:
        for v, bounds in box.items():
            lo, hi = problem.domain[v]
            for b in bounds:
                position = (b - lo) / (hi - lo) * base[v] * factor
                if lo < b < hi and abs(position - round(position)) > 1e-6:
                    return False
    return True


def _aligned_factor(problem, base) -> int:
    """The smallest refinement (at least enough for :data:`MIN_CELLS` / 4 cells on the coarsest
    grid) whose nodes include the excluded boxes' bounds."""
    factor = max(1, math.ceil(MIN_CELLS / 4 / min(base.values())))
    for candidate in range(factor, factor + 64):
        if _aligned(problem, base, candidate):
            return candidate
    return factor


def _take(values, problem, axes, cells) -> np.ndarray:
    """The evaluation grid's values out of a finite-difference solution on ``cells``."""
    index = []
    for v in problem.space:
        lo, hi = problem.domain[v]
        index.append(np.rint((axes[v] - lo) / (hi - lo) * cells[v]).astype(int))
    return values[np.ix_(*index)]


def _relative_difference(a, b) -> float:
    finite = np.isfinite(a) & np.isfinite(b)
    return float(np.linalg.norm(a[finite] - b[finite]) / max(np.linalg.norm(a[finite]), 1e-300))

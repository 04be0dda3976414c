"""Trusted reference solutions: closed forms evaluated in float64 and classical solvers.

``get_reference(problem)`` returns a :class:`ReferenceSolution` on the problem's reference grid,
from the solver named in ``problem.reference.solver`` (cached on disk, see :mod:`.cache`) or from
the problem's closed-form solution.  Nothing here reads the shared reference files; those are
only used by the tests as independent cross-checks.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .cache import cache_dir, cache_key, cached
from .field_check import check_field
from .solution import ReferenceSolution, make_axis
from .solvers import DEFAULT_GRIDS, DEFAULT_PARAMS, SOLVERS, VERSIONS

__all__ = ["ReferenceSolution", "SOLVERS", "VERSIONS", "DEFAULT_GRIDS", "DEFAULT_PARAMS",
           "get_reference", "solve_reference", "cached", "cache_dir", "cache_key"]

#: Points per axis of a closed-form reference grid when the problem does not say.
DEFAULT_CLOSED_FORM_POINTS = 101


def solve_reference(solver: str, params: Mapping[str, float] | None = None,
                    grid: Mapping[str, Any] | None = None, *, use_cache: bool = True) -> ReferenceSolution:
    """Run (or fetch from the cache) the registered solver ``solver`` with ``params`` and ``grid``."""
    if solver not in SOLVERS:
        raise KeyError(f"unknown reference solver '{solver}'; known: {sorted(SOLVERS)}")
    # Defaults are filled in before keying, so an omitted parameter and its explicit default
    # share one cache entry.
    params = {**DEFAULT_PARAMS[solver], **{k: float(v) for k, v in (params or {}).items()}}
    grid = dict(grid or {})
    compute = lambda: SOLVERS[solver](params, grid)  # noqa: E731
    if not use_cache:
        return compute()
    key = {"solver": solver, "version": VERSIONS[solver], "params": params, "grid": grid}
    return cached(key, compute)


def get_reference(problem: Any, *, use_cache: bool = True) -> ReferenceSolution:
    """Reference solution of ``problem`` (duck-typed, see docs/architecture.md).

    * ``problem.reference.solver`` set: ``SOLVERS[name](problem.param_values(), grid)``, cached;
      ``"auto"``: the automatic reference computed from the problem's own equation
      (:mod:`.auto`), cached under the equation, conditions, parameters and grid.
    * otherwise the closed form: a uniform grid over ``problem.domain`` (``problem.reference.grid``
      gives the points per axis, default 101) evaluated by ``problem.exact_on_grid(axes)`` (a
      :class:`~spikepde.problem.problem.Problem`'s own; NaN in its excluded boxes).
      Closed forms are cheap and are not cached, so an edited formula can never be served stale.
    """
    spec = getattr(problem, "reference", None)
    solver = getattr(spec, "solver", None)
    grid = {name: grid_entry(v) for name, v in (getattr(spec, "grid", None) or {}).items()}
    if solver == "auto":
        reference = _automatic(problem, use_cache)
    elif solver:
        reference = solve_reference(solver, problem.param_values(), grid, use_cache=use_cache)
    else:
        return closed_form_reference(problem, grid)     # checked symbolically at load
    if hasattr(problem, "residuals"):                   # a Problem: the numbers must solve it
        reference.meta["field_check"] = check_field(problem, reference)
    return reference


def _automatic(problem, use_cache: bool) -> ReferenceSolution:
    """The automatic reference (:mod:`.auto`, findiff imported only here); a grid it cannot
    use is the file's error on ``reference.grid``, a solve that fails (a solution that blows
    up, Newton's method diverging) on ``reference.solver``."""
    from ..errors import SpecError
    from ..problem.auto_plan import NoAutoReference, plan
    from .auto import auto_reference, cache_fields

    try:
        the_plan = plan(problem)      # made once: the cache key and the solve both read it
        compute = lambda: auto_reference(problem, the_plan)  # noqa: E731
        return cached(cache_fields(problem, the_plan), compute) if use_cache else compute()
    except NoAutoReference as exc:
        raise SpecError(f"no automatic reference on this grid: {exc}",
                        file=getattr(problem, "source", None), field="reference.grid") from None
    except RuntimeError as exc:    # the integration or Newton's method failed on this problem
        raise SpecError(f"the automatic reference failed: {exc}; give 'exact' or leave "
                        "[reference] out for residual metrics only",
                        file=getattr(problem, "source", None), field="reference.solver") from None


def grid_entry(entry: Any) -> Any:
    """Normalise one grid entry: an int, a dict, or an object with ``n, lo, hi[, endpoint]``
    (``spikepde.problem.GridAxis``) becomes the int/dict form the solvers accept."""
    if isinstance(entry, (int, np.integer, Mapping)) or entry is None:
        return entry
    if all(hasattr(entry, a) for a in ("n", "lo", "hi")):
        return {"n": int(entry.n), "min": float(entry.lo), "max": float(entry.hi),
                "endpoint": bool(getattr(entry, "endpoint", True))}
    raise TypeError(f"cannot read a reference grid entry of type {type(entry).__name__}")


def closed_form_reference(problem: Any, grid: Mapping[str, Any]) -> ReferenceSolution:
    """Evaluate the problem's exact solution in float64 on a tensor grid of its domain
    (``problem.exact_on_grid``: the closed form, NaN in excluded boxes)."""
    names = list(problem.input_names)
    axes = {}
    for name in names:
        lo, hi = (float(v) for v in problem.domain[name])
        axes[name] = make_axis(name, grid.get(name), n=DEFAULT_CLOSED_FORM_POINTS, lo=lo, hi=hi)
    meta = {"solver": "closed_form", "problem": getattr(problem, "name", None),
            "params": dict(problem.param_values()), "exact": str(getattr(problem, "exact", ""))}
    return ReferenceSolution(axes=axes, values=problem.exact_on_grid(axes), meta=meta)

"""Registry of the reference solvers: name -> ``fn(params, grid) -> ReferenceSolution``.

Each solver module defines ``NAME``, ``VERSION`` (bumped whenever its numerics change, so cached
entries of the old version are never reused), ``DEFAULT_PARAMS``, ``DEFAULT_GRID`` and ``solve``.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Mapping

from . import allen_cahn, burgers, kdv, poisson_lshape, reaction_diffusion
from ..problem.problem import REFERENCE_SOLVERS
from .solution import ReferenceSolution

Solver = Callable[[Mapping[str, float], Mapping[str, Any]], ReferenceSolution]

_MODULES: tuple[ModuleType, ...] = (burgers, allen_cahn, kdv, poisson_lshape,
                                     reaction_diffusion)

SOLVERS: dict[str, Solver] = {m.NAME: m.solve for m in _MODULES}
#: Version string of each solver, part of the cache key.
VERSIONS: dict[str, str] = {m.NAME: m.VERSION for m in _MODULES}
DEFAULT_PARAMS: dict[str, dict[str, float]] = {m.NAME: dict(m.DEFAULT_PARAMS) for m in _MODULES}
DEFAULT_GRIDS: dict[str, dict[str, Any]] = {m.NAME: dict(m.DEFAULT_GRID) for m in _MODULES}

# the problem loader accepts exactly these names (it is imported without numpy and scipy)
if sorted(SOLVERS) != sorted(REFERENCE_SOLVERS):   # pragma: no cover - a developer's slip
    raise ImportError(f"spikepde.problem.problem.REFERENCE_SOLVERS {sorted(REFERENCE_SOLVERS)} "
                      f"differs from the solver modules {sorted(SOLVERS)}")

"""Registry of the reference solvers: name -> ``fn(params, grid) -> ReferenceSolution``.

Each solver module defines ``NAME``, ``VERSION`` (bumped whenever its numerics change, so cached
entries of the old version are never reused), ``DEFAULT_PARAMS``, ``DEFAULT_GRID`` and ``solve``.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Mapping

from . import allen_cahn, burgers, kdv, poisson_lshape, reaction_diffusion
from .solution import ReferenceSolution

Solver = Callable[[Mapping[str, float], Mapping[str, Any]], ReferenceSolution]

_MODULES: tuple[ModuleType, ...] = (burgers, allen_cahn, kdv, poisson_lshape,
                                     reaction_diffusion)

SOLVERS: dict[str, Solver] = {m.NAME: m.solve for m in _MODULES}
#: Version string of each solver, part of the cache key.
VERSIONS: dict[str, str] = {m.NAME: m.VERSION for m in _MODULES}
DEFAULT_PARAMS: dict[str, dict[str, float]] = {m.NAME: dict(m.DEFAULT_PARAMS) for m in _MODULES}
DEFAULT_GRIDS: dict[str, dict[str, Any]] = {m.NAME: dict(m.DEFAULT_GRID) for m in _MODULES}

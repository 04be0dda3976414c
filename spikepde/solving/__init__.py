"""Solving a PDE problem: the settings (:mod:`.config`), the training loop (:mod:`.loop`) and
:func:`solve` with its run directory (:mod:`.run`). The package face re-exports the public
names as ``spikepde.solve``, ``spikepde.SolveConfig`` and ``spikepde.RunResult``."""
from .config import SolveConfig, default_steps
from .loop import scheduled_lr
from .run import RunResult, solve

__all__ = ["RunResult", "SolveConfig", "default_steps", "scheduled_lr", "solve"]

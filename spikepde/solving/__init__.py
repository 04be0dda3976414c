"""Solving a PDE problem: the settings (:mod:`.config`), the training loop (:mod:`.loop`) and
:func:`solve` with its run directory (:mod:`.run`). The package face re-exports the public
names as ``spikepde.solve``, ``spikepde.SolveConfig`` and ``spikepde.RunResult``."""
from spikepde._lazy import lazy_exports

# imported on first use: the command line reads SolveConfig's fields without loading torch
_EXPORTS = {"SolveConfig": ".config", "default_steps": ".config", "scheduled_lr": ".loop",
            "RunResult": ".run", "solve": ".run"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["RunResult", "SolveConfig", "default_steps", "scheduled_lr", "solve"]

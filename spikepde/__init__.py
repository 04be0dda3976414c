"""spikepde: spiking neural-network PDE surrogates trained without back-propagation.

The public API (every name below is importable from ``spikepde``)::

    import spikepde
    p = spikepde.load_problem("burgers")            # symbolic problem from the catalogue
    r = spikepde.solve(p, method="fgrad", steps=500, seed=0, out="runs/b1")
    r.metrics["relative_l2"]; r.field(points); r.paths
    c = spikepde.classify("digits", method="ff")     # the same engine on classification
    df = spikepde.study("burgers", grid={"T": [8, 16]}, seeds=3, out="studies/s1")

``list_problems()`` names the catalogue; ``get_reference(problem)`` gives the trusted reference;
``register_trainer(name, cls)`` adds a training method. The modules behind these verbs are
nouns (``spikepde.solving``, ``spikepde.classification``, ``spikepde.sweep``), so importing a
module always gives the module. ``tune_allocator()`` is an opt-in process setting (the
``spikepde`` command calls it; the library never changes process state by itself).
"""
from __future__ import annotations

__version__ = "0.1.0"

from ._runtime import tune_allocator  # noqa: E402
from .classification import ClassifyResult, classify  # noqa: E402
from .errors import (CheckpointError, ConfigurationError, DataError, DivergenceError,  # noqa: E402
                     SpecError, SpikePDEError, UnknownProblemError)
from .fields import TrainedField  # noqa: E402
from .problem.compile import compile_problem  # noqa: E402
from .problem.spec import list_problems, load_problem  # noqa: E402
from .reference import get_reference  # noqa: E402
from .solving import RunResult, SolveConfig, solve  # noqa: E402
from .sweep import plot_study, study, summarize  # noqa: E402
from .train.registry import register_trainer  # noqa: E402

__all__ = ["CheckpointError", "ClassifyResult", "ConfigurationError", "DataError", "DivergenceError",
           "RunResult", "SolveConfig", "SpecError", "SpikePDEError", "TrainedField",
           "UnknownProblemError", "classify", "compile_problem", "get_reference", "list_problems",
           "load_problem", "plot_study", "register_trainer", "solve", "study", "summarize",
           "tune_allocator"]

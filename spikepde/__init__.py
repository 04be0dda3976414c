"""spikepde: spiking neural-network PDE surrogates trained without back-propagation.

The small public API::

    import spikepde
    p = spikepde.load_problem("burgers")            # symbolic problem from the catalogue
    r = spikepde.solve(p, method="fgrad", steps=500, seed=0, out="runs/b1")
    r.metrics["relative_l2"]; r.surrogate(points); r.paths

``list_problems()`` names the catalogue; ``get_reference(problem)`` gives the trusted reference;
``tune_allocator()`` keeps large tensor buffers in the process (faster forward passes on Linux;
the CLI does it at start).
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import (CheckpointError, DataError, DivergenceError, SpecError,  # noqa: E402
                     SpikePDEError, UnknownProblemError)
from .problem.spec import list_problems, load_problem  # noqa: E402
from .problem.compile import compile_problem  # noqa: E402
from .reference import get_reference  # noqa: E402
from .allocator import tune_allocator  # noqa: E402
from .solving import RunResult, SolveConfig, solve  # noqa: E402


def classify(*args, **kwargs):
    """Train and evaluate a spiking classifier; see :func:`spikepde.classify.classify`."""
    from .classify import classify as _classify

    return _classify(*args, **kwargs)


def study(*args, **kwargs):
    """Run a parameter study; see :func:`spikepde.study.study`."""
    from .study import study as _study

    return _study(*args, **kwargs)


def plot_study(*args, **kwargs):
    """Plot a study table; see :func:`spikepde.study.plot_study`."""
    import importlib

    return importlib.import_module("spikepde.study").plot_study(*args, **kwargs)


__all__ = ["plot_study", "load_problem", "list_problems", "compile_problem", "get_reference", "solve",
           "SolveConfig", "RunResult", "tune_allocator", "classify", "study", "SpikePDEError", "SpecError",
           "UnknownProblemError", "DivergenceError", "DataError", "CheckpointError"]

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

from ._lazy import lazy_exports  # noqa: E402

# Every public name and the module it comes from; each is imported on first use, so that the
# command line (spikepde.cli) starts without torch, sympy, scipy or matplotlib.
_EXPORTS = {
    "tune_allocator": "._runtime",
    "ClassifyResult": ".classification", "classify": ".classification",
    **dict.fromkeys(["CheckpointError", "ConfigurationError", "DataError", "DivergenceError",
                     "SpecError", "SpikePDEError", "UnknownProblemError"], ".errors"),
    "TrainedField": ".fields",
    "compile_problem": ".problem.compile",
    "list_problems": ".problem.spec", "load_problem": ".problem.spec",
    "get_reference": ".reference",
    "RunResult": ".solving", "SolveConfig": ".solving", "solve": ".solving",
    "plot_study": ".sweep", "study": ".sweep", "summarize": ".sweep",
    "register_trainer": ".train.registry",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["CheckpointError", "ClassifyResult", "ConfigurationError", "DataError", "DivergenceError",
           "RunResult", "SolveConfig", "SpecError", "SpikePDEError", "TrainedField",
           "UnknownProblemError", "classify", "compile_problem", "get_reference", "list_problems",
           "load_problem", "plot_study", "register_trainer", "solve", "study", "summarize",
           "tune_allocator"]

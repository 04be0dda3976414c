"""Loading problem specifications (TOML files or Python dicts): the catalogue and the entry points.

Every check happens at load time (:mod:`spikepde.problem.loader` reads the format section by
section): a bad file raises :class:`SpecError` naming the file, the dotted field
(``conditions[1].value``) and what was expected, never a failure at step 5000. The format is
documented in docs/problem_format.md.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spikepde.errors import SpecError
from spikepde.problem.catalogue import list_problems, locate, read_spec_file
from spikepde.problem.loader import Loader
from spikepde.problem.problem import Problem

__all__ = ["list_problems", "load_problem", "problem_from_dict"]


# ======================================================================================= API
def load_problem(name_or_path: str | Path, **param_overrides: float | str) -> Problem:
    """Load a catalogue entry by name, or any problem file by path.

    Args:
        name_or_path: a catalogue name (``"burgers"``) or the path of a ``.toml`` file.
        **param_overrides: parameter values replacing the defaults, as numbers or formulas
            (``d=0.002``, ``nu="0.02/pi"``).

    Raises:
        UnknownProblemError: the name is not in the catalogue and is not an existing file.
        SpecError: the file is invalid, or an override names an unknown parameter.
    """
    path, origin = locate(name_or_path)
    return Loader(str(path), origin).load(read_spec_file(path), param_overrides)


def problem_from_dict(spec: Mapping[str, Any], source: str = "<dict>", *, origin: str | None = None,
                      **param_overrides: float | str) -> Problem:
    """Build a Problem from a dict shaped like a problem file (same validation).

    ``origin`` is where the problem can be loaded from again (a catalogue name or a file path;
    None for a problem that exists only in memory)."""
    if not isinstance(spec, Mapping):
        raise SpecError(f"expected a table (dict), found {type(spec).__name__}", file=source)
    return Loader(source, origin).load(copy.deepcopy(dict(spec)), param_overrides)

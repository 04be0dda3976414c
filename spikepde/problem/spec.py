"""Loading problem specifications (TOML files or Python dicts): the catalogue and the entry points.

Every check happens at load time (:mod:`spikepde.problem.loader` reads the format section by
section): a bad file raises :class:`SpecError` naming the file, the dotted field
(``conditions[1].value``) and what was expected, never a failure at step 5000. The format is
documented in docs/problem_format.md.
"""
from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from spikepde.errors import SpecError, UnknownProblemError
from spikepde.problem.loader import _PROBLEM_NAME, MAX_FILE_BYTES, Loader
from spikepde.problem.problem import Problem


# ======================================================================================= API
def list_problems() -> list[str]:
    """Names of the catalogue entries (the ``*.toml`` files of the catalogue), sorted."""
    return sorted(path.name[:-5] for path in _catalogue_dir().iterdir()
                  if path.name.endswith(".toml"))


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
    path = Path(name_or_path)
    if path.suffix == ".toml" or isinstance(name_or_path, Path) or len(path.parts) > 1:
        if path.is_file():
            return _load_text(path.read_bytes(), str(path), param_overrides, origin=str(path.resolve()))
        raise UnknownProblemError(str(name_or_path), list_problems())
    entry = _catalogue_dir() / f"{name_or_path}.toml"
    if not _PROBLEM_NAME.match(str(name_or_path)) or not entry.is_file():
        raise UnknownProblemError(str(name_or_path), list_problems())
    return _load_text(entry.read_bytes(), str(entry), param_overrides, origin=str(name_or_path))


def problem_from_dict(spec: Mapping[str, Any], source: str = "<dict>", *, origin: str | None = None,
                      **param_overrides: float | str) -> Problem:
    """Build a Problem from a dict shaped like a problem file (same validation).

    ``origin`` is where the problem can be loaded from again (a catalogue name or a file path;
    None for a problem that exists only in memory)."""
    if not isinstance(spec, Mapping):
        raise SpecError(f"expected a table (dict), found {type(spec).__name__}", file=source)
    return Loader(source, origin).load(copy.deepcopy(dict(spec)), param_overrides)


# ================================================================================= internals
def _catalogue_dir():
    """The catalogue directory: the installed ``spikepde.catalogue`` package, else ``problems/``."""
    try:
        return resources.files("spikepde.catalogue")
    except ModuleNotFoundError:  # running from a source checkout that is not installed
        return Path(__file__).resolve().parents[2] / "problems"


def _load_text(data: bytes, source: str, overrides: Mapping[str, Any], origin: str | None) -> Problem:
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(f"file is {len(data)} bytes; at most {MAX_FILE_BYTES} are read",
                        file=source)
    try:
        spec = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError(f"file is not UTF-8 text ({exc.reason})", file=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"invalid TOML: {exc}", file=source) from None
    except RecursionError:  # tomllib recurses on nested arrays and inline tables
        raise SpecError("invalid TOML: arrays or tables nested too deeply", file=source) from None
    return Loader(source, origin).load(spec, overrides)



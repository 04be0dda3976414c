"""Where problem files are: the catalogue's names and the bytes of a problem file, bounded.

This module needs neither sympy nor torch, so the command line can list the catalogue, refuse
an unknown problem name and read a file's size before anything heavy is imported.
"""
from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from spikepde.errors import SpecError, UnknownProblemError
from spikepde.problem.limits import MAX_FILE_BYTES

PROBLEM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


def catalogue_dir():
    """The catalogue directory: the installed ``spikepde.catalogue`` package, else ``problems/``."""
    try:
        return resources.files("spikepde.catalogue")
    except ModuleNotFoundError:  # running from a source checkout that is not installed
        return Path(__file__).resolve().parents[2] / "problems"


def list_problems() -> list[str]:
    """Names of the catalogue entries (the ``*.toml`` files of the catalogue), sorted."""
    return sorted(path.name[:-5] for path in catalogue_dir().iterdir()
                  if path.name.endswith(".toml"))


def locate(name_or_path: str | Path) -> tuple[Any, str]:
    """The file of a catalogue name or a problem-file path, and its ``origin`` (the name, or the
    resolved path). Raises :class:`UnknownProblemError` for anything else."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or isinstance(name_or_path, Path) or len(path.parts) > 1:
        if path.is_file():
            return path, str(path.resolve())
        raise UnknownProblemError(str(name_or_path), list_problems())
    entry = catalogue_dir() / f"{name_or_path}.toml"
    if not PROBLEM_NAME.match(str(name_or_path)) or not entry.is_file():
        raise UnknownProblemError(str(name_or_path), list_problems())
    return entry, str(name_or_path)


def read_spec_file(path) -> dict[str, Any]:
    """The TOML table of a problem file; its size is checked before it is read, and no more
    than :data:`MAX_FILE_BYTES` + 1 bytes are ever read (a file that grows, or a device)."""
    source = str(path)
    size = path.stat().st_size if isinstance(path, Path) else None
    if size is not None and size > MAX_FILE_BYTES:
        raise _too_big(size, source)
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(None, source)
    return parse_spec_bytes(data, source)


def parse_spec_bytes(data: bytes, source: str) -> dict[str, Any]:
    """The TOML table in ``data``; every failure is a one-line :class:`SpecError`."""
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(len(data), source)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError(f"file is not UTF-8 text ({exc.reason})", file=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"invalid TOML: {exc}", file=source) from None
    except RecursionError:  # tomllib recurses on nested arrays and inline tables
        raise SpecError("invalid TOML: arrays or tables nested too deeply", file=source) from None


def _too_big(size: int | None, source: str) -> SpecError:
    what = f"{size} bytes" if size is not None else f"more than {MAX_FILE_BYTES} bytes"
    return SpecError(f"file is {what}; at most {MAX_FILE_BYTES} bytes are read (a problem file "
                     "is a few kB)", file=source)

"""Run directories: atomic files, checkpoints, metrics.

Every file a run writes goes to a temporary file in the same directory and is then renamed
over the target (``os.replace`` is atomic on POSIX), so a crash or a kill leaves either the old
file or the new one — never a truncated file that a later run would trust. Checkpoints are
plain dicts of tensors and numbers saved with ``torch.save`` and loaded with
``weights_only=True`` (no pickled code is ever executed on load).

Layout of a run directory::

    config.json       everything needed to reproduce the run
    metrics.json      final metrics (errors, wall time, spike rate, energy, ...)
    history.json      loss terms per logged step
    checkpoint.pt     parameters, optimizer state, RNG states, step
    *.png             plots
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError

TMP_SUFFIX = ".tmp"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would (or the mode of
        # the file it replaces) so that run outputs stay readable by whoever could read them before
        os.fchmod(fd, _target_mode(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _target_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files a killed writer left in ``directory`` (never a finished file).

    Only names this module creates (``.<name>.<random>.tmp``) are touched; returns what was removed.
    """
    removed = []
    for tmp in Path(directory).glob(f".*{TMP_SUFFIX}"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:   # another process's writer finished with it meanwhile
            pass
    return removed


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write a text file (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # JSON has no NaN/Inf; keep them readable rather than invalid
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _jsonable(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (tensors, numpy scalars and paths converted)."""
    return atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file written by :func:`atomic_write_json`."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Atomically save a checkpoint dict (tensors, numbers, strings, nested dicts/lists)."""
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint with ``weights_only=True``; a missing or corrupt file raises CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no checkpoint here")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, or contains non-tensor objects
        raise CheckpointError(f"{path}: cannot load checkpoint ({exc.__class__.__name__}: {exc})") from exc


class RunDir:
    """A run's output directory (created on demand). ``None`` path means "write nothing"."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)

    def __bool__(self) -> bool:
        return self.path is not None

    def file(self, name: str) -> Path | None:
        """The path of ``name`` inside the run directory (None when writing nothing)."""
        return None if self.path is None else self.path / name

    def write_json(self, name: str, obj: Any) -> Path | None:
        """Atomically write ``name`` as JSON; returns its path."""
        return None if self.path is None else atomic_write_json(self.path / name, obj)

    def write_arrays(self, name: str, arrays: dict) -> Path | None:
        """Atomically write ``name`` as an uncompressed ``.npz`` of plain arrays (readable with
        ``np.load(path, allow_pickle=False)``); returns its path."""
        if self.path is None:
            return None
        import io

        import numpy as np

        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return atomic_write_bytes(self.path / name, buffer.getvalue())

    def save_checkpoint(self, state: dict, name: str = "checkpoint.pt") -> Path | None:
        """Atomically save a checkpoint; returns its path."""
        return None if self.path is None else save_checkpoint(self.path / name, state)

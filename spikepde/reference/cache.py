"""On-disk cache of reference solutions.

Layout: ``<root>/references/<key>.npz`` with ``root = $SPIKEPDE_CACHE`` or ``~/.cache/spikepde``.

* **Key**: sha256 of a canonical JSON text of the key parts (solver name, parameters, grid,
  solver version).  Floats are rounded to 15 significant digits first so that ``0.1 + 0.2`` and
  ``0.3`` share an entry while any real change of a parameter or grid gives a new key.
* **Atomic writes**: the archive is written to a temporary file in the same directory and moved
  into place with ``os.replace``, so readers see either the old entry, the new one or none.
* **Checksum**: the archive carries ``checksum`` = sha256 over its own arrays (axes, values,
  metadata) and ``cache_key``.  Keeping the checksum inside the one file (instead of a sidecar)
  means a single atomic rename publishes data and checksum together; two processes filling the
  same key cannot pair one's data with the other's checksum.  A truncated file fails to unzip,
  a flipped byte fails the zip CRC or the checksum; either way the entry is recomputed and
  rewritten, never trusted.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .solution import ReferenceSolution

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$SPIKEPDE_CACHE/references`` or ``~/.cache/spikepde/references``."""
    root = os.environ.get("SPIKEPDE_CACHE") or Path.home() / ".cache" / "spikepde"
    return Path(root) / "references"


def _canonical(obj: Any) -> Any:
    """Make key parts JSON-stable: floats to 15 significant digits, dicts sorted, tuples as lists."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(f"{float(obj):.15g}")
        # An integral float and the same int are the same parameter value.
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_canonical(v) for v in obj]
    raise TypeError(f"cache key part of type {type(obj).__name__} is not supported")


def cache_key(key_parts: Mapping[str, Any]) -> str:
    """sha256 hex digest of the canonical JSON text of ``key_parts``."""
    text = json.dumps(_canonical(key_parts), sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _checksum(arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_entry(path: Path, solution: ReferenceSolution, key: str) -> None:
    """Write ``solution`` with its key and checksum atomically to ``path``."""
    arrays = solution.to_arrays()
    arrays["cache_key"] = np.array(key)
    arrays["checksum"] = np.array(_checksum(arrays))
    from ..runs import atomic_write_bytes   # the package's one temporary-file-and-rename writer

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def read_entry(path: Path, key: str) -> ReferenceSolution | None:
    """The cached solution, or None when the file is missing, unreadable or fails its checks."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        stored = str(arrays.pop("checksum")[()])
        if stored != _checksum(arrays) or str(arrays.pop("cache_key")[()]) != key:
            raise ValueError("checksum or key mismatch")
        return ReferenceSolution.from_arrays(arrays)
    except Exception as exc:  # any damage means "recompute", whatever form it takes
        log.warning("discarding damaged reference cache entry %s (%s)", path, exc)
        return None


def cached(key_parts: Mapping[str, Any], compute: Callable[[], ReferenceSolution]) -> ReferenceSolution:
    """Return the cached solution for ``key_parts``, computing and storing it if needed.

    ``key_parts`` should hold everything the result depends on: solver name, parameter values,
    grid and a solver version string (bump it when the numerics change).
    """
    key = cache_key(key_parts)
    path = cache_dir() / f"{key}.npz"
    hit = read_entry(path, key)
    if hit is not None:
        return hit
    solution = compute()
    solution.meta = {**solution.meta, "cache_key": key}
    try:
        write_entry(path, solution, key)
    except OSError as exc:  # a read-only or full disk must not stop a run
        log.warning("could not write reference cache entry %s (%s)", path, exc)
    return solution

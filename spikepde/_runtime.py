"""Process-wide settings the library offers but never changes by itself.

* :func:`tune_allocator`: keep glibc's allocator from returning large buffers to the OS.
* :func:`limit_threads`: one process, n threads (a parameter study's workers).

Both change state that belongs to the whole process, so only an application calls them (the
``spikepde`` command does, a study's worker processes do); importing or calling anything else in
the package changes no process setting.

Allocator tuning
----------------

Why: glibc serves every allocation above its mmap threshold (128 KiB at start) with a fresh
``mmap`` and unmaps it on free, and trims the heap top whenever more than 128 KiB is free. A
spiking forward pass allocates tens of such buffers (one ``[B, n]`` membrane/current per layer,
``[T, B, n]`` spike trains); each then costs page faults on first touch, which on this
project's 2-core CPU made the derivative-free forward of a width-64, T = 8 network 3–4× slower
than its arithmetic (19 ms against 5 ms; ``benchmarks/engine.py`` measures both). Raising the
two thresholds keeps freed buffers in the process for reuse — the same job jemalloc or
tcmalloc do for CPU PyTorch deployments, with no extra dependency.

Cost: freed memory is kept (resident) up to ``trim_threshold`` above what is in use, so the
resident set of a long run sits near its peak instead of falling back. Peak memory is
unchanged.

The engine itself reuses its ``[T, B, n]`` buffers (a per-network workspace, see
:mod:`spikepde.snn.network`), so a notebook gets its speed without this knob; the knob still
helps allocation-heavy code around it. The CLI calls :func:`tune_allocator` at start (set
``SPIKEPDE_MALLOC_TUNING=0`` to skip); library users may call it once at the top of a script.
It does nothing off glibc (macOS, Windows, musl) and returns False there.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024      # glibc's cap on 64-bit (larger values are refused)

def tune_allocator(mmap_threshold: int = _MMAP_THRESHOLD_MAX, trim_threshold: int = 1 << 30) -> bool:
    """Raise glibc's mmap and trim thresholds for this process (see the module docstring).

    Args:
        mmap_threshold: allocations up to this many bytes come from the reusable heap
            (at most 32 MiB, glibc's limit on 64-bit).
        trim_threshold: free memory at the heap top kept before it is returned to the OS.
    Returns:
        True if both settings were applied (Linux with glibc), False otherwise.
    """
    if not sys.platform.startswith("linux") or os.environ.get("SPIKEPDE_MALLOC_TUNING", "1") == "0":
        return False
    if not 0 < mmap_threshold <= _MMAP_THRESHOLD_MAX:
        raise ValueError(f"mmap_threshold must be in (0, {_MMAP_THRESHOLD_MAX}], got {mmap_threshold}")
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and \
        bool(mallopt(_M_TRIM_THRESHOLD, int(min(trim_threshold, 2**31 - 1))))


def limit_threads(n: int) -> None:
    """One process, ``n`` threads: torch's intra- and inter-op pools and the OpenMP/MKL/BLAS
    environment (read by libraries that start later in the process)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:   # only allowed before the first inter-op task; then it is already set
        pass

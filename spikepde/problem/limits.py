"""Every size limit of a problem file, in one place (docs/problem_format.md lists them).

A problem file is a few kB of text; each limit bounds work that grows with a count, and is
checked when the file is loaded, before that work starts, with a one-line
:class:`~spikepde.errors.SpecError` naming the field, the value and the limit. This module
imports nothing, so the command line can read the limits without loading anything heavy. The
formula limits (length, nesting, exponent, size after definitions are substituted) are in
:mod:`spikepde.problem.expr`.
"""
from __future__ import annotations

#: Largest problem file read, in bytes (checked on the file's size before it is read).
MAX_FILE_BYTES = 1_000_000

# A catalogue entry is far below every limit. Each bounds work that grows with the count:
# derivative names grow as (variables)^4, the excluded-region check as
# (2·boxes + 1)^(space variables), compilation and training with the conditions.
#: Most space variables (the time variable comes on top).
MAX_SPACE_VARIABLES = 5
#: Most entries of [parameters], [definitions], [[conditions]], pde.residuals, [[literature]].
MAX_PARAMETERS = 64
MAX_DEFINITIONS = 64
MAX_CONDITIONS = 64
MAX_RESIDUALS = 8
MAX_LITERATURE = 64
#: Most boxes in domain.exclude.
MAX_EXCLUDED_BOXES = 16
#: Most cells the exact coverage check of the excluded boxes may examine.
MAX_COVERAGE_CELLS = 1_000_000
#: Most points of one point count (budget.*_points, conditions[k].points).
MAX_POINTS = 1_000_000
#: Training memory per collocation point, for the estimate in the error message: bptt on
#: burgers grew by 48 MB from 2 000 to 20 000 points (2.7 kB a point, peak RSS), rounded up.
BYTES_PER_TRAINING_POINT = 4096
#: Most points of the reference grid (the product of the per-axis counts).
MAX_GRID_POINTS = 4_000_000
#: Reference-grid memory per point: float64 coordinates of every input plus reference,
#: prediction and error values (evaluation runs the network in chunks).
GRID_BYTES_PER_INPUT = 8


def describe_bytes(n: float) -> str:
    """``3.2e9`` → ``"~3.0 GiB"`` (any size: a count in a hostile file can have 400 digits)."""
    if n >= 1024 ** 6:
        return "> 1 EiB"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"~{int(n)} B" if unit == "B" else f"~{n:.1f} {unit}"
        n /= 1024


def describe_count(n: int) -> str:
    """An integer for a message: ``1000000`` as it is, a 400-digit one as ``~1e400``."""
    return str(n) if n < 10 ** 15 else f"~1e{len(str(n)) - 1}"

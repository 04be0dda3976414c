"""The shape the one-table benchmarks write: a dated title, how the table was made, the table."""
from __future__ import annotations

import time
from pathlib import Path

from spikepde.runs import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def write_table(name: str, title: str, description: str, lines: list[str]) -> str:
    """Write ``benchmarks/results/<name>`` (``# title (date)``, the description — the command
    and how it ran —, the table lines), print it and return the text."""
    text = "\n".join([f"# {title} ({time.strftime('%Y-%m-%d')})", "", description, "", *lines]) + "\n"
    atomic_write_text(RESULTS / name, text)
    print(text)
    return text

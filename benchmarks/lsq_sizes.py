"""How the closed-form readout's sizes move its error: width × T, test count and quadrature.

    python benchmarks/lsq_sizes.py                                   # the linear 2-D entries
    python benchmarks/lsq_sizes.py --problems helmholtz2d --variants "tests=96,quadrature=5"

Each variant is ``spikepde.solve(NAME, method="lsq", **overrides)`` with the overrides written
as ``key=value`` pairs (``width``, ``T``, ``tests`` for ``weak_tests``, ``quadrature`` for
``weak_quadrature``); an empty variant is lsq's default for the problem. Relative L2
on the reference grid, whole-solve wall time, one solve at a time with ``--threads`` torch
threads. This is the measurement behind the per-dimension sizes in
``ClosedFormTrainer.defaults``. Writes ``benchmarks/results/lsq_sizes.md`` and prints the table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

import spikepde  # noqa: E402
from _results import write_table  # noqa: E402  (benchmarks/_results.py)

DEFAULT_PROBLEMS = ("helmholtz2d", "diffusion_reaction", "wave1d", "heat1d", "poisson2d")
#: lsq's earlier 2-D linear default first (128 × 16, 64² tests, 2 points), then one change at a
#: time up to today's default (1024 × 16, 112² tests, 5 points); "" runs today's default
DEFAULT_VARIANTS = ("width=128,tests=64,quadrature=2", "width=128,tests=64,quadrature=5",
                    "width=128,tests=96,quadrature=5", "width=128,tests=112,quadrature=5",
                    "width=256,tests=112,quadrature=5", "width=512,tests=112,quadrature=5",
                    "width=1024,tests=112,quadrature=5")
ALIASES = {"tests": "weak_tests", "quadrature": "weak_quadrature"}


def parse_variant(text: str) -> dict:
    """``"tests=96,quadrature=5"`` → ``{"weak_tests": 96, "weak_quadrature": 5}``."""
    out = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if not value:
            raise SystemExit(f"variant {text!r}: expected key=value pairs, got {item!r}")
        out[ALIASES.get(key.strip(), key.strip())] = int(value)
    return out


def measure(name: str, variant: str) -> dict:
    """One lsq solve with the variant's overrides, timed from the call to the metrics."""
    t0 = time.perf_counter()
    r = spikepde.solve(name, method="lsq", out=None, quiet=True, **parse_variant(variant))
    elapsed = time.perf_counter() - t0
    cfg = r.config
    return dict(name=name, variant=variant or "default", width=cfg.width, T=cfg.T, tests=cfg.weak_tests,
                quadrature=cfg.weak_quadrature, rel=r.metrics["relative_l2"], time=elapsed)


def table(rows: list[dict]) -> list[str]:
    out = ["| problem | variant | width x T | tests | quadrature | relative L2 | time (s) |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['name']} | {r['variant']} | {r['width']} x {r['T']} | {r['tests']} | {r['quadrature']} | "
                   f"{r['rel']:.3e} | {r['time']:.0f} |")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="*", default=list(DEFAULT_PROBLEMS))
    ap.add_argument("--variants", nargs="*", default=list(DEFAULT_VARIANTS),
                    help='comma-separated key=value overrides per variant; "" is the default')
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.problems:
        for variant in args.variants:
            rows.append(measure(name, variant))
            print(table(rows)[-1], flush=True)
    write_table("lsq_sizes.md", "lsq sizes",
                f"`python benchmarks/lsq_sizes.py --problems {' '.join(args.problems)}` — lsq, seed 0, one "
                f"solve at a time, {args.threads} torch threads, torch {torch.__version__}. Relative L2 on "
                "each entry's reference grid; time is the whole solve.", table(rows))


if __name__ == "__main__":
    main()

"""Every catalogue entry × every method at its default budget: relative L2, time, spike rate.

    python benchmarks/catalogue.py                       # default budgets (hours on 2 cores)
    python benchmarks/catalogue.py --steps 200           # a shorter budget for every entry (say so!)
    python benchmarks/catalogue.py --problems burgers poisson1d --methods fgrad bptt

Writes ``benchmarks/results/catalogue.md`` and prints it. The table is rewritten after each
run (atomically), so an interrupted benchmark keeps what it measured. ADMM appears for the
problems it supports (see ``spikepde.train.admm``); a run that fails is listed with its error.
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
from spikepde.runs import atomic_write_text  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="*", default=None)
    ap.add_argument("--methods", nargs="*", default=["fgrad", "bptt", "ann", "admm"])
    ap.add_argument("--steps", type=int, help="override every entry's default budget")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    problems = args.problems or spikepde.list_problems()
    budget = f"{args.steps} steps for every entry" if args.steps else "each entry's default budget"
    header = ["# Catalogue benchmark", "",
              f"`python benchmarks/catalogue.py{' --steps ' + str(args.steps) if args.steps else ''}` — "
              f"{budget}, seed {args.seed}, {args.threads} torch threads, torch {torch.__version__}. "
              "Relative L2 on each entry's reference grid; time is the whole solve (training, "
              "reference from the cache, evaluation).", "",
              "| problem | method | steps | relative L2 | max abs error | time (s) | spike rate |",
              "|---|---|---|---|---|---|---|"]
    rows = []
    for name in problems:
        for method in args.methods:
            t0 = time.perf_counter()
            try:
                r = spikepde.solve(name, method=method, steps=args.steps, seed=args.seed, out=None,
                                   quiet=True)
                m = r.metrics
                rate = m.get("spike_rate")
                rows.append(f"| {name} | {method} | {m['steps']} | {m['relative_l2']:.3e} | "
                            f"{m['max_abs_error']:.3g} | {time.perf_counter() - t0:.0f} | "
                            f"{'—' if rate is None else format(rate, '.3f')} |")
            except Exception as exc:  # record and go on: one entry must not hide the others
                msg = str(exc).splitlines()[0][:80]
                rows.append(f"| {name} | {method} | — | failed: {type(exc).__name__}: {msg} | | "
                            f"{time.perf_counter() - t0:.0f} | |")
            print(rows[-1], flush=True)
            atomic_write_text(ROOT / "results" / "catalogue.md", "\n".join(header + rows) + "\n")


if __name__ == "__main__":
    main()

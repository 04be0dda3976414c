"""Every catalogue entry × every method at its default budget: relative L2, time, spike rate.

    python benchmarks/catalogue.py                       # default budgets (hours on 2 cores)
    python benchmarks/catalogue.py --steps 200           # a shorter budget for every entry (say so!)
    python benchmarks/catalogue.py --problems burgers poisson1d --methods fgrad bptt
    python benchmarks/catalogue.py --workers 1 --threads 2   # one solve at a time
    python benchmarks/catalogue.py --resume                  # continue an interrupted run
    python benchmarks/catalogue.py --methods lsq bptt-separable --resume   # lsq and bptt on its network

Writes ``benchmarks/results/catalogue.md`` and prints it. The table is rewritten after each
run (atomically), so an interrupted benchmark keeps what it measured. ADMM appears for the
problems it supports (see ``spikepde.train.admm``); a run that fails is listed with its error.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

import spikepde  # noqa: E402
from spikepde.runs import atomic_write_text  # noqa: E402


#: table labels that are a method with settings: bptt on lsq's network (same widths, T)
VARIANTS = {"bptt-separable": ("bptt", {"network": "separable"})}


def solve_one(name: str, method: str, steps, seed: int, threads: int) -> dict:
    """One default solve in this (worker) process; a failure is returned, not raised. ``method``
    is a method's name or a label of :data:`VARIANTS`."""
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    base, options = VARIANTS.get(method, (method, {}))
    try:
        r = spikepde.solve(name, method=base, steps=steps, seed=seed, out=None, quiet=True, **options)
    except Exception as exc:  # record and go on: one entry must not hide the others
        return dict(name=name, method=method, error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}",
                    time=time.perf_counter() - t0)
    m, c = r.metrics, r.config
    how = ("" if base in ("ann", "admm") else
           f"{c.residual_form}" + (f", {c.perturbation} K={c.K}" if base == "fgrad" else "")
           + (f", {c.width}x{c.depth} T={c.T} rank {c.rank}" if options else ""))
    return dict(name=name, method=method, steps=m["steps"], rel=m["relative_l2"], max=m["max_abs_error"],
                time=time.perf_counter() - t0, rate=m.get("spike_rate"), how=how)


def row(r: dict) -> str:
    if "error" in r:
        return f"| {r['name']} | {r['method']} | — | failed: {r['error']} | | {r['time']:.0f} | | |"
    rate = "—" if r["rate"] is None else format(r["rate"], ".3f")
    return (f"| {r['name']} | {r['method']} | {r['steps']} | {r['rel']:.3e} | {r['max']:.3g} | "
            f"{r['time']:.0f} | {rate} | {r['how']} |")


def _previous_rows(path: Path, jobs) -> dict:
    """Every row of the earlier table — those of other problems and methods are kept as they
    are (a run of a few entries must not drop the rest) — except failed rows of this run's
    jobs, which are rerun."""
    if not path.exists():
        return {}
    rows = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) < 4 or not line.startswith("| ") or cells[0] == "problem":
            continue
        if (cells[0], cells[1]) in jobs and cells[3].startswith("failed"):
            continue
        rows[(cells[0], cells[1])] = line
    return rows


#: the table's order of methods (others after them, by name)
METHOD_ORDER = ("fgrad", "bptt", "ann", "admm", "lsq", "bptt-separable")


def _table_order(key: tuple[str, str]):
    name, method = key
    rank = METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)
    return (name, rank, method)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="*", default=None)
    ap.add_argument("--methods", nargs="*", default=["fgrad", "bptt", "ann", "admm"])
    ap.add_argument("--steps", type=int, help="override every entry's default budget")
    ap.add_argument("--workers", type=int, default=2, help="solves run at once, one process each")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true",
                    help="keep the rows already in benchmarks/results/catalogue.md (all of them, also "
                         "those of problems and methods not in this run) and run only the missing ones")
    ap.add_argument("--note", help="a sentence for the table's header (e.g. which rows came from when)")
    args = ap.parse_args(argv)
    problems = args.problems or spikepde.list_problems()
    for name in problems:            # references first, in this process (cached for the workers)
        spikepde.get_reference(spikepde.load_problem(name))
    budget = f"{args.steps} steps for every entry" if args.steps else "each entry's default budget"
    header = ["# Catalogue benchmark", "",
              f"`python benchmarks/catalogue.py{' --steps ' + str(args.steps) if args.steps else ''}` — "
              f"{budget}, seed {args.seed}, {args.workers} solves at a time with {args.threads} torch "
              f"thread(s) each, torch {torch.__version__}. Relative L2 on each entry's reference grid; "
              "time is the whole solve (training, reference from the cache, evaluation), measured "
              "while the other worker ran. ‘setting’: the residual form the defaults chose and, for "
              "fgrad, the perturbation." + (" Run with --resume: the rows already in the table were "
                                             "kept from the earlier run(s)." if args.resume else "")
              + (f" {args.note}" if args.note else ""), "",
              "| problem | method | steps | relative L2 | max abs error | time (s) | spike rate | setting |",
              "|---|---|---|---|---|---|---|---|"]
    jobs = [(name, method) for name in problems for method in args.methods]
    done: dict[tuple, str] = _previous_rows(ROOT / "results" / "catalogue.md", jobs) if args.resume else {}

    def write():
        rows = [done[j] for j in sorted(done, key=_table_order)]
        atomic_write_text(ROOT / "results" / "catalogue.md", "\n".join(header + rows) + "\n")

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
        futures = {pool.submit(solve_one, n, m, args.steps, args.seed, args.threads): (n, m)
                   for n, m in jobs if (n, m) not in done}
        for future in as_completed(futures):
            done[futures[future]] = row(future.result())
            print(done[futures[future]], flush=True)
            write()     # rewritten after each solve: an interrupted benchmark keeps what it measured
    write()


if __name__ == "__main__":
    main()

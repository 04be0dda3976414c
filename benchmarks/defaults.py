"""What ``spikepde solve NAME`` gives on its defaults (``method="auto"``), one solve at a time.

    python benchmarks/defaults.py                          # burgers poisson1d reaction_diffusion mexican_hat
    python benchmarks/defaults.py --problems burgers heat1d

For each problem: the method ``auto`` picked (and why it passed the others over), the
relative L2 on the reference grid (never on training points), the wall time of the whole
solve (training, reference from the cache, evaluation), the spike rate and the energy per
sample. Solves run one after another with ``--threads`` torch threads (default 2): run it on a
quiet machine. Writes ``benchmarks/results/defaults.md`` and prints the table.
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
from spikepde.train.registry import auto_reasons  # noqa: E402

DEFAULT_PROBLEMS = ("burgers", "poisson1d", "reaction_diffusion", "mexican_hat")


def measure(name: str) -> dict:
    """One default solve, timed from the call to the returned metrics."""
    t0 = time.perf_counter()
    r = spikepde.solve(name, out=None, quiet=True)
    elapsed = time.perf_counter() - t0
    m = r.metrics
    return dict(name=name, method=m["method"], steps=m["steps"], rel=m["relative_l2"], time=elapsed,
                rate=m.get("spike_rate"), energy=m.get("energy_pj_per_sample"),
                passed=auto_reasons(r.problem))


def table(rows: list[dict]) -> list[str]:
    out = ["| problem | method (auto) | steps | relative L2 | time (s) | spike rate | energy (pJ/sample) |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        rate = "—" if r["rate"] is None else f"{r['rate']:.3f}"
        energy = "—" if r["energy"] is None else f"{r['energy']:.3g}"
        out.append(f"| {r['name']} | {r['method']} | {r['steps']} | {r['rel']:.3e} | {r['time']:.0f} | "
                   f"{rate} | {energy} |")
    notes = [f"* {r['name']}: auto passed over {m} — {why}" for r in rows for m, why in r["passed"].items()]
    return out + ([""] + notes if notes else [])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="*", default=list(DEFAULT_PROBLEMS))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.problems:
        rows.append(measure(name))
        print(table(rows)[1 + len(rows)], flush=True)      # the new row (after the 2 header lines)
    write_table("defaults.md", "Default solves",
                f"`python benchmarks/defaults.py --problems {' '.join(args.problems)}` — `spikepde.solve(NAME)` "
                f"on its defaults, seed 0, one solve at a time, {args.threads} torch threads, torch "
                f"{torch.__version__}. Relative L2 on each entry's reference grid; time is the whole solve "
                "(training, reference from the cache, evaluation).", table(rows))


if __name__ == "__main__":
    main()

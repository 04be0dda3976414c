"""Benchmark of :func:`spikepde.study`: a 3 × 3 × 2-seed study of Burgers with ``fgrad``.

    python benchmarks/study.py                 # default: small budget (8 steps), about minutes
    python benchmarks/study.py --steps 2000    # the problem's real budget (hours on 2 cores)

Grid: viscosity ``nu`` ∈ {0.01/π (the catalogue default), 0.01, 0.03} × LIF time steps
``T`` ∈ {2, 4, 8} × seeds {0, 1}; fixed: ``interior_points``, ``width``, ``K`` (see the flags).
The same study is run twice in fresh directories and timed:

1. serially, in this process (``executor="serial"``: a plain loop, torch with its default
   threads — what a hand-written loop does);
2. on the default local process pool (one single-threaded worker per core).

Writes into ``benchmarks/results/``: ``study_burgers.csv`` (the pool's table),
``study_burgers.png`` (relative L2 against T, one line per nu, mean and min–max over seeds),
``study_burgers_heatmap.png`` (mean relative L2 over nu × T) and ``study.md`` (the timings,
the speed-up and the machine's load average, which matters on a shared machine).
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=8, help="fgrad steps per point (default 8)")
    ap.add_argument("--interior-points", type=int, default=128)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--K", type=int, default=4, help="perturbation directions per step")
    ap.add_argument("--workers", type=int, help="pool processes (default: the cores)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    import torch

    import spikepde
    from spikepde.sweep import VOLATILE, available_cores, plot_study, study, summarize

    grid = {"nu": [0.01 / math.pi, 0.01, 0.03], "T": [2, 4, 8]}
    fixed = dict(steps=args.steps, method="fgrad", interior_points=args.interior_points,
                 width=args.width, K=args.K, quiet=False)
    spikepde.get_reference(spikepde.load_problem("burgers"))   # cache the reference first
    for nu in grid["nu"]:
        spikepde.get_reference(spikepde.load_problem("burgers", nu=nu))
    tmp = Path(tempfile.mkdtemp(prefix="spikepde-study-bench-"))
    load = [os.getloadavg()]
    timings = {}
    tables = {}
    for name, executor in (("serial", "serial"), ("pool", None)):
        t0 = time.perf_counter()
        tables[name] = study("burgers", grid, seeds=[0, 1], out=tmp / name, executor=executor,
                             workers=args.workers, **fixed)
        timings[name] = time.perf_counter() - t0
        load.append(os.getloadavg())
        print(f"{name}: {timings[name]:.1f} s", file=sys.stderr)

    pool = tables["pool"]
    args.results.mkdir(parents=True, exist_ok=True)
    table_path = args.results / "study_burgers.csv"
    shutil.copyfile(tmp / "pool" / "results.csv", table_path)
    plot_study(pool, x="T", y="relative_l2", hue="nu", path=args.results / "study_burgers.png")
    plot_study(pool, x="T", y="nu", value="relative_l2",
               path=args.results / "study_burgers_heatmap.png")
    keep = [c for c in pool.columns if c not in VOLATILE]
    same = tables["serial"][keep].equals(pool[keep])
    diff = (tables["serial"]["relative_l2"] - pool["relative_l2"]).abs().max()
    workers = args.workers or available_cores()
    speedup = timings["serial"] / timings["pool"]
    summary = summarize(pool)
    md = f"""# Parameter study benchmark: Burgers, fgrad, 3 × 3 × 2 seeds

Command: `python benchmarks/study.py --steps {args.steps} --interior-points {args.interior_points} --width {args.width} --K {args.K}`

Grid: nu ∈ {{0.01/π, 0.01, 0.03}} × T ∈ {{2, 4, 8}} × seeds {{0, 1}} = 18 points; fgrad,
{args.steps} steps, {args.interior_points} interior points, width {args.width}, K = {args.K}.
This is a **tiny budget** chosen so that the benchmark finishes in minutes: it measures the
study machinery (scheduling, table, resume), not the accuracy of the surrogates, whose errors
after {args.steps} steps are still near their initial values.

## Speed-up of the process pool over a serial run

| run | workers × torch threads | wall time (s) | per point (s) |
|---|---|---|---|
| serial (in-process loop) | 1 × {torch.get_num_threads()} | {timings['serial']:.1f} | {timings['serial'] / len(pool):.2f} |
| process pool (default) | {workers} × 1 | {timings['pool']:.1f} | {timings['pool'] / len(pool):.2f} |

**Speed-up: {speedup:.2f}×** on {available_cores()} cores ({platform.processor() or platform.machine()},
Python {platform.python_version()}, torch {torch.__version__}).

Load average (1, 5, 15 min) before the serial run {_fmt(load[0])}, after it {_fmt(load[1])},
after the pool run {_fmt(load[2])}. A load above the core count means other processes shared the
machine during the measurement, which disturbs both timings and their ratio.{_disturbed(load, speedup, available_cores())}

Serial and pool tables identical (all columns but timings and paths): {same}; largest
difference in relative L2: {diff:.3g} (the serial run uses {torch.get_num_threads()} torch
threads, the pool one per worker; a different number of threads may change the order of
floating-point sums).

## Results

Table: `benchmarks/results/study_burgers.csv` (one row per point; format in `spikepde/study.py`).

![relative L2 vs T](study_burgers.png)

![heatmap](study_burgers_heatmap.png)

Mean and spread over the two seeds:

```
{summary.to_string(float_format=lambda v: f"{v:.4g}")}
```
"""
    (args.results / "study.md").write_text(md, encoding="utf-8")
    print(md)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _disturbed(load, speedup, cores) -> str:
    if max(la[0] for la in load) <= cores and speedup <= cores:
        return ""
    return (f"\n\n**These timings are disturbed**: the load average exceeded the {cores} cores"
            + (" and the speed-up exceeds the core count, which parallelism alone cannot give"
               if speedup > cores else "")
            + ". Rerun on an idle machine for a clean number (expect at most the core count).")


def _fmt(la) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in la) + ")"


if __name__ == "__main__":   # the pool's spawned workers import this file: no work at import
    sys.exit(main())

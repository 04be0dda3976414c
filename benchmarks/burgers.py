"""Burgers: the three methods side by side, and the evidence for what limits fgrad.

    python benchmarks/burgers.py                 # full run (tens of minutes on 2 cores)
    python benchmarks/burgers.py --quick         # a smoke version (small budgets)

Writes ``benchmarks/results/burgers.md`` (tables) and ``benchmarks/results/burgers_sweep.png``
(fgrad error versus K and T), and prints the tables.

1. **Default settings** (what ``spikepde solve burgers --method M`` does), each method, seeds
   given by ``--seeds``: relative L2 and max error on the 256 × 100 Cole–Hopf grid, wall time,
   spike rate, synaptic operations and energy per sample. The wall time of the default
   ``spikepde solve burgers`` (fgrad) is the figure checked against the 10-minute target.
2. **Equal wall time**: fgrad's final error against bptt's error at the same elapsed training
   time (bptt's error is evaluated along its run: ``history["relative_l2"]``).
3. **Error versus K and T** for fgrad at a fixed number of steps: the estimator's variance
   (K) and the spike quantisation (T) as the limits.

Threads are fixed (``--threads``, default 2); run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

import spikepde  # noqa: E402
from spikepde.runs import atomic_write_text  # noqa: E402


def run(method, seed, **kw):
    t0 = time.perf_counter()
    r = spikepde.solve("burgers", method=method, seed=seed, out=None, quiet=True, **kw)
    total = time.perf_counter() - t0
    return r, total


def error_at_time(history, t):
    """bptt's relative L2 at elapsed training time t (last evaluation not after t)."""
    times, errs = history.get("time", []), history.get("relative_l2", [])
    best = None
    for ti, ei in zip(times, errs):
        if ti <= t:
            best = ei
    return best


def fmt(x, spec=".3g"):
    return "—" if x is None else format(x, spec)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, help="override the default budget of fgrad/bptt")
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--methods", nargs="*", default=["fgrad", "bptt", "ann"])
    ap.add_argument("--output", default="burgers.md", help="file name under benchmarks/results/")
    ap.add_argument("--sweep-steps", type=int, default=200, help="steps per point of the K × T sweep")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    quick = dict(steps=30, interior_points=256) if args.quick else {}
    if args.steps:
        quick["steps"] = args.steps
    lines = ["# Burgers benchmark", "",
             f"`python benchmarks/burgers.py{' --quick' if args.quick else ''} --seeds {args.seeds} "
             f"--threads {args.threads} --sweep-steps {args.sweep_steps}`; torch {torch.__version__}, {args.threads} threads. "
             "Relative L2 and max |error| on the 256 × 100 Cole–Hopf grid (t ≤ 0.99).", ""]

    # 1. default settings
    rows, results = [], {}
    for method in args.methods:
        for seed in range(args.seeds):
            kw = dict(quick)
            if method == "ann" and args.quick:
                kw["lbfgs_steps"] = 50
            if method == "bptt":
                kw["track_error"] = True   # its error along the run, for the equal-time comparison
            r, total = run(method, seed, **kw)
            results.setdefault(method, []).append((r, total))
            m = r.metrics
            print(f"{method} seed {seed}: rel L2 {m['relative_l2']:.3e} in {total:.1f} s", flush=True)
    lines += ["## Default settings", "",
              "| method | seeds | relative L2 (median) | range | max abs error | training time (s) | "
              "total time (s) | spike rate | synaptic ops / sample | energy / sample (pJ) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for method, rs in results.items():
        errs = [r.metrics["relative_l2"] for r, _ in rs]
        maxe = statistics.median(r.metrics["max_abs_error"] for r, _ in rs)
        train = statistics.median(r.metrics["wall_time_s"] for r, _ in rs)
        total = statistics.median(t for _, t in rs)
        m0 = rs[0][0].metrics
        lines.append(f"| {method} | {len(rs)} | {statistics.median(errs):.3e} | {min(errs):.2e} – {max(errs):.2e} | "
                     f"{maxe:.3g} | {train:.0f} | {total:.0f} | {fmt(m0.get('spike_rate'))} | "
                     f"{fmt(m0.get('synaptic_ops_per_sample'), '.0f')} | {fmt(m0.get('energy_pj_per_sample'), '.0f')} |")
    for method, rs in results.items():
        c = rs[0][0].config
        lines.append(f"\n{method}: " + (f"{c.ann_depth} × {c.ann_width} tanh, Adam {c.steps} + L-BFGS ≤ "
                                         f"{c.lbfgs_steps}, {c.dtype}" if method == "ann" else
                                         f"{c.depth} × {c.width} LIF, T = {c.T}, surrogate {c.surrogate}, "
                                         f"{c.steps} steps" + (f", K = {c.K} {c.directions} ({c.perturbation})"
                                                               if method == "fgrad" else ""))
                     + f", {c.interior_points or 'default'} interior points")
    if "fgrad" not in results or "bptt" not in results:
        args.skip_sweep = True
        text = "\n".join(lines) + "\n"
        atomic_write_text(ROOT / "results" / args.output, text)
        print(text)
        return

    # 2. equal wall time
    lines += ["", "## fgrad versus bptt at equal training time", "",
              "| seed | fgrad time (s) | fgrad rel. L2 | bptt rel. L2 at that time | ratio fgrad / bptt |",
              "|---|---|---|---|---|"]
    for (rf, _), (rb, _) in zip(results["fgrad"], results["bptt"]):
        t = rf.metrics["wall_time_s"]
        eb = error_at_time(rb.history, t) or rb.metrics["relative_l2"]
        lines.append(f"| {rf.config.seed} | {t:.0f} | {rf.metrics['relative_l2']:.3e} | {eb:.3e} | "
                     f"{rf.metrics['relative_l2'] / eb:.2f} |")

    # 3. error versus K and T
    if not args.skip_sweep:
        sweep_steps = quick.get("steps", args.sweep_steps)
        Ks, Ts = ([2, 8], [4, 8]) if args.quick else ([4, 16, 32], [4, 8, 16])
        table = {}
        for K in Ks:
            for T in Ts:
                r, total = run("fgrad", 0, steps=sweep_steps, K=K, T=T,
                               **{k: v for k, v in quick.items() if k != "steps"})
                table[(K, T)] = (r.metrics["relative_l2"], total)
                print(f"sweep K={K} T={T}: {r.metrics['relative_l2']:.3e} ({total:.0f} s)", flush=True)
        lines += ["", f"## fgrad: error versus K and T ({sweep_steps} steps, seed 0)", "",
                  "| K \\ T | " + " | ".join(str(T) for T in Ts) + " |",
                  "|---|" + "---|" * len(Ts)]
        for K in Ks:
            lines.append(f"| {K} | " + " | ".join(f"{table[(K, T)][0]:.3e} ({table[(K, T)][1]:.0f} s)"
                                                 for T in Ts) + " |")
        _plot_sweep(table, Ks, Ts, ROOT / "results" / "burgers_sweep.png")
        lines += ["", "![fgrad error versus K and T](burgers_sweep.png)"]
    text = "\n".join(lines) + "\n"
    atomic_write_text(ROOT / "results" / args.output, text)
    print(text)


def _plot_sweep(table, Ks, Ts, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for T in Ts:
        ax.loglog(Ks, [table[(K, T)][0] for K in Ks], "o-", label=f"T = {T}")
    ax.set_xlabel("directions K per step")
    ax.set_ylabel("relative L2 error")
    ax.set_title("Burgers, fgrad: error versus K and T")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    main()

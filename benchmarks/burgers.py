"""Burgers: the three methods side by side, and the evidence for what limits the spiking ones.

    python benchmarks/burgers.py                 # full run (about an hour on 2 cores)
    python benchmarks/burgers.py --quick         # a smoke version (small budgets)

Writes ``benchmarks/results/burgers.md`` (tables), ``burgers_sweep.png`` (fgrad error versus K
and T) and ``burgers_fields.png`` (the default fgrad run's error field), and prints the tables.

1. **Default settings** (what ``spikepde solve burgers --method M`` does), each method, seeds
   given by ``--seeds``: relative L2 and max error on the 256 × 100 Cole–Hopf grid, the
   relative L2 outside the shock band |x| < 0.05 (where the spiking error lives), wall time,
   spike rate, synaptic operations and energy per sample. The wall time of the default
   ``spikepde solve burgers`` (fgrad) is the figure checked against the 10-minute target.
2. **Equal wall time**: fgrad's final error against bptt's error at the same elapsed training
   time (bptt's error is evaluated along its run: ``history["relative_l2"]``).
3. **The forward-gradient estimators** at equal steps: weight perturbation (global, layer-wise)
   against activity perturbation (the default), each with its cost per step.
4. **Error versus K and T** for fgrad (activity) at a fixed number of steps: the estimator's
   variance (K) and the spike quantisation (T).
5. **Representation ceiling**: the same spiking network fitted to the Cole–Hopf field itself
   by supervised BPTT regression (no PDE): what the architecture can reach at all.

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


def run(method, seed, out=None, **kw):
    t0 = time.perf_counter()
    r = spikepde.solve("burgers", method=method, seed=seed, out=out, quiet=True, **kw)
    total = time.perf_counter() - t0
    return r, total


def band_error(r, half_width=0.05):
    """Relative L2 on the reference points with |x| >= half_width (outside the shock)."""
    ref = r.reference
    pts, vals = ref.points(), ref.flat_values()
    pred = np.asarray(r.predicted).reshape(-1)
    keep = np.abs(pts[:, 0]) >= half_width
    return float(np.linalg.norm(pred[keep] - vals[keep]) / np.linalg.norm(vals[keep]))


def regression_ceiling(width, T, steps, seed=0):
    """Supervised BPTT fit of the Cole–Hopf field by the same spiking network and output
    transform (minibatches of 2540 reference points): the network's representation limit."""
    from spikepde.problem.compile import compile_problem
    from spikepde.snn.lif import LIFConfig
    from spikepde.snn.network import SpikingMLP
    from spikepde.snn.surrogate import make_surrogate

    p = spikepde.load_problem("burgers")
    cp = compile_problem(p)
    ref = spikepde.get_reference(p)
    X = torch.tensor(ref.points(), dtype=torch.float32)
    y = torch.tensor(ref.flat_values(), dtype=torch.float32)
    net = SpikingMLP(2, (width, width), T=T, lif=LIFConfig(surrogate=make_surrogate("sigmoid")),
                     lower=tuple(cp.lower.tolist()), upper=tuple(cp.upper.tolist()))
    g = torch.Generator().manual_seed(seed)
    params = net.init_params(g)
    for v in params.values():
        v.requires_grad_(True)
    opt = torch.optim.Adam(list(params.values()), lr=2e-3)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, X.shape[0], (2540,), generator=g)
        u = cp.transform.value(X[idx], net(params, X[idx]))
        loss = (u - y[idx]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        u = cp.transform.value(X, net(params, X, differentiable=False))
    return float((u - y).norm() / y.norm()), time.perf_counter() - t0


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
    ap.add_argument("--sweep-steps", type=int, default=300, help="steps per point of the K × T sweep")
    ap.add_argument("--estimator-steps", type=int, default=500, help="steps per estimator comparison")
    ap.add_argument("--ceiling-steps", type=int, default=2000, help="steps of each regression fit")
    ap.add_argument("--skip-ceiling", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    quick = dict(steps=30, interior_points=256) if args.quick else {}
    if args.steps:
        quick["steps"] = args.steps
    import os
    from spikepde import tune_allocator
    tune_allocator()      # as the CLI does: buffers reused, not page-faulted afresh
    lines = ["# Burgers benchmark", "",
             f"`python benchmarks/burgers.py {' '.join(sys.argv[1:])}`; torch {torch.__version__}, "
             f"{args.threads} threads, load average at start {os.getloadavg()[0]:.1f}. "
             "Relative L2 and max |error| on the 256 × 100 Cole–Hopf grid (t ≤ 0.99).", ""]

    # 1. default settings
    results = {}
    for method in args.methods:
        for seed in range(args.seeds):
            kw = dict(quick)
            if method == "ann" and args.quick:
                kw["lbfgs_steps"] = 50
            if method == "bptt":
                kw["track_error"] = True   # its error along the run, for the equal-time comparison
            if method == "fgrad" and seed == 0 and not args.quick:
                r, total = run(method, seed, out=ROOT / "results" / "burgers_fgrad_run", **kw)
            else:
                r, total = run(method, seed, **kw)
            results.setdefault(method, []).append((r, total))
            m = r.metrics
            print(f"{method} seed {seed}: rel L2 {m['relative_l2']:.3e} in {total:.1f} s", flush=True)
    lines += ["## Default settings", "",
              "| method | seeds | relative L2 (median) | range | outside the shock (|x| ≥ 0.05) | "
              "max abs error | training time (s) | total time (s) | spike rate | synaptic ops / sample | "
              "energy / sample (pJ) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for method, rs in results.items():
        errs = [r.metrics["relative_l2"] for r, _ in rs]
        band = statistics.median(band_error(r) for r, _ in rs)
        maxe = statistics.median(r.metrics["max_abs_error"] for r, _ in rs)
        train = statistics.median(r.metrics["wall_time_s"] for r, _ in rs)
        total = statistics.median(t for _, t in rs)
        m0 = rs[0][0].metrics
        lines.append(f"| {method} | {len(rs)} | {statistics.median(errs):.3e} | {min(errs):.2e} – {max(errs):.2e} | "
                     f"{band:.3e} | {maxe:.3g} | {train:.0f} | {total:.0f} | {fmt(m0.get('spike_rate'))} | "
                     f"{fmt(m0.get('synaptic_ops_per_sample'), '.0f')} | {fmt(m0.get('energy_pj_per_sample'), '.0f')} |")
    for method, rs in results.items():
        c = rs[0][0].config
        lines.append(f"\n{method}: " + (f"{c.ann_depth} × {c.ann_width} tanh, Adam {c.steps} + L-BFGS ≤ "
                                         f"{c.lbfgs_steps}, {c.dtype}, {c.residual_form} form" if method == "ann" else
                                         f"{c.depth} × {c.width} LIF, T = {c.T}, surrogate {c.surrogate}, "
                                         f"{c.steps} steps, lr {c.lr:g} ({c.lr_schedule}), {c.residual_form} form"
                                         + (f" ({c.weak_tests} tests per axis)" if c.residual_form == "weak" else "")
                                         + (f", {c.perturbation} perturbation, K = {c.K}"
                                            if method == "fgrad" else ""))
                     + f", {c.interior_points or 'default'} interior points")
    if "fgrad" in results and not args.quick:
        lines += ["", "The default fgrad run's fields (seed 0): "
                  "![fields](burgers_fgrad_run/fields.png)"]
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

    # 3. the estimators at equal steps
    if not args.skip_sweep:
        est_steps = quick.get("steps", args.estimator_steps)
        lines += ["", f"## Forward-gradient estimators ({est_steps} steps, seed 0, default network)", "",
                  "| perturbation | K | tangent slots | relative L2 | training time (s) | s / step |",
                  "|---|---|---|---|---|---|"]
        for pert, K in (("global", 8), ("layerwise", 3), ("activity", 4)):
            r, total = run("fgrad", 0, steps=est_steps, perturbation=pert, K=K,
                           **{k: v for k, v in quick.items() if k != "steps"})
            slots = K * (3 if pert == "layerwise" else 2 if pert == "activity" else 1)
            lines.append(f"| {pert} | {K} | {slots} | {r.metrics['relative_l2']:.3e} | "
                         f"{r.metrics['wall_time_s']:.0f} | {r.metrics['wall_time_s'] / est_steps:.3f} |")
            print(lines[-1], flush=True)

    # 4. error versus K and T
    if not args.skip_sweep:
        sweep_steps = quick.get("steps", args.sweep_steps)
        Ks, Ts = ([1, 4], [4, 8]) if args.quick else ([1, 4, 16], [4, 8, 16])
        table = {}
        for K in Ks:
            for T in Ts:
                r, total = run("fgrad", 0, steps=sweep_steps, K=K, T=T, perturbation="activity",
                               **{k: v for k, v in quick.items() if k != "steps"})
                table[(K, T)] = (r.metrics["relative_l2"], total)
                print(f"sweep K={K} T={T}: {r.metrics['relative_l2']:.3e} ({total:.0f} s)", flush=True)
        lines += ["", f"## fgrad (activity): error versus K and T ({sweep_steps} steps, seed 0)", "",
                  "| K \\ T | " + " | ".join(str(T) for T in Ts) + " |",
                  "|---|" + "---|" * len(Ts)]
        for K in Ks:
            lines.append(f"| {K} | " + " | ".join(f"{table[(K, T)][0]:.3e} ({table[(K, T)][1]:.0f} s)"
                                                 for T in Ts) + " |")
        _plot_sweep(table, Ks, Ts, ROOT / "results" / "burgers_sweep.png")
        lines += ["", "![fgrad error versus K and T](burgers_sweep.png)"]

    # 5. representation ceiling
    if not args.skip_ceiling:
        steps = 50 if args.quick else args.ceiling_steps
        lines += ["", f"## Representation ceiling: supervised fit of the Cole–Hopf field ({steps} Adam steps)", "",
                  "The same LIF network and output transform, trained by BPTT on the reference values "
                  "themselves (minibatches of 2540 grid points, lr 2e-3), no PDE: the error the "
                  "architecture reaches when it is told the answer.", "",
                  "| width | T | relative L2 | time (s) |", "|---|---|---|---|"]
        for width, T in ((64, 8), (64, 16), (128, 8)):
            err, secs = regression_ceiling(width, T, steps)
            lines.append(f"| {width} | {T} | {err:.3e} | {secs:.0f} |")
            print(lines[-1], flush=True)
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
    ax.set_xlabel("noise draws K per hidden layer (activity perturbation)")
    ax.set_ylabel("relative L2 error")
    ax.set_title("Burgers, fgrad: error versus K and T")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    main()

"""Accuracy of the BP-free spiking default: what each part of ``lsq`` buys, and error against time.

    python benchmarks/accuracy.py                 # both parts (about 25 minutes on 2 cores)
    python benchmarks/accuracy.py --part ablation
    python benchmarks/accuracy.py --part time

1. **Ablation** (burgers, poisson1d, mexican_hat): the ``lsq`` default and one change at a
   time — spike counts instead of the time-resolved raster (``features``; regression's default
   is the counts, so there the raster is the change), a shorter raster (T), smaller networks,
   the quadrature of the nonlinear default (5 → 2 points per interval), fewer tests, one
   global solve instead of 20 time slabs, one Gauss–Newton step per slab instead of eight —
   with relative L2 on the reference grid, wall time,
   spike rate and energy per sample; fgrad (the 2 × 64 MLP) and bptt on lsq's network for
   comparison.
2. **Time to accuracy on Burgers**: relative L2 (on every 7th reference point, logged along the
   run) against wall-clock training time for the BP-free default (``lsq``: after each
   Gauss–Newton step, slab after slab), ``bptt`` on the same separable network (``--network separable``),
   ``bptt`` on the 2 × 64 LIF MLP and the tanh PINN (``ann``), each on its defaults. One plot,
   ``benchmarks/results/accuracy_time.png``.

Solves run one at a time with ``--threads`` torch threads (default 2): run it on a quiet
machine. Writes ``benchmarks/results/accuracy.md`` and prints the tables.
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

#: (problem, label, solve options): the default first, then one change each
ABLATION = [
    ("poisson1d", "lsq default (512 x 32 raster, 1024 tests)", {"method": "lsq"}),
    ("poisson1d", "rate features (spike counts)", {"method": "lsq", "features": "rate"}),
    ("poisson1d", "T = 8", {"method": "lsq", "T": 8}),
    ("poisson1d", "fgrad for comparison", {"method": "fgrad"}),
    ("poisson1d", "bptt on the same network", {"method": "bptt", "network": "separable"}),
    ("burgers", "lsq default (20 time slabs of 128 x 8, 112 x 16 tests per slab, 5 quadrature points, "
                "8 Gauss-Newton steps per slab)", {"method": "lsq"}),
    ("burgers", "one global solve (no slabs; 112^2 tests, 8 Gauss-Newton steps)",
     {"method": "lsq", "time_slabs": 1, "weak_tests": 112}),
    ("burgers", "64 x 16 tests per slab", {"method": "lsq", "weak_tests": [64, 16]}),
    ("burgers", "rate features (spike counts)", {"method": "lsq", "features": "rate"}),
    ("burgers", "2 quadrature points per interval", {"method": "lsq", "weak_quadrature": 2}),
    ("burgers", "one Gauss-Newton step per slab", {"method": "lsq", "steps": 20}),
    ("burgers", "T = 16", {"method": "lsq", "T": 16}),
    ("burgers", "bptt on the same network", {"method": "bptt", "network": "separable"}),
    ("mexican_hat", "lsq default (spike counts, 1024 x 64)", {"method": "lsq"}),
    ("mexican_hat", "spike counts, 512 x 64", {"method": "lsq", "width": 512}),
    ("mexican_hat", "spike counts, 128 x 16", {"method": "lsq", "width": 128, "T": 16}),
    ("mexican_hat", "raster features, 128 x 16", {"method": "lsq", "width": 128, "T": 16, "features": "raster"}),
    ("mexican_hat", "fgrad for comparison", {"method": "fgrad"}),
]
#: label → solve options of each curve
TIME_METHODS = {"lsq": {"method": "lsq"}, "bptt-separable": {"method": "bptt", "network": "separable"},
                "bptt": {"method": "bptt"}, "ann": {"method": "ann"}}


def ablation_rows() -> list[str]:
    rows = ["| problem | variant | method | relative L2 | time (s) | spike rate | energy (pJ/sample) |",
            "|---|---|---|---|---|---|---|"]
    for name, label, options in ABLATION:
        t0 = time.perf_counter()
        r = spikepde.solve(name, out=None, quiet=True, **options)
        m = r.metrics
        rate = m.get("spike_rate")
        energy = m.get("energy_pj_per_sample")
        rows.append(f"| {name} | {label} | {m['method']} | {m['relative_l2']:.3e} | {time.perf_counter() - t0:.0f} | "
                    f"{'—' if rate is None else f'{rate:.3f}'} | {'—' if energy is None else f'{energy:.3g}'} |")
        print(rows[-1], flush=True)
    return rows


def time_to_accuracy() -> tuple[list[str], dict]:
    curves = {}
    rows = ["| method | final relative L2 | training time (s) | first time below 5e-2 (s) | below 2.4e-2 (s) | "
            "below 1e-2 (s) |", "|---|---|---|---|---|---|"]
    for label, options in TIME_METHODS.items():
        log_every = 1 if options["method"] == "lsq" else 50
        r = spikepde.solve("burgers", out=None, quiet=True, track_error=True, log_every=log_every, **options)
        h = r.history
        curves[label] = (list(h["time"]), list(h["relative_l2"]))
        rows.append(f"| {label} | {r.metrics['relative_l2']:.3e} | {r.metrics['wall_time_s']:.0f} | "
                    + " | ".join(_first_below(*curves[label], level) for level in (5e-2, 2.4e-2, 1e-2)) + " |")
        print(rows[-1], flush=True)
    return rows, curves


def _first_below(times, errors, level) -> str:
    for t, e in zip(times, errors):
        if e < level:
            return f"{t:.0f}"
    return "never"


def plot(curves: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    labels = {"lsq": "lsq (spiking, no back-propagation; per Gauss-Newton step)",
              "bptt-separable": "bptt on lsq's network (back-propagation)",
              "bptt": "bptt (spiking 2x64 LIF MLP, back-propagation)", "ann": "ann (tanh PINN, Adam then L-BFGS)"}
    for method, (t, e) in curves.items():
        ax.loglog([max(x, 1e-1) for x in t], e, marker="o" if method == "lsq" else None, label=labels[method])
    ax.axhline(2.42e-2, color="grey", ls="--", lw=0.8, label="published spiking (QIF, BP): 2.42e-2")
    ax.set_xlabel("training wall time (s)")
    ax.set_ylabel("relative L2 (every 7th reference point)")
    ax.set_title("Burgers: error against time")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("ablation", "time", "both"), default="both")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = [f"# Accuracy of the BP-free default ({time.strftime('%Y-%m-%d')})", "",
           f"`python benchmarks/accuracy.py --part {args.part}` — seed 0, one solve at a time, {args.threads} "
           f"torch threads, torch {torch.__version__}. Relative L2 on each entry's reference grid; time is "
           "the whole solve for the ablation, the training time for the curves.", ""]
    if args.part in ("ablation", "both"):
        out += ["## Ablation", ""] + ablation_rows() + [""]
    if args.part in ("time", "both"):
        rows, curves = time_to_accuracy()
        plot(curves, ROOT / "results" / "accuracy_time.png")
        out += ["## Time to accuracy on Burgers", "", "![error against time](accuracy_time.png)", ""] + rows + [""]
    text = "\n".join(out)
    atomic_write_text(ROOT / "results" / "accuracy.md", text)
    print(text)


if __name__ == "__main__":
    main()

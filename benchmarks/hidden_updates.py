"""Do forward-only updates of the hidden layers add anything over lsq's random features?

    python benchmarks/hidden_updates.py                      # poisson1d, small network, 30 steps
    python benchmarks/hidden_updates.py --problem heat1d --width 32 --tests 24 --held-out 20

lsq fits the readout to its weak rows exactly (the rows are met to ~1e-8 on every default solve),
so its own objective is flat in the hidden weights and gives them nothing to descend. This
script alternates (1) the closed-form readout on ``--tests`` test functions with (2) a
weight-perturbation step on the hidden layers (two forward solves at W ± εv for a random
direction v, a move towards the better one), scored by the weak residual against a held-out
set of ``--held-out`` test functions — no reference, no back-propagation. It prints the
reference error of the random start, after the updates, and over ``--seeds`` other random
hidden layers (what choosing among random features gives). Writes
``benchmarks/results/hidden_updates_PROBLEM.md``.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

import spikepde  # noqa: E402
from spikepde.problem.compile import compile_problem  # noqa: E402
from _results import write_table  # noqa: E402  (benchmarks/_results.py)
from spikepde.snn.separable import SeparableSpikingField  # noqa: E402
from spikepde.train.weak_form import WeakForm  # noqa: E402


@contextlib.contextmanager
def hidden_layers(hidden: dict | None, record: dict):
    """Solves inside start from ``hidden`` (the axis networks' weights) instead of their random
    initialisation; the weights a solve actually used are left in ``record``."""
    original = SeparableSpikingField.init_params

    def init(self, generator, dtype=torch.float32, device="cpu"):
        params = original(self, generator, dtype=dtype, device=device)
        if hidden is not None:
            params.update({k: v.to(dtype) for k, v in hidden.items()})
        record.clear()
        record.update({k: v.clone() for k, v in params.items() if ".layers." in k})
        return params

    SeparableSpikingField.init_params = init
    try:
        yield
    finally:
        SeparableSpikingField.init_params = original


def fit(name, hidden, options):
    """lsq's closed-form readout over the given hidden layers: (result, hidden layers used)."""
    used: dict = {}
    with hidden_layers(hidden, used):
        r = spikepde.solve(name, method="lsq", out=None, quiet=True, **options)
    return r, used


def held_out_score(r, weak: WeakForm) -> float:
    """Mean squared weak residual of the fitted field against test functions it was not fitted on."""
    u = torch.as_tensor(np.asarray(r.field(weak.points.cpu().numpy())), dtype=weak.dtype)
    return float(weak.residual(u).pow(2).mean())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="poisson1d")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--T", type=int, default=16)
    ap.add_argument("--tests", type=int, default=128, help="tests the readout is fitted on")
    ap.add_argument("--held-out", type=int, default=101, help="tests the hidden updates are scored on")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--eps", type=float, default=0.05, help="perturbation, relative to each weight tensor's rms")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    options = dict(width=args.width, T=args.T, weak_tests=args.tests)
    compiled = compile_problem(spikepde.load_problem(args.problem), dtype=torch.float64)
    weak = WeakForm(compiled, test_per_axis=args.held_out, quad_per_interval=2)
    t0 = time.perf_counter()
    r, W = fit(args.problem, None, options)
    start = dict(rel=r.metrics["relative_l2"], score=held_out_score(r, weak))
    best = dict(start)
    g = torch.Generator().manual_seed(1234)
    for k in range(args.steps):
        v = {key: torch.randn(w.shape, generator=g, dtype=w.dtype) * w.pow(2).mean().sqrt() * args.eps
             for key, w in W.items()}
        probes = []
        for sign in (1.0, -1.0):
            Wp = {key: w + sign * v[key] for key, w in W.items()}
            rp, _ = fit(args.problem, Wp, options)
            probes.append((held_out_score(rp, weak), rp.metrics["relative_l2"], Wp))
        score, rel, Wp = min(probes, key=lambda p: p[0])
        if score < best["score"]:              # move only where the held-out residual falls
            W, best = Wp, dict(rel=rel, score=score)
        print(f"step {k + 1}: held-out residual {best['score']:.3e}, reference error {best['rel']:.3e}", flush=True)
    elapsed = time.perf_counter() - t0
    seeds = [fit(args.problem, None, {**options, "seed": s})[0] for s in range(1, args.seeds + 1)]
    seed_rel = [s.metrics["relative_l2"] for s in seeds]
    seed_score = [held_out_score(s, weak) for s in seeds]
    pick = seed_rel[int(np.argmin(seed_score))]
    rows = ["| hidden layers | held-out weak residual | relative L2 |", "|---|---|---|",
            f"| random (seed 0) | {start['score']:.3e} | {start['rel']:.3e} |",
            f"| after {args.steps} perturbation steps ({2 * args.steps} solves, {elapsed:.0f} s) | "
            f"{best['score']:.3e} | {best['rel']:.3e} |",
            f"| random, seeds 1-{args.seeds}: median / best | {np.median(seed_score):.3e} / {min(seed_score):.3e} | "
            f"{np.median(seed_rel):.3e} / {min(seed_rel):.3e} |",
            f"| the seed with the lowest held-out residual | {min(seed_score):.3e} | {pick:.3e} |"]
    write_table(f"hidden_updates_{args.problem}.md", "Hidden-layer updates over lsq's readout",
                f"`python benchmarks/hidden_updates.py --problem {args.problem} --width {args.width} --T {args.T} "
                f"--tests {args.tests} --held-out {args.held_out} --steps {args.steps} --eps {args.eps}` — "
                f"{args.threads} torch threads, torch {torch.__version__}. Relative L2 on the reference grid "
                "(never used for training).", rows)


if __name__ == "__main__":
    main()

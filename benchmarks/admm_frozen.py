"""ADMM with its hidden layer trained against the same ADMM with it frozen (issue 20, item 1).

ADMM's sweep updates the hidden weights, potentials and spikes as well as the readout
(``ADMMConfig.hidden_updates``, on by default). This script runs each task twice at ADMM's
default settings — hidden updates on, then off (only the readout, output variable and duals
move) — and prints the score of the true LIF network: digits test accuracy (256 × 1, T = 8,
20 iterations, the iterate chosen on validation) and the relative L2 of
``spikepde solve NAME --method admm`` on poisson1d and heat1d.

Usage::

    python benchmarks/admm_frozen.py [--out admm_frozen.md]
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

import spikepde
from _results import write_table
from spikepde.classification.datasets import load_dataset, standardise
from spikepde.train.admm import ADMMConfig, train_classifier


def digits(hidden_updates: bool) -> tuple[str, float]:
    d = load_dataset("digits")
    (Xtr, Xva, Xte), _ = standardise(d.X_train, d.X_val, d.X_test)
    start = time.perf_counter()
    predict, _, _ = train_classifier(Xtr, d.y_train, Xva, d.y_val, hidden=256, T=8, iterations=20,
                                     quiet=True, admm=ADMMConfig(hidden_updates=hidden_updates))
    accuracy = float((predict(torch.as_tensor(Xte)).argmax(1).numpy() == d.y_test).mean())
    return f"test accuracy {accuracy:.4f}", time.perf_counter() - start


def pde(name: str, hidden_updates: bool) -> tuple[str, float]:
    r = spikepde.solve(name, method="admm", admm={"hidden_updates": hidden_updates}, quiet=True,
                       plots=False)
    return f"relative L2 {r.metrics['relative_l2']:.4g}", r.metrics["wall_time_s"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="admm_frozen.md", help="file name under benchmarks/results/")
    args = parser.parse_args(argv)
    lines = ["| task | hidden layer trained | hidden layer frozen | time s (trained / frozen) |",
             "|---|---|---|---|"]
    tasks = [("digits", digits), *[(n, lambda hu, n=n: pde(n, hu)) for n in ("poisson1d", "heat1d")]]
    for name, run in tasks:
        (trained, t1), (frozen, t2) = run(True), run(False)
        lines.append(f"| {name} | {trained} | {frozen} | {t1:.1f} / {t2:.1f} |")
        print(lines[-1], flush=True)
    write_table(args.out, "ADMM: hidden layer trained vs frozen",
                "Command: `python benchmarks/admm_frozen.py` (2 CPU cores). ADMM's default "
                "settings; 'frozen' is `admm={'hidden_updates': False}`: the readout, output "
                "variable and duals still iterate.", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())

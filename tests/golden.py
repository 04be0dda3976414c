"""Golden runs: short, seeded solves and classifications whose metrics are recorded once and
compared by ``tests/test_golden_metrics.py``, so that a refactoring that should not change
behaviour is shown not to change it.

    python tests/golden.py --write      # record tests/golden/*.json (one file per case)

Bit-for-bit equality of float32 training only holds for the same CPU kernels: torch and MKL
pick their matrix kernels by instruction set, and one rounding difference can flip a spike.
Every golden file therefore records the machine it was made on (:func:`fingerprint`). On that
machine the test demands equal numbers; elsewhere it demands the same keys, the same integers and
strings, and floats within a loose tolerance (a changed default or a broken code path moves them
far more than rounding does).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"

TINY = dict(interior_points=96, width=16, depth=2, T=4)
# ADMM: small weak forms keep the closed-form solves to a second or two per iteration
ADMM_TINY = dict(TINY, admm={"test_per_axis": 8})
ANN_TINY = dict(interior_points=96, lbfgs_steps=10)

# (name, problem, method, options): every method on three problems, the two weight-perturbation
# estimators of fgrad on one
SOLVE_CASES = [
    *[(f"solve-{p}-{m}", p, m, dict(opts, steps=steps))
      for p in ("burgers", "poisson1d", "heat1d")
      for m, opts, steps in (("fgrad", TINY, 6), ("bptt", TINY, 6), ("ann", ANN_TINY, 6),
                             ("admm", ADMM_TINY, 2))],
    ("solve-burgers-fgrad-global", "burgers", "fgrad", dict(TINY, steps=6, perturbation="global")),
    ("solve-burgers-fgrad-layerwise", "burgers", "fgrad", dict(TINY, steps=6, perturbation="layerwise")),
]

CLASSIFY_TINY = dict(hidden=(30, 30), T=4, epochs=2, batch_size=64, lr=5e-3, limit=400)
CLASSIFY_CASES = [(f"classify-digits-{m}", m, dict(CLASSIFY_TINY)) for m in ("ff", "bptt", "admm")]

# keys whose values are measurements of the machine or the moment, not results (the saved-
# activation meter counts distinct storages by address, which depends on what the process
# allocated before: 216740 or 224420 bytes for the same BPTT update)
VOLATILE = {"wall_time_s", "train_seconds", "cpu_time_s", "peak_rss_mb", "peak_rss_delta_mb",
            "torch_threads", "time", "memory_method", "activation_bytes_per_layer",
            "activation_bytes_held_for_update"}


def fingerprint() -> dict:
    """What decides the float32 roundings: CPU model and torch's kernel level, library versions."""
    import numpy
    import scipy
    import sympy
    import torch

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {"cpu": model, "machine": platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "sympy": sympy.__version__}


def strip_volatile(obj):
    """``obj`` without the keys of :data:`VOLATILE`, at every depth."""
    if isinstance(obj, dict):
        return {k: strip_volatile(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj


def run_solve(problem: str, method: str, options: dict, out: Path) -> dict:
    """metrics.json and history.json of one seeded solve (volatile keys removed)."""
    import spikepde

    spikepde.solve(problem, method=method, seed=0, out=out, quiet=True, plots=False, log_every=2,
                   **options)
    return {"metrics": strip_volatile(json.loads((out / "metrics.json").read_text())),
            "history": strip_volatile(json.loads((out / "history.json").read_text()))}


def run_classify(method: str, options: dict, out: Path) -> dict:
    """metrics.json and history.json of one seeded classification (volatile keys removed)."""
    import spikepde

    spikepde.classify("digits", method, seed=0, out=out, quiet=True, plots=False, **options)
    return {"metrics": strip_volatile(json.loads((out / "metrics.json").read_text())),
            "history": strip_volatile(json.loads((out / "history.json").read_text()))}


def run_case(name: str, out: Path) -> dict:
    for case, problem, method, options in SOLVE_CASES:
        if case == name:
            return run_solve(problem, method, options, out)
    for case, method, options in CLASSIFY_CASES:
        if case == name:
            return run_classify(method, options, out)
    raise KeyError(name)


def case_names() -> list[str]:
    return [c[0] for c in SOLVE_CASES] + [c[0] for c in CLASSIFY_CASES]


def main(argv=None) -> int:
    import tempfile

    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record tests/golden/*.json")
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)      # as the tests run (tests/conftest.py)
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name in args.cases or case_names():
        with tempfile.TemporaryDirectory() as tmp:
            result = run_case(name, Path(tmp) / "run")
        record = {"case": name, "machine": fingerprint(), **result}
        if args.write:
            (GOLDEN_DIR / f"{name}.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(name, result["metrics"].get("relative_l2", result["metrics"].get("test_accuracy")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

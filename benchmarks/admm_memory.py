"""Peak memory of ``spikepde solve NAME --method admm`` at its defaults on every catalogue entry
(issue 20: at most 1 GB each).

Each solve is the command a user types (plots included), run as a fresh process; the process
reports its own peak resident set size (``ru_maxrss``, the whole process: Python, torch,
matplotlib, the reference, ADMM) and the RSS after its imports. Two solves run at a time on the
2 cores (memory does not depend on it; the times are wall times while the other ran). Writes
``benchmarks/results/admm_memory.md``.

    python benchmarks/admm_memory.py [--problems NAME ...] [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _results import write_table

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(1)
from spikepde.cli import main
imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
code = main(["solve", sys.argv[1], "--method", "admm", "--out", sys.argv[2], "--quiet"])
print("RESULT " + json.dumps({"code": code, "wall_s": time.perf_counter() - t0, "imported_mb": imported,
                              "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(name: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        p = subprocess.run([sys.executable, "-c", CHILD, name, str(out)], capture_output=True, text=True, env=env)
        res = next((json.loads(line[7:]) for line in p.stdout.splitlines() if line.startswith("RESULT ")), None)
        if res is None:
            return {"name": name, "error": ((p.stderr or p.stdout).strip().splitlines() or ["no output"])[-1][:160]}
        metrics = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else {}
        config = json.loads((out / "config.json").read_text()) if (out / "config.json").exists() else {}
    return {"name": name, **res, "relative_l2": metrics.get("relative_l2"),
            "network": f"{config.get('width')} × {config.get('depth')}, T = {config.get('T')}"}


def main(argv=None) -> int:
    import spikepde

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="*", default=None)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    names = args.problems or spikepde.list_problems()
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(measure, names))
    lines = ["| problem | network | relative L2 | wall s | peak RSS MB (after imports) | ≤ 1 GB |",
             "|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['name']} | — | failed: {r['error']} | — | — | — |")
            continue
        rel = f"{r['relative_l2']:.3g}" if r["relative_l2"] is not None else "—"
        ok = "yes" if r["peak_mb"] * 2 ** 20 <= 2 ** 30 else "**no**"
        lines.append(f"| {r['name']} | {r['network']} | {rel} | {r['wall_s']:.0f} | {r['peak_mb']:.0f} "
                     f"({r['imported_mb']:.0f}) | {ok} |")
        print(lines[-1], flush=True)
    worst = max((r["peak_mb"] for r in results if "error" not in r), default=float("nan"))
    write_table("admm_memory.md", "Peak memory of the default ADMM solve",
                f"Command: `python benchmarks/admm_memory.py` ({args.jobs} solves at a time, 1 torch thread "
                "each, 2 CPU cores). Each row is `spikepde solve NAME --method admm --out DIR --quiet` (plots "
                "included) in a fresh process; peak RSS is that whole process (1 GB = 1024 MB), the number in "
                f"brackets its RSS after the imports. Largest: {worst:.0f} MB.", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())

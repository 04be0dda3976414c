"""ADMM benchmark: digits, poisson1d, heat1d, burgers; ADMM beside bptt and fgrad.

Every run is a fresh subprocess (clean peak RSS, read with ``resource.getrusage`` at its end),
with ``torch.set_num_threads(1)`` because the machine is shared. Writes
``benchmarks/results/admm.md`` and prints the table.

    python benchmarks/admm.py            # full
    python benchmarks/admm.py --quick    # fewer iterations/steps
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "admm.md"

CHILD = r"""
import json, resource, sys, time, torch
torch.set_num_threads(1)
spec = json.loads(sys.argv[1])
out = {}
t0 = time.perf_counter()
if spec["task"] == "digits":
    from spikepde.datasets import load_dataset, standardise
    d = load_dataset("digits")
    f = lambda X: X.reshape(len(X), -1)
    Xtr, Xva, Xte = standardise(f(d.X_train), f(d.X_val), f(d.X_test))
    if spec["method"] == "admm":
        from spikepde.train.admm import train_classifier
        predict, hist, extra = train_classifier(Xtr, d.y_train, Xva, d.y_val, hidden=spec["hidden"],
                                                T=spec["T"], iterations=spec["iterations"], quiet=True,
                                                X_test=Xte, y_test=d.y_test)
        out["accuracy"] = float((predict(Xte).argmax(1).numpy() == d.y_test).mean())
        p = hist["primal_residual"]
        out["primal_first"], out["primal_last"] = p[0], p[-1]
        out["primal_reduction"] = p[0] / p[-1]
    else:
        import spikepde
        r = spikepde.classify("digits", method=spec["method"], **spec.get("options", {}))
        m = getattr(r, "metrics", r)
        out["accuracy"] = m.get("test_accuracy", m.get("accuracy"))
else:
    import spikepde
    r = spikepde.solve(spec["task"], method=spec["method"], quiet=True, **spec.get("options", {}))
    m = r.metrics
    out["relative_l2"] = m["relative_l2"]
    conv = m.get("convergence")
    if conv:
        p = conv["primal_residual"]
        out["primal_first"], out["primal_last"] = p[0], p[-1]
        out["primal_reduction"] = p[0] / max(p[-1], 1e-300)
        out["best_test_rel_l2"] = min(conv["test_metric"])
    out["form"] = m.get("admm_pde_form")
out["wall_s"] = time.perf_counter() - t0
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""


def cases(quick: bool):
    it = 8 if quick else 20
    steps = 3 if quick else 10
    base = dict(width=256, depth=1)
    return [
        ("digits", "admm", dict(task="digits", method="admm", hidden=256, T=8, iterations=it)),
        ("digits", "bptt", dict(task="digits", method="bptt", options=dict(hidden=(256,), T=8))),
        ("poisson1d", "admm", dict(task="poisson1d", method="admm", options=dict(base, T=32, steps=steps))),
        ("poisson1d", "bptt", dict(task="poisson1d", method="bptt", options=dict(base, T=32, steps=200))),
        ("poisson1d", "fgrad", dict(task="poisson1d", method="fgrad", options=dict(base, T=32, steps=100))),
        ("heat1d", "admm", dict(task="heat1d", method="admm", options=dict(base, T=16, steps=max(3, steps // 2)))),
        ("heat1d", "bptt", dict(task="heat1d", method="bptt", options=dict(base, T=16, steps=200))),
        ("heat1d", "fgrad", dict(task="heat1d", method="fgrad", options=dict(base, T=16, steps=100))),
        ("burgers", "admm", dict(task="burgers", method="admm", options=dict(base, T=16, steps=max(3, steps // 2)))),
    ]


def run(spec, timeout=1800):
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": tail[0][:160], "wall_s": time.perf_counter() - t0}


def fmt(x, spec=".3g"):
    return "—" if x is None else format(x, spec) if isinstance(x, (int, float)) else str(x)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    only = [a for a in argv if not a.startswith("--")]
    rows = []
    for task, method, spec in cases(quick):
        if only and task not in only:
            continue
        res = run(spec)
        rows.append((task, method, spec, res))
        print(task, method, res, flush=True)
    lines = ["# ADMM benchmark (`benchmarks/admm.py`)", "",
             "CPU, `torch.set_num_threads(1)` (2-core machine shared with other engineers), one fresh "
             "subprocess per run (peak RSS of that process). Spiking networks: 1 hidden LIF layer of 256, "
             "β = 0.9, θ = 1, reset by subtraction; evaluation with the true LIF forward pass.", "",
             "| task | method | setting | metric | primal residual first → last (×) | wall s | peak RSS MB |",
             "|---|---|---|---|---|---|---|"]
    for task, method, spec, res in rows:
        setting = json.dumps({k: v for k, v in spec.items() if k not in ("task", "method")})
        if "error" in res:
            metric = f"not run: {res['error']}"
        elif "accuracy" in res:
            metric = f"test acc {fmt(res['accuracy'], '.4f')}"
        else:
            metric = f"rel L2 {fmt(res.get('relative_l2'))}"
            if res.get("best_test_rel_l2") is not None:
                metric += f" (best iterate {fmt(res['best_test_rel_l2'])}, {res.get('form')})"
        primal = (f"{res['primal_first']:.2e} → {res['primal_last']:.2e} ({res['primal_reduction']:.1f}×)"
                  if "primal_first" in res else "—")
        lines.append(f"| {task} | {method} | `{setting}` | {metric} | {primal} | {fmt(res.get('wall_s'), '.1f')} "
                     f"| {fmt(res.get('peak_rss_mb'), '.0f')} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""ADMM benchmark: digits, poisson1d, heat1d, burgers; ADMM beside bptt and fgrad on the same
spiking network (1 hidden LIF layer of 256, β = 0.9, θ = 1, reset by subtraction).

Every run is a fresh subprocess with ``torch.set_num_threads(1)`` (the machine is shared):
its peak RSS (``resource.getrusage`` at its end) and the RSS after the imports, the wall time
of the training loop and of the whole process, and the 1-minute load average before it
started. Cheap runs are repeated (``--repeats``, default 3 for digits) and their median
times are reported. Writes ``benchmarks/results/admm.md`` (and ``admm.json``) and prints the
table.

    python benchmarks/admm.py                 # full (about 30 minutes on one core)
    python benchmarks/admm.py --quick         # fewer iterations/steps, one repeat
    python benchmarks/admm.py digits poisson1d
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "admm.md"

CHILD = r"""
import json, resource, sys, time
t_start = time.perf_counter()
import torch
torch.set_num_threads(1)
import spikepde
spec = json.loads(sys.argv[1])
out = {"rss_imported_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
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
        out["train_s"] = time.perf_counter() - t0
        out["accuracy"] = float((predict(Xte).argmax(1).numpy() == d.y_test).mean())
        out["selected_iteration"] = extra["admm_best_iteration"]
        out["final_test_accuracy"] = hist["test_metric"][-1]
        for k in ("primal_residual", "primal_residual_relative", "spike_flips"):
            out[k] = hist[k]
        out["iterations"] = spec["iterations"]
    else:
        r = spikepde.classify("digits", method=spec["method"], quiet=True, plots=False, **spec.get("options", {}))
        out["train_s"] = time.perf_counter() - t0
        m = getattr(r, "metrics", {})
        out["accuracy"] = float(getattr(r, "accuracy", m.get("test_accuracy", float("nan"))))
        out["epochs"] = m.get("epochs")
else:
    r = spikepde.solve(spec["task"], method=spec["method"], quiet=True, **spec.get("options", {}))
    m = r.metrics
    out["train_s"] = m["wall_time_s"]
    out["relative_l2"] = m["relative_l2"]
    out["steps"] = m["steps"]
    conv = m.get("convergence")
    if conv:
        for k in ("primal_residual", "primal_residual_relative", "test_metric"):
            out[k] = conv.get(k)
        out["spike_flips"] = (m.get("admm_diagnostics") or {}).get("spike_flips")
        out["selected_iteration"] = m.get("admm_selected_iteration")
        out["final_relative_l2_test"] = m.get("admm_final_relative_l2")
        out["output"] = m.get("admm_output")
        out["form"] = m.get("admm_pde_form")
out["total_s"] = time.perf_counter() - t_start
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""

NET = dict(width=256, depth=1)


def cases(quick: bool):
    it = 8 if quick else 20
    pde_it = 3 if quick else 8
    bptt, fgrad = (10, 5) if quick else (60, 30)
    return [
        ("digits", "admm", dict(task="digits", method="admm", hidden=256, T=8, iterations=it)),
        ("digits", "bptt", dict(task="digits", method="bptt", options=dict(hidden=(256,), T=8))),
        ("poisson1d", "admm", dict(task="poisson1d", method="admm", options=dict(NET, T=64, steps=pde_it))),
        ("poisson1d", "bptt", dict(task="poisson1d", method="bptt", options=dict(NET, T=64, steps=bptt))),
        ("poisson1d", "fgrad", dict(task="poisson1d", method="fgrad", options=dict(NET, T=64, steps=fgrad))),
        ("heat1d", "admm", dict(task="heat1d", method="admm", options=dict(NET, T=32, steps=max(3, pde_it - 2)))),
        ("heat1d", "bptt", dict(task="heat1d", method="bptt", options=dict(NET, T=32, steps=bptt))),
        ("heat1d", "fgrad", dict(task="heat1d", method="fgrad", options=dict(NET, T=32, steps=fgrad))),
        ("burgers", "admm", dict(task="burgers", method="admm", options=dict(NET, T=16, steps=max(3, pde_it - 3)))),
    ]


def run_once(spec, timeout=2400):
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        p = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True,
                           text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s", "load_before": load}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
            res["load_before"] = load
            return res
    tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": tail[0][:200], "wall_s": time.perf_counter() - t0, "load_before": load}


def run(spec, repeats: int):
    runs = [run_once(spec) for _ in range(repeats)]
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    res = dict(ok[0])
    res["repeats"] = len(ok)
    for k in ("train_s", "total_s", "peak_rss_mb", "rss_imported_mb", "load_before"):
        vals = [r[k] for r in ok if k in r]
        if vals:
            res[k] = statistics.median(vals)
            res[k + "_all"] = vals
    return res


def fmt(x, spec=".3g"):
    return "—" if x is None else format(x, spec) if isinstance(x, (int, float)) else str(x)


def _residual(res):
    p, pr = res.get("primal_residual"), res.get("primal_residual_relative")
    if not p:
        return "—"
    return (f"{p[0]:.2e} → {p[-1]:.2e} ({p[0] / max(p[-1], 1e-300):.3g}×); relative "
            f"{pr[0]:.1e} → {pr[-1]:.1e}")


def _metric(res):
    if "accuracy" in res:
        s = f"test acc {res['accuracy']:.4f}"
        if "selected_iteration" in res:
            s += f" (iterate {res['selected_iteration']} by validation; last iterate {res['final_test_accuracy']:.4f})"
        return s
    s = f"rel L2 {fmt(res.get('relative_l2'))}"
    if res.get("selected_iteration") is not None:
        s += f" (iterate {res['selected_iteration']} by training loss; {res.get('form')}, {res.get('output')})"
    return s


def _setting(spec):
    opts = {k: v for k, v in spec.items() if k not in ("task", "method")}
    opts = opts.get("options", opts)
    return ", ".join(f"{k}={v}" for k, v in opts.items())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    repeats = 1 if quick else 3
    if "--repeats" in argv:
        repeats = int(argv[argv.index("--repeats") + 1])
    only = [a for a in argv if not a.startswith("--") and not a.isdigit()]
    rows = []
    t_all = time.perf_counter()
    for task, method, spec in cases(quick):
        if only and task not in only:
            continue
        res = run(spec, repeats if task == "digits" else 1)
        rows.append((task, method, spec, res))
        print(task, method, {k: v for k, v in res.items() if not isinstance(v, list)}, flush=True)
    total_min = (time.perf_counter() - t_all) / 60
    cpu = platform.processor() or platform.machine()
    lines = [
        "# ADMM benchmark (`benchmarks/admm.py`)", "",
        f"Command: `python benchmarks/admm.py{' ' + ' '.join(argv) if argv else ''}` ({total_min:.0f} min). "
        f"Machine: {os.cpu_count()}-core {cpu} CPU, Python {platform.python_version()}, shared with other "
        "engineers' jobs; every run a fresh subprocess with `torch.set_num_threads(1)` "
        "(`OMP_NUM_THREADS=1`). Times are medians over the repeats where a row has more than one; "
        "`load` is the 1-minute load average of the machine when the run started (2 cores: a load "
        "above 2 means the run shared its core). Peak RSS is the whole process (Python, torch, data); "
        "Δ is the peak minus the RSS after the imports. Spiking network everywhere: 1 hidden LIF layer "
        "of 256, β = 0.9, θ = 1, reset by subtraction, evaluated with the true LIF forward pass. "
        "bptt/fgrad PDE runs are short fixed budgets for the time/memory columns: their errors are not "
        "converged numbers.", "",
        "| task | method | setting | metric | primal residual first → last iterate (×) | train s | "
        "s / iteration or step | total s | peak RSS MB (Δ) | load | repeats |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    for task, method, spec, res in rows:
        if "error" in res:
            lines.append(f"| {task} | {method} | {_setting(spec)} | not run: {res['error']} | — | — | — | — | — | "
                         f"{fmt(res.get('load_before'), '.1f')} | — |")
            continue
        n = res.get("iterations") or res.get("steps") or res.get("epochs")
        per = fmt(res["train_s"] / n, ".2f") if n else "—"
        rss = f"{res['peak_rss_mb']:.0f} ({res['peak_rss_mb'] - res['rss_imported_mb']:.0f})"
        lines.append(f"| {task} | {method} | {_setting(spec)} | {_metric(res)} | {_residual(res)} | "
                     f"{res['train_s']:.1f} | {per} | {res['total_s']:.1f} | {rss} | "
                     f"{fmt(res.get('load_before'), '.1f')} | {res.get('repeats', 1)} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    RESULTS.with_suffix(".json").write_text(json.dumps(
        [{"task": t, "method": m, "spec": s, "result": r} for t, m, s, r in rows], indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Engine benchmark (issue 6): forward speed vs snnTorch, fgrad step cost, memory, GFLOP/s.

Run:  python benchmarks/engine.py [--repeats 10] [--quick]
Writes benchmarks/results/engine.md and prints it.

Conventions: float32, ``torch.set_num_threads(2)``; no process setting beyond the thread count
(the library keeps subnormal numbers out of its surrogate derivatives itself, and reuses its
buffers without the allocator setting; ``--malloc-tuning on`` adds the CLI's
``tune_allocator()``). Times are medians of ``--repeats`` runs after one warm-up; each section's ratios come from the
same run. Memory is measured in a fresh subprocess per configuration.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spikepde.fields import SpikingField  # noqa: E402
from spikepde.problem.compile import compile_problem  # noqa: E402
from spikepde.problem.spec import load_problem  # noqa: E402
from spikepde.snn.lif import LIFConfig  # noqa: E402
from spikepde.snn.network import SpikingMLP  # noqa: E402
from spikepde.snn.surrogate import ATan  # noqa: E402
from spikepde.train.fgrad.activity_perturbation import activity_forward_gradient  # noqa: E402
from spikepde.train.fgrad.estimators import directional_derivatives, sample_directions  # noqa: E402
from spikepde.train.fgrad.weight_perturbation import (directional_derivatives_fields,  # noqa: E402
                                                      forward_step_major)
from spikepde.train.objective import Objective, TrainingPoints  # noqa: E402

THREADS = int(os.environ.get("ENGINE_BENCH_THREADS", "2"))   # set by --threads (children inherit it)
BATCH = 2540
DEPTH = 3
BETA = 0.9


def setup_torch():
    torch.set_num_threads(THREADS)


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def make_net(width: int, T: int, in_dim: int = 2, lower=None, upper=None, seed: int = 0):
    lif = LIFConfig(beta=BETA, threshold=1.0, reset="subtract", surrogate=ATan(2.0))
    net = SpikingMLP(in_dim, (width,) * DEPTH, T=T, lif=lif, lower=lower, upper=upper)
    params = net.init_params(torch.Generator().manual_seed(seed))
    return net, params


# ------------------------------------------------------------------ 1. forward vs snnTorch
def snntorch_forward_fn(params, T: int, dtype=torch.float32):
    """The same network with snnTorch ``Leaky`` layers; returns ``f(x) -> u``."""
    import snntorch as snn
    from snntorch import surrogate as ssur

    fcs, lifs = [], []
    i = 0
    while f"layers.{i}.weight" in params:
        W = params[f"layers.{i}.weight"]
        fc = torch.nn.Linear(W.shape[1], W.shape[0]).to(dtype)
        with torch.no_grad():
            fc.weight.copy_(W)
            fc.bias.copy_(params[f"layers.{i}.bias"])
        fcs.append(fc)
        lifs.append(snn.Leaky(beta=torch.tensor(BETA, dtype=dtype), threshold=1.0, reset_mechanism="subtract",
                              spike_grad=ssur.atan(alpha=2.0)))
        i += 1
    ro = torch.nn.Linear(params["readout.weight"].shape[1], 1).to(dtype)
    with torch.no_grad():
        ro.weight.copy_(params["readout.weight"])
        ro.bias.copy_(params["readout.bias"])

    def forward(x):
        spk = None
        mems = [lif.init_leaky() for lif in lifs]
        cur0 = fcs[0](x)                           # constant input current, computed once
        total = 0
        for _ in range(T):
            cur = cur0
            for l, lif in enumerate(lifs):
                if l:
                    cur = fcs[l](spk)
                spk, mems[l] = lif(cur, mems[l])
                spk = spk.to(dtype)                    # snnTorch's Heaviside returns float32
            total = total + spk
        return ro(total / T)[:, 0]
    return forward


def bench_forward(repeats: int, Ts, widths, compile_: bool = True):
    rows = []
    from spikepde.snn.fast_forward import compiled_forward
    g = torch.Generator().manual_seed(1)
    X = torch.rand(BATCH, 2, generator=g) * 2 - 1
    for width in widths:
        for T in Ts:
            net, params = make_net(width, T)
            snn_fwd = snntorch_forward_fn(params, T)
            with torch.no_grad():
                ours = net.forward(params, X, differentiable=False)
                ours_sm = forward_step_major(net, params, X)
                theirs = snn_fwd(X)
                # float64 check: the two engines must agree exactly up to rounding order
                net64, p64 = net, {k: v.double() for k, v in params.items()}
                snn64 = snntorch_forward_fn(p64, T, torch.float64)
                d64 = float((net64.forward(p64, X.double(), differentiable=False) - snn64(X.double())).abs().max())
                t_ours = median_time(lambda: net.forward(params, X, differentiable=False), repeats)
                t_fun = median_time(lambda: net.readout(params, net._hidden_spikes_functional(
                    params, X, differentiable=False)[-1].mean(0)), repeats)
                t_sm = median_time(lambda: forward_step_major(net, params, X), repeats)
                t_c = compile_s = c_diff = float("nan")
                backend = "off"
                if compile_:
                    cf = compiled_forward(net)
                    uc = cf(params, X)                   # first call = the compile
                    backend = cf.backend
                    compile_s = cf.compile_seconds[-1] if cf.compile_seconds else float("nan")
                    c_diff = float((uc - ours).abs().max())
                    t_c = median_time(lambda: cf(params, X), repeats)
                t_snn = median_time(lambda: snn_fwd(X), repeats)
                flops = forward_flops(width, T)
                t_mm = matmul_ceiling_time(width, T, repeats)
            best = min(t_ours, t_c) if t_c == t_c else t_ours
            rows.append(dict(width=width, T=T, ours_ms=t_ours * 1e3, functional_ms=t_fun * 1e3,
                             compiled_ms=t_c * 1e3, compile_s=compile_s, compiled_backend=backend,
                             compiled_max_abs_diff=c_diff, step_major_ms=t_sm * 1e3,
                             snntorch_ms=t_snn * 1e3, speedup=t_snn / t_ours,
                             speedup_compiled=t_snn / t_c if t_c == t_c else float("nan"),
                             max_abs_diff_f32=float((ours - theirs).abs().max()),
                             frac_equal_f32=float((ours == theirs).double().mean()),
                             max_abs_diff_f64=d64, step_major_equal=bool(torch.equal(ours, ours_sm)),
                             gflops=flops / best / 1e9, matmul_gflops=flops / t_mm / 1e9,
                             vs_ceiling=best / t_mm))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def forward_flops(width: int, T: int, in_dim: int = 2) -> float:
    """Multiply-adds ×2 of the dense maps: layer 1 once (constant current), hidden T times, readout."""
    return 2.0 * BATCH * (in_dim * width + T * (DEPTH - 1) * width * width + width)


def matmul_ceiling_time(width: int, T: int, repeats: int) -> float:
    """Time of the same dense products as plain matmuls (the practical ceiling)."""
    g = torch.Generator().manual_seed(2)
    A = torch.rand(T * BATCH, width, generator=g)
    W = torch.rand(width, width, generator=g)
    x = torch.rand(BATCH, 2, generator=g)
    W0 = torch.rand(2, width, generator=g)

    def run():
        x @ W0
        for _ in range(DEPTH - 1):
            A @ W
    return median_time(run, repeats)


def allocator_child(mode: str, repeats: int) -> dict:
    """In a fresh process: the forward row (width 64, T = 16) of this engine and of snnTorch, with
    the library's defaults (``mode="library"``: nothing but ``import spikepde``, as a notebook or
    a Python study gets it) or as the CLI runs (``"cli"``: ``tune_allocator()`` first)."""
    tuned = False
    if mode == "cli":
        from spikepde import tune_allocator
        tuned = tune_allocator()
    setup_torch()
    net, params = make_net(64, 16)
    X = torch.rand(BATCH, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    snn_fwd = snntorch_forward_fn(params, 16)
    with torch.no_grad():
        same = bool(torch.equal(net.forward(params, X, differentiable=False),
                                net.readout(params, net._hidden_spikes_functional(
                                    params, X, differentiable=False)[-1].mean(0))))
        t_ours = median_time(lambda: net.forward(params, X, differentiable=False), repeats)
        t_snn = median_time(lambda: snn_fwd(X), repeats)
    return dict(allocator=mode, malloc_tuned=tuned, width=64, T=16, batch=BATCH, ours_ms=t_ours * 1e3,
                snntorch_ms=t_snn * 1e3, speedup=t_snn / t_ours, equals_functional=same,
                workspace_mb=net.workspace.nbytes / 2 ** 20)


def bench_allocator(repeats: int) -> list[dict]:
    """Both allocator rows, each in a fresh process, one after the other (same run, same load)."""
    rows = []
    for mode in ("library", "cli"):
        proc = subprocess.run([sys.executable, __file__, "--allocator-child", mode, "--repeats", str(repeats),
                               "--threads", str(THREADS)], capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    return rows


# ------------------------------------------------------------------ 2. fgrad step cost
def problem_setup(name: str, width: int, T: int, interior: int = BATCH):
    compiled = compile_problem(load_problem(name))
    g = torch.Generator().manual_seed(0)
    points = TrainingPoints.sample(compiled, g, interior=interior)
    objective = Objective(compiled, points)
    lif = LIFConfig(beta=BETA, threshold=1.0, reset="subtract")
    net = SpikingMLP(len(compiled.input_names), (width,) * DEPTH, T=T, lif=lif,
                     lower=tuple(compiled.lower.tolist()), upper=tuple(compiled.upper.tolist()))
    params = net.init_params(g)
    return compiled, objective, net, params, g


def bench_fgrad(repeats: int, Ks, ref_repeats: int, problems=("mexican_hat", "burgers"),
                width: int = 64, T: int = 16):
    rows = []
    for name in problems:
        compiled, objective, net, params, g = problem_setup(name, width, T)
        loss_fn = lambda p: objective(SpikingField(net, p))  # noqa: E731
        with torch.no_grad():
            t_fwd = median_time(lambda: loss_fn(params), repeats)
        for K in Ks:
            dirs = sample_directions(params, K, g)
            t_fast = median_time(lambda: directional_derivatives_fields(objective, net, params, dirs), repeats)
            t_ref = median_time(lambda: directional_derivatives(loss_fn, params, dirs), ref_repeats) \
                if ref_repeats else float("nan")
            # activity perturbation: K draws per hidden layer (3 layers: 3K tangent slots), the
            # replay pass and the exact error signals included — a whole gradient estimate
            t_act = median_time(lambda: activity_forward_gradient(objective, net, params, K, g), repeats)
            rows.append(dict(problem=name, K=K, forward_ms=t_fwd * 1e3, fast_ms=t_fast * 1e3,
                             ref_ms=t_ref * 1e3, fast_fw=t_fast / t_fwd, ref_fw=t_ref / t_fwd,
                             speedup=t_ref / t_fast, activity_ms=t_act * 1e3, activity_fw=t_act / t_fwd))
            print(json.dumps(rows[-1]), flush=True)
    return rows


# ------------------------------------------------------------------ 3. memory
def _status(key: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])          # kB
    raise KeyError(key)


def memory_child(method: str, T: int, K: int) -> dict:
    """Run in a fresh process: peak RSS increase of one training step over the set-up state."""
    if os.environ.get("ENGINE_BENCH_MALLOC_TUNING") == "on":
        from spikepde import tune_allocator
        tune_allocator()
    setup_torch()
    compiled, objective, net, params, g = problem_setup("burgers", 64, T)
    gc.collect()
    shared = _status("VmRSS")         # torch, the problem and its points: the same for every method
    if method == "bptt":
        params = {k: v.requires_grad_() for k, v in params.items()}
        opt = torch.optim.Adam(list(params.values()), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            objective(SpikingField(net, params)).backward()
            opt.step()
    elif method in ("fgrad", "fgrad-activity"):
        from spikepde.train.fgrad.weight_perturbation import forward_gradient_fields
        estimate = forward_gradient_fields if method == "fgrad" else activity_forward_gradient
        opt = torch.optim.Adam(list(params.values()), lr=1e-3)

        def step():
            loss, grads = estimate(objective, net, params, K, g)
            for k, p in params.items():
                p.grad = grads[k]
            opt.step()
    elif method == "fgrad-ref":
        from spikepde.train.fgrad.estimators import forward_gradient
        opt = torch.optim.Adam(list(params.values()), lr=1e-3)

        def step():
            loss, grads = forward_gradient(lambda p: objective(SpikingField(net, p)), params, K, g)
            for k, p in params.items():
                p.grad = grads[k]
            opt.step()
    elif method == "admm":
        from spikepde.solving import SolveConfig
        from spikepde.train.admm import ADMMTrainer
        cfg = SolveConfig(problem="burgers", method="admm", T=T, width=64, depth=DEPTH,
                          interior_points=BATCH).resolved(compiled.problem)
        trainer = ADMMTrainer(cfg, compiled, objective, g)
        step = trainer.step
    else:
        raise ValueError(method)
    gc.collect()
    how = "VmHWM after clear_refs=5"
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                          # reset the peak-RSS mark to the current RSS
    except OSError:
        how = "ru_maxrss (no reset)"
    base = _status("VmRSS")
    t = time.perf_counter()
    step()
    dt = time.perf_counter() - t
    peak = _status("VmHWM")
    # peak_increase: the step alone; with_state: the step plus what the method set up for itself
    # (ADMM's [T, B, n] primal/dual state, an optimiser's moments), both over the shared set-up
    return dict(method=method, T=T, K=K, base_mb=base / 1024, peak_increase_mb=(peak - base) / 1024,
                with_state_mb=(peak - shared) / 1024, step_s=dt, how=how)


def bench_memory(Ts, K: int, methods=("fgrad", "fgrad-activity", "bptt", "admm"), tuning: str = "on"):
    rows = []
    for method in methods:
        for T in Ts:
            cmd = [sys.executable, __file__, "--memory-child", method, str(T), str(K)]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT),
                                 env={**os.environ, "ENGINE_BENCH_MALLOC_TUNING": tuning})
            if out.returncode:
                msg = (out.stderr.strip().splitlines() or ["?"])[-1]
                rows.append(dict(method=method, T=T, K=K, error=msg[:160]))
            else:
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    return rows


# ------------------------------------------------------------------ report
def load_rows(path: Path):
    """Forward, fgrad-cost, memory and allocator rows from a log of this script's printed JSON
    lines, and the log's '#' lines (which command printed the rows below them, and how)."""
    fwd, fg, mem, alloc, sources = [], [], [], [], []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            sources.append(line.lstrip("# ").strip())
        elif line.startswith("{"):
            r = json.loads(line)
            (alloc if "allocator" in r else fwd if "width" in r else fg if "problem" in r else mem).append(r)
    return fwd, fg, mem, alloc, sources


def render(fwd, fg, mem, alloc, args, t_total) -> str:
    if not set(args.only.split(",")) & {"forward", "fgrad", "memory", "allocator"}:
        # nothing measured in this process: say where every row came from instead of this run's conditions
        return "\n".join(["# Engine benchmark (issue 6)", "",
                          f"Rendered by `python benchmarks/engine.py {' '.join(sys.argv[1:])}` from the rows "
                          f"printed by these runs (kept in `{args.reuse_rows}`; each line below says how it "
                          f"ran): float32, batch {BATCH}, depth {DEPTH}, LIF β={BETA}, θ=1, subtract reset, "
                          f"medians of 10 after a warm-up (reference fgrad path: 3); "
                          f"{os.cpu_count()} CPUs, torch {torch.__version__}.", ""]
                         + [f"- {source}" for source in args.log_sources] + [""]
                         + _sections(fwd, fg, mem, alloc))
    lines = ["# Engine benchmark (issue 6)", "",
             f"`python benchmarks/engine.py {' '.join(sys.argv[1:])}` — {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs, torch {torch.__version__}, {THREADS} threads, float32, "
             f"batch {BATCH}, depth {DEPTH}, LIF β={BETA}, θ=1, subtract reset, glibc allocator "
             f"{'tuned (spikepde.tune_allocator: buffers reused, not page-faulted afresh)' if args.malloc_tuned else 'at its defaults'} "
             f"in every process (memory children included). Medians of {args.repeats} "
             f"runs after a warm-up (reference fgrad path: {args.ref_repeats}). Load average at start: "
             f"{args.load_start}, at end: {os.getloadavg()[0]:.1f} (shared machine: absolute times are "
             f"noisy, ratios within one section come from the same run). Total {t_total:.0f} s.", ""]
    if args.reuse_rows:
        lines += [f"Sections not in `--only {args.only}` are the rows printed by an earlier run, read "
                  f"from `{args.reuse_rows}` (its header line says which command and conditions).", ""]
    return "\n".join(lines + _sections(fwd, fg, mem, alloc))


def _sections(fwd, fg, mem, alloc=()) -> list[str]:
    lines = []
    if alloc:
        lines += ["## The library's speed without process settings", "",
                  "Each row in a fresh process, both in one run: `library` = only `import spikepde` (what "
                  "a notebook or a Python parameter study gets), `cli` = `spikepde.tune_allocator()` "
                  "first, as the `spikepde` command does. Width 64, depth 3, T = 16, the forward pass "
                  "`SpikingMLP.forward(differentiable=False)` against snnTorch on the same weights "
                  "(outputs of our fast path checked equal to the functional path first). The engine "
                  "keeps its two `[T, B, n]` buffers in the network's workspace between calls.", "",
                  "| process | allocator tuned | ours ms | snnTorch ms | speed-up | workspace MB | equal |",
                  "|---|---|---|---|---|---|---|"]
        for r in alloc:
            lines.append(f"| {r['allocator']} | {'yes' if r['malloc_tuned'] else 'no'} | {r['ours_ms']:.1f} | "
                         f"{r['snntorch_ms']:.1f} | {r['speedup']:.2f}× | {r['workspace_mb']:.1f} | "
                         f"{'yes' if r['equals_functional'] else 'NO'} |")
        lines.append("")
    if fwd:
        lines += ["## Forward pass vs snnTorch, and vs the matmul ceiling", "",
                  "`eager` = `SpikingMLP.forward(differentiable=False)` (layer-major: one matmul per layer on "
                  "[T·B, n], in-place LIF steps; two [T, B, n] buffers kept in the network's workspace "
                  "between calls); `functional` = the pure-function "
                  "pass that the autograd/`torch.func` paths use; `compiled` = the same pass under "
                  "`torch.compile` (`--compile`; inductor, first-call compile time in its own column, "
                  "Δ = max |u_compiled − u_eager| in float32); `step-major` = "
                  "`train.fgrad.weight_perturbation.forward_step_major` (memory independent of T). "
                  "snnTorch: `Leaky(beta, threshold=1, reset_mechanism='subtract', spike_grad=atan)` with the "
                  "same weights, constant input current computed once, rate readout. ‘f64 Δ’ is the max |Δu| "
                  "of the two engines in float64 (outputs checked equal first); f32 columns compare the "
                  "float32 outputs (the engines round `β v − θ s + I` in a different order, so an "
                  "occasional spike flips).", "",
                  "GFLOP/s and ‘/ matmul’ use the faster of eager and compiled.", "",
                  "| width | T | eager ms | functional ms | compiled ms (compile s, Δ) | step-major ms | "
                  "snnTorch ms | speed-up eager | speed-up compiled | f64 Δ | f32 equal | "
                  "GFLOP/s | matmul GFLOP/s | best / matmul |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in fwd:
            lines.append(f"| {r['width']} | {r['T']} | {r['ours_ms']:.1f} | {r['functional_ms']:.1f} | "
                         f"{r['compiled_ms']:.1f} ({r['compile_s']:.0f} s, {r['compiled_max_abs_diff']:.0e}) | "
                         f"{r['step_major_ms']:.1f} | "
                         f"{r['snntorch_ms']:.1f} | {r['speedup']:.2f}× | {r['speedup_compiled']:.2f}× | "
                         f"{r['max_abs_diff_f64']:.1e} | "
                         f"{100 * r['frac_equal_f32']:.2f}% | {r['gflops']:.1f} | {r['matmul_gflops']:.1f} | "
                         f"{r['vs_ceiling']:.2f}× |")
        lines.append("")
    if fg:
        lines += ["## Cost of one fgrad step, in forward passes", "",
                  "Width 64, depth 3, T = 16, global Rademacher directions, the problem's training points "
                  f"({BATCH} interior + conditions). ‘forward’ = one evaluation of the same loss without "
                  "tangents (burgers: with the Taylor-mode jets u, u_x, u_t, u_xx). fast = "
                  "`directional_derivatives_fields` (hand-written K-tangent forward mode); reference = "
                  "`vmap(jvp)` (`directional_derivatives`).", "",
                  "‘activity’ = `activity_forward_gradient` (the default fgrad estimator): K noise draws "
                  "per hidden layer (3K tangent slots here), the replay pass and the exact per-point error "
                  "signals included.", "",
                  "| problem | K | forward ms | fast ms | fast / forward | reference ms | reference / forward | "
                  "fast speed-up | activity ms | activity / forward |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in fg:
            lines.append(f"| {r['problem']} | {r['K']} | {r['forward_ms']:.1f} | {r['fast_ms']:.1f} | "
                         f"{r['fast_fw']:.1f} | {r['ref_ms']:.0f} | {r['ref_fw']:.1f} | {r['speedup']:.1f}× | "
                         f"{r['activity_ms']:.1f} | {r['activity_fw']:.1f} |")
        lines.append("")
    if mem:
        how = next((r.get("how") for r in mem if "how" in r), "?")
        lines += ["## Peak memory of one training step (burgers, width 64, depth 3)", "",
                  f"Resident-set increase during one step over the state after set-up, each in a fresh process "
                  f"(measured as {how}). fgrad: K = {mem[0]['K']} global directions, fast path (step-major, "
                  f"batch-chunked); fgrad-activity: K = {mem[0]['K']} draws per hidden layer (two step-major "
                  "passes, the noise regenerated, nothing stored per step). "
                  "bptt: autograd backward of the same loss (jets included). admm: one `ADMMTrainer.step`. "
                  "Each cell: the step's own increase, then in brackets the increase including the "
                  "method's state (ADMM's [T, B, n] primal and dual variables, allocated at set-up; the "
                  "optimiser's moments) over the set-up shared by all methods (torch, problem, points).", "",
                  "| method | " + " | ".join(f"T={T}" for T in sorted({r['T'] for r in mem})) + " |",
                  "|---|" + "---|" * len({r['T'] for r in mem})]
        for method in dict.fromkeys(r["method"] for r in mem):
            cells = []
            for r in (r for r in mem if r["method"] == method):
                cells.append("error" if "error" in r else
                             f"{r['peak_increase_mb']:.0f} MB ({r.get('with_state_mb', float('nan')):.0f} MB)")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        errors = [r for r in mem if "error" in r]
        for r in errors:
            lines.append(f"\n{r['method']} T={r['T']}: {r['error']}")
        lines.append("")
    return lines


def main():
    global THREADS
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--ref-repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sweep for a smoke test")
    ap.add_argument("--only", default="allocator,forward,fgrad,memory")
    ap.add_argument("--widths", default="64,256")
    ap.add_argument("--Ts", default="8,16,64", help="forward-pass sweep")
    ap.add_argument("--Ks", default="1,4,16,64")
    ap.add_argument("--problems", default="mexican_hat,burgers", help="fgrad-cost problems")
    ap.add_argument("--mem-Ts", default="8,16,32,64,128")
    ap.add_argument("--malloc-tuning", choices=["on", "off"], default="on",
                    help="spikepde.tune_allocator() in the timing process (as the CLI does); "
                         "applies to snnTorch and the matmul ceiling alike")
    ap.add_argument("--output", default="engine.md", help="file name under benchmarks/results/")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile column")
    ap.add_argument("--threads", type=int, default=THREADS,
                    help="torch threads (memory children inherit it); timings in the README use 2")
    ap.add_argument("--reuse-rows", metavar="LOG",
                    help="take the rows of the sections not in --only from a log of printed rows "
                         "(one JSON object per line, as this script prints them), e.g. a quiet-machine "
                         "run of the timing sections; the report says which rows came from where")
    ap.add_argument("--memory-child", nargs=3, metavar=("METHOD", "T", "K"))
    ap.add_argument("--allocator-child", choices=["library", "cli"])
    args = ap.parse_args()
    THREADS = args.threads
    os.environ["ENGINE_BENCH_THREADS"] = str(THREADS)
    if args.allocator_child:
        print(json.dumps(allocator_child(args.allocator_child, args.repeats)))
        return
    if args.memory_child:
        m, T, K = args.memory_child
        print(json.dumps(memory_child(m, int(T), int(K))))
        return
    if args.malloc_tuning == "on":
        from spikepde import tune_allocator
        args.malloc_tuned = tune_allocator()
    else:
        args.malloc_tuned = False
    setup_torch()
    args.load_start = f"{os.getloadavg()[0]:.1f}"
    only = set(args.only.split(","))
    t0 = time.perf_counter()
    ints = lambda text: tuple(int(v) for v in text.split(","))  # noqa: E731
    Ts, widths, Ks, mem_Ts = ints(args.Ts), ints(args.widths), ints(args.Ks), ints(args.mem_Ts)
    if args.quick:
        Ts, widths, Ks, mem_Ts = (8,), (64,), (1, 4), (8, 16)
    fwd = bench_forward(args.repeats, Ts, widths, not args.no_compile) if "forward" in only else []
    fg = bench_fgrad(args.repeats, Ks, args.ref_repeats, tuple(args.problems.split(","))) \
        if "fgrad" in only else []
    mem = bench_memory(mem_Ts, 16, tuning=args.malloc_tuning) if "memory" in only else []
    alloc = bench_allocator(args.repeats) if "allocator" in only else []
    if args.reuse_rows:
        old_fwd, old_fg, old_mem, old_alloc, args.log_sources = load_rows(Path(args.reuse_rows))
        fwd, fg, mem, alloc = fwd or old_fwd, fg or old_fg, mem or old_mem, alloc or old_alloc
    text = render(fwd, fg, mem, alloc, args, time.perf_counter() - t0)
    out = ROOT / "benchmarks" / "results" / args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    if not args.quick:
        out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""Robustness of the problem loader and the command line: fuzzed specs, hostile files, start-up.

Three parts, one table each:

1. **Fuzz campaigns**: the strategies of ``tests/test_fuzz_specs.py`` (mutated catalogue specs,
   hostile formulas in formula fields, random tables, parameter overrides, random and damaged
   files, large structures) for many more examples than the test suite runs, derandomised so
   every run tries the same specs. Each example runs in a forked child (``hostile_specs.guarded``)
   killed after ``HANG_S`` seconds. Outcomes: **valid** (a Problem was built), **rejected**
   (:class:`spikepde.errors.SpecError` naming the file, and the field when one is at fault),
   **failure** (another exception, a SpecError without the file, a hang, or more than
   ``LIMIT_S`` seconds).
2. **Hostile files** (``tests/hostile_specs.py``): each loaded in-process (time after start-up)
   and given to ``spikepde show`` and ``spikepde solve`` in a fresh interpreter (exit code,
   traceback or not, lines on stderr, wall time including start-up).
3. **Start-up**: ``python -c "import torch"`` against ``spikepde --help``, ``spikepde list`` and
   ``spikepde solve no_such_problem``, median of ``--repeat`` runs each, in the same run.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/robustness.py [--examples 1000] [--repeat 5] [--out benchmarks/results/robustness.md]

Run nothing else meanwhile (the start-up ratios are timings). Exit code 1 when any failure,
hang or traceback was seen.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from spikepde.problem import load_problem, problem_from_dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import hostile_specs  # noqa: E402  (shared with the tests)

#: a rejection (or a valid load) must take at most this long after start-up
LIMIT_S = 1.0
#: a child still running after this long is killed and counted as a hang
HANG_S = 30.0


def _fuzz_module():
    """The strategies live with the tests (one definition for both)."""
    spec = importlib.util.spec_from_file_location("fuzz_specs", ROOT / "tests" / "test_fuzz_specs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(stats: Counter, failures: list, label: str, call, file: str) -> None:
    result = hostile_specs.guarded(call, HANG_S)
    if result.kind == "ok":
        outcome = "valid"
    elif result.kind == "spec_error":
        ok = result.file == file and file in result.text and (result.field is None
                                                               or result.field in result.text)
        outcome = "rejected" if ok else "failure"
        if not ok:
            failures.append(f"{label}: SpecError without file/field: {result.text[:200]}")
    else:
        outcome = "failure"
        stats[(label, "hangs")] += result.kind == "hang"
        failures.append(f"{label}: {result.kind}: {result.text[-300:]}")
    if result.seconds > LIMIT_S:
        outcome = "failure"
        failures.append(f"{label}: took {result.seconds:.2f} s")
    stats[(label, outcome)] += 1
    stats[(label, "max_ms")] = max(stats[(label, "max_ms")], int(result.seconds * 1000))


def run(examples: int) -> tuple[Counter, list[str]]:
    """Run every campaign for ``examples`` examples each; return counts and failure messages."""
    fz = _fuzz_module()
    from hypothesis import strategies as st

    stats: Counter = Counter()
    failures: list[str] = []
    config = settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
    workdir = Path(tempfile.mkdtemp(prefix="spikepde-fuzz-"))
    file_spec = workdir / "spec.toml"

    campaigns = {
        "mutated catalogue spec": (fz.mutated_specs(),
                                   lambda spec: problem_from_dict(spec, source=fz.SOURCE)),
        "random table / value": (st.one_of(fz.random_tables, fz._value, fz._weird),
                                 lambda spec: problem_from_dict(spec, source=fz.SOURCE)),
        "hostile formula in a formula field": (
            st.tuples(st.sampled_from(sorted(fz.BASES)),
                      st.sampled_from(["pde.residual", "reference.exact", "conditions.0.value",
                                       "domain.x.0", "parameters"]),
                      st.sampled_from(fz.HOSTILE_FORMULAS)),
            lambda args: problem_from_dict(_plant(fz, *args), source=fz.SOURCE)),
        "parameter override": (
            st.tuples(st.sampled_from(sorted(fz.BASES)),
                      st.dictionaries(st.text(max_size=8), st.one_of(
                          st.floats(), st.integers(), st.sampled_from(fz.HOSTILE_FORMULAS)), max_size=3)),
            lambda args: problem_from_dict(fz.BASES[args[0]], source=fz.SOURCE, **args[1])),
        "large structure": (fz.structured_specs(),
                            lambda spec: problem_from_dict(spec, source=fz.SOURCE)),
    }
    for label, (strategy, call) in campaigns.items():
        _campaign(config, strategy, call, label, stats, failures, fz.SOURCE)

    files = st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode),
                      st.composite(lambda draw: fz._damaged_text(draw))())

    @config
    @given(files)
    def file_campaign(data):
        file_spec.write_bytes(data)
        _record(stats, failures, "random or damaged file", lambda: load_problem(file_spec), str(file_spec))
    file_campaign()
    assert not fz.MARKER.exists(), "a payload was executed"
    return stats, failures


def _campaign(config, strategy, call, label, stats, failures, source) -> None:
    @config
    @given(strategy)
    def campaign(value):
        _record(stats, failures, label, lambda: call(value), source)
    campaign()


def _plant(fz, base: str, where: str, formula: str) -> dict:
    import copy

    spec = copy.deepcopy(fz.BASES[base])
    if where == "parameters":
        spec["parameters"] = {"p": {"default": formula}}
        return spec
    keys = [int(k) if k.isdigit() else k for k in where.split(".")]
    node = spec
    for k in keys[:-1]:
        node = node.setdefault(k, {}) if isinstance(node, dict) else node[k]
    node[keys[-1]] = formula
    return spec


def hostile_files(workdir: Path) -> tuple[list[dict], list[str]]:
    """Every hostile file: loaded in-process (guarded), then through ``show`` and ``solve``."""
    rows, failures = [], []
    for case in hostile_specs.cases(workdir / "hostile"):
        loaded = hostile_specs.guarded(lambda: load_problem(case.path), HANG_S)
        row = {"case": case.label, "load_ms": loaded.seconds * 1000, "load": loaded.kind}
        expected = "ok" if case.solvable else "spec_error"
        if loaded.kind != expected or loaded.seconds > LIMIT_S:
            failures.append(f"hostile '{case.label}': load ended in {loaded.kind} after "
                            f"{loaded.seconds:.2f} s: {loaded.text[-200:]}")
        for command in ("show", "solve"):
            extra = (["--steps", "2", "--interior-points", "64", "--quiet", "--out",
                      str(workdir / "run")] if case.solvable and command == "solve" else [])
            run = _cli([command, str(case.path), *extra], timeout=300)
            row[command] = run
            bad = (run["traceback"] or run["exit"] not in ((0, 2) if case.solvable else (2,))
                   or (not case.solvable and run["lines"] != 1))
            if bad:
                failures.append(f"hostile '{case.label}': spikepde {command} exit {run['exit']}, "
                                f"{run['lines']} lines, traceback {run['traceback']}")
        rows.append(row)
    hostile_specs.remove(hostile_specs.cases(workdir / "hostile"))
    return rows, failures


def _cli(args: list[str], timeout: float = 120) -> dict:
    """One ``spikepde`` command in a fresh interpreter: exit code, stderr lines, traceback, time."""
    start = time.perf_counter()
    try:
        done = subprocess.run([str(_script()), *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"exit": "hang", "lines": 0, "traceback": False, "seconds": timeout}
    return {"exit": done.returncode, "lines": len(done.stderr.strip().splitlines()),
            "traceback": "Traceback" in done.stderr, "seconds": time.perf_counter() - start}


def _script() -> Path:
    """The ``spikepde`` console script of this interpreter's environment."""
    return Path(sys.executable).parent / "spikepde"


def startup(repeat: int) -> list[dict]:
    """Median wall time of the cheap commands against importing torch, interleaved runs."""
    commands = {"python -c \"import torch\"": [sys.executable, "-c", "import torch"],
                "spikepde --help": [str(_script()), "--help"],
                "spikepde list": [str(_script()), "list"],
                "spikepde solve no_such_problem": [str(_script()), "solve", "no_such_problem"],
                "spikepde show burgers": [str(_script()), "show", "burgers"]}
    times = {name: [] for name in commands}
    for _ in range(repeat):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, timeout=300)
            times[name].append(time.perf_counter() - start)
    torch_s = statistics.median(times['python -c "import torch"'])
    return [{"command": name, "median_s": statistics.median(ts), "min_s": min(ts),
             "ratio": statistics.median(ts) / torch_s} for name, ts in times.items()]


def report(stats: Counter, failures: list[str], examples: int, seconds: float,
           hostile: list[dict], starts: list[dict], repeat: int) -> str:
    labels = sorted({label for label, _ in stats})
    lines = ["# Robustness: fuzzed problem specs, hostile files, start-up", "",
             "Generated by `OMP_NUM_THREADS=1 python benchmarks/robustness.py "
             f"--examples {examples} --repeat {repeat}` on the 2-core machine with nothing else "
             "running.", "",
             "## Fuzz campaigns", "",
             "Hypothesis, derandomised (the same specs every run), strategies from "
             "`tests/test_fuzz_specs.py`; every example in a forked child killed after "
             f"{HANG_S:g} s; times include the fork (about 15 ms).", "",
             "| campaign | tried | valid | rejected cleanly (SpecError with file/field) | failures | hangs | slowest (ms) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    total = Counter()
    for label in labels:
        row = {k: stats[(label, k)] for k in ("valid", "rejected", "failure", "hangs")}
        tried = row["valid"] + row["rejected"] + row["failure"]
        total.update(row)
        lines.append(f"| {label} | {tried} | {row['valid']} | {row['rejected']} | {row['failure']} | "
                     f"{row['hangs']} | {stats[(label, 'max_ms')]} |")
    tried = total["valid"] + total["rejected"] + total["failure"]
    slowest = max(stats[(label, "max_ms")] for label in labels)
    lines.append(f"| **all** | **{tried}** | {total['valid']} | **{total['rejected']}** | "
                 f"**{total['failure']}** | **{total['hangs']}** | {slowest} |")
    lines += ["", f"{tried} specs tried in {seconds:.0f} s (all three parts); {total['rejected']} "
              f"rejected with a SpecError naming the file (and field), {total['valid']} happened to "
              f"be valid, {total['failure']} failures (another exception type, no file in the "
              f"message, a hang, or over {LIMIT_S:g} s). No payload was executed (marker file "
              "never created).", "",
              "## Hostile files", "",
              "`tests/hostile_specs.py`: load = `load_problem` in-process after start-up (forked "
              "child, fork included); show / solve = the `spikepde` command in a fresh "
              "interpreter (exit code, lines on stderr, seconds including start-up). The last "
              "file is valid: it loads, and `solve --steps 2` must end without a traceback.", "",
              "| file | load (ms) | load ends in | show: exit, lines, s | solve: exit, lines, s | traceback |",
              "|---|---:|---|---|---|---|"]
    for row in hostile:
        cells = [f"{row[c]['exit']}, {row[c]['lines']}, {row[c]['seconds']:.2f}" for c in ("show", "solve")]
        traceback = "yes" if row["show"]["traceback"] or row["solve"]["traceback"] else "no"
        lines.append(f"| {row['case']} | {row['load_ms']:.0f} | {row['load']} | {cells[0]} | "
                     f"{cells[1]} | {traceback} |")
    refused = [r for r in hostile if r["load"] == "spec_error"]
    lines += ["", f"{len(refused)} of {len(hostile)} files refused at load, slowest "
              f"{max(r['load_ms'] for r in refused):.0f} ms after start-up; slowest command "
              f"answer {max(r[c]['seconds'] for r in refused for c in ('show', 'solve')):.2f} s "
              "including start-up.", "",
              "## Start-up", "",
              f"Median (and fastest) of {repeat} interleaved runs; ratio = median / median of "
              "`python -c \"import torch\"` in this run.", "",
              "| command | median (s) | fastest (s) | ratio to importing torch |",
              "|---|---:|---:|---:|"]
    for row in starts:
        lines.append(f"| `{row['command']}` | {row['median_s']:.3f} | {row['min_s']:.3f} | "
                     f"{row['ratio']:.3f} |")
    if failures:
        lines += ["", "## Failures", ""] + [f"* {f}" for f in failures[:50]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=1000, help="examples per campaign (default 1000)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per start-up command (default 5)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "robustness.md"))
    args = ap.parse_args(argv)
    start = time.perf_counter()
    stats, failures = run(args.examples)
    workdir = Path(tempfile.mkdtemp(prefix="spikepde-hostile-"))
    hostile, hostile_failures = hostile_files(workdir)
    starts = startup(args.repeat)
    failures += hostile_failures
    text = report(stats, failures, args.examples, time.perf_counter() - start, hostile, starts,
                  args.repeat)
    from spikepde.runs import atomic_write_text

    atomic_write_text(args.out, text)
    print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

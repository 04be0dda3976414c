"""Fuzz campaign over problem specs: thousands of random and hostile specs, fixed seed.

Runs the strategies of ``tests/test_fuzz_specs.py`` (mutated catalogue specs, hostile formulas in
formula fields, random tables, parameter overrides, random and damaged files) for many more
examples than the test suite does, derandomised so that every run tries the same specs, and
classifies each outcome:

* **valid**: a Problem was built (a mutation that happens to be legal);
* **rejected**: :class:`spikepde.errors.SpecError` naming the file (and the field when one is at fault);
* **failure**: any other exception, a SpecError without the file, or more than ``LIMIT_S`` seconds.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/robustness.py [--examples 1000] [--out benchmarks/results/robustness.md]

Exit code 1 when any failure was seen.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from spikepde.errors import SpecError
from spikepde.problem import load_problem, problem_from_dict

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S = 2.0


def _fuzz_module():
    """The strategies live with the tests (one definition for both)."""
    spec = importlib.util.spec_from_file_location("fuzz_specs", ROOT / "tests" / "test_fuzz_specs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(stats: Counter, failures: list, label: str, call, file: str) -> None:
    start = time.perf_counter()
    try:
        call()
        outcome = "valid"
    except SpecError as exc:
        ok = exc.file == file and file in str(exc) and (exc.field is None or exc.field in str(exc))
        outcome = "rejected" if ok else "failure"
        if not ok:
            failures.append(f"{label}: SpecError without file/field: {exc}")
    except Exception as exc:  # noqa: BLE001 - the point is to catch whatever escapes
        outcome = "failure"
        failures.append(f"{label}: {exc.__class__.__name__}: {str(exc)[:200]}")
    elapsed = time.perf_counter() - start
    if elapsed > LIMIT_S:
        outcome = "failure"
        failures.append(f"{label}: took {elapsed:.2f} s")
    stats[(label, outcome)] += 1
    stats[(label, "max_ms")] = max(stats[(label, "max_ms")], int(elapsed * 1000))


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


def report(stats: Counter, failures: list[str], examples: int, seconds: float) -> str:
    labels = sorted({label for label, _ in stats})
    lines = ["# Robustness: fuzzed problem specs", "",
             "Generated by `OMP_NUM_THREADS=1 python benchmarks/robustness.py "
             f"--examples {examples}` (hypothesis, derandomised: the same specs every run; "
             "strategies from `tests/test_fuzz_specs.py`).", "",
             "| campaign | tried | valid | rejected cleanly (SpecError with file/field) | failures | slowest (ms) |",
             "|---|---:|---:|---:|---:|---:|"]
    total = Counter()
    for label in labels:
        row = {k: stats[(label, k)] for k in ("valid", "rejected", "failure")}
        tried = sum(row.values())
        total.update(row)
        lines.append(f"| {label} | {tried} | {row['valid']} | {row['rejected']} | {row['failure']} | "
                     f"{stats[(label, 'max_ms')]} |")
    tried = sum(total.values())
    lines.append(f"| **all** | **{tried}** | {total['valid']} | **{total['rejected']}** | "
                 f"**{total['failure']}** | |")
    lines += ["", f"{tried} specs tried in {seconds:.0f} s; {total['rejected']} rejected with a "
              f"SpecError naming the file (and field), {total['valid']} happened to be valid, "
              f"{total['failure']} failures (another exception type, no file in the message, or "
              f"over {LIMIT_S:g} s). No payload was executed (marker file never created)."]
    if failures:
        lines += ["", "## Failures", ""] + [f"* {f}" for f in failures[:50]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=1000, help="examples per campaign (default 1000)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "robustness.md"))
    args = ap.parse_args(argv)
    start = time.perf_counter()
    stats, failures = run(args.examples)
    text = report(stats, failures, args.examples, time.perf_counter() - start)
    from spikepde.runs import atomic_write_text

    atomic_write_text(args.out, text)
    print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Behaviour does not move: short seeded runs give the metrics recorded in ``tests/golden/``.

The golden files were written by ``python tests/golden.py --write`` before the trainers were
moved into their own rooms (issue 15); every solve method on burgers, poisson1d and heat1d and
every classification method on digits. On the machine that wrote them the numbers must be equal
(float32 roundings are identical there); on another CPU or library version, see
``tests/golden.py`` for the looser comparison.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import golden  # noqa: E402

# where the CPU kernels differ, floats may drift by spike flips but not by a changed default
LOOSE_RTOL = 0.05
# ... and quantities at float32 round-off (ADMM's primal residuals near 1e-8) by any factor
LOOSE_ATOL = 1e-6
# per-sample tallies: one flipped spike moves a test digit between classes (a count by one, a
# class's accuracy by 1/37); the aggregate accuracy is still compared to LOOSE_RTOL
LOOSE_SKIP = ("confusion_matrix", "per_class_accuracy")


def _compare(expected, actual, exact: bool, path: str = "") -> list[str]:
    """Differences between two JSON trees, as 'path: expected != actual' lines."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for k in sorted(set(expected) | set(actual)):
            if not exact and k in LOOSE_SKIP:
                continue
            if k not in actual or k not in expected:
                out.append(f"{path}.{k}: {'missing' if k not in actual else 'unexpected'}")
            else:
                out += _compare(expected[k], actual[k], exact, f"{path}.{k}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: length {len(expected)} != {len(actual)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in _compare(e, a, exact, f"{path}[{i}]")]
    if isinstance(expected, float) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        if math.isnan(expected) and math.isnan(actual):
            return []
        same = expected == actual if exact else math.isclose(expected, actual, rel_tol=LOOSE_RTOL, abs_tol=LOOSE_ATOL)
        return [] if same else [f"{path}: {expected!r} != {actual!r}"]
    return [] if expected == actual else [f"{path}: {expected!r} != {actual!r}"]


@pytest.mark.parametrize("name", golden.case_names())
def test_short_runs_reproduce_the_recorded_metrics(name, tmp_path):
    path = golden.GOLDEN_DIR / f"{name}.json"
    record = json.loads(path.read_text())
    exact = record["machine"] == golden.fingerprint()
    result = golden.run_case(name, tmp_path / "run")
    diffs = _compare({"metrics": record["metrics"], "history": record["history"]}, result, exact)
    assert not diffs, f"{name} ({'exact' if exact else 'loose'} comparison): " + "; ".join(diffs[:10])

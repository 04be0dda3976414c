"""Hostile problem files through the ``spikepde`` command: every one answered with exit code 2
and one line on stderr — no traceback, no hang — by ``show`` and by ``solve`` alike.

The files are built by ``tests/hostile_specs.py`` (one per class: too many variables,
definitions, parameters, conditions, boxes, residuals or literature entries; point counts and
reference grids of 10^9 and more; definitions that double in size; an unknown reference solver;
a 3 GB file). Each command runs in its own interpreter with a wall-clock limit.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from hostile_specs import cases
from spikepde.train.weak_form import MAX_EXPANDED_TERMS, expanded_terms, split_residual

LIMIT_S = 60


def _spikepde(*args, timeout=LIMIT_S):
    try:
        return subprocess.run([sys.executable, "-m", "spikepde.cli", *map(str, args)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"spikepde {' '.join(map(str, args))}: no answer within {timeout} s")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return cases(tmp_path_factory.mktemp("hostile"))


def test_every_hostile_file_is_refused_in_one_line_by_show_and_solve(hostile):
    refused = [c for c in hostile if not c.solvable]
    assert len(refused) >= 15
    # all files of one command at once: each run is mostly interpreter start-up
    for command in ("show", "solve"):
        runs = [(c, subprocess.Popen([sys.executable, "-m", "spikepde.cli", command, str(c.path)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
                for c in refused]
        for case, proc in runs:
            try:
                _, err = proc.communicate(timeout=LIMIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                pytest.fail(f"spikepde {command} on '{case.label}': no answer within {LIMIT_S} s")
            where = f"spikepde {command} on '{case.label}'"
            assert proc.returncode == 2, f"{where}: exit code {proc.returncode}: {err[-1500:]}"
            assert "Traceback" not in err, f"{where}: {err[-1500:]}"
            lines = err.strip().splitlines()
            assert len(lines) == 1 and str(case.path) in lines[0], f"{where}: {err[-500:]}"


def test_a_residual_that_expands_to_a_million_terms_solves_in_the_strong_form(hostile, tmp_path):
    case = next(c for c in hostile if c.solvable)
    done = _spikepde("solve", case.path, "--steps", "2", "--interior-points", "64", "--quiet",
                     "--out", tmp_path / "run", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "method: fgrad" in done.stdout     # lsq declined: its weak form cannot take the term


def test_expanded_terms_bounds_sympy_expand_without_expanding():
    import sympy

    x, t, a = sympy.symbols("x t a")
    u = sympy.Function("u")(x, t)
    small = [(u + x) ** 3 * (x + 1) ** 2 + sympy.sin((x + u) ** 2), x / (u + x + 1) ** 2 + (a + x) * (u + t),
             sympy.sqrt(x + u) * (x + 1), u.diff(t) + u * u.diff(x) - u.diff(x, 2)]
    for expr in small:
        assert expanded_terms(expr, 10**6) >= len(sympy.Add.make_args(sympy.expand(expr)))
    # (u + x + t + a + 1)**64 has C(68, 4) = 814385 terms: counted, never built
    assert expanded_terms((u + x + t + a + 1) ** 64, 10**9) == 814385
    with pytest.raises(ValueError, match=f"more than {MAX_EXPANDED_TERMS} terms"):
        split_residual(u.diff(t) + (u + x + t + a + 1) ** 64, u, [x, t])
    # the flux coefficient is integrated as a polynomial: u**2 u_x = (u**3/3)_x
    terms = split_residual(u.diff(t) + u ** 2 * u.diff(x), u, [x, t])
    assert terms.fluxes == [(0, u ** 3 / 3)]
    with pytest.raises(ValueError, match="not a polynomial"):
        split_residual(u.diff(t) + sympy.exp(u) * u.diff(x), u, [x, t])

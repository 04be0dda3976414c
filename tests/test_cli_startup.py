"""The command line starts fast: its cheap answers load none of the heavy libraries.

Timing is measured in benchmarks/robustness.py (a timed unit test on 2 shared cores would be
noise); here each answer runs in a fresh interpreter and reports which modules it loaded.
"""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "scipy", "matplotlib", "sympy")

_PROBE = """
import contextlib, io, json, sys
args = json.loads(sys.argv[1])
out = io.StringIO()
code = None
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    try:
        import spikepde.cli
        code = spikepde.cli.main(args) if args is not None else 0
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "loaded": sorted(m for m in %r if m in sys.modules),
                  "text": out.getvalue()[-400:]}))
""" % (HEAVY,)


def _probe(args):
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library():
    assert _probe(None)["loaded"] == []


def test_help_list_and_unknown_problems_load_no_heavy_library():
    for args, code in ((["--help"], 0), (["list"], 0), (["sweep", "--help"], 0),
                       (["solve", "no_such_problem"], 2), (["show", "no_such_problem"], 2),
                       (["solve", "missing/file.toml"], 2), (["solve", "burgers", "--T", "x"], 2)):
        result = _probe(args)
        assert result["code"] == code, (args, result)
        assert result["loaded"] == [], (args, result)
    assert "wave1d" in _probe(["list"])["text"]
    # 'solve --help' lists the surrogates and estimators, whose registries import torch
    assert _probe(["solve", "--help"])["code"] == 0


def test_show_loads_sympy_but_not_torch_scipy_or_matplotlib():
    result = _probe(["show", "burgers"])
    assert result["code"] == 0 and "Burgers" in result["text"]
    assert result["loaded"] == ["sympy"]

"""Reliability: checkpoints never run code, divergence stops cleanly, the CLI answers bad input
with one line and exit code 2, ``--quiet``/``--json`` behave for scripts, and the package has no
unsafe call (eval, pickle) anywhere."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch

from spikepde.cli import main
from spikepde.errors import CheckpointError
from spikepde.runs import load_checkpoint, save_checkpoint

PACKAGE = Path(__file__).resolve().parents[1] / "spikepde"
TINY = ["--width", "8", "--T", "3", "--interior-points", "32"]


class _Payload:
    """Unpickling this object would create ``marker`` (the classic pickle exploit)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


# --------------------------------------------------------------------------- checkpoints
def test_checkpoint_with_a_pickled_object_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    torch.save({"x": _Payload(marker), "step": 3}, path)   # what a hostile checkpoint would hold
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="cannot load checkpoint") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert not marker.exists(), "loading the checkpoint executed code"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_checkpoint_is_a_checkpoint_error(tmp_path, damage):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"step": 1, "params": {"w": torch.ones(64, 64)}})
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x80\x04junk" * 10,
                      "empty": b""}[damage])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_resume_refuses_a_hostile_checkpoint_in_a_run_directory(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"problem": "burgers", "method": "fgrad", "steps": 5}))
    marker = tmp_path / "pwned"
    torch.save({"trainer": _Payload(marker), "step": 1, "history": {}, "elapsed": 0.0},
               run / "checkpoint.pt")
    assert main(["solve", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "cannot load checkpoint" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


def test_atomic_writes_keep_the_usual_file_mode(tmp_path):
    from spikepde.runs import atomic_write_text

    path = atomic_write_text(tmp_path / "a.json", "{}")
    plain = tmp_path / "b.json"
    plain.write_text("{}")
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    assert not list(tmp_path.glob(".*.tmp"))


# --------------------------------------------------------------------------- divergence
def test_divergence_on_the_command_line_is_one_line_exit_2_and_keeps_a_finite_checkpoint(
        tmp_path, capsys, monkeypatch):
    from spikepde.train.bptt import BPTTTrainer

    original = BPTTTrainer.step
    calls = {"n": 0}

    def exploding(self):
        calls["n"] += 1
        loss = original(self)
        return float("inf") if calls["n"] >= 4 else loss
    monkeypatch.setattr(BPTTTrainer, "step", exploding)
    out = tmp_path / "run"
    code = main(["solve", "poisson1d", "--method", "bptt", "--steps", "20", "--checkpoint-every", "3",
                 "--out", str(out), "--quiet", *TINY])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for text in ("diverged at step 4", "--lr", "--T", "step 3", str(out / "checkpoint.pt")):
        assert text in err, text
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["step"] == 3
    assert all(torch.isfinite(v).all() for v in state["trainer"]["params"].values())


# --------------------------------------------------------------------------- CLI hygiene
@pytest.mark.parametrize("command", ["list", "show", "solve", "classify", "sweep"])
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"spikepde {command}" in out.split("examples:")[1]


@pytest.mark.parametrize("argv, message", [
    (["frobnicate"], "invalid choice"),
    (["list", "--bogus"], "unrecognized arguments"),
    (["show"], "required"),
    (["show", "burgers", "--param", "nu"], "NAME=VALUE"),
    (["show", "burgers", "--param", "zz=1"], "zz"),
    (["solve", "burgers", "--method", "magic"], "invalid choice"),
    (["solve", "burgers", "--steps", "0"], "steps must be >= 1"),
    (["solve", "burgers", "--method", "fgrad", "--K", "-2"], "K must be >= 1"),
    (["solve", "burgers", "--K", "4"], "--K is for --method fgrad"),     # auto picks lsq here
    (["solve", "burgers", "--lr", "nan"], "lr must be a positive"),
    (["solve", "burgers", "--checkpoint-every", "0"], "checkpoint_every must be >= 1"),
    (["solve", "burgers", "--interior-points", "0"], r"interior_points must lie in \[1, 1000000\]"),
    (["solve", "burgers", "--interior-points", "1000000000"], "of training memory"),
    (["solve", "burgers", "--T", "1.5"], "invalid int value"),
    (["solve", "burgers", "--param", "nu=-1"], "nu"),
    (["solve", "burgers", "--param", "nu=__import__('os')"], "nu"),
    (["solve", "no_such_problem"], "unknown problem"),
    (["solve"], "give a problem"),
    (["classify", "--epochs", "many"], "invalid int value"),
    (["classify", "--method", "magic"], "invalid choice"),
    (["sweep", "burgers"], "required: --out"),
    (["sweep", "burgers", "--out", "x", "--seeds", "two"], "invalid int value"),
])
def test_bad_flags_and_values_are_one_line_errors_with_exit_code_2(argv, message, capsys, tmp_path,
                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)   # a solve that wrongly started would write here, not in the repo
    try:
        code = main(argv)
    except SystemExit as exc:     # argparse's own errors
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert re.search(message, err), err
    assert captured.out == ""
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("metrics.json"))


def test_json_prints_only_json_on_stdout_and_quiet_silences_progress(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)   # a terminal: bars on
    argv = ["solve", "heat1d", "--method", "fgrad", "--steps", "4", "--K", "2", *TINY]
    assert main(argv + ["--out", str(tmp_path / "a"), "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)               # stdout is exactly one JSON document
    assert data["metrics"]["steps"] == 4 and data["paths"]["metrics"].endswith("metrics.json")
    assert captured.err == ""                     # --quiet: no progress bar
    assert main(argv + ["--out", str(tmp_path / "b")]) == 0
    captured = capsys.readouterr()
    assert "fgrad" in captured.err                # the progress bar, on stderr only
    assert "relative_l2" in captured.out and not captured.out.lstrip().startswith("{")


# --------------------------------------------------------------------------- no unsafe calls
UNSAFE = [
    (r"\beval\(", "eval"), (r"\bexec\(", "exec"), (r"sympify\(", "sympify evaluates Python"),
    (r"parse_expr\(", "sympy's parse_expr evaluates Python"), (r"pickle\.loads?\(", "pickle"),
    (r"allow_pickle\s*=\s*True", "numpy pickles"), (r"weights_only\s*=\s*False", "torch pickles"),
    (r"torch\.load\((?![^)]*weights_only=True)", "torch.load without weights_only=True"),
    (r"np\.load\((?![^)]*allow_pickle=False)", "np.load without allow_pickle=False"),
    (r"yaml\.load\(", "yaml.load"), (r"subprocess|os\.system", "shell"),
]


def test_the_package_never_evaluates_or_unpickles():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#")[0]
            if code.strip().startswith(('"', "'", "*", ">>>")):
                continue      # docstring text
            for pattern, why in UNSAFE:
                if re.search(pattern, code) and "literal_eval" not in code:
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {why}: {line.strip()}")
    assert not found, "\n".join(found)

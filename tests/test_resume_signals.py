"""Real signals to a real ``spikepde solve`` subprocess, then ``spikepde solve --resume``.

The interrupted-and-resumed run must end bit for bit where an uninterrupted run with the same
seed ends: same metrics (wall time aside), same parameters, same Adam moments, same state of the
one ``torch.Generator`` that draws the perturbation directions. SIGINT and SIGTERM get the chance
to write a checkpoint; SIGKILL does not, so that run resumes from its last periodic checkpoint and
its directory must hold no truncated file.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import spikepde
from spikepde.cli import main
from spikepde.runs import load_checkpoint

STEPS = 150
EVERY = 5
FLAGS = ["burgers", "--method", "fgrad", "--steps", str(STEPS), "--width", "8", "--T", "4",
         "--interior-points", "64", "--K", "4", "--seed", "7", "--checkpoint-every", str(EVERY)]
OPTIONS = dict(width=8, T=4, interior_points=64, K=4, checkpoint_every=EVERY)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference: the same run without interruption (in-process, same settings as FLAGS)."""
    out = tmp_path_factory.mktemp("full") / "run"
    spikepde.solve("burgers", method="fgrad", steps=STEPS, seed=7, out=out, quiet=True, **OPTIONS)
    return out


def _start(out: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "spikepde.cli", "solve", *FLAGS, "--out", str(out),
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def _wait_for_checkpoint(proc: subprocess.Popen, out: Path, min_step: int, timeout: float = 120) -> int:
    """Poll until the run has saved a periodic checkpoint at ``min_step`` or later."""
    deadline = time.monotonic() + timeout
    path = out / "checkpoint.pt"
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run ended early: {proc.communicate()}"
        if path.exists():
            step = load_checkpoint(path)["step"]   # atomic writes: never a half-written file
            if step >= min_step:
                return step
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("no checkpoint appeared in time")


def _metrics(out: Path) -> dict:
    m = json.loads((out / "metrics.json").read_text())
    m.pop("wall_time_s")
    return m


def _assert_same_final_state(a: Path, b: Path) -> None:
    ma, mb = _metrics(a), _metrics(b)
    # The error of the *untrained* model is evaluated once, by the first process of each run;
    # two different processes may round a float32 matmul differently in the last bit (MKL picks
    # kernels by memory alignment), so it is compared to 1e-12 — everything the training
    # produced (parameters, optimizer state, RNG, final metrics) must be bit-identical.
    assert ma.pop("initial_relative_l2") == pytest.approx(mb.pop("initial_relative_l2"), rel=1e-12)
    assert ma == mb
    sa, sb = load_checkpoint(a / "checkpoint.pt"), load_checkpoint(b / "checkpoint.pt")
    assert sa["step"] == sb["step"] == STEPS
    for name, value in sa["trainer"]["params"].items():
        assert torch.equal(value, sb["trainer"]["params"][name]), name
    # Adam's moments and step counts, and the RNG that draws the perturbation directions
    oa, ob = sa["trainer"]["optimizer"]["state"], sb["trainer"]["optimizer"]["state"]
    assert oa.keys() == ob.keys()
    for k in oa:
        for field in oa[k]:
            assert torch.equal(oa[k][field], ob[k][field]), (k, field)
    assert torch.equal(sa["trainer"]["generator"], sb["trainer"]["generator"])
    ha, hb = (json.loads((d / "history.json").read_text()) for d in (a, b))
    # the untrained model's error: see above (one evaluation per process, 1e-12)
    assert ha.pop("initial_relative_l2") == pytest.approx(hb.pop("initial_relative_l2"), rel=1e-12)
    for h in (ha, hb):
        h.pop("time")
    assert ha == hb


def _resume(out: Path, capsys) -> None:
    assert main(["solve", "--resume", str(out), "--quiet", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)    # --json: nothing but the JSON on stdout
    assert printed["metrics"]["steps"] == STEPS


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_checkpoints_and_resume_matches_uninterrupted_run(signum, tmp_path, uninterrupted, capsys):
    out = tmp_path / "run"
    proc = _start(out)
    seen = _wait_for_checkpoint(proc, out, min_step=EVERY)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"spikepde solve --resume {out}" in lines[0], err
    state = load_checkpoint(out / "checkpoint.pt")
    # the signal handler saved the step it stopped at (after the periodic one we saw)
    assert seen <= state["step"] < STEPS
    assert f"step {state['step']}" in lines[0]
    assert not (out / "metrics.json").exists()
    _resume(out, capsys)
    _assert_same_final_state(out, uninterrupted)


def test_sigkill_resumes_from_last_periodic_checkpoint_and_nothing_is_truncated(tmp_path, uninterrupted,
                                                                                 capsys):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_checkpoint(proc, out, min_step=2 * EVERY)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    # whatever the kill interrupted, every finished file is whole
    for path in out.iterdir():
        if path.name.endswith(".tmp"):
            continue   # a writer's temporary file (removed by --resume); never read as output
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".pt":
            state = load_checkpoint(path)
    assert state["step"] % EVERY == 0 and 2 * EVERY <= state["step"] < STEPS
    _resume(out, capsys)
    _assert_same_final_state(out, uninterrupted)
    assert not list(out.glob(".*.tmp"))


def test_resume_of_a_missing_or_foreign_directory_is_a_one_line_error(tmp_path, capsys):
    assert main(["solve", "--resume", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no such run directory" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "nope").exists()
    (tmp_path / "empty").mkdir()
    assert main(["solve", "--resume", str(tmp_path / "empty")]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{ truncated")
    assert main(["solve", "--resume", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["solve", "--resume", str(bad), "--steps", "5"]) == 2
    assert "drop --steps" in capsys.readouterr().err

"""End-to-end solves: every catalogue entry × every method on a tiny budget, determinism,
resume after an interruption, divergence handling."""
import json
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

import spikepde
import spikepde.problem.spec
from spikepde.errors import DivergenceError
from spikepde.runs import load_checkpoint

TINY = dict(interior_points=96, width=16, depth=2, T=4)
ANN_TINY = dict(interior_points=96, lbfgs_steps=50)

# Settings that differ from the tiny defaults for a few (problem, method) pairs, each with the
# reason; every pair must lower the relative L2 error below its value at initialisation.
TINY_OVERRIDES = {
    # Allen-Cahn: with the output transform u = x² cos(πx) + t(1 - x²) N the residual first falls
    # towards u ≡ ±1 (both stable states make it vanish away from t = 0) and the error rises
    # (0.67 -> 0.71 spiking, 0.68 -> 1.12 ann at this budget): the known PINN failure that causal
    # weighting or time marching address. Trained with soft constraints the error falls.
    **{("allen_cahn", m): dict(hard_constraints=False) for m in ("fgrad", "bptt", "ann")},
    # L-shape, spiking: the first steps shrink the random initial output towards u = 0
    # (error 0.88 -> 1.0); building the 0.15-high bump needs a larger network and more steps
    # (measured: width 16, T 4 still at 0.75-1.1 after 300 steps).
    **{("poisson_lshape", m): dict(width=32, T=8, weak_tests=12, steps=300) for m in ("fgrad", "bptt")},
    # L-shape, fgrad: without loss normalisation the source term's residual (~1) outweighs the
    # boundary term and the estimate's noise moves the field away from the bump: measured on an
    # AVX-512 machine, 0.70 -> 1.03 (seed 0), 1.49 -> 1.19 (seed 1); with each term divided by
    # its initial value 0.70 -> 0.36, 1.49 -> 0.40, 1.36 -> 0.51 (seeds 0, 1, 2).
    ("poisson_lshape", "fgrad"): dict(width=32, T=8, weak_tests=12, steps=300, normalize_loss=True),
    # Helmholtz, ann: through the output transform u = x(1-x)y(1-y)·N the network must grow N to
    # ~50 and 60 steps first raise the error (1.00 -> 2.06; Adam alone 300 steps 1.16; 2000 steps
    # reach 2.6e-4, benchmarks/results/catalogue.md); trained with soft constraints, whose
    # residual is ~8e3 at the start, the terms normalised (unnormalised, L-BFGS overshoots).
    ("helmholtz2d", "ann"): dict(normalize_loss=True, hard_constraints=False),
    # Wave, ann: L-BFGS lowers the residual by moving away from the solution (1.72 -> 2.50): Adam only.
    ("wave1d", "ann"): dict(lbfgs_steps=0),
}


def _tiny(method):
    return ANN_TINY if method == "ann" else TINY


@pytest.mark.parametrize("name", spikepde.list_problems())
@pytest.mark.parametrize("method", ["fgrad", "bptt", "ann"])
def test_every_entry_and_method_reduces_the_error(name, method, tmp_path):
    opts = dict(_tiny(method), steps={"fgrad": 40, "bptt": 40, "ann": 60}[method],
                lr=None if method == "ann" else 1e-2)   # ann: its default 1e-3 (large residuals overshoot)
    opts.update(TINY_OVERRIDES.get((name, method), {}))
    r = spikepde.solve(name, method=method, seed=0, out=tmp_path / "run", quiet=True, log_every=10, **opts)
    m = r.metrics
    assert np.isfinite(m["relative_l2"])
    losses = r.history["loss"]
    assert losses[-1] < losses[0], (losses[0], losses[-1])
    assert m["relative_l2"] < m["initial_relative_l2"], (m["relative_l2"], m["initial_relative_l2"])
    for f in ("config.json", "metrics.json", "history.json", "checkpoint.pt", "fields.png", "loss.png"):
        assert (tmp_path / "run" / f).stat().st_size > 0, f
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["step"] == opts["steps"]
    _check_field_file(tmp_path / "run" / "field.npz", r)


def _check_field_file(path, r):
    """field.npz holds the grid and the three fields; its numbers give the reported error."""
    with np.load(path, allow_pickle=False) as data:
        names = [str(n) for n in data["axis_names"]]
        assert names == r.reference.names
        shape = tuple(len(data[n]) for n in names)
        assert data["predicted"].shape == data["reference"].shape == data["error"].shape == shape
        inside = np.isfinite(data["reference"])
        err, ref = data["error"][inside], data["reference"][inside]
        assert np.linalg.norm(err) / np.linalg.norm(ref) == pytest.approx(r.metrics["relative_l2"], rel=1e-9)
        np.testing.assert_array_equal(data["predicted"], r.field_arrays()["predicted"])
        # the stored prediction is the field itself, evaluated at the grid's points
        points = r.reference.points()[::97]
        np.testing.assert_allclose(data["predicted"].reshape(-1)[::97][inside.reshape(-1)[::97]],
                                   r.field(points)[inside.reshape(-1)[::97]], rtol=1e-5, atol=1e-6)


def test_surrogate_is_callable_on_new_points(tmp_path):
    r = spikepde.solve("heat1d", method="bptt", steps=5, seed=0, out=None, quiet=True, **TINY)
    u = r.surrogate(np.array([[0.5, 0.1], [0.25, 0.9]]))
    assert u.shape == (2,) and np.all(np.isfinite(u))
    with pytest.raises(ValueError, match="2 columns"):
        r.surrogate(np.zeros((3, 3)))
    assert r.paths == {}


@pytest.mark.parametrize("method", ["fgrad", "bptt", "ann", "admm"])
def test_same_seed_same_metrics(method, tmp_path):
    if method == "admm":
        pytest.importorskip("spikepde.train.admm")
    steps = 3 if method == "admm" else 6    # an ADMM iteration is a full sweep of block solves
    runs = [spikepde.solve("burgers", method=method, steps=steps, seed=3, out=tmp_path / str(i),
                           quiet=True, **_tiny(method)) for i in range(2)]
    a, b = (json.loads((tmp_path / str(i) / "metrics.json").read_text()) for i in range(2))
    for m in (a, b):
        m.pop("wall_time_s")
    assert a == b
    for k in runs[0].surrogate.params:
        assert torch.equal(runs[0].surrogate.params[k], runs[1].surrogate.params[k]), k
    other = spikepde.solve("burgers", method=method, steps=steps, seed=4, out=None, quiet=True,
                           **_tiny(method))
    assert any(not torch.equal(other.surrogate.params[k], runs[0].surrogate.params[k])
               for k in other.surrogate.params), "the seed changes nothing"


@pytest.mark.parametrize("method, how", [("fgrad", "signal"), ("bptt", "signal"), ("ann", "signal"),
                                         ("fgrad", "raised mid-step"), ("ann", "signal in L-BFGS")])
def test_resume_after_interrupt_reproduces_uninterrupted_run(method, how, tmp_path, monkeypatch):
    opts = dict(_tiny(method), checkpoint_every=4, log_every=2)
    full = spikepde.solve("burgers", method=method, steps=12, seed=1, out=tmp_path / "full", quiet=True, **opts)
    from spikepde.train.registry import TRAINERS
    cls = TRAINERS[method]
    original = cls.step
    calls = {"n": 0}

    def flaky(self):
        calls["n"] += 1
        if calls["n"] == 7 and how == "signal":
            # Ctrl-C in the middle of step 7: the step completes, then the run stops and saves
            signal.raise_signal(signal.SIGINT)
        elif calls["n"] == 7:
            # an interrupt that bypassed the handler: the step is half done, so nothing is saved
            # and the periodic checkpoint of step 4 stays
            original(self)
            raise KeyboardInterrupt
        return original(self)
    monkeypatch.setattr(cls, "step", flaky)
    if how == "signal in L-BFGS":
        monkeypatch.setattr(cls, "step", original)
        original_lbfgs = cls.lbfgs_step

        def interrupted_lbfgs(self):
            original_lbfgs(self, self.cfg.lbfgs_steps // 2)   # half-way: parameters moved, L-BFGS state lost
            signal.raise_signal(signal.SIGINT)                # raises at once during L-BFGS
        monkeypatch.setattr(cls, "finish", interrupted_lbfgs)
    with pytest.raises(KeyboardInterrupt):
        spikepde.solve("burgers", method=method, steps=12, seed=1, out=tmp_path / "cut", quiet=True, **opts)
    # a signal mid-step finishes the step; an L-BFGS interrupt keeps the end-of-Adam checkpoint
    expected = {"signal": 7, "raised mid-step": 4, "signal in L-BFGS": 12}[how]
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["step"] == expected
    monkeypatch.setattr(cls, "step", original)
    if how == "signal in L-BFGS":
        monkeypatch.undo()
    resumed = spikepde.solve(out=tmp_path / "cut", resume=True, quiet=True)
    assert resumed.metrics["relative_l2"] == full.metrics["relative_l2"]
    assert resumed.metrics["final_loss_terms"] == full.metrics["final_loss_terms"]
    for k in full.surrogate.params:
        assert torch.equal(full.surrogate.params[k], resumed.surrogate.params[k])


def test_divergence_stops_with_a_clear_message_and_keeps_a_good_checkpoint(tmp_path, monkeypatch):
    from spikepde.train.bptt import BPTTTrainer
    original = BPTTTrainer.step
    calls = {"n": 0}

    def poisoned(self):
        calls["n"] += 1
        loss = original(self)
        if calls["n"] >= 5:       # the optimizer blew up: parameters become NaN
            with torch.no_grad():
                next(iter(self.params.values())).fill_(float("nan"))
        return loss
    monkeypatch.setattr(BPTTTrainer, "step", poisoned)
    with pytest.raises(DivergenceError, match="learning rate"):
        spikepde.solve("poisson1d", method="bptt", steps=50, seed=0, out=tmp_path / "d", quiet=True,
                       checkpoint_every=2, **TINY)
    state = load_checkpoint(tmp_path / "d" / "checkpoint.pt")
    assert state["step"] == 4
    assert all(torch.isfinite(v).all() for v in state["trainer"]["params"].values())


def test_parameters_change_the_problem_and_reference():
    r1 = spikepde.solve("burgers", method="bptt", steps=2, out=None, quiet=True, **TINY)
    r2 = spikepde.solve("burgers", method="bptt", steps=2, out=None, quiet=True, params={"nu": 0.02}, **TINY)
    assert r2.metrics["parameters"]["nu"] == 0.02
    assert not np.allclose(r1.reference.values, r2.reference.values)


def test_bad_options_are_rejected():
    with pytest.raises(TypeError, match="unknown solve option"):
        spikepde.solve("burgers", steps=1, out=None, bogus=3)
    with pytest.raises(ValueError, match="method"):
        spikepde.solve("burgers", method="magic", steps=1, out=None)
    with pytest.raises(spikepde.UnknownProblemError, match="burgers"):
        spikepde.solve("no_such_problem", steps=1, out=None)


def test_default_budget_counts_admm_iterations_apart():
    """ADMM's default is its own iteration count (a few dozen sweeps), not the 2000 steps of the
    gradient methods: 2000 closed-form sweeps would take hours and change nothing after the
    penalties reach their cap."""
    from spikepde.solving import SolveConfig

    problem = spikepde.load_problem("poisson1d")
    assert SolveConfig(method="admm").resolved(problem).steps == problem.budget["admm_steps"] == 20
    assert SolveConfig(method="bptt").resolved(problem).steps == problem.budget["steps"] == 2000
    assert SolveConfig(method="admm", steps=5).resolved(problem).steps == 5


def test_resume_reloads_a_users_file_kept_in_a_folder_named_problems(tmp_path):
    """config.json records where the problem came from (Problem.origin): a user's file in any
    folder called problems/ is reloaded from that file, not looked up in the catalogue by name."""
    catalogue = Path(spikepde.problem.catalogue.catalogue_dir())
    mine = tmp_path / "problems" / "heat1d.toml"
    mine.parent.mkdir()
    mine.write_text((catalogue / "heat1d.toml").read_text().replace("default = 0.1", "default = 0.05", 1))
    assert spikepde.load_problem(mine).param_values() != spikepde.load_problem("heat1d").param_values()
    out = tmp_path / "run"
    first = spikepde.solve(mine, method="bptt", steps=2, seed=0, out=out, quiet=True, **TINY)
    assert json.loads((out / "config.json").read_text())["problem"] == str(mine.resolve())
    resumed = spikepde.solve(out=out, resume=True, quiet=True)
    assert resumed.metrics["parameters"] == first.metrics["parameters"] == {"alpha": 0.05}

"""``lsq`` marched in time slabs: the field is continuous and starts at the initial condition, each
slab's readout is what the field evaluates, marching beats the global solve where it was meant
to (kdv), no backward pass, resume bit for bit, and clear refusals."""
from __future__ import annotations

import signal

import numpy as np
import pytest
import torch

import spikepde
from spikepde.errors import ConfigurationError
from spikepde.snn.lif import LIFConfig
from spikepde.snn.time_slabs import TimeSlabField
from spikepde.train.time_slabs import TimeSlabTrainer, slab_problem_reason, wants_slabs

TINY = dict(width=16, T=4, weak_tests=[16, 6], quiet=True, out=None)


def _grid(t):
    x = np.linspace(-1, 1, 101)
    return np.stack([x, np.full_like(x, t)], 1)


def test_the_field_starts_at_the_initial_condition_and_is_continuous_across_slabs():
    r = spikepde.solve("kdv", method="lsq", time_slabs=3, steps=6, **TINY)
    f = r.surrogate
    np.testing.assert_allclose(f.predict(_grid(0.0)), np.cos(np.pi * _grid(0.0)[:, 0]), atol=1e-12)
    for tk in (1 / 3, 2 / 3):
        before, after = f.predict(_grid(tk - 1e-12)), f.predict(_grid(tk))
        assert np.abs(before - after).max() < 1e-8
        assert np.abs(after - f.predict(_grid(0.0))).max() > 1e-2     # and it moved


def test_each_slabs_readout_is_what_the_field_evaluates():
    from spikepde.problem.compile import compile_problem
    from spikepde.solving import SolveConfig
    from spikepde.train.closed_form import ClosedFormTrainer
    from spikepde.train.objective import Objective, TrainingPoints
    from spikepde.train.weak_form import WeakForm
    problem = spikepde.load_problem("kdv")
    cfg = SolveConfig(problem="kdv", width=16, T=4, weak_tests=[16, 6], time_slabs=3, steps=6).resolved(problem)
    compiled = compile_problem(problem, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    weak = WeakForm(compiled, test_per_axis=cfg.weak_tests, quad_per_interval=cfg.weak_quadrature)
    trainer = ClosedFormTrainer.build(cfg, compiled, Objective(compiled, TrainingPoints.sample(compiled, g),
                                                               weak=weak), g)
    assert isinstance(trainer, TimeSlabTrainer)
    seen = 0
    for _ in range(6):
        trainer.step()
        reader = trainer.reader
        if reader is None:
            continue
        Xq = reader.weak.tests.points
        field = torch.as_tensor(trainer.trained_field().predict(Xq.numpy()))
        torch.testing.assert_close(reader._field_on_quadrature(reader.params["core"]), field, rtol=0, atol=1e-12)
        seen += 1
    assert seen == 3 and trainer.slab == 3


def test_kdv_marched_in_slabs_beats_the_global_solve_of_the_same_network():
    # measured at this size (width 32, T 8): one global solve on 32² tests 0.56, eight slabs of
    # 32 × 8 tests (as many in time) 0.205 (the defaults reach 0.11: docs/methods/lsq.md)
    opts = dict(width=32, T=8, quiet=True, out=None)
    marched = spikepde.solve("kdv", method="lsq", time_slabs=8, steps=32, weak_tests=[32, 8], **opts)
    single = spikepde.solve("kdv", method="lsq", time_slabs=1, steps=4, weak_tests=[32, 32], **opts)
    assert marched.metrics["relative_l2"] < 0.5 * single.metrics["relative_l2"]
    assert marched.metrics["lsq_time_slabs"] == 8 and len(marched.metrics["lsq_newton_steps"]) == 8


def test_a_linear_problem_marched_in_slabs_is_solved_too():
    # heat1d: one solve per slab, its Dirichlet condition as rows (the slab's transform only
    # holds the start). Measured 6.4e-2 (initial 0.61); one global solve with the problem's
    # transform 1.4e-2 at these sizes — why linear problems are not marched by default
    r = spikepde.solve("heat1d", method="lsq", time_slabs=4, width=32, T=8, weak_tests=[16, 8], quiet=True,
                       out=None)
    assert r.metrics["steps"] == 4 and r.metrics["lsq_newton_steps"] == [1, 1, 1, 1]
    assert r.metrics["relative_l2"] < 0.1
    assert max(r.metrics["final_loss_terms"].values()) < 1e-8        # every slab's rows are met


def test_no_backward_pass_in_time_slabs(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("reverse-mode autograd was called")
    monkeypatch.setattr(torch.Tensor, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "grad", forbidden)
    # burgers, two slabs of two Gauss–Newton steps: measured 0.33 (initial 0.59)
    r = spikepde.solve("burgers", method="lsq", time_slabs=2, steps=4, **TINY)
    assert r.metrics["relative_l2"] < 0.8 * r.metrics["initial_relative_l2"]


def test_resume_mid_slab_reproduces_the_uninterrupted_run(tmp_path, monkeypatch):
    from spikepde.runs import load_checkpoint
    opts = dict(TINY, time_slabs=3, steps=9, checkpoint_every=2, seed=1)
    opts.pop("out")
    full = spikepde.solve("kdv", method="lsq", out=tmp_path / "full", **opts)
    original = TimeSlabTrainer.step
    calls = {"n": 0}

    def interrupted(self):
        calls["n"] += 1
        if calls["n"] == 5:              # inside the second slab
            signal.raise_signal(signal.SIGINT)
        return original(self)
    monkeypatch.setattr(TimeSlabTrainer, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        spikepde.solve("kdv", method="lsq", out=tmp_path / "cut", **opts)
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["step"] == 5
    monkeypatch.setattr(TimeSlabTrainer, "step", original)
    resumed = spikepde.solve(out=tmp_path / "cut", resume=True, quiet=True)
    assert resumed.metrics["relative_l2"] == full.metrics["relative_l2"]
    assert resumed.metrics["final_loss_terms"] == full.metrics["final_loss_terms"]
    for k in full.surrogate.params:
        assert torch.equal(full.surrogate.params[k], resumed.surrogate.params[k]), k


@pytest.mark.parametrize("name, reason", [("wave1d", "second order in time"), ("poisson2d", "time axis"),
                                          ("heat2d", "one space axis")])
def test_problems_that_cannot_be_marched_are_refused_with_the_reason(name, reason):
    assert reason in slab_problem_reason(spikepde.load_problem(name))
    with pytest.raises(ConfigurationError, match=reason):
        spikepde.solve(name, method="lsq", time_slabs=2, steps=2, width=8, T=2, weak_tests=4, quiet=True,
                       out=None)


def test_a_slab_count_below_one_or_above_the_steps_is_refused():
    with pytest.raises(ValueError, match="time_slabs"):
        spikepde.solve("kdv", method="lsq", time_slabs=0, **TINY)
    with pytest.raises(ValueError, match="needs a step per slab"):
        spikepde.solve("kdv", method="lsq", time_slabs=4, steps=3, **TINY)


@pytest.mark.parametrize("name, slabs", [("kdv", 20), ("burgers", 20), ("allen_cahn", 20),
                                         ("reaction_diffusion", 20), ("heat1d", 1), ("advection1d", 1)])
def test_nonlinear_evolution_equations_are_marched_by_default(name, slabs):
    from spikepde.solving import SolveConfig
    problem = spikepde.load_problem(name)
    cfg = SolveConfig(problem=name, method="lsq").resolved(problem)
    assert wants_slabs(problem) is (slabs > 1) and cfg.time_slabs == slabs
    assert cfg.steps == slabs * (8 if slabs > 1 else 1)


def test_spike_statistics_count_every_network_a_point_runs():
    field = TimeSlabField((-1.0, 0.0), (1.0, 1.0), time_axis=1, slabs=4, widths=(8,), T=4, lif=LIFConfig())
    params = field.init_params(torch.Generator().manual_seed(0))
    X = torch.tensor([[0.1, 0.05], [0.2, 0.3], [0.3, 0.9], [-0.5, 0.95]], dtype=torch.float64)
    _, stats = field.forward_stats(params, X)
    # slabs 0, 1, 3, 3: 2, 3, 5 and 5 networks of 8 neurons
    assert stats.neurons == [8 * 15 // 4] and stats.samples == 4
    counts: list[float] = []
    for k, x in ((0, X[0]), (1, X[1]), (3, X[2]), (3, X[3])):
        local, p = field.local_field(), field.slab_params(params, k)
        for j in range(k + 1):
            local.raster(field.slab_params(params, j), 0, x[:1], counts)
        local.raster(p, 1, x[1:] - field.slab_start(k), counts)
    assert stats.spikes == [sum(counts)]

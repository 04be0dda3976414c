"""The trainer contract: a method registered from outside the package runs end to end, and the
solve layer names no method (everything it needs comes through the contract)."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import spikepde
from spikepde.cli import main
from spikepde.fields import TrainedField
from spikepde.train.base import GradientTrainer, clone_params
from spikepde.train.registry import TRAINERS, register_trainer

SOLVING = Path(spikepde.__file__).parent / "solving"


class Cubic:
    """u(x) = c0 + c1 x + c2 x² + c3 x³ on one input axis (enough to fit poisson1d's sin(πx) a bit)."""

    def forward(self, params, X, differentiable: bool = True):
        x = X[:, 0]
        return sum(params["c"][k] * x ** k for k in range(4))


class CubicField:
    def __init__(self, params):
        self.params = params

    def __call__(self, X):
        return Cubic().forward(self.params, X)

    def fields(self, X, indices):
        from spikepde.derivatives import Autograd

        return Autograd().fields(self, X, indices)


class ToyTrainer(GradientTrainer):
    """A cubic polynomial fitted by Adam on the package's objective: a method in 40 lines."""

    name = "toy"
    network = "tanh"            # a smooth field: evaluated as is, no spike statistics
    budget_key = "steps"
    residual_forms = ("strong",)
    options = ()
    finishing_phase = "polish"

    @classmethod
    def defaults(cls, cfg, problem):
        return {**super().defaults(cfg, problem), "lr": 5e-2, "lr_schedule": "constant", "dtype": "float64"}

    @classmethod
    def finishing_steps(cls, cfg):
        return 3

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        self.params = {"c": torch.zeros(4, dtype=self.dtype, requires_grad=True)}
        self._start_optimizer()
        self.finished = 0

    def field(self, params):
        return CubicField(params)

    def step(self) -> float:
        return self._backprop_step()

    def terms(self):
        # autograd input derivatives need a graph even for logging (as the tanh baseline's)
        return {k: float(v.detach()) for k, v in self.objective.terms(self.field(self.params)).items()}

    def finish(self) -> float:
        for _ in range(self.finishing_steps(self.cfg)):
            loss = self._backprop_step()
            self.finished += 1
        return loss

    def trained_field(self):
        return TrainedField(Cubic(), clone_params(self.params), tuple(self.compiled.input_names),
                            "tanh", self.dtype, "cpu", transform=self.compiled.transform)

    def diagnostics(self):
        return {"toy_finished_steps": self.finished}


@pytest.fixture()
def toy_method():
    register_trainer("toy", ToyTrainer)
    yield "toy"
    TRAINERS.unregister("toy")


def test_a_registered_method_runs_through_solve(toy_method, tmp_path):
    r = spikepde.solve("poisson1d", method=toy_method, steps=60, seed=0, out=tmp_path / "run", quiet=True,
                       interior_points=64)
    assert r.config.lr == 5e-2 and r.config.dtype == "float64" and r.config.residual_form == "strong"
    assert r.metrics["method"] == "toy" and r.metrics["toy_finished_steps"] == 3
    assert r.metrics["relative_l2"] < r.metrics["initial_relative_l2"]
    assert "lbfgs_done" not in r.history and r.history["polish_done"] is True
    assert r.history["step"][-1] == 63                     # 60 steps, then the 3-step finishing phase
    assert np.all(np.isfinite(r.field([[0.1], [0.5]])))
    with pytest.raises(ValueError, match="not available for toy"):
        spikepde.solve("poisson1d", method=toy_method, steps=1, out=None, residual_form="weak")


def test_a_registered_method_runs_through_the_command_line(toy_method, tmp_path, capsys):
    code = main(["solve", "poisson1d", "--method", "toy", "--steps", "20", "--interior-points", "64",
                 "--out", str(tmp_path / "r"), "--quiet", "--json"])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert metrics["method"] == "toy" and metrics["steps"] == 20
    # a setting that only another method reads is refused, not ignored
    assert main(["solve", "poisson1d", "--method", "toy", "--K", "3", "--quiet"]) == 2
    assert "--K is for --method fgrad" in capsys.readouterr().err


def test_the_solve_layer_names_no_method():
    """No string constant of spikepde/solving is a method or perturbation name: every method
    choice is made by the trainer's class attributes and hooks."""
    from spikepde.train.fgrad import DIRECTIONS, PERTURBATIONS

    names = set(TRAINERS) | set(PERTURBATIONS) | set(DIRECTIONS)
    found = []
    for path in sorted(SOLVING.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert not found, found


def test_admm_brings_its_own_network_and_show_lists_every_methods_defaults(capsys):
    from spikepde.cli import main
    from spikepde.problem import load_problem
    from spikepde.solving.config import SolveConfig

    one_d = SolveConfig(method="admm").resolved(load_problem("poisson1d"))
    three_d = SolveConfig(method="admm").resolved(load_problem("heat2d"))
    assert (one_d.width, one_d.depth, one_d.T) == (256, 1, 64)
    assert (three_d.width, three_d.depth, three_d.T) == (256, 1, 16)
    assert main(["show", "poisson1d", "--methods"]) == 0
    out = capsys.readouterr().out
    assert "Default settings by method (--method auto picks lsq)" in out
    assert "admm   mlp LIF 256 x 1, T = 64, 20 iterations, float32" in out
    assert "fgrad  mlp LIF 64 x 2, T = 8, 2000 steps, lr 0.01, float32" in out

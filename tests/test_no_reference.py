"""A PDE nobody has solved: a problem file without [reference] solves. Where an automatic scheme
applies it is scored against the automatic reference (and residual metrics); otherwise it reports
residual metrics only (the PDE residual of the trained field, strong and weak, and each
condition's violation) instead of an error against a solution."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import spikepde
from spikepde.errors import SpecError
from spikepde.evaluate import residual_metrics
from spikepde.problem import compile_problem, load_problem, problem_from_dict

NONLINEAR_HEAT = """
name = "nonlinear_heat"
title = "1-D nonlinear heat equation u_t = ((1 + u^2) u_x)_x"
[variables]
space = ["x"]
time = "t"
[domain]
x = [0.0, 1.0]
t = [0.0, 0.5]
[pde]
residual = "u_t - (1 + u**2)*u_xx - 2*u*u_x**2"
[[conditions]]
kind = "initial"
value = "sin(pi*x)"
[[conditions]]
kind = "dirichlet"
on = "boundary"
value = "0"
"""


#: a 2-D heat equation without a reference: no automatic scheme (method of lines in 1-D only)
HEAT_2D = """
name = "heat_2d_user"
title = "2-D heat equation nobody solved"
[variables]
space = ["x", "y"]
time = "t"
[domain]
x = [0.0, 1.0]
y = [0.0, 1.0]
t = [0.0, 0.5]
[pde]
residual = "u_t - 0.1*(u_xx + u_yy)"
[[conditions]]
kind = "initial"
value = "sin(pi*x)*sin(pi*y)"
[[conditions]]
kind = "dirichlet"
on = "boundary"
value = "0"
"""


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "nonlinear_heat.toml"
    path.write_text(NONLINEAR_HEAT)
    return path


@pytest.fixture
def unsolved_file(tmp_path):
    path = tmp_path / "heat_2d_user.toml"
    path.write_text(HEAT_2D)
    return path


def test_a_file_without_reference_gets_the_automatic_one_where_it_applies(user_file):
    problem = load_problem(user_file)
    assert problem.has_reference and problem.exact is None and problem.reference.solver == "auto"
    assert {v: a.n for v, a in problem.reference.grid.items()} == {"x": 200, "t": 200}
    assert "solver: auto (method of lines" in problem.pretty()
    assert load_problem("heat1d").has_reference and load_problem("burgers").has_reference


def test_a_file_no_scheme_solves_has_no_reference_and_says_why(unsolved_file):
    problem = load_problem(unsolved_file)
    assert not problem.has_reference and problem.reference.solver is None
    assert {v: a.n for v, a in problem.reference.grid.items()} == {"x": 34, "y": 34, "t": 34}
    text = problem.pretty()
    assert "none: residual metrics only" in text
    assert "no automatic reference: 2 space variables with time" in text


def test_regression_still_needs_its_target():
    spec = {"name": "r", "title": "r", "kind": "regression", "variables": {"space": ["x"]},
            "domain": {"x": [0, 1]}}
    with pytest.raises(SpecError, match="regression problem needs") as info:
        problem_from_dict(spec)
    assert info.value.field == "reference"


class _Field:
    """A field given by a formula (stands in for a trained one: residual_metrics reads values)."""

    def __init__(self, fn):
        self.fn = fn

    def predict(self, points):
        points = np.asarray(points, dtype=np.float64)
        return self.fn(points[:, 0], points[:, 1])


def test_residual_metrics_vanish_for_the_solution_and_not_for_a_wrong_field():
    compiled = compile_problem(load_problem("heat1d"), dtype=torch.float64, hard_constraints=False)
    exact = _Field(lambda x, t: np.exp(-0.1 * np.pi ** 2 * t) * np.sin(np.pi * x))
    good = residual_metrics(exact, compiled)
    assert good["strong_residual_rms"] < 2e-4            # central differences: O(h²), h = 0.01
    assert good["weak_residual_rms"] < 2e-4              # midpoint quadrature of the tests
    assert max(good["condition_rms"].values()) < 1e-12
    wrong = residual_metrics(_Field(lambda x, t: np.sin(np.pi * x)), compiled)   # does not decay
    assert wrong["strong_residual_rms"] > 0.3 and wrong["weak_residual_rms"] > 0.1
    assert wrong["condition_rms"]["c0_initial"] < 1e-12 and wrong["condition_rms"]["c1_dirichlet"] < 1e-12
    assert wrong["weak_residual_rms"] > 1e3 * good["weak_residual_rms"]


def test_a_user_pde_without_reference_solves_end_to_end(user_file, tmp_path):
    r = spikepde.solve(user_file, method="bptt", steps=3, width=16, T=4, interior_points=64,
                       out=tmp_path / "run", quiet=True)
    m = r.metrics
    assert 0 < m["relative_l2"] < 10 and m["reference_solver"] == "auto (method of lines)"
    assert 0 < m["reference_error_estimate"] < 1e-6
    assert np.isfinite(m["strong_residual_rms"]) and m["weak_residual_rms"] is None
    assert m["weak_residual_note"].startswith("weak form:")    # u² u_xx: not integrable by parts here
    assert set(m["condition_rms"]) == {"c0_initial", "c1_dirichlet"}
    with np.load(tmp_path / "run" / "field.npz", allow_pickle=False) as data:
        assert set(data.files) == {"x", "t", "axis_names", "predicted", "reference", "error"}
        reference = data["reference"]
        assert reference.shape == (200, 200) and np.isfinite(data["predicted"]).all()
    # the automatic reference: the initial sine at t = 0, decaying, 0 at both ends
    x = np.linspace(0, 1, 200)
    assert np.abs(reference[:, 0] - np.sin(np.pi * x)).max() < 1e-12
    assert np.abs(reference[[0, -1], :]).max() == 0 and 0 < reference[:, -1].max() < 0.01
    assert (tmp_path / "run" / "fields.png").stat().st_size > 0
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["condition_rms"] == m["condition_rms"]
    assert saved["reference_error_estimate"] == m["reference_error_estimate"]


def test_a_pde_no_scheme_solves_reports_residual_metrics_only(unsolved_file, tmp_path):
    r = spikepde.solve(unsolved_file, method="bptt", steps=2, width=16, T=4, interior_points=64,
                       out=tmp_path / "run", quiet=True)
    m = r.metrics
    assert m["reference"] == "none" and "relative_l2" not in m
    assert np.isfinite(m["strong_residual_rms"]) and m["strong_residual_rms"] > 0
    with np.load(tmp_path / "run" / "field.npz", allow_pickle=False) as data:
        assert set(data.files) == {"x", "y", "t", "axis_names", "predicted"}


def test_the_cli_reports_the_automatic_reference_and_residual_metrics(user_file, tmp_path):
    done = subprocess.run([sys.executable, "-m", "spikepde.cli", "solve", str(user_file), "--method",
                           "bptt", "--steps", "2", "--width", "16", "--T", "4", "--interior-points",
                           "64", "--quiet", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "relative_l2" in done.stdout and "strong_residual_rms" in done.stdout
    assert "reference_error_estimate" in done.stdout


@pytest.mark.parametrize("name", ["poisson_lshape", "heat2d"])
def test_the_prediction_alone_is_plotted_in_two_and_three_dimensions(name, tmp_path):
    import tomllib

    from spikepde.evaluate import grid_without_reference
    from spikepde.plotting import plot_fields
    from spikepde.problem.catalogue import catalogue_dir

    spec = tomllib.loads((catalogue_dir() / f"{name}.toml").read_text())
    spec.pop("reference")
    spec.pop("hard_constraint", None)
    grid = grid_without_reference(problem_from_dict(spec))
    assert np.isnan(grid.values).any() == (name == "poisson_lshape")     # NaN in the excluded box
    path = plot_fields(grid, np.ones(grid.shape), tmp_path / "f.png", title=name)
    assert path.stat().st_size > 1000

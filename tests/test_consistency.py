"""A closed form that does not solve its own problem is refused at load, naming the field."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from spikepde.errors import SpecError
from spikepde.problem import load_problem, problem_from_dict

CATALOGUE = Path(__file__).resolve().parents[1] / "problems"


def _spec(name):
    spec = tomllib.loads((CATALOGUE / f"{name}.toml").read_text())
    spec.pop("hard_constraint", None)      # its own check would answer first
    return spec


def _refused(spec, match):
    with pytest.raises(SpecError, match=match) as info:
        problem_from_dict(spec, source="mine.toml")
    assert info.value.field == "reference.exact"
    return str(info.value)


def test_a_closed_form_of_another_equation_is_refused():
    spec = _spec("heat1d")
    spec["reference"]["exact"] = "exp(-4*alpha*pi**2*t)*sin(2*pi*x)"  # solves the PDE, not the IC
    text = _refused(spec, "does not satisfy conditions\\[0\\] \\(initial on t_min\\)")
    assert "mine.toml" in text
    spec["reference"]["exact"] = "exp(-pi**2*t)*sin(pi*x)"           # decays at the wrong rate
    _refused(spec, "does not satisfy the PDE residual")


def test_the_check_uses_the_parameter_values_of_the_load():
    assert load_problem("heat1d", alpha=0.3).exact is not None          # exact follows alpha
    spec = _spec("heat1d")
    spec["reference"]["exact"] = "exp(-0.1*pi**2*t)*sin(pi*x)"       # alpha written as 0.1
    problem_from_dict(spec)
    with pytest.raises(SpecError, match="PDE residual"):
        problem_from_dict(spec, alpha=0.3)


def test_boundary_neumann_and_periodic_conditions_are_checked():
    spec = _spec("poisson1d")
    spec["conditions"][0]["value"] = "0.5"
    _refused(spec, r"conditions\[0\] \(dirichlet")
    spec = _spec("advection1d")
    spec["reference"]["exact"] = "sin(2*pi*(x - c*t)) + 0.1*(x - c*t)"  # a travelling wave,
    spec["conditions"][0]["value"] = "sin(2*pi*x) + 0.1*x"               # its IC, not periodic
    _refused(spec, "not periodic")


def test_a_wrong_closed_form_is_a_one_line_cli_error(tmp_path):
    text = (CATALOGUE / "heat1d.toml").read_text().replace(
        'exact = "exp(-alpha*pi**2*t)*sin(pi*x)"', 'exact = "exp(-alpha*pi*t)*sin(pi*x)"')
    path = tmp_path / "wrong.toml"
    path.write_text(text)
    done = subprocess.run([sys.executable, "-m", "spikepde.cli", "solve", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert str(path) in done.stderr and "reference.exact" in done.stderr


def test_a_closed_form_whose_derivatives_cannot_be_evaluated_is_not_judged():
    spec = _spec("advection1d")    # d/dt of heaviside is a Dirac delta: no float value to check
    spec["reference"]["exact"] = "sin(2*pi*(x - c*t)) + (x - c*t)*heaviside(c*t - x)"
    assert problem_from_dict(spec).exact is not None


# ------------------------------------------------------------------ a named solver's problem
def _solver_refused(spec, match):
    with pytest.raises(SpecError, match=match) as info:
        problem_from_dict(spec, source="mine.toml")
    assert info.value.field == "reference.solver"


def test_a_solver_named_for_another_equation_is_refused():
    spec = _spec("reaction_diffusion")
    spec["pde"]["residual"] = "u_t - D*u_xx - k*u**3 - s"            # cubic, not quadratic
    _solver_refused(spec, "solves the catalogue's 'reaction_diffusion' problem.*PDE")
    spec = _spec("burgers")
    spec["conditions"][0]["value"] = "-sin(2*pi*x)"                   # another initial condition
    _solver_refused(spec, "initial condition on t_min")
    spec = _spec("burgers")
    spec["domain"]["x"] = [-2.0, 2.0]
    _solver_refused(spec, "domain differ")
    spec = _spec("burgers")
    spec["conditions"].append({"kind": "neumann", "on": "x_max", "value": "0"})
    _solver_refused(spec, "conditions are not the solver's")


def test_the_solvers_problem_with_other_parameters_or_scaling_is_accepted():
    spec = _spec("burgers")
    spec["pde"]["residual"] = "2*u_t + 2*u*u_x - 2*nu*u_xx"            # the same equation
    problem = problem_from_dict(spec, nu=0.05)
    assert problem.param_values() == {"nu": 0.05}
    spec = _spec("poisson_lshape")
    spec["parameters"]["kappa"]["default"] = 1.0
    assert problem_from_dict(spec).param_values()["kappa"] == 1.0


def test_a_mismatched_solver_is_a_one_line_cli_error(tmp_path):
    text = (CATALOGUE / "reaction_diffusion.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('residual = "u_t - D*u_xx - k*u**2 - s"',
                                 'residual = "u_t - D*u_xx - k*u**3 - s"'))
    assert 'u**3' in path.read_text()
    done = subprocess.run([sys.executable, "-m", "spikepde.cli", "show", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert str(path) in done.stderr and "reference.solver" in done.stderr

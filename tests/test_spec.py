"""Loading problem specs: catalogue lookup, overrides, and one test per kind of bad spec."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import sympy

import spikepde.problem.spec
from spikepde.errors import SpecError, UnknownProblemError
from spikepde.problem import list_problems, load_problem, problem_from_dict

CATALOGUE = ["advection1d", "allen_cahn", "burgers", "diffusion_reaction", "heat1d", "heat2d",
             "helmholtz2d", "kdv", "mexican_hat", "poisson1d", "poisson2d", "poisson_lshape",
             "reaction_diffusion", "wave1d"]

GOOD_TOML = """
name = "tiny_heat"
title = "heat"
[variables]
space = ["x"]
time = "t"
[domain]
x = [0, 1]
t = [0, "1/2"]
[parameters]
a = { default = "0.1", min = 0 }
[pde]
residual = "u_t - a*u_xx"
[[conditions]]
kind = "initial"
value = "sin(pi*x)"
[[conditions]]
kind = "dirichlet"
on = "boundary"
value = "0"
[reference]
exact = "exp(-a*pi**2*t)*sin(pi*x)"
grid = { x = 11, t = 6 }
"""

GOOD = {
    "name": "tiny_heat", "title": "heat",
    "variables": {"space": ["x"], "time": "t"},
    "domain": {"x": [0, 1], "t": [0, 1]},
    "parameters": {"a": {"default": "0.1", "min": 0}},
    "pde": {"residual": "u_t - a*u_xx"},
    "conditions": [{"kind": "initial", "value": "sin(pi*x)"},
                   {"kind": "dirichlet", "on": "boundary", "value": "0"}],
    "reference": {"exact": "exp(-a*pi**2*t)*sin(pi*x)", "grid": {"x": 11, "t": 6}},
}


def mutated(path: str, value, base=GOOD):
    """A copy of ``base`` with the dotted ``path`` set to ``value`` (``...`` deletes)."""
    spec = copy.deepcopy(base)
    keys = path.replace("[", ".").replace("]", "").split(".")
    node = spec
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return spec


def test_catalogue_lists_every_entry():
    assert list_problems() == CATALOGUE


@pytest.mark.parametrize("name", CATALOGUE)
def test_catalogue_entries_load_and_describe(name):
    problem = load_problem(name)
    assert problem.name == name
    assert problem.source.endswith(f"{name}.toml")
    text = problem.pretty()
    assert problem.title in text and "Literature" in text
    assert problem.pretty(unicode=False).isascii()


def test_unknown_name_lists_the_catalogue():
    with pytest.raises(UnknownProblemError) as info:
        load_problem("nope")
    assert info.value.available == CATALOGUE
    assert "burgers" in str(info.value)
    with pytest.raises(UnknownProblemError):
        load_problem("../etc/passwd")
    with pytest.raises(UnknownProblemError):
        load_problem("missing/file.toml")


def test_load_from_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD_TOML)
    problem = load_problem(path)
    assert problem.domain["t"] == (0.0, 0.5)
    assert load_problem(str(path)).name == "tiny_heat"


def test_parameter_overrides_change_values():
    default = load_problem("burgers")
    assert default.param_values()["nu"] == pytest.approx(0.01 / 3.141592653589793)
    assert load_problem("burgers", nu=0.02).param_values()["nu"] == 0.02
    assert load_problem("burgers", nu="0.02/pi").param_values()["nu"] == pytest.approx(0.02 / 3.141592653589793)
    ac = load_problem("allen_cahn", d=0.002)
    assert ac.param_values()["d"] == 0.002
    assert ac.parameters["d"].default == 0.001
    # with_params gives a new object and leaves the old one alone
    changed = default.with_params(nu=0.05)
    assert changed.param_values()["nu"] == 0.05 and default.param_values()["nu"] != 0.05
    assert changed.with_params().param_values()["nu"] == 0.05
    assert "default" in changed.pretty()


def test_unknown_parameter_lists_known_ones():
    with pytest.raises(SpecError, match="unknown parameter 'mu'.*nu"):
        load_problem("burgers", mu=1.0)
    with pytest.raises(SpecError, match="unknown parameter"):
        load_problem("burgers").with_params(mu=1.0)


def test_bad_override_values():
    with pytest.raises(SpecError, match="outside the allowed range"):
        load_problem("burgers", nu=-1)
    with pytest.raises(SpecError):
        load_problem("burgers", nu="__import__('os')")
    with pytest.raises(SpecError, match="unknown name 'x'"):
        load_problem("burgers", nu="x")


def test_problem_knows_where_it_came_from(tmp_path):
    assert load_problem("burgers").origin == "burgers"
    assert load_problem("burgers", nu=0.02).with_params(nu=0.03).origin == "burgers"
    path = tmp_path / "problems" / "mine.toml"
    path.parent.mkdir()
    path.write_text((Path(spikepde.problem.catalogue.catalogue_dir()) / "poisson1d.toml").read_text())
    assert load_problem(path).origin == str(path.resolve())
    assert problem_from_dict(load_problem("poisson1d").spec).origin is None


def test_good_dict_builds_the_expected_sympy():
    problem = problem_from_dict(GOOD)
    x, t = problem.symbols["x"], problem.symbols["t"]
    u = sympy.Function("u")(x, t)
    a = problem.parameter_symbols["a"]
    assert problem.u == u
    assert sympy.simplify(problem.residuals[0] - (sympy.Derivative(u, t)
                                                  - a * sympy.Derivative(u, (x, 2)))) == 0
    assert problem.input_names == ("x", "t")
    assert [c.kind for c in problem.conditions] == ["initial", "dirichlet"]
    assert [f.name for f in problem.conditions[1].faces] == ["x_min", "x_max"]
    assert problem.source == "<dict>"


@pytest.mark.parametrize("path, value, field, message", [
    ("colour", "red", "colour", "unknown field"),
    ("title", ..., "title", "missing"),
    ("title", 3, "title", "expected a string"),
    ("kind", "ode", "kind", "expected one of"),
    ("variables.space", [], "variables.space", "non-empty"),
    ("variables.space", ["x_1"], "variables.space[0]", "no '_'"),
    ("variables.space", ["sin"], "variables.space[0]", "reserved"),
    ("variables.time", "x", "variables", "used twice"),
    ("variables.colour", "x", "variables.colour", "unknown field"),
    ("domain.x", [1, 0], "domain.x", "below upper"),
    ("domain.x", [0, 1, 2], "domain.x", "expected \\[lower, upper\\]"),
    ("domain.x", ["0", "a"], "domain.x[1]", "unknown name"),
    ("domain.t", ..., "domain.t", "missing"),
    ("domain.y", [0, 1], "domain.y", "unknown field"),
    ("domain.exclude", [{"x": [0, 1]}], "domain.exclude", "cover the whole"),
    ("domain.exclude", [{"x": [2, 3]}], "domain.exclude[0].x", "does not overlap"),
    ("domain.exclude", [{"t": [0, 1]}], "domain.exclude[0].t", "unknown field"),
    ("parameters.a", {"value": 1}, "parameters.a.value", "unknown field"),
    ("parameters.a", {"description": "x"}, "parameters.a.default", "missing"),
    ("parameters.a", {"default": "zz"}, "parameters.a.default", "unknown name"),
    ("parameters.a", {"default": -1, "min": 0}, "parameters.a", "allowed range"),
    ("parameters.x", 1.0, "parameters.x", "clashes"),
    ("parameters.exp", 1.0, "parameters.exp", "not a function"),
    ("pde", ..., "pde", "missing"),
    ("pde.residual", "u_t - b*u_xx", "pde.residual", "unknown name 'b'"),
    ("pde.residual", "x + t", "pde.residual", "does not involve"),
    ("pde.residuals", ["u_t"], "pde", "exactly one"),
    ("pde.residual", "u_t.real", "pde.residual", "attribute"),
    ("conditions", {"kind": "initial"}, "conditions", "list of tables"),
    ("conditions[0].kind", "robin", "conditions[0].kind", "unknown condition kind"),
    ("conditions[0].kind", ..., "conditions[0].kind", "missing"),
    ("conditions[0].value", ..., "conditions[0].value", "required"),
    ("conditions[0].value", "u_x", "conditions[0].value", "unknown name 'u_x'"),
    ("conditions[0].value", "sin(pi*y)", "conditions[0].value", "unknown name 'y'"),
    ("conditions[0].on", "x_min", "conditions[0].on", "t_min"),
    ("conditions[1].on", "z_min", "conditions[1].on", "unknown variable 'z'"),
    ("conditions[1].on", "left", "conditions[1].on", "expected 'boundary'"),
    ("conditions[1].on", ["x_min", "x_min"], "conditions[1].on[1]", "twice"),
    ("conditions[1].on", "t_max", "conditions[1].on", "time face"),
    ("conditions[1].on", "exclude[0].x_min", "conditions[1].on", "no excluded box 0"),
    ("conditions[1].on", ..., "conditions[1].on", "missing"),
    ("conditions[1].residual", "u_x", "conditions[1].residual", "not used"),
    ("conditions[1].weight", -1, "conditions[1].weight", "positive"),
    ("conditions[1].points", 0, "conditions[1].points", ">= 1"),
    ("conditions[1].colour", "x", "conditions[1].colour", "unknown field"),
    ("reference.exact", ..., "reference", "exact"),
    ("reference.solver", "bad name!", "reference.solver", "unknown reference solver"),
    ("reference.grid", {"x": 11}, "reference.grid.t", "missing"),
    ("reference.grid.x", 1, "reference.grid.x.n", ">= 2"),
    ("reference.grid.x", {"n": 5, "max": 2}, "reference.grid.x", "inside the domain"),
    ("reference.grid.x", {"n": 5, "endpoint": "no"}, "reference.grid.x.endpoint", "true or false"),
    ("reference.exact", "u + 1", "reference.exact", "unknown name 'u'"),
    ("budget", {"steps": 1.5}, "budget.steps", "integer"),
    ("budget", {"epochs": 3}, "budget.epochs", "unknown field"),
    ("literature", [{"method": "m", "source": "s"}], "literature[0].relative_l2", "missing"),
    ("literature", [{"method": "m", "source": "s", "relative_l2": -1}],
     "literature[0].relative_l2", "non-negative"),
])
def test_bad_specs_name_file_and_field(path, value, field, message):
    with pytest.raises(SpecError, match=message) as info:
        problem_from_dict(mutated(path, value), source="bad.toml")
    assert info.value.file == "bad.toml"
    assert info.value.field == field


def test_operator_and_periodic_conditions_validate():
    spec = mutated("conditions", [{"kind": "operator", "on": "t_min", "value": "0"}])
    with pytest.raises(SpecError, match="required") as info:
        problem_from_dict(spec)
    assert info.value.field == "conditions[0].residual"
    spec = mutated("conditions", [{"kind": "operator", "on": "t_min", "residual": "x"}])
    with pytest.raises(SpecError, match="does not involve"):
        problem_from_dict(spec)
    spec = mutated("conditions", [{"kind": "periodic", "on": ["x_min", "t_min"]}])
    with pytest.raises(SpecError, match="two outer faces"):
        problem_from_dict(spec)
    spec = mutated("conditions", [{"kind": "dirichlet", "on": "x_min", "value": "0",
                                   "derivatives": 1}])
    with pytest.raises(SpecError, match="not used"):
        problem_from_dict(spec)
    ok = mutated("conditions", [{"kind": "periodic", "on": ["x_min", "x_max"], "derivatives": 1},
                                {"kind": "operator", "on": "t_min", "residual": "u_t",
                                 "value": "-4*a*pi**2*cos(2*pi*x)"}])
    ok["reference"]["exact"] = "exp(-4*a*pi**2*t)*cos(2*pi*x)"   # periodic, with that u_t
    problem = problem_from_dict(ok)
    assert problem.conditions[0].derivatives == 1


def test_initial_condition_needs_time():
    spec = mutated("variables.time", ...)
    spec["domain"].pop("t")
    spec["reference"]["grid"].pop("t")
    spec["pde"]["residual"] = "u_xx"
    spec["reference"]["exact"] = "sin(pi*x)"
    with pytest.raises(SpecError, match="time variable") as info:
        problem_from_dict(spec)
    assert info.value.field == "conditions[0].kind"


def test_regression_problems_have_no_pde():
    spec = {"name": "fit", "title": "fit", "kind": "regression",
            "variables": {"space": ["x"]}, "domain": {"x": [0, 1]},
            "reference": {"exact": "x**2", "grid": {"x": 5}}}
    problem = problem_from_dict(spec)
    assert problem.data_only and problem.residuals == () and problem.conditions == ()
    with pytest.raises(SpecError, match="no PDE") as info:
        problem_from_dict({**spec, "pde": {"residual": "u_xx"}})
    assert info.value.field == "pde"
    no_exact = copy.deepcopy(spec)
    no_exact["reference"] = {"solver": "s", "grid": {"x": 5}}
    with pytest.raises(SpecError, match="target"):
        problem_from_dict(no_exact)


def test_excluded_box_faces_are_boundary():
    spec = {"name": "L", "title": "L", "variables": {"space": ["x", "y"]},
            "domain": {"x": [-1, 1], "y": [-1, 1], "exclude": [{"x": [0, 1], "y": [0, 1]}]},
            "pde": {"residual": "-u_xx - u_yy - 1"},
            "conditions": [{"kind": "dirichlet", "on": "boundary", "value": "0"}],
            "reference": {"solver": "poisson_lshape_fd", "grid": {"x": 5, "y": 5}}}
    problem = problem_from_dict(spec)
    names = [f.name for f in problem.conditions[0].faces]
    assert names == ["x_min", "x_max", "y_min", "y_max", "exclude[0].x_min", "exclude[0].y_min"]
    bad = copy.deepcopy(spec)
    bad["conditions"][0]["on"] = "exclude[0].x_max"
    with pytest.raises(SpecError, match="not part of the domain boundary"):
        problem_from_dict(bad)


@pytest.mark.parametrize("text, message", [
    ("name = ", "invalid TOML"),
    ("name = 'a'\nname = 'b'", "invalid TOML"),
    ("a = " + "[" * 100_000, "nested too deeply"),
    (GOOD_TOML.replace('value = "0"', 'value = "__import__(\'os\')"'), "dunder"),
    (GOOD_TOML.replace("[budget]", "") + "\n[budget]\nsteps = -5\n", ">= 1"),
    (GOOD_TOML + "\n[[literature]]\nmethod = 1\nsource = 's'\nrelative_l2 = 0.1\n", "string"),
])
def test_bad_files_report_the_path(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=message) as info:
        load_problem(path)
    assert info.value.file == str(path)
    assert str(path) in str(info.value)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b"name = '\xff'")
    with pytest.raises(SpecError, match="UTF-8"):
        load_problem(path)

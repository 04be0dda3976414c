"""The reader of the problem-file format: one method per section of a spec, every check at load
time, every error a :class:`~spikepde.errors.SpecError` naming the file, the dotted field
(``conditions[1].value``) and what was expected. The entry points are in
:mod:`spikepde.problem.spec`; the format is documented in docs/problem_format.md.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import sympy

from spikepde.errors import SpecError
from spikepde.problem.auto_plan import settle as settle_auto_reference
from spikepde.problem.catalogue import PROBLEM_NAME, locate, read_spec_file
from spikepde.problem.consistency import check_exact
from spikepde.problem.domain import boundary_faces, covered, default_grid
from spikepde.problem.limits import (BYTES_PER_TRAINING_POINT, GRID_BYTES_PER_INPUT,
                                     MAX_CONDITIONS, MAX_COVERAGE_CELLS, MAX_DEFINITIONS,
                                     MAX_EXCLUDED_BOXES, MAX_GRID_POINTS, MAX_LITERATURE,
                                     MAX_PARAMETERS, MAX_POINTS, MAX_RESIDUALS,
                                     MAX_SPACE_VARIABLES, describe_bytes,
                                     describe_count)
from spikepde.problem.expr import (MAX_DERIVATIVE_ORDER, RESERVED_NAMES, derivative_names,
                                   parse_expression)
from spikepde.problem.problem import (AUTO_SOLVER, CONDITION_KINDS, REFERENCE_SOLVERS, Condition,
                                      Face, GridAxis, Parameter, Problem, ReferenceSpec)
from spikepde.problem.solver_match import check_solver_problem


#: Budget keys, their meaning and the default used when a file leaves them out.
BUDGET_DEFAULTS = {
    "steps": 2000,            # optimisation steps (fgrad, bptt, ann)
    "admm_steps": 20,         # ADMM iterations: each is a whole closed-form sweep, and the penalties
                              # reach their cap after about 20 (benchmarks/admm.py: best iterates 9-10 of 12)
    "interior_points": 2000,  # collocation points inside the domain (data points: regression)
    "boundary_points": 100,   # points per boundary / periodic / operator condition
    "initial_points": 100,    # points per initial condition
}

_TOP_KEYS = {"name", "title", "description", "kind", "variables", "domain", "parameters",
             "definitions", "pde", "conditions", "reference", "budget", "literature",
             "hard_constraint"}
_PROBLEM_KINDS = ("pde", "regression")
_VARIABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")        # no '_': it starts a derivative
_PARAMETER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FACE_NAME = re.compile(r"^(?:exclude\[(\d+)\]\.)?([A-Za-z][A-Za-z0-9]*)_(min|max)$")


class Loader:
    """Validates one spec and builds the Problem; every error carries the file and field."""

    def __init__(self, source: str, origin: str | None = None, *, match_solver: bool = True):
        self.file = source
        self.origin = origin
        self.match_solver = match_solver    # off while loading the entry a solver is matched to

    # ------------------------------------------------------------------------- helpers
    def error(self, field: str | None, message: str) -> SpecError:
        return SpecError(message, file=self.file, field=field)

    def table(self, value: Any, field: str, allowed: set[str] | None = None,
              required: Sequence[str] = ()) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(field, f"expected a table, found {_type_name(value)}")
        if allowed is not None:
            unknown = sorted(set(value) - allowed)
            if unknown:
                raise self.error(_join(field, unknown[0]),
                                 f"unknown field '{unknown[0]}'; allowed: {', '.join(sorted(allowed))}")
        for key in required:
            if key not in value:
                raise self.error(_join(field, key), "required field is missing")
        return dict(value)

    def at_most(self, items, field: str, limit: int, what: str, setting: str = "") -> None:
        """Refuse more than ``limit`` items (one line naming the count and the limit)."""
        if len(items) > limit:
            raise self.error(field, f"{len(items)} {what}; at most {limit} are accepted{setting}")

    def point_count(self, value: Any, field: str) -> int:
        """A number of collocation points, refused above :data:`MAX_POINTS` with the memory it
        would take."""
        n = self.integer(value, field)
        if n > MAX_POINTS:
            raise self.error(field, f"{describe_count(n)} points would take "
                                    f"{describe_bytes(n * BYTES_PER_TRAINING_POINT)} to train on; at most "
                                    f"{MAX_POINTS} per count (lower {field})")
        return n

    def string(self, value: Any, field: str) -> str:
        if not isinstance(value, str):
            raise self.error(field, f"expected a string, found {_type_name(value)}")
        return value

    def integer(self, value: Any, field: str, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(field, f"expected an integer, found {_type_name(value)}")
        if value < minimum:
            raise self.error(field, f"expected an integer >= {minimum}, found {value}")
        return value

    def number(self, value: Any, field: str) -> float:
        """A TOML number, or a formula of constants such as ``"2*pi"``."""
        if isinstance(value, bool):
            raise self.error(field, "expected a number or formula, found a boolean")
        if isinstance(value, (int, float)):
            result = float(value) if abs(value) < 1e308 else math.inf   # float(10**400) raises
        elif isinstance(value, str):
            expr = parse_expression(value, {}, file=self.file, field=field)
            if not expr.is_number:
                raise self.error(field, f"expected a constant, found {value!r}")
            result = complex(expr.evalf(17))   # finite: parse_expression checked its constants
            if result.imag:
                raise self.error(field, f"{value!r} is not a real number")
            result = result.real
        else:
            raise self.error(field, f"expected a number or formula, found {_type_name(value)}")
        if not math.isfinite(result):
            raise self.error(field, f"expected a finite number, found {value!r}")
        return result

    def formula(self, value: Any, field: str, names: Mapping[str, sympy.Basic]) -> sympy.Expr:
        return parse_expression(value, names, file=self.file, field=field)

    # ------------------------------------------------------------------------- load
    def load(self, spec: dict[str, Any], overrides: Mapping[str, Any]) -> Problem:
        spec = self.table(spec, None, _TOP_KEYS, required=("name", "title", "variables", "domain"))
        kind = self.string(spec.get("kind", "pde"), "kind")
        if kind not in _PROBLEM_KINDS:
            raise self.error("kind", f"expected one of {', '.join(_PROBLEM_KINDS)}, found {kind!r}")
        data_only = kind == "regression"
        name = self.string(spec["name"], "name")
        if not PROBLEM_NAME.match(name):
            raise self.error("name", "expected letters, digits, '_' or '-'")
        space, time, output = self.variables(spec["variables"])
        inputs = space + ((time,) if time else ())
        symbols = {v: sympy.Symbol(v, real=True) for v in inputs}
        domain, excluded = self.domain(spec["domain"], space, inputs)
        parameters = self.parameters(spec.get("parameters", {}), overrides, inputs, output)
        param_symbols = {p: sympy.Symbol(p, real=True) for p in parameters}
        plain = {**symbols, **param_symbols}
        plain.update(self.definitions(spec.get("definitions", {}), plain, output))
        u = sympy.Function(output)(*[symbols[v] for v in inputs])
        with_u = {**plain, **derivative_names(output, u, [symbols[v] for v in inputs],
                                               self.error)}
        residuals, conditions = self.pde_part(spec, data_only, with_u, plain, u, domain,
                                              excluded, space, time)
        exact, reference = self.reference(spec.get("reference"), plain, inputs, domain, data_only)
        hard = None
        if "hard_constraint" in spec:
            hard = self.hard_constraint(spec["hard_constraint"], plain, conditions, symbols,
                                        parameters, param_symbols, domain, excluded)
        problem = Problem(
            name=name, title=self.string(spec["title"], "title"),
            description=self.string(spec.get("description", ""), "description").strip(),
            space=space, time=time, output=output, symbols=symbols, u=u, domain=domain,
            excluded=excluded, parameters=parameters, parameter_symbols=param_symbols,
            residuals=residuals, conditions=conditions, exact=exact, reference=reference,
            budget=self.budget(spec.get("budget", {})),
            literature=self.literature(spec.get("literature", [])),
            data_only=data_only, source=self.file, spec=spec, hard_constraint=hard, origin=self.origin)
        check_exact(problem, self.error)
        problem = settle_auto_reference(problem, self.error)
        # a catalogue entry is its solver's problem by definition: no need to load it twice
        if (reference.solver in REFERENCE_SOLVERS and self.match_solver
                and self.origin != REFERENCE_SOLVERS[reference.solver]):
            check_solver_problem(problem, self.solver_entry(reference.solver, parameters),
                                 self.error)
        return problem

    def solver_entry(self, solver: str, parameters: Mapping[str, Parameter]) -> Problem:
        """The catalogue problem ``solver`` solves, with this file's values of its parameters."""
        path, origin = locate(REFERENCE_SOLVERS[solver])
        spec = read_spec_file(path)
        known = spec.get("parameters", {})
        overrides = {n: p.value for n, p in parameters.items() if n in known}
        return Loader(str(path), origin, match_solver=False).load(spec, overrides)

    def hard_constraint(self, value, plain, conditions, symbols, parameters, param_symbols,
                        domain, excluded):
        """``[hard_constraint]``: offset, factor, enforces — checked against the conditions."""
        from spikepde.problem.problem import HardConstraint

        table = self.table(value, "hard_constraint", {"offset", "factor", "enforces"},
                           required=("offset", "factor", "enforces"))
        offset = self.formula(table["offset"], "hard_constraint.offset", plain)
        factor = self.formula(table["factor"], "hard_constraint.factor", plain)
        enforces = table["enforces"]
        if not isinstance(enforces, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                     for i in enforces):
            raise self.error("hard_constraint.enforces", "expected a list of condition indices")
        for i in enforces:
            if not 0 <= i < len(conditions):
                raise self.error("hard_constraint.enforces",
                                 f"no condition {i} (there are {len(conditions)})")
            self._check_enforced(i, conditions[i], offset, factor, symbols, parameters,
                                 param_symbols, domain, excluded)
        return HardConstraint(offset, factor, tuple(enforces))

    def _check_enforced(self, i, condition, offset, factor, symbols, parameters, param_symbols,
                        domain, excluded):
        """The transform must satisfy condition i for every N: check at sample points of its faces."""
        if condition.kind not in ("initial", "dirichlet"):
            raise self.error("hard_constraint.enforces",
                             f"condition {i} is '{condition.kind}'; only initial and dirichlet "
                             "conditions can be enforced by the transform")
        subs = {param_symbols[k]: sympy.Float(p.value) for k, p in parameters.items()}
        for face in condition.faces:
            var = symbols[face.variable]
            box = domain if face.box is None else excluded[face.box]
            where = box[face.variable][0 if face.side == "min" else 1]
            others = [(name, s) for name, s in symbols.items() if name != face.variable]
            for k in range(5):
                point = {var: sympy.Float(where)}
                # interior points of the face: fractions of each other variable's range
                point.update({s: sympy.Float(domain[name][0] + (domain[name][1] - domain[name][0])
                                             * (2 * k + 1) / 11) for name, s in others})
                f = complex(factor.xreplace(subs).xreplace(point).evalf())
                gap = complex((offset - condition.value).xreplace(subs).xreplace(point).evalf())
                if abs(f) > 1e-9 or abs(gap) > 1e-9:
                    raise self.error("hard_constraint",
                                     f"the transform does not satisfy condition {i} "
                                     f"({condition.kind} on {face.name}): at {point} the factor is "
                                     f"{f.real:.3g} and offset − value is {gap.real:.3g}; both must be 0")

    def pde_part(self, spec, data_only, with_u, plain, u, domain, excluded, space, time):
        if data_only:
            for key in ("pde", "conditions"):
                if key in spec:
                    raise self.error(key, "a regression problem (kind = \"regression\") has "
                                          "no PDE and no conditions")
            return (), ()
        if "pde" not in spec:
            raise self.error("pde", "required field is missing (or set kind = \"regression\")")
        residuals = self.residuals(spec["pde"], with_u, u)
        conditions = self.conditions(spec.get("conditions", []), with_u, plain, u, domain,
                                     excluded, space, time)
        return residuals, conditions

    # ------------------------------------------------------------------------- sections
    def variables(self, value: Any) -> tuple[tuple[str, ...], str | None, str]:
        table = self.table(value, "variables", {"space", "time", "output"}, required=("space",))
        space = table["space"]
        if isinstance(space, str):
            space = [space]
        if not isinstance(space, list) or not space:
            raise self.error("variables.space", "expected a non-empty list of variable names")
        self.at_most(space, "variables.space", MAX_SPACE_VARIABLES, "space variables")
        names = [self.variable_name(v, f"variables.space[{i}]") for i, v in enumerate(space)]
        time = table.get("time")
        if time is not None:
            names.append(self.variable_name(time, "variables.time"))
        output = self.variable_name(table.get("output", "u"), "variables.output")
        names.append(output)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise self.error("variables", f"name '{duplicates[0]}' is used twice")
        return tuple(names[:len(space)]), time, output

    def variable_name(self, value: Any, field: str) -> str:
        name = self.string(value, field)
        if not _VARIABLE_NAME.match(name):
            raise self.error(field, f"expected a name of letters and digits starting with a "
                                    f"letter (no '_', which starts derivative names), found {name!r}")
        if name in RESERVED_NAMES or name == "boundary":
            raise self.error(field, f"'{name}' is reserved (a function or constant name)")
        return name

    def domain(self, value: Any, space: tuple[str, ...], inputs: tuple[str, ...]):
        table = self.table(value, "domain", set(inputs) | {"exclude"}, required=inputs)
        domain = {v: self.interval(table[v], f"domain.{v}") for v in inputs}
        boxes = table.get("exclude", [])
        if not isinstance(boxes, list):
            raise self.error("domain.exclude", f"expected a list of tables, found {_type_name(boxes)}")
        self.at_most(boxes, "domain.exclude", MAX_EXCLUDED_BOXES, "excluded boxes")
        excluded = []
        for k, box in enumerate(boxes):
            field = f"domain.exclude[{k}]"
            box = self.table(box, field, set(space))
            if not box:
                raise self.error(field, f"expected bounds for some of {', '.join(space)}")
            bounds = {v: self.interval(box[v], f"{field}.{v}") for v in space if v in box}
            for v, (lo, hi) in bounds.items():
                d_lo, d_hi = domain[v]
                if hi <= d_lo or lo >= d_hi:
                    raise self.error(f"{field}.{v}", f"box [{lo}, {hi}] does not overlap the "
                                                     f"domain [{d_lo}, {d_hi}]")
            excluded.append(bounds)
        if excluded and self.covered(domain, excluded, space):
            raise self.error("domain.exclude", "the excluded boxes cover the whole domain")
        return domain, tuple(excluded)

    def covered(self, domain, excluded, space) -> bool:
        """Whether the excluded boxes cover the domain box, refused when the exact check would
        examine more than :data:`MAX_COVERAGE_CELLS` cells."""
        cells = math.prod(len({*domain[v], *(b[v][i] for b in excluded if v in b for i in (0, 1))})
                          for v in space)
        if cells > MAX_COVERAGE_CELLS:
            raise self.error("domain.exclude", f"{len(excluded)} boxes in {len(space)} dimensions "
                                               f"cut the domain into about {cells} cells; at most "
                                               f"{MAX_COVERAGE_CELLS} (use fewer boxes)")
        return covered(domain, excluded, space)

    def interval(self, value: Any, field: str) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2:
            raise self.error(field, f"expected [lower, upper], found {value!r}")
        lo = self.number(value[0], f"{field}[0]")
        hi = self.number(value[1], f"{field}[1]")
        if not lo < hi:
            raise self.error(field, f"lower bound {lo} must be below upper bound {hi}")
        return lo, hi

    def parameters(self, value: Any, overrides: Mapping[str, Any], inputs, output):
        table = self.table(value, "parameters")
        self.at_most(table, "parameters", MAX_PARAMETERS, "parameters")
        unknown = sorted(set(overrides) - set(table))
        if unknown:
            known = ", ".join(table) or "none"
            raise self.error(f"parameters.{unknown[0]}",
                             f"unknown parameter '{unknown[0]}'; this problem's parameters: {known}")
        params = {}
        for name, entry in table.items():
            params[name] = self.parameter(name, entry, overrides, inputs, output)
        return params

    def parameter(self, name: str, entry: Any, overrides, inputs, output) -> Parameter:
        field = f"parameters.{name}"
        if not _PARAMETER_NAME.match(name) or name in RESERVED_NAMES:
            raise self.error(field, "expected a parameter name of letters, digits and '_' "
                                    "that is not a function or constant name")
        if name in inputs or name == output or name.startswith(f"{output}_"):
            raise self.error(field, f"parameter name '{name}' clashes with a variable")
        if not isinstance(entry, Mapping):
            entry = {"default": entry}
        entry = self.table(entry, field, {"default", "description", "min", "max"},
                           required=("default",))
        default = self.number(entry["default"], f"{field}.default")
        minimum = self.number(entry["min"], f"{field}.min") if "min" in entry else None
        maximum = self.number(entry["max"], f"{field}.max") if "max" in entry else None
        value = default
        if name in overrides:
            value = self.number(overrides[name], field)
        for bound, ok in ((minimum, lambda b: value >= b), (maximum, lambda b: value <= b)):
            if bound is not None and not ok(bound):
                raise self.error(field, f"value {value} outside the allowed range "
                                        f"[{minimum}, {maximum}]")
        return Parameter(name=name, default=default, value=value,
                         description=self.string(entry.get("description", ""),
                                                 f"{field}.description"),
                         default_text=str(entry["default"]), minimum=minimum, maximum=maximum)

    def definitions(self, value: Any, names: dict[str, sympy.Basic], output: str):
        table = self.table(value, "definitions")
        self.at_most(table, "definitions", MAX_DEFINITIONS, "definitions")
        defined: dict[str, sympy.Expr] = {}
        for name, text in table.items():
            field = f"definitions.{name}"
            if (not _PARAMETER_NAME.match(name) or name in RESERVED_NAMES or name in names
                    or name == output or name.startswith(f"{output}_")):
                raise self.error(field, f"'{name}' cannot be defined: it is not a plain name or "
                                        "clashes with a variable, parameter or function")
            defined[name] = self.formula(text, field, {**names, **defined})
        return defined

    def residuals(self, value: Any, names, u) -> tuple[sympy.Expr, ...]:
        table = self.table(value, "pde", {"residual", "residuals"})
        if ("residual" in table) == ("residuals" in table):
            raise self.error("pde", "give exactly one of 'residual' (a formula) or "
                                    "'residuals' (a list of formulas)")
        if "residual" in table:
            items, base = [table["residual"]], "pde.residual"
        else:
            items, base = table["residuals"], "pde.residuals"
            if not isinstance(items, list) or not items:
                raise self.error(base, "expected a non-empty list of formulas")
            self.at_most(items, base, MAX_RESIDUALS, "residuals")
        result = []
        for i, text in enumerate(items):
            field = base if base == "pde.residual" else f"{base}[{i}]"
            expr = self.formula(text, field, names)
            if not expr.has(u):
                raise self.error(field, f"the residual does not involve the unknown {u.func}")
            result.append(expr)
        return tuple(result)

    def conditions(self, value, with_u, plain, u, domain, excluded, space, time):
        if not isinstance(value, list):
            raise self.error("conditions", f"expected a list of tables ([[conditions]]), "
                                           f"found {_type_name(value)}")
        self.at_most(value, "conditions", MAX_CONDITIONS, "conditions")
        return tuple(self.condition(entry, f"conditions[{i}]", with_u, plain, u, domain,
                                    excluded, space, time) for i, entry in enumerate(value))

    def condition(self, entry, field, with_u, plain, u, domain, excluded, space, time):
        entry = self.table(entry, field, {"kind", "on", "value", "residual", "derivatives",
                                          "weight", "points", "label"}, required=("kind",))
        kind = self.string(entry["kind"], f"{field}.kind")
        if kind not in CONDITION_KINDS:
            raise self.error(f"{field}.kind", f"unknown condition kind {kind!r}; expected one of "
                                              f"{', '.join(CONDITION_KINDS)}")
        self.check_fields_for_kind(entry, kind, field)
        if kind == "initial" and time is None:
            raise self.error(f"{field}.kind", "an initial condition needs a time variable")
        default_on = f"{time}_min" if kind == "initial" else None
        if "on" not in entry and default_on is None:
            raise self.error(f"{field}.on", "required field is missing")
        faces = self.faces(entry.get("on", default_on), f"{field}.on", domain, excluded,
                           space, time)
        self.check_faces_for_kind(kind, faces, f"{field}.on", time)
        value = sympy.Integer(0)
        if "value" in entry:
            value = self.formula(entry["value"], f"{field}.value", plain)
        operator = None
        if kind == "operator":
            operator = self.formula(entry["residual"], f"{field}.residual", with_u)
            if not operator.has(u):
                raise self.error(f"{field}.residual", f"the operator does not involve {u.func}")
        derivatives = 0
        if "derivatives" in entry:
            derivatives = self.integer(entry["derivatives"], f"{field}.derivatives", minimum=0)
            if derivatives > MAX_DERIVATIVE_ORDER - 1:
                raise self.error(f"{field}.derivatives",
                                 f"expected at most {MAX_DERIVATIVE_ORDER - 1}")
        weight = self.number(entry.get("weight", 1.0), f"{field}.weight")
        if weight <= 0:
            raise self.error(f"{field}.weight", "expected a positive weight")
        points = self.point_count(entry["points"], f"{field}.points") if "points" in entry else None
        label = self.string(entry.get("label", ""), f"{field}.label") or \
            f"{kind} on {', '.join(f.name for f in faces)}"
        return Condition(kind=kind, faces=faces, value=value, operator=operator,
                         derivatives=derivatives, weight=weight, points=points, label=label)

    def check_fields_for_kind(self, entry, kind, field):
        needs = {"initial": {"value"}, "dirichlet": {"value"}, "neumann": {"value"},
                 "operator": {"residual"}, "periodic": set()}[kind]
        allowed_extra = {"operator": {"value"}, "periodic": {"derivatives"}}.get(kind, set())
        for key in needs:
            if key not in entry:
                raise self.error(f"{field}.{key}", f"required for a {kind} condition")
        for key in ("value", "residual", "derivatives"):
            if key in entry and key not in needs | allowed_extra:
                raise self.error(f"{field}.{key}", f"not used by a {kind} condition")

    def faces(self, value, field, domain, excluded, space, time) -> tuple[Face, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.error(field, "expected a face name or a list of face names")
        faces: list[Face] = []
        for i, item in enumerate(items):
            sub = field if isinstance(value, str) else f"{field}[{i}]"
            for face in self.face(item, sub, domain, excluded, space, time):
                if face in faces:
                    raise self.error(sub, f"face {face.name} is listed twice")
                faces.append(face)
        return tuple(faces)

    def face(self, text, field, domain, excluded, space, time) -> list[Face]:
        text = self.string(text, field)
        if text == "boundary":
            return boundary_faces(domain, excluded, space)
        match = _FACE_NAME.match(text)
        expected = (f"expected 'boundary', '<variable>_min' or '<variable>_max' with a variable "
                    f"among {', '.join(domain)}, or 'exclude[k].<variable>_min|max'")
        if not match:
            raise self.error(field, f"{expected}; found {text!r}")
        box, variable, side = match.groups()
        if variable not in domain:
            raise self.error(field, f"unknown variable '{variable}' in face {text!r}; {expected}")
        if box is None:
            return [Face(variable, side)]
        k = int(box)
        if k >= len(excluded):
            raise self.error(field, f"there is no excluded box {k} (domain.exclude has "
                                    f"{len(excluded)})")
        face = Face(variable, side, k)
        if face not in boundary_faces(domain, excluded, space):
            raise self.error(field, f"face {text!r} is not part of the domain boundary "
                                    "(it lies on the outer boundary or outside the domain)")
        return [face]

    def check_faces_for_kind(self, kind, faces, field, time):
        if kind == "initial" and faces != (Face(time, "min"),):
            raise self.error(field, f"an initial condition lives on '{time}_min' only")
        if kind in ("dirichlet", "neumann") and any(f.variable == time for f in faces):
            if kind == "neumann" or any(f.side == "max" for f in faces):
                raise self.error(field, f"a {kind} condition cannot be set on a time face "
                                        f"(use kind = \"initial\" or \"operator\")")
        if kind == "periodic":
            variables = {f.variable for f in faces}
            if (len(faces) != 2 or len(variables) != 1 or any(f.box is not None for f in faces)
                    or time in variables):
                raise self.error(field, "a periodic condition needs the two outer faces of one "
                                        "space variable, e.g. [\"x_min\", \"x_max\"]")

    def reference(self, value, names, inputs, domain, data_only):
        """``[reference]``, or without it (a PDE nobody has solved) no reference: the evaluation
        grid is then :func:`~spikepde.problem.domain.default_grid` and runs report residual metrics only."""
        if value is None:
            if data_only:
                raise self.error("reference", "a regression problem needs [reference] with the "
                                              "target function as 'exact'")
            return None, ReferenceSpec(solver=None, grid=default_grid(domain, inputs),
                                       has_exact=False, notes="")
        table = self.table(value, "reference", {"exact", "solver", "grid", "notes"},
                           required=("grid",))
        if "exact" not in table and "solver" not in table:
            raise self.error("reference", "give 'exact' (a closed form) and/or 'solver' "
                                          "(a named reference solver)")
        if data_only and "exact" not in table:
            raise self.error("reference.exact", "a regression problem needs the target "
                                                "function as 'exact'")
        exact = self.formula(table["exact"], "reference.exact", names) if "exact" in table else None
        solver = None
        if "solver" in table:
            solver = self.string(table["solver"], "reference.solver")
            if solver not in REFERENCE_SOLVERS and solver != AUTO_SOLVER:
                raise self.error("reference.solver", f"unknown reference solver {solver[:80]!r}; "
                                                     f"known: {', '.join(REFERENCE_SOLVERS)}, "
                                                     f"{AUTO_SOLVER}")
        grid_table = self.table(table["grid"], "reference.grid", set(inputs), required=inputs)
        grid = {v: self.grid_axis(grid_table[v], f"reference.grid.{v}", domain[v]) for v in inputs}
        self.check_grid_size(grid)
        notes = self.string(table.get("notes", ""), "reference.notes")
        return exact, ReferenceSpec(solver=solver, grid=grid, has_exact=exact is not None,
                                    notes=notes.strip())

    def check_grid_size(self, grid: Mapping[str, GridAxis]) -> None:
        """The reference grid's points, refused above :data:`MAX_GRID_POINTS` with the memory
        its arrays would take."""
        n = math.prod(axis.n for axis in grid.values())
        if n > MAX_GRID_POINTS:
            largest = max(grid, key=lambda v: grid[v].n)
            size = describe_bytes(n * GRID_BYTES_PER_INPUT * (len(grid) + 3))
            counts = " × ".join(describe_count(a.n) for a in grid.values())
            raise self.error("reference.grid", f"{counts} = {describe_count(n)} points would take "
                                               f"{size}; at most "
                                               f"{MAX_GRID_POINTS} (lower reference.grid.{largest})")

    def grid_axis(self, value, field, bounds) -> GridAxis:
        if not isinstance(value, Mapping):
            value = {"n": value}
        table = self.table(value, field, {"n", "min", "max", "endpoint"}, required=("n",))
        n = self.integer(table["n"], f"{field}.n", minimum=2)
        lo = self.number(table.get("min", bounds[0]), f"{field}.min")
        hi = self.number(table.get("max", bounds[1]), f"{field}.max")
        if not bounds[0] <= lo < hi <= bounds[1]:
            raise self.error(field, f"grid [{lo}, {hi}] must be increasing and inside the "
                                    f"domain [{bounds[0]}, {bounds[1]}]")
        endpoint = table.get("endpoint", True)
        if not isinstance(endpoint, bool):
            raise self.error(f"{field}.endpoint", f"expected true or false, found {endpoint!r}")
        return GridAxis(n=n, lo=lo, hi=hi, endpoint=endpoint)

    def budget(self, value) -> dict[str, int]:
        table = self.table(value, "budget", set(BUDGET_DEFAULTS))
        budget = dict(BUDGET_DEFAULTS)
        for key, item in table.items():
            read = self.point_count if key.endswith("_points") else self.integer
            budget[key] = read(item, f"budget.{key}")
        return budget

    def literature(self, value) -> tuple[dict[str, Any], ...]:
        if not isinstance(value, list):
            raise self.error("literature", f"expected a list of tables ([[literature]]), "
                                           f"found {_type_name(value)}")
        self.at_most(value, "literature", MAX_LITERATURE, "literature entries")
        entries = []
        for i, entry in enumerate(value):
            field = f"literature[{i}]"
            entry = self.table(entry, field, {"method", "relative_l2", "source", "note",
                                              "secondary"},
                               required=("method", "relative_l2", "source"))
            for key in ("method", "source", "note"):
                if key in entry:
                    self.string(entry[key], f"{field}.{key}")
            l2 = self.number(entry["relative_l2"], f"{field}.relative_l2")
            if l2 < 0:
                raise self.error(f"{field}.relative_l2", "expected a non-negative number")
            secondary = entry.get("secondary", False)
            if not isinstance(secondary, bool):
                raise self.error(f"{field}.secondary", "expected true or false")
            entries.append({"method": entry["method"], "relative_l2": l2,
                            "source": entry["source"], "note": entry.get("note", ""),
                            "secondary": secondary})
        return tuple(entries)


# ============================================================================= free helpers
def _join(field: str | None, key: str) -> str:
    return f"{field}.{key}" if field else key


def _type_name(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)

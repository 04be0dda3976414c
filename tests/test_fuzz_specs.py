"""Whole problem specs under fuzzing: hostile formulas in every formula field, wrong types in
every field, missing and unknown fields, random TOML-like tables, random and damaged files.

Every input must end either in a valid Problem or in :class:`spikepde.errors.SpecError` naming
the file (and the field, when one is to blame), within a bounded time — never another exception
type, never a hang, never executed code. Each example runs in a forked child process that is
killed after :data:`GUARD_S` seconds (``hostile_specs.guarded``): a hang fails the test instead
of stalling the suite. ``tests/test_hostile_inputs.py`` runs the hand-made hostile classes through
the command line, and the structure strategies below draw large counts and long chains. ``tests/test_expr.py`` fuzzes the formula parser on its
own and ``tests/test_spec.py`` has one hand-written case per validation rule; this module
combines them at the level of the whole spec. ``benchmarks/robustness.py`` runs the same
strategies for thousands of examples with a fixed seed.
"""
from __future__ import annotations

import copy
import tomllib
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_specs import Outcome, guarded
from spikepde.problem import limits, load_problem, problem_from_dict

SOURCE = "fuzz.toml"
CATALOGUE = Path(__file__).resolve().parents[1] / "problems"
# bases of different shapes: time-dependent 1-D, 2-D with an excluded box, operator conditions
BASES = {name: tomllib.loads((CATALOGUE / f"{name}.toml").read_text())
         for name in ("burgers", "poisson_lshape", "wave1d", "heat2d")}

# a marker file that a payload would create if any user text were ever executed
MARKER = Path("/tmp/spikepde-fuzz-pwned")

HOSTILE_FORMULAS = [
    f"__import__('os').system('touch {MARKER}')",
    f"open('{MARKER}', 'w')",
    "x.__class__.__base__.__subclasses__()",
    "().__class__.__mro__[1].__subclasses__()",
    "sin.__globals__['__builtins__']",
    "(lambda: 1)()",
    "[c for c in ()]",
    "eval('1')",
    "exec('import os')",
    "getattr(x, '__dict__')",
    "sympify('x')",
    "x.func",
    "u_t.real",
    "__builtins__",
    "9**9**9**9",
    "((10**60)**60)**60",
    "2**2**2**2**2**2",
    "x**1000000",
    "exp(exp(exp(exp(1000))))",
    "1e999",
    "-1e309",
    "nan",
    "oo",
    "zoo",
    "1/0",
    "log(0)",
    "sqrt(-1)",
    "I",
    "1j",
    "x" * 5000,
    "(" * 3000 + "x" + ")" * 3000,
    "-" * 5000 + "x",
    "+".join(["x"] * 4000),
    "sin(" * 200 + "x" + ")" * 200,
    "x" + "**x" * 500,
    "\x00",
    "x\n+\nt",
    "# comment",
    "x; import os",
    "f'{x}'",
    "b'x'",
    "...",
    "x if x else t",
    "u(x, t)",
    "Derivative(u, x)",
    "Function('f')(x)",
    "Symbol('evil')",
    "unknown_symbol * x",
    "u_xxxxxxxxxxxxxxxxxxxx",
    "\u00e9t\u00e9 + x",
    "\u2028x",
    "ｘ + 1",   # fullwidth letters normalise to 'x' in Python identifiers
]

# a line separator is whitespace to str.strip; NFKC turns fullwidth 'ｘ' into 'x'
HARMLESS = {"\u2028x", "ｘ + 1"}

_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**20, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(HOSTILE_FORMULAS),
)
# any value a TOML table could hold (and some it could not: None, tuples, sets, bytes, objects)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
_weird = st.one_of(st.just(()), st.just({1, 2}), st.just(b"bytes"), st.just(object()),
                   st.just(float("nan")), st.just(complex(1, 2)), st.just(2**4096),
                   st.just([[[[[[[[[[[]]]]]]]]]]]))


def _paths(node, prefix=()):
    """Every path (tuple of keys and indices) into a nested dict/list spec."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _apply(spec, path, action, value):
    """Delete, replace or add (an unknown key) at ``path`` of a deep copy of ``spec``."""
    spec = copy.deepcopy(spec)
    if not path:
        return value if action == "replace" else spec
    parent = spec
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif isinstance(parent[last], dict):
        parent[last]["unknown_" + str(abs(hash(str(value))) % 1000)] = value
    return spec


@st.composite
def mutated_specs(draw):
    """A catalogue spec with 1-3 fields deleted, replaced (wrong type, hostile formula) or extended."""
    spec = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(spec))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["delete", "replace", "replace", "add"]))
        value = draw(st.one_of(_value, _weird, st.sampled_from(HOSTILE_FORMULAS)))
        if action == "delete" and not path:
            continue
        spec = _apply(spec, path, action, value)
        if not isinstance(spec, dict):
            break
    return spec


# keys that the spec format knows, so random tables hit real validation paths
_KNOWN_KEYS = sorted({str(p[-1]) for base in BASES.values() for p in _paths(base)
                      if p and isinstance(p[-1], str)})
random_tables = st.dictionaries(st.one_of(st.sampled_from(_KNOWN_KEYS), st.text(max_size=10)),
                                _value, max_size=8)


#: Seconds an example may run in its child process before it counts as a hang.
GUARD_S = 10.0


def _check(outcome: Outcome, file: str) -> None:
    """A valid problem, or a SpecError naming ``file`` (and its field) on one line; nothing else."""
    assert not MARKER.exists(), "user text was executed"
    assert outcome.kind in ("ok", "spec_error"), f"{outcome.kind}: {outcome.text}"
    if outcome.kind == "spec_error":
        assert outcome.file == file, (outcome.file, outcome.text)
        assert file in outcome.text
        if outcome.field is not None:
            assert f"'{outcome.field}'" in outcome.text
        assert "\n" not in outcome.text.split(": ", 1)[0]     # the location prefix is one line


def _build(spec, **overrides) -> Outcome:
    outcome = guarded(lambda: problem_from_dict(spec, source=SOURCE, **overrides), GUARD_S)
    _check(outcome, SOURCE)
    return outcome


FUZZ = settings(max_examples=120, deadline=timedelta(seconds=GUARD_S + 2), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(mutated_specs())
def test_mutated_catalogue_specs_are_valid_or_a_spec_error(spec):
    _build(spec)


@FUZZ
@given(st.sampled_from(sorted(BASES)), st.sampled_from(["pde.residual", "reference.exact",
                                                       "conditions.0.value", "domain.x.1"]),
       st.sampled_from(HOSTILE_FORMULAS))
def test_hostile_formula_in_any_formula_field_names_that_field(base, where, formula):
    spec = copy.deepcopy(BASES[base])
    # without the output transform: a changed condition value would (rightly) be reported
    # against [hard_constraint], which no longer satisfies it, instead of the formula's field
    spec.pop("hard_constraint", None)
    keys = [int(k) if k.isdigit() else k for k in where.split(".")]
    node = spec
    for k in keys[:-1]:
        if isinstance(node, dict) and k not in node:
            return   # this base has no such field
        node = node[k]
    if isinstance(node, dict) and keys[-1] not in node:
        return
    node[keys[-1]] = formula
    outcome = _build(spec)
    if outcome.kind == "ok":
        # only the formulas that are plain 'x' in disguise may pass
        assert formula in HARMLESS, f"accepted {formula!r} in {where}"
    elif formula in HARMLESS and outcome.field in ("reference.exact", "reference.solver"):
        pass     # the formula was read; the reference no longer belongs to the changed problem
    else:
        # the error points at the field that holds the formula, not somewhere downstream
        assert outcome.field is not None and outcome.field.startswith(where.split(".")[0]), \
            (outcome.field, where)


@FUZZ
@given(st.one_of(random_tables, _value, _weird))
def test_random_tables_are_rejected_with_the_file(spec):
    _build(spec)


@FUZZ
@given(st.sampled_from(sorted(BASES)),
       st.dictionaries(st.one_of(st.sampled_from(["nu", "a", "c", "d", "x", "t", "u", "__class__"]),
                                 st.text(max_size=8)),
                       st.one_of(st.floats(), st.integers(), st.sampled_from(HOSTILE_FORMULAS),
                                 st.text(max_size=20)), max_size=3))
def test_parameter_overrides_are_validated(base, overrides):
    _build(BASES[base], **overrides)


def _damaged_text(draw):
    """A catalogue file with random characters replaced, inserted or cut off."""
    text = (CATALOGUE / f"{draw(st.sampled_from(sorted(BASES)))}.toml").read_text()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["cut", "insert", "replace"]))
        junk = draw(st.text(alphabet='=[]{}"\'\n ,.#-+*xtu_0123456789abc\\', min_size=1, max_size=8))
        if kind == "cut":
            text = text[:i]
        elif kind == "insert":
            text = text[:i] + junk + text[i:]
        else:
            text = text[:i] + junk + text[i + len(junk):]
    return text.encode("utf-8")


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                 st.composite(lambda draw: _damaged_text(draw))(),
                 st.sampled_from([b"a = " + b"[" * 100_000, b"x = 1\n" * 40_000, b"\xff\xfe",
                                  b"[pde]\nresidual = '" + b"(" * 10_000 + b"'"])))
def test_random_files_load_or_give_a_spec_error_with_the_path(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "spec.toml"
    path.write_bytes(data)
    _check(guarded(lambda: load_problem(path), GUARD_S), str(path))


# ---------------------------------------------------------------------------------- structure
@st.composite
def structured_specs(draw):
    """A heat-equation spec grown in structure rather than text: many space variables, long
    chains of definitions (each using the last one several times), many parameters, conditions,
    excluded boxes and residuals, point counts and grids from tiny to 10^13 — around and far
    beyond every limit of :mod:`spikepde.problem.limits`."""
    big = st.one_of(st.integers(1, 2000), st.integers(2000, 10**13))
    n_space = draw(st.integers(1, 2 * limits.MAX_SPACE_VARIABLES))
    space = [f"x{k}" for k in range(n_space)]
    laplacian = " + ".join(f"u_{v}{v}" for v in space[:3])
    spec = {"name": "structure", "title": "structure fuzz",
            "variables": {"space": space, "time": "t"},
            "domain": {**{v: [0.0, 1.0] for v in space}, "t": [0.0, 1.0]},
            "pde": {"residual": f"u_t - ({laplacian})"},
            "conditions": [{"kind": "initial", "value": "0"}],
            "reference": {"exact": "0", "grid": {**{v: 5 for v in space}, "t": 5}},
            "budget": {"interior_points": draw(big)}}
    uses = draw(st.integers(1, 3))         # how often each definition uses the previous one
    chain = draw(st.integers(0, limits.MAX_DEFINITIONS + 8))
    spec["definitions"] = {"d0": "x0 + t", **{f"d{k}": "*".join([f"(d{k - 1} + {k})"] * uses)
                                               for k in range(1, chain + 1)}}
    if chain:
        spec["pde"]["residual"] += f" - d{chain}"
    spec["parameters"] = {f"p{k}": float(k) for k in range(draw(st.integers(0, 80)))}
    spec["conditions"] += [{"kind": "dirichlet", "on": "boundary", "value": "0",
                            "points": draw(big)} for _ in range(draw(st.integers(0, 80)))]
    n_boxes = draw(st.integers(0, limits.MAX_EXCLUDED_BOXES + 4))
    if n_boxes:
        spec["domain"]["exclude"] = [{v: [(k + 0.2) / (n_boxes + 1), (k + 0.6) / (n_boxes + 1)]
                                      for v in space} for k in range(n_boxes)]
    if draw(st.booleans()):
        spec["pde"] = {"residuals": [spec["pde"]["residual"]] * draw(st.integers(1, 12))}
    spec["reference"]["grid"][space[0]] = draw(st.one_of(st.integers(2, 100), st.integers(10**6, 10**13)))
    return spec


@settings(max_examples=40, deadline=timedelta(seconds=GUARD_S + 2), database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(structured_specs())
def test_large_structures_load_or_are_refused_quickly(spec):
    outcome = _build(spec)
    assert outcome.seconds < 5, f"{outcome.seconds:.1f} s: {outcome.text}"

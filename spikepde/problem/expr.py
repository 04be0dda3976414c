"""Safe parsing of the formulas written in problem files.

A formula such as ``"u_t + u*u_x - nu*u_xx"`` is parsed with Python's :mod:`ast` module (which
only *reads* the text) and the sympy tree is then built node by node from a whitelist:

* numeric literals (int, float), the constants ``pi`` and ``E``;
* names supplied by the caller (variables, parameters, derivative names such as ``u_xx``);
* binary ``+ - * / **``, unary ``-`` and ``+``;
* calls of the functions in :data:`FUNCTIONS` with exactly one positional argument.

Anything else (attribute access, subscripts, lambdas, comprehensions, strings, keyword
arguments, ``*args``, dunder names, calls of anything that is not a whitelisted name) raises
:class:`spikepde.errors.SpecError`. The text is never handed to ``eval``, ``exec``,
``sympify`` or ``parse_expr``: those would execute arbitrary code from a problem file.

The amount of work is bounded before any sympy object is built: the text length, the nesting
depth and the node count are limited, and integer powers of numbers are refused when the result
would be huge (``9**9**9**9`` would otherwise make sympy compute a number with hundreds of
millions of digits).
"""
from __future__ import annotations

import ast
import itertools
import math
from collections.abc import Mapping

import sympy

from spikepde.errors import SpecError

#: Highest total derivative order that gets a name such as ``u_xxxx``.
MAX_DERIVATIVE_ORDER = 4
#: Longest formula accepted, in characters.
MAX_LENGTH = 2000
#: Deepest nesting of the syntax tree accepted (a formula in a problem file is rarely above 10).
MAX_DEPTH = 50
#: Most syntax-tree nodes accepted.
MAX_NODES = 1000
#: Most parts of a formula once the definitions it names are substituted (each use of a
#: definition counts its whole formula); a catalogue formula has well under 200.
MAX_FORMULA_NODES = 5000
#: Deepest nesting of a formula once the definitions it names are substituted (sympy's own
#: simplifications on construction grow with the depth of what they combine).
MAX_FORMULA_DEPTH = 60
#: Largest absolute value of a numeric exponent.
MAX_EXPONENT = 64
#: Largest number of bits in an exact numeric power such as ``2**64`` (keeps sympy integers small).
MAX_POWER_BITS = 4096
#: Largest integer literal accepted (larger values must be written as floats, e.g. ``1e40``).
MAX_INT_LITERAL = 10**30

#: Functions a formula may call, by the name used in the formula.
FUNCTIONS: dict[str, type[sympy.Function]] = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "asin": sympy.asin,
    "acos": sympy.acos,
    "atan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sympy.sqrt,
    "abs": sympy.Abs,
    "sign": sympy.sign,
    "heaviside": sympy.Heaviside,
}

#: Constants every formula may use.
CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "E": sympy.E}

#: Names a problem file may not use for its own variables or parameters.
RESERVED_NAMES = frozenset(FUNCTIONS) | frozenset(CONSTANTS)

_BINARY_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY_OPS = {ast.USub: "-", ast.UAdd: "+"}

# What a rejected node is called in the error message (the user wrote text, not an AST).
_NODE_DESCRIPTIONS = {
    ast.Attribute: "attribute access ('.')",
    ast.Subscript: "subscripts ('[...]')",
    ast.Lambda: "lambda expressions",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.Starred: "starred arguments ('*')",
    ast.Compare: "comparisons",
    ast.BoolOp: "boolean operators (and/or)",
    ast.IfExp: "conditional expressions (if/else)",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "assignment expressions (':=')",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}

_ALLOWED_TEXT = ("numbers, the names of the problem's variables, parameters and derivatives, "
                 "pi, E, the operators + - * / ** and the functions "
                 + ", ".join(sorted(FUNCTIONS)))


def parse_expression(text: str, names: Mapping[str, sympy.Basic], *,
                     file: str | None = None, field: str | None = None) -> sympy.Expr:
    """Parse a formula into a sympy expression without executing anything.

    Args:
        text: the formula, in Python syntax (``"-sin(pi*x)"``, ``"u_t + u*u_x - nu*u_xx"``).
        names: the names the formula may use, mapped to their sympy objects (symbols,
            applied functions, derivatives). ``pi``, ``E`` and the functions in
            :data:`FUNCTIONS` are always available and cannot be overridden.
        file, field: where the formula comes from; both are copied into any error.

    Returns:
        The sympy expression.

    Raises:
        SpecError: the text is not a string, too long, not valid syntax, too deeply nested,
            uses a construct or name outside the whitelist, or a power is too large.
    """
    def fail(message: str) -> SpecError:
        return SpecError(message, file=file, field=field)

    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise fail(f"expected a formula (string or number), found {type(text).__name__}")
    if not isinstance(text, str):
        text = repr(text)
    if len(text) > MAX_LENGTH:
        raise fail(f"formula is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    if not text.strip():
        raise fail("formula is empty")
    _check_bracket_depth(text, fail)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise fail(f"invalid formula {text!r}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        # CPython's parser can run out of stack on long operator chains ("a+a+a+..."),
        # and refuses NUL bytes with ValueError.
        raise fail(f"formula cannot be parsed (nested too deeply or malformed); "
                   f"at most {MAX_DEPTH} levels of nesting are allowed") from None
    _check_tree_size(tree, fail)
    try:
        result = _Builder(names, fail).build(tree.body)
        size, depth = formula_size(result, MAX_FORMULA_NODES), formula_depth(result)
        if depth > MAX_FORMULA_DEPTH:
            raise fail(f"formula {_shorten(text)!r} nests {depth} levels deep once the definitions "
                       f"it uses are substituted; at most {MAX_FORMULA_DEPTH} (a long chain of "
                       "definitions, each built on the last)")
        if size > MAX_FORMULA_NODES:
            raise fail(f"formula {_shorten(text)!r} has more than {MAX_FORMULA_NODES} parts once "
                       "the definitions it uses are substituted (definitions that use earlier "
                       "ones several times multiply in size); write it with fewer repetitions")
        if result.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
            raise fail(f"formula {text!r} is infinite or undefined (e.g. log(0))")
        _check_constants_finite(result, text, fail)
    except SpecError:
        raise
    except (ArithmeticError, ValueError, TypeError, RecursionError, MemoryError) as exc:
        # sympy/mpmath evaluating a legal but absurd constant (exp(exp(exp(1000))))
        raise fail(f"formula {text!r} cannot be evaluated ({exc.__class__.__name__}); "
                   "its constants must be finite floating-point numbers") from None
    return result


def _distinct_postorder(expr: sympy.Basic):
    """Every distinct node of ``expr`` (by identity) once, after its arguments: the walk the
    size, depth and constant-node counts share, linear in the distinct nodes however often a
    shared sub-expression is used."""
    done: set[int] = set()
    stack = [(expr, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in done:
            continue
        if children_done:
            done.add(id(node))
            yield node
            continue
        stack.append((node, True))
        stack.extend((arg, False) for arg in node.args if id(arg) not in done)


def formula_size(expr: sympy.Basic, limit: int | None = None) -> int:
    """The number of nodes of ``expr`` written out as a tree (a shared sub-expression counts at
    every place it appears), computed over the distinct nodes only, so a formula whose written
    size doubles with every definition in a chain is measured in linear time. With ``limit``
    the count stops early once it passes the limit (returning a value above it)."""
    sizes: dict[int, int] = {}
    for node in _distinct_postorder(expr):
        sizes[id(node)] = 1 + sum(sizes[id(arg)] for arg in node.args)
        if limit is not None and sizes[id(node)] > limit:
            return sizes[id(node)]
    return sizes[id(expr)]


def formula_depth(expr: sympy.Basic) -> int:
    """The nesting depth of ``expr`` (a leaf is 1), over its distinct nodes."""
    depths: dict[int, int] = {}
    for node in _distinct_postorder(expr):
        depths[id(node)] = 1 + max((depths[id(a)] for a in node.args), default=0)
    return depths[id(expr)]


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_constants_finite(expr: sympy.Expr, text: str, fail) -> None:
    """Refuse constants that overflow a float (``exp(1000)``) now rather than as an Inf at step 1.

    Each maximal constant sub-expression is evaluated once (its parts are skipped). Which nodes
    are constant is worked out once per distinct node, bottom-up: sympy's own ``is_number``
    walks the whole subtree at every node, which is quadratic on a deep formula.
    """
    constant = _constant_nodes(expr)
    seen: set[int] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if not constant[id(node)]:
            stack.extend(node.args)
            continue
        if node.is_Rational or (node.is_Float and math.isfinite(float(node))):
            continue          # literals were checked when they were read
        value = complex(node.evalf(17))
        if not (math.isfinite(value.real) and math.isfinite(value.imag)):
            raise fail(f"constant {_shorten(str(node))} in {_shorten(text)!r} is too large for a "
                       "floating-point number")
        if value.imag != 0:   # e.g. sqrt(-1): the solvers and surrogates are real-valued
            raise fail(f"constant {_shorten(str(node))} in {_shorten(text)!r} is not a real number")


def _constant_nodes(expr: sympy.Basic) -> dict[int, bool]:
    """``id(node) → whether node is a number`` for every distinct node of ``expr`` (a leaf by
    its own ``is_number``, any other node when all its arguments are numbers)."""
    constant: dict[int, bool] = {}
    for node in _distinct_postorder(expr):
        if not node.args:
            constant[id(node)] = bool(node.is_number)
        else:
            constant[id(node)] = (isinstance(node, sympy.Expr) and not isinstance(
                node, (sympy.Derivative, sympy.core.function.AppliedUndef))
                and all(constant[id(a)] for a in node.args))
    return constant


def _check_bracket_depth(text: str, fail) -> None:
    """Refuse deeply bracketed text before the parser sees it (cheap, no recursion)."""
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise fail(f"formula nests brackets more than {MAX_DEPTH} levels deep")
        elif char in ")]}":
            depth -= 1


def _check_tree_size(tree: ast.AST, fail) -> None:
    """Bound the depth and node count with an explicit stack, so no recursion happens here."""
    stack = [(tree, 0)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise fail(f"formula is nested more than {MAX_DEPTH} levels deep")
        if count > MAX_NODES:
            raise fail(f"formula has more than {MAX_NODES} parts")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


class _Builder:
    """Turns a whitelisted Python AST into sympy, node by node."""

    def __init__(self, names: Mapping[str, sympy.Basic], fail):
        self.names = names
        self.fail = fail

    def build(self, node: ast.AST) -> sympy.Expr:
        if isinstance(node, ast.Constant):
            return self._constant(node.value)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        what = _NODE_DESCRIPTIONS.get(type(node), f"'{type(node).__name__}' syntax")
        raise self.fail(f"{what} not allowed in a formula; allowed are {_ALLOWED_TEXT}")

    def _constant(self, value) -> sympy.Expr:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "strings" if isinstance(value, (str, bytes)) else f"{type(value).__name__} literals"
            raise self.fail(f"{kind} not allowed in a formula; allowed are {_ALLOWED_TEXT}")
        if isinstance(value, int):
            if abs(value) > MAX_INT_LITERAL:
                raise self.fail(f"integer literal too large (limit {MAX_INT_LITERAL:.0e}); "
                                "write it as a float")
            return sympy.Integer(value)
        if not math.isfinite(value):
            raise self.fail(f"number {value!r} is not finite")
        return sympy.Float(value)

    def _name(self, name: str) -> sympy.Expr:
        if name.startswith("__"):
            raise self.fail(f"name '{name}' not allowed (dunder names are never allowed)")
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise self.fail(f"'{name}' is a function; call it as {name}(...)")
        if name in self.names:
            return self.names[name]
        known = sorted(set(self.names) | set(CONSTANTS))
        raise self.fail(f"unknown name '{name}'; known names here: {', '.join(known)}")

    def _binary(self, node: ast.BinOp) -> sympy.Expr:
        if type(node.op) not in _BINARY_OPS:
            raise self.fail(f"operator '{type(node.op).__name__}' not allowed; "
                            "allowed operators are + - * / **")
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise self.fail("division by zero")
            return left / right
        return self._power(left, right)

    def _power(self, base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
        if exponent.is_number:
            value = complex(exponent.evalf(15))
            if value.imag != 0 or abs(value.real) > MAX_EXPONENT:
                raise self.fail(f"exponent {exponent} too large; numeric exponents must lie in "
                                f"[-{MAX_EXPONENT}, {MAX_EXPONENT}]")
            if base.is_Rational and exponent.is_Rational:
                bits = abs(float(exponent)) * max(1, abs(base.p).bit_length(), base.q.bit_length())
                if bits > MAX_POWER_BITS:
                    raise self.fail(f"power {base}**{exponent} is too large to compute exactly")
            if base == 0 and value.real < 0:
                raise self.fail("division by zero (zero to a negative power)")
        return base ** exponent

    def _unary(self, node: ast.UnaryOp) -> sympy.Expr:
        if type(node.op) not in _UNARY_OPS:
            raise self.fail(f"unary operator '{type(node.op).__name__}' not allowed; "
                            "allowed are - and +")
        operand = self.build(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand

    def _call(self, node: ast.Call) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            called = _excerpt(node.func)
            raise self.fail(f"found a call of '{called}'; only the whitelisted functions may be "
                            f"called, by name ({', '.join(sorted(FUNCTIONS))})")
        name = node.func.id
        if name.startswith("__"):
            raise self.fail(f"name '{name}' not allowed (dunder names are never allowed)")
        if name not in FUNCTIONS:
            raise self.fail(f"function '{name}' not allowed; allowed functions are "
                            f"{', '.join(sorted(FUNCTIONS))}")
        if node.keywords:
            raise self.fail(f"keyword arguments not allowed in a call of {name}()")
        if len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self.fail(f"{name}() takes exactly one argument, found {len(node.args)}")
        return FUNCTIONS[name](self.build(node.args[0]))


def _excerpt(node: ast.AST, limit: int = 60) -> str:
    """The source text of a node, shortened, for error messages (unparse only prints)."""
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def derivative_names(output: str, u: sympy.Expr, variables: list[sympy.Symbol],
                      error) -> dict[str, sympy.Expr]:
    """``u``, ``u_x``, ``u_xx``, ``u_xt``, … up to :data:`MAX_DERIVATIVE_ORDER`.

    The letters after ``_`` name the variables differentiated by, in any order
    (``u_xt == u_tx``).
    """
    names: dict[str, sympy.Expr] = {output: u}
    for order in range(1, MAX_DERIVATIVE_ORDER + 1):
        for combo in itertools.product(variables, repeat=order):
            name = f"{output}_" + "".join(str(v) for v in combo)
            derivative = sympy.Derivative(u, *combo)
            if names.setdefault(name, derivative) != derivative:
                raise error("variables", f"derivative name '{name}' is ambiguous: rename the "
                                         "variables so that no name is a run of others")
    return names

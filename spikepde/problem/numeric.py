"""Numerical evaluation of the sympy trees of a problem, in torch or numpy.

The sympy tree is translated once into a tree of small Python closures (no ``lambdify``, no
generated source code, no ``exec``); calling the result walks only those closures. The
supported nodes are exactly what :mod:`spikepde.problem.expr` can produce: sums, products,
powers, symbols, numbers and the whitelisted functions, plus the unknown ``u(x, t)`` and its
``Derivative`` nodes, which are looked up in a *fields* dict keyed by derivative multi-index.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy

Evaluator = Callable[[Sequence[Any], Mapping[tuple[int, ...], Any]], Any]


class _Backend:
    """The array functions used by the evaluator, by sympy function class."""

    def __init__(self, module: Any, heaviside: Callable, sign: Callable):
        m = module
        self.functions: dict[type, Callable] = {
            sympy.sin: m.sin, sympy.cos: m.cos, sympy.tan: m.tan,
            sympy.asin: getattr(m, "arcsin", None) or m.asin,
            sympy.acos: getattr(m, "arccos", None) or m.acos,
            sympy.atan: getattr(m, "arctan", None) or m.atan,
            sympy.sinh: m.sinh, sympy.cosh: m.cosh, sympy.tanh: m.tanh,
            sympy.exp: m.exp, sympy.log: m.log, sympy.Abs: m.abs,
            sympy.sign: sign, sympy.Heaviside: heaviside,
        }
        self.sqrt = m.sqrt


def _torch_backend() -> _Backend:
    import torch  # imported here so that the numpy path never needs torch

    def heaviside(v):
        return torch.heaviside(v, torch.full_like(v, 0.5))

    return _Backend(torch, heaviside, torch.sign)


_NUMPY = _Backend(np, lambda v: np.heaviside(v, 0.5), np.sign)


def derivative_index(expr: sympy.Derivative, variables: Sequence[sympy.Symbol]) -> tuple[int, ...]:
    """The multi-index of ``Derivative(u, ...)`` in the order of ``variables``.

    ``Derivative(u(x, t), (x, 2), t)`` with variables ``(x, t)`` gives ``(2, 1)``.
    """
    counts = dict.fromkeys(variables, 0)
    for var, count in expr.variable_count:
        counts[var] += int(count)
    return tuple(counts[v] for v in variables)


def build_evaluator(expr: sympy.Expr, variables: Sequence[sympy.Symbol], *,
                    unknown: sympy.Expr | None = None, backend: str = "torch") -> Evaluator:
    """Translate ``expr`` into a function ``f(columns, fields)``.

    Args:
        expr: a sympy expression whose free symbols are all in ``variables`` (substitute the
            parameter values first).
        variables: the input symbols; ``columns[i]`` is the array of values of ``variables[i]``.
        unknown: the applied unknown function ``u(x, t)``; it and its derivatives read
            ``fields[multi_index]``.
        backend: ``"torch"`` or ``"numpy"``.

    Returns:
        ``f(columns, fields)``; a constant expression returns a Python float (the caller
        broadcasts it).
    """
    ops = _torch_backend() if backend == "torch" else _NUMPY
    positions = {v: i for i, v in enumerate(variables)}
    zero = tuple(0 for _ in variables)

    def build(node: sympy.Basic) -> Evaluator:
        if unknown is not None and node == unknown:
            return lambda cols, fields: field_value(fields, zero)
        if isinstance(node, sympy.Derivative):
            if unknown is None or node.expr != unknown:
                raise ValueError(f"cannot evaluate the derivative {node} numerically")
            index = derivative_index(node, variables)
            return lambda cols, fields: field_value(fields, index)
        if node.is_Symbol:
            if node not in positions:
                raise ValueError(f"symbol {node} has no value (not an input variable)")
            i = positions[node]
            return lambda cols, fields: cols[i]
        if node.is_number:
            value = float(node.evalf(17))
            return lambda cols, fields: value
        return build_compound(node)

    def build_compound(node: sympy.Basic) -> Evaluator:
        if node.is_Add:
            parts = [build(a) for a in node.args]
            return lambda cols, fields: _sum(p(cols, fields) for p in parts)
        if node.is_Mul:
            parts = [build(a) for a in node.args]
            return lambda cols, fields: _product(p(cols, fields) for p in parts)
        if node.is_Pow:
            return build_power(node)
        func = ops.functions.get(type(node))
        if func is None or len(node.args) != 1:
            raise ValueError(f"cannot evaluate {type(node).__name__} numerically")
        arg = build(node.args[0])
        return lambda cols, fields: func(arg(cols, fields))

    def build_power(node: sympy.Pow) -> Evaluator:
        base, exponent = build(node.base), node.exp
        if exponent == sympy.Rational(1, 2):
            return lambda cols, fields: ops.sqrt(base(cols, fields))
        if exponent.is_Integer:
            k = int(exponent)
            return lambda cols, fields: base(cols, fields) ** k
        power = build(exponent)
        return lambda cols, fields: base(cols, fields) ** power(cols, fields)

    return build(expr)


def field_value(fields: Mapping[tuple[int, ...], Any], index: tuple[int, ...]):
    """``fields[index]``, with an error that lists the multi-indices present."""
    try:
        return fields[index]
    except KeyError:
        raise KeyError(f"fields has no entry for the derivative multi-index {index} "
                       f"(has {sorted(fields)})") from None


def _sum(values):
    total = 0.0
    for v in values:
        total = total + v
    return total


def _product(values):
    total = 1.0
    for v in values:
        total = total * v
    return total

"""The right-hand side or residual of an automatic reference, on a finite-difference grid.

Both automatic schemes (:mod:`.mol`, :mod:`.steady_fd`) need the same two things from a sympy
expression in the unknown's nodes (``u``, ``Derivative(u, x)``, …): its value when every node
is an array, and its partial derivative with respect to each node, for a sparse Jacobian
``Σₖ diag(∂F/∂fₖ) Dₖ``. Both are translated once by :func:`spikepde.problem.numeric
.build_evaluator` (no string is parsed, no code generated). Finite-difference matrices come from
``findiff``'s weights (any derivative order and accuracy; periodic, or central with the
accuracy lowered next to the ends).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import sympy

from spikepde.problem.numeric import build_evaluator, derivative_index


@dataclass
class NodeTerms:
    """``expr`` and its partial derivatives with respect to each of the unknown's nodes.

    ``indices`` lists the multi-indices the expression reads (``(0, 0)`` for u itself); for each
    one ``partials[index]`` evaluates ∂expr/∂(that node). Call with ``columns`` (one array or
    scalar per input variable) and ``fields`` (multi-index → array).
    """

    value: object
    partials: dict
    indices: tuple
    linear: bool = False   #: no partial derivative depends on the unknown: Newton needs one step

    @classmethod
    def build(cls, expr: sympy.Expr, u: sympy.Expr, variables, extra=()) -> "NodeTerms":
        """Evaluators of ``expr`` (parameters already substituted) over ``variables``; ``extra``
        adds multi-indices to differentiate by even if absent (e.g. u itself)."""
        nodes = {derivative_index(n, variables): n for n in expr.atoms(sympy.Derivative)
                 if n.expr == u}
        nodes[tuple(0 for _ in variables)] = u
        for index in extra:
            nodes.setdefault(index, sympy.Derivative(u, *[(v, k) for v, k in zip(variables, index) if k]))
        derivatives = {index: sympy.diff(expr, node) for index, node in nodes.items()}
        partials = {index: build_evaluator(d, variables, unknown=u, backend="numpy")
                    for index, d in derivatives.items()}
        linear = not any(d.has(u) for d in derivatives.values())
        return cls(build_evaluator(expr, variables, unknown=u, backend="numpy"), partials,
                   tuple(sorted(nodes)), linear)


def broadcast(value, n: int) -> np.ndarray:
    """An evaluator's result (a float for a constant) as a float64 array of length ``n``."""
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))


def derivative_matrix(shape, axis: int, order: int, spacing: float, *, acc: int,
                      periodic: bool = False) -> sp.csr_matrix:
    """The sparse matrix of ∂ᵒʳᵈᵉʳ/∂(axis)ᵒʳᵈᵉʳ on a uniform grid of ``shape`` (C order).

    Periodic: circulant central differences of accuracy ``acc``. Otherwise central differences
    whose accuracy drops near the ends to what fits (``acc`` inside, 2 next to an end) — not
    findiff's one-sided closures of full accuracy, whose second-derivative matrix has
    eigenvalues with large positive real parts for ``acc`` ≥ 6 (an explicit blow-up of the heat
    equation). The end rows themselves are empty: ends are boundary nodes.
    """
    import findiff   # only the automatic reference needs it

    shape = tuple(int(n) for n in shape)
    if order == 0:
        return sp.identity(int(np.prod(shape)), format="csr")
    if periodic:
        operator = findiff.Diff(axis, spacing, periodic=True, acc=acc) ** order
        return sp.csr_matrix(operator.matrix(shape))
    line = _central_line(shape[axis], order, spacing, acc)
    before = sp.identity(int(np.prod(shape[:axis])), format="csr")
    after = sp.identity(int(np.prod(shape[axis + 1:])), format="csr")
    return sp.csr_matrix(sp.kron(sp.kron(before, line), after))


def _central_line(n: int, order: int, spacing: float, acc: int) -> sp.csr_matrix:
    """1-D central differences, accuracy lowered near the ends (see :func:`derivative_matrix`)."""
    import findiff

    stencils = {}
    for a in range(acc, 0, -2):
        stencil = findiff.coefficients(deriv=order, acc=a)["center"]
        stencils[int(max(abs(stencil["offsets"])))] = stencil
    rows, cols, values = [], [], []
    for j in range(n):
        fitting = [w for w in stencils if w <= min(j, n - 1 - j)]
        if not fitting:
            continue
        stencil = stencils[max(fitting)]
        for offset, weight in zip(stencil["offsets"], stencil["coefficients"]):
            rows.append(j)
            cols.append(j + int(offset))
            values.append(float(weight) / spacing ** order)
    return sp.csr_matrix((values, (rows, cols)), shape=(n, n))


#: Accuracy of the one-sided first derivative that eliminates a Neumann end.
NEUMANN_ACCURACY = 4


def neumann_end(n: int, side: str, spacing: float) -> tuple[int, dict[int, float], float]:
    """A Neumann end of a line of ``n`` nodes written through the other nodes.

    ``∂u/∂n = g`` (outward normal) with u_x by the one-sided row of accuracy
    :data:`NEUMANN_ACCURACY` gives ``u_end = Σⱼ cⱼ uⱼ + scale · g``; returns
    ``(end node, {j: cⱼ}, scale)``.
    """
    import findiff

    stencils = findiff.coefficients(deriv=1, acc=NEUMANN_ACCURACY)
    stencil = stencils["forward" if side == "min" else "backward"]
    node = 0 if side == "min" else n - 1
    weights = {node + int(o): float(w) / spacing
               for o, w in zip(stencil["offsets"], stencil["coefficients"])}
    own = weights.pop(node)
    sign = -1.0 if side == "min" else 1.0          # u_x = outward sign · ∂u/∂n
    return node, {j: -w / own for j, w in weights.items()}, sign / own


def mixed_matrix(shape, index, spacings, *, acc: int, periodic=None) -> sp.csr_matrix:
    """The matrix of the mixed derivative with multi-index ``index`` (one order per axis)."""
    periodic = periodic or [False] * len(shape)
    matrix = sp.identity(int(np.prod(shape)), format="csr")
    for axis, order in enumerate(index):
        if order:
            matrix = derivative_matrix(shape, axis, order, spacings[axis], acc=acc,
                                       periodic=periodic[axis]) @ matrix
    return sp.csr_matrix(matrix)

"""Finite differences and Newton's method for ``R(x, u, ∇u, ∇²u) = 0`` on a box minus boxes.

The grid is uniform and contains every evaluation node and every face of the domain (the
caller refines the evaluation grid by an integer factor). Nodes on a face with a Dirichlet
condition take its value; nodes inside an excluded box are not part of the problem (NaN in the
output); the other nodes are unknowns. Derivatives are central differences (``findiff``
weights, :func:`.fd_terms.derivative_matrix`) of the accuracy the caller asks for: 2 (the
5-point Laplacian, whose stencils never reach across a face, so excluded boxes need no
special case) in two dimensions, higher in one. In one dimension a Neumann end is eliminated
through its one-sided derivative row as in :mod:`.mol`. Newton's method uses the exact sparse
Jacobian ``Σₖ diag(∂R/∂(Dₖu)) Dₖ`` and a sparse direct solve (SuperLU): one step for a linear
equation.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from spikepde.problem.numeric import build_evaluator
from .fd_terms import NodeTerms, broadcast, mixed_matrix, neumann_end

#: Newton's method (for a nonlinear equation; a linear one takes one step) stops when a step
#: moves no node by more than this times max(1, max |u|) …
STEP_TOLERANCE = 1e-10
#: … and gives up after this many steps.
MAX_NEWTON_STEPS = 30


class Grid:
    """The finite-difference grid of a :class:`~spikepde.problem.auto_plan.SteadyPlan` whose
    cells per axis are ``cells`` (a dict over the space variables)."""

    def __init__(self, plan, problem, cells: dict):
        self.names = problem.space
        self.h = [(problem.domain[v][1] - problem.domain[v][0]) / cells[v] for v in self.names]
        self.coords = [np.linspace(*problem.domain[v], cells[v] + 1) for v in self.names]
        self.shape = tuple(len(c) for c in self.coords)
        mesh = np.meshgrid(*self.coords, indexing="ij")
        self.points = np.stack([m.ravel() for m in mesh], axis=1)
        self.inside = ~problem.excluded_mask(self.points)
        subs = problem.substitutions()
        self.variables = tuple(problem.symbols[v] for v in self.names)
        self.boundary = np.zeros(len(self.points), dtype=bool)
        self.dirichlet = np.full(len(self.points), np.nan)
        self.neumann = []                         # (node, {j: c_j}, scale, g(node))
        for face, end in plan.faces:
            on = self.inside & self._on_face(problem, face) & ~self.boundary
            self.boundary |= on
            value = self._evaluate(end.value.xreplace(subs), self.points[on])
            if end.kind == "dirichlet":
                self.dirichlet[on] = value
            else:                                 # one dimension, an end of the interval
                node, others, scale = neumann_end(self.shape[0], face.side, self.h[0])
                self.neumann.append((node, others, scale, float(value[0])))
        self.unknown = np.flatnonzero(self.inside & ~self.boundary)

    def _on_face(self, problem, face) -> np.ndarray:
        """Nodes on ``face`` (for an excluded box's face: within the box's closed extent)."""
        axis = self.names.index(face.variable)
        box = problem.domain if face.box is None else problem.excluded[face.box]
        where = box[face.variable][0 if face.side == "min" else 1]
        on = np.isclose(self.points[:, axis], where, rtol=0, atol=1e-9 * (1 + abs(where)))
        if face.box is not None:
            for other, (lo, hi) in box.items():
                i = self.names.index(other)
                if other != face.variable:
                    on &= (self.points[:, i] >= lo - 1e-12) & (self.points[:, i] <= hi + 1e-12)
        return on

    def _evaluate(self, expr, points) -> np.ndarray:
        fn = build_evaluator(expr, self.variables, backend="numpy")
        return broadcast(fn([points[:, i] for i in range(points.shape[1])], {}), len(points))

    def expansion(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """``u_full = E u_unknown + c``: Dirichlet values, Neumann ends, 0 in excluded boxes."""
        n, m = len(self.points), len(self.unknown)
        E = sp.lil_matrix((n, m))
        E[self.unknown, np.arange(m)] = 1.0
        c = np.where(np.isfinite(self.dirichlet), self.dirichlet, 0.0)
        column = {j: k for k, j in enumerate(self.unknown)}
        for node, others, scale, g in self.neumann:
            for j, coefficient in others.items():
                E[node, column[j]] = coefficient
            c[node] = scale * g
        return sp.csr_matrix(E), c


def solve(plan, problem, cells: dict, acc: int) -> tuple[np.ndarray, dict]:
    """u on the grid nodes (shape ``Grid.shape``, NaN in excluded boxes) and facts about the
    solve (unknowns, Newton steps)."""
    grid = Grid(plan, problem, cells)
    terms = NodeTerms.build(plan.residual.xreplace(problem.substitutions()), problem.u,
                            grid.variables)
    E, c = grid.expansion()
    D = {i: mixed_matrix(grid.shape, i, grid.h, acc=acc) for i in terms.indices}
    DE = {i: sp.csr_matrix((D[i] @ E)[grid.unknown]) for i in terms.indices}
    columns = [grid.points[grid.unknown, k] for k in range(len(grid.names))]
    m = len(grid.unknown)
    u = np.zeros(m)
    for step in range(1, MAX_NEWTON_STEPS + 1):
        full = E @ u + c
        fields = {i: (D[i] @ full)[grid.unknown] for i in terms.indices}
        residual = broadcast(terms.value(columns, fields), m)
        jacobian = sp.csc_matrix(sum(sp.diags(broadcast(terms.partials[i](columns, fields), m)) @ DE[i]
                                     for i in terms.indices))
        delta = spla.spsolve(jacobian, -residual)
        if not np.all(np.isfinite(delta)):
            raise RuntimeError("the finite-difference Jacobian is singular (is the problem "
                               "well posed with these conditions?)")
        u += delta
        if terms.linear or np.max(np.abs(delta)) <= STEP_TOLERANCE * max(1.0, float(np.max(np.abs(u)))):
            break
    else:
        raise RuntimeError(f"Newton's method did not converge in {MAX_NEWTON_STEPS} steps "
                           f"from u = 0 (last step {np.max(np.abs(delta)):.3g})")
    full = E @ u + c
    full[~grid.inside] = np.nan
    return full.reshape(grid.shape), {"unknowns": int(m), "newton_steps": step}

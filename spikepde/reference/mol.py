"""Method of lines for ``∂ₜᵏu = F(x, t, u, u_x, u_xx, …)`` on an interval (k = 1, 2).

Space: a uniform grid of ``n_cells`` cells, x-derivatives by central finite differences of
accuracy :data:`ACCURACY` (weights from ``findiff``; circulant when periodic, otherwise central
with the accuracy lowered next to the ends — full-accuracy one-sided closures make the heat
equation's matrix unstable, see :func:`.fd_terms.derivative_matrix`). A Dirichlet end is not
an unknown: its value g(t) is put in place. A Neumann end is eliminated through the one-sided
first-derivative row there (``u_b = (±g − Σⱼ wⱼuⱼ)/w_b``), so every unknown obeys an ODE and no
algebraic constraint is left. Time: scipy's ``Radau`` (implicit, order 5, L-stable) with the exact sparse Jacobian
``Σₖ diag(∂F/∂(∂ₓᵏu)) Dₖ``, tolerances :data:`RTOL` / :data:`ATOL`. A second-order equation is
integrated as the system ``u_t = v, v_t = F(…, v)``.

The caller (:mod:`.auto`) runs this on successively doubled grids and reports the difference
between the last two as the solver's accuracy.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.integrate import solve_ivp
from threadpoolctl import threadpool_limits

from spikepde.problem.numeric import build_evaluator
from .fd_terms import NodeTerms, broadcast, derivative_matrix, neumann_end

#: Accuracy order of the finite differences in x.
ACCURACY = 8
#: Relative and absolute (times the size of the initial value, at least 1) time tolerances.
RTOL = 1e-10
ATOL = 1e-11


class Lines:
    """The semi-discrete system of one :class:`~spikepde.problem.auto_plan.EvolutionPlan` on a
    grid of ``n_cells`` cells."""

    def __init__(self, plan, problem, n_cells: int):
        subs = problem.substitutions()
        self.plan = plan
        x_sym, t_sym = problem.symbols[plan.space], problem.symbols[plan.time]
        self.variables = (x_sym, t_sym)
        lo, hi = problem.domain[plan.space]
        self.period = (lo, hi)
        n = n_cells if plan.periodic else n_cells + 1
        if n <= 2 * ACCURACY + 2:
            raise ValueError(f"{n_cells} cells: too few for differences of accuracy {ACCURACY}")
        self.h = (hi - lo) / n_cells
        self.x = lo + self.h * np.arange(n)
        extra = ((0, 1),) if plan.order == 2 else ()
        self.terms = NodeTerms.build(plan.rate.xreplace(subs), problem.u, self.variables, extra)
        self.space_indices = [i for i in self.terms.indices if i[1] == 0]
        self.D = {i: derivative_matrix((n,), 0, i[0], self.h, acc=ACCURACY, periodic=plan.periodic)
                  for i in self.space_indices}
        self._eliminate_ends(plan, subs, n)
        self.DE = {i: sp.csr_matrix((self.D[i] @ self.E)[self.state]) for i in self.space_indices}
        self.x_state = self.x[self.state]
        self.initial = self._evaluate(plan.initial.xreplace(subs), self.x_state, 0.0)
        self.initial_rate = (self._evaluate(plan.initial_rate.xreplace(subs), self.x_state, 0.0)
                             if plan.order == 2 else None)

    # ----------------------------------------------------------------------------- set-up
    def _eliminate_ends(self, plan, subs, n: int) -> None:
        """``u_full = E u_state + c(t)``: Dirichlet ends take g(t), Neumann ends the value that
        makes the one-sided derivative row equal ±g(t)."""
        ends = {"min": 0, "max": n - 1}
        self.state = np.array([j for j in range(n)
                               if plan.periodic or j not in (0, n - 1)], dtype=int)
        columns = {j: k for k, j in enumerate(self.state)}
        E = sp.lil_matrix((n, len(self.state)))
        for j, k in columns.items():
            E[j, k] = 1.0
        self.end_terms = []        # (node, g evaluator, scale): u[node] += scale · g(t)
        if not plan.periodic:
            for side, node in ends.items():
                end = plan.ends[side]
                g = build_evaluator(end.value.xreplace(subs), self.variables, backend="numpy")
                if end.kind == "dirichlet":
                    self.end_terms.append((node, g, 1.0))
                    continue
                node, others, scale = neumann_end(n, side, self.h)
                for j, c in others.items():
                    E[node, columns[j]] = c
                self.end_terms.append((node, g, scale))
        self.E = sp.csr_matrix(E)

    def _evaluate(self, expr, x, t) -> np.ndarray:
        fn = build_evaluator(expr, self.variables, backend="numpy")
        return broadcast(fn([x, t], {}), len(x)).copy()

    # ----------------------------------------------------------------------------- system
    def full(self, u_state: np.ndarray, t: float) -> np.ndarray:
        """The values at every node, ends included."""
        u = self.E @ u_state
        for node, g, scale in self.end_terms:
            u[node] += scale * float(broadcast(g([self.x[node], t], {}), 1)[0])
        return u

    def _fields(self, y: np.ndarray, t: float) -> dict:
        m = len(self.state)
        u = self.full(y[:m], t)
        fields = {i: (self.D[i] @ u)[self.state] for i in self.space_indices}
        if self.plan.order == 2:
            fields[(0, 1)] = y[m:]
        return fields

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """dy/dt for the state y (u at the state nodes, then v for a second-order equation)."""
        m = len(self.state)
        rate = broadcast(self.terms.value([self.x_state, t], self._fields(y, t)), m)
        return rate if self.plan.order == 1 else np.concatenate([y[m:], rate])

    def jacobian(self, t: float, y: np.ndarray) -> sp.csc_matrix:
        """The exact sparse Jacobian of :meth:`rhs`."""
        m = len(self.state)
        fields = self._fields(y, t)
        cols = [self.x_state, t]
        du = sp.csr_matrix((m, m))
        for i in self.space_indices:
            du = du + sp.diags(broadcast(self.terms.partials[i](cols, fields), m)) @ self.DE[i]
        if self.plan.order == 1:
            return sp.csc_matrix(du)
        dv = sp.diags(broadcast(self.terms.partials[(0, 1)](cols, fields), m))
        zero = sp.csr_matrix((m, m))
        return sp.csc_matrix(sp.bmat([[zero, sp.identity(m)], [du, dv]]))

    def initial_state(self) -> np.ndarray:
        """y at the initial time."""
        if self.plan.order == 1:
            return self.initial.copy()
        return np.concatenate([self.initial, self.initial_rate])

    def sample(self, u_full: np.ndarray, x_eval: np.ndarray) -> np.ndarray:
        """Node values at ``x_eval`` (which must be grid nodes; periodic: modulo the period)."""
        lo, hi = self.period
        position = (x_eval - lo) / self.h
        index = np.rint(position).astype(int)
        if not np.allclose(position, index, atol=1e-6):
            raise ValueError("the evaluation points are not nodes of the grid")
        if self.plan.periodic:
            index %= len(self.x)
        return u_full[index]


def solve(plan, problem, x_eval: np.ndarray, t_eval: np.ndarray, n_cells: int) -> tuple[np.ndarray, dict]:
    """u on the grid ``x_eval × t_eval`` (shape ``[len(x_eval), len(t_eval)]``) from a grid of
    ``n_cells`` cells, and facts about the integration (steps, Jacobian evaluations)."""
    lines = Lines(plan, problem, n_cells)
    t0 = problem.domain[plan.time][0]
    y0 = lines.initial_state()
    scale = max(1.0, float(np.max(np.abs(y0), initial=0.0)))
    # Radau's many (3 x n) products run ten times slower with a multi-threaded BLAS on two
    # cores (7.6 s against 0.79 s on Burgers, 2040 cells): one thread, restored on exit
    with threadpool_limits(limits=1, user_api="blas"):
        result = solve_ivp(lines.rhs, (t0, float(t_eval[-1])), y0, method="Radau",
                           t_eval=t_eval, jac=lines.jacobian, rtol=RTOL, atol=ATOL * scale)
    if not result.success:
        raise RuntimeError(f"the time integration failed at {n_cells} cells: {result.message}")
    m = len(lines.state)
    values = np.stack([lines.sample(lines.full(result.y[:m, k], t), x_eval)
                       for k, t in enumerate(result.t)], axis=1)
    return values, {"cells": n_cells, "rhs_evaluations": int(result.nfev), "jacobians": int(result.njev)}

"""Which automatic reference solver fits a problem, read from its sympy form alone.

``reference.solver = "auto"`` (and, by default, a PDE file without ``[reference]``) asks the
package to compute a numerical reference itself (:mod:`spikepde.reference.auto`). This module
decides, without numbers, whether one of its two schemes applies and hands the solver a plan:

* :class:`EvolutionPlan` — one space variable plus time, one residual that can be solved for
  the highest time derivative (``u_t = F(x, t, u, u_x, u_xx, …)``, or ``u_tt = F(…, u_t)`` as a
  first-order system), no mixed space-time derivative, the initial value(s) at ``t_min``, and at
  each end of the interval one Dirichlet or Neumann condition, or a periodic pair: the method of
  lines.
* :class:`SteadyPlan` — no time, one or two space variables, one residual of second order in
  every space variable (mixed and first derivatives allowed), one Dirichlet condition on every
  face (Neumann too at the ends of a 1-D interval), boxes minus boxes: finite differences with
  Newton's method.

Anything else is refused with :class:`NoAutoReference`, whose message says why in words a user
can act on. Everything stays symbolic here (parameters included) so the plan follows
:meth:`~spikepde.problem.problem.Problem.with_params`; the solver substitutes the values.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sympy

from spikepde.problem.domain import boundary_faces
from spikepde.problem.numeric import derivative_index
from spikepde.problem.problem import AUTO_SOLVER


class NoAutoReference(ValueError):
    """The automatic reference solver does not apply to this problem; the message says why."""


@dataclass(frozen=True)
class End:
    """The condition at one end of a 1-D interval (or on one face of a steady domain).

    ``kind`` is ``"dirichlet"`` (u = value) or ``"neumann"`` (outward normal derivative =
    value); ``value`` is a sympy expression of the inputs and parameters.
    """

    kind: str
    value: sympy.Expr


@dataclass(frozen=True)
class EvolutionPlan:
    """``∂ₜᵏ u = rate`` (k = ``order``, 1 or 2) on one space interval, for the method of lines.

    ``rate`` is written with the unknown's nodes (``u``, ``Derivative(u, x)``, …, and for k = 2
    ``Derivative(u, t)``); ``space_order`` is the highest x-derivative in it. ``ends`` maps
    ``"min"``/``"max"`` to an :class:`End`, and is empty when ``periodic``.
    """

    space: str
    time: str
    order: int
    rate: sympy.Expr
    space_order: int
    periodic: bool
    ends: dict
    initial: sympy.Expr
    initial_rate: sympy.Expr | None = None
    method: str = "method of lines"


@dataclass(frozen=True)
class SteadyPlan:
    """``residual = 0`` in one or two space variables, each face with its :class:`End`.

    ``faces`` pairs every boundary :class:`~spikepde.problem.problem.Face` with its condition;
    ``reentrant`` says whether an excluded box has a corner inside the domain (the solution is
    then singular there, which sets the Richardson exponents of the solver).
    """

    residual: sympy.Expr
    faces: tuple
    reentrant: bool
    method: str = "finite differences"


def settle(problem, error):
    """``problem`` with its automatic reference decided, at load time.

    ``reference.solver = "auto"`` that no scheme solves is ``error("reference.solver", …)``;
    a PDE without any reference gets ``"auto"`` when a scheme applies, else keeps none and
    records why (:attr:`~spikepde.problem.problem.ReferenceSpec.declined`).
    """
    reference = problem.reference
    if reference.solver == AUTO_SOLVER:
        try:
            plan(problem)
        except NoAutoReference as exc:
            raise error("reference.solver", f"no automatic reference for this problem: {exc}") from None
        return problem
    if problem.has_reference or problem.data_only:
        return problem
    try:
        plan(problem)
    except NoAutoReference as exc:
        return replace(problem, reference=replace(reference, declined=str(exc)))
    return replace(problem, reference=replace(reference, solver=AUTO_SOLVER))


def plan(problem) -> EvolutionPlan | SteadyPlan:
    """The automatic reference plan of ``problem``, or :class:`NoAutoReference` saying why not."""
    if problem.data_only:
        raise NoAutoReference("a regression problem has no equation to solve")
    if len(problem.residuals) != 1:
        raise NoAutoReference(f"{len(problem.residuals)} residuals: only a single scalar PDE "
                              "is solved automatically")
    if problem.time is None:
        return _steady_plan(problem)
    return _evolution_plan(problem)


# ------------------------------------------------------------------------------------- evolution
def _evolution_plan(problem) -> EvolutionPlan:
    if len(problem.space) != 1:
        raise NoAutoReference(f"{len(problem.space)} space variables with time: the method of "
                              "lines is implemented in one space dimension only")
    if problem.excluded:
        raise NoAutoReference("excluded boxes with time: the method of lines needs an interval")
    x, t = (problem.symbols[problem.space[0]], problem.symbols[problem.time])
    residual = problem.residuals[0]
    nodes = _derivative_nodes(residual, problem.u, (x, t))
    order = max((index[1] for index in nodes.values()), default=0)
    if order not in (1, 2):
        raise NoAutoReference("no time derivative in the PDE" if order == 0 else
                              f"time derivative of order {order}: at most u_tt is supported")
    for node, (nx, nt) in nodes.items():
        if nt and nx:
            raise NoAutoReference(f"mixed space-time derivative {_name(node)} in the PDE")
    highest = sympy.Derivative(problem.u, (t, order))
    rate = _solve_for(residual, highest)
    space_order = max((index[0] for index in nodes.values()), default=0)
    periodic, ends = _interval_ends(problem, space_order)
    initial, initial_rate = _initial_values(problem, order, t)
    return EvolutionPlan(space=problem.space[0], time=problem.time, order=order, rate=rate,
                         space_order=space_order, periodic=periodic, ends=ends,
                         initial=initial, initial_rate=initial_rate)


def _solve_for(residual, highest) -> sympy.Expr:
    """``residual = a·highest + b`` solved for ``highest``; ``a`` may depend on the inputs and
    u, not on a derivative (the equation must be linear in its highest time derivative)."""
    coefficient = sympy.diff(residual, highest)
    if coefficient == 0 or coefficient.atoms(sympy.Derivative):
        raise NoAutoReference(f"the PDE is not linear in {_name(highest)} with a coefficient "
                              "free of derivatives")
    rest = residual.xreplace({highest: sympy.Integer(0)})
    return -rest / coefficient


def _interval_ends(problem, space_order: int) -> tuple[bool, dict]:
    """Whether x is periodic, else the Dirichlet/Neumann condition at each end."""
    var = problem.space[0]
    periodic = any(c.kind == "periodic" for c in problem.conditions)
    ends: dict[str, End] = {}
    for c in problem.conditions:
        for face in c.faces:
            if face.variable != var or c.kind == "periodic":
                continue
            if c.kind not in ("dirichlet", "neumann"):
                raise NoAutoReference(f"condition '{c.label}' on {face.name}: only Dirichlet, "
                                      "Neumann or periodic conditions at the ends of the interval")
            if face.side in ends or periodic:
                raise NoAutoReference(f"two conditions on {face.name}")
            ends[face.side] = End(c.kind, c.value)
    if periodic:
        return True, {}
    if space_order == 2 and len(ends) == 2:
        return False, ends
    if space_order == 0:
        raise NoAutoReference("no derivative in x in the PDE")
    raise NoAutoReference(f"x-derivatives up to order {space_order} with "
                          f"{len(ends)} boundary conditions: without periodicity the method of "
                          "lines here needs a second-order equation in x with one condition at "
                          "each end")


def _initial_values(problem, order: int, t) -> tuple[sympy.Expr, sympy.Expr | None]:
    """u at t_min, and u_t there for a second-order equation."""
    initial = initial_rate = None
    rate_node = sympy.Derivative(problem.u, t)
    for c in problem.conditions:
        for face in c.faces:
            if face.variable != problem.time:
                continue
            if face.side == "max":
                raise NoAutoReference(f"condition '{c.label}' at {face.name}: a condition at the "
                                      "final time is not an initial-value problem")
            if c.kind in ("initial", "dirichlet") and initial is None:
                initial = c.value
            elif c.kind == "operator" and order == 2 and c.operator == rate_node \
                    and initial_rate is None:
                initial_rate = c.value
            else:
                raise NoAutoReference(f"condition '{c.label}' at {face.name}: expected u = … "
                                      "(and u_t = … for a second-order equation) once each")
    if initial is None:
        raise NoAutoReference("no initial condition u = … at the initial time")
    if order == 2 and initial_rate is None:
        raise NoAutoReference("second order in time but no initial velocity (an 'operator' "
                              "condition u_t = … at the initial time)")
    return initial, initial_rate


# ------------------------------------------------------------------------------------- steady
def _steady_plan(problem) -> SteadyPlan:
    if len(problem.space) > 2:
        raise NoAutoReference(f"{len(problem.space)} space variables: steady problems are solved "
                              "automatically in one or two dimensions")
    variables = tuple(problem.symbols[v] for v in problem.space)
    residual = problem.residuals[0]
    nodes = _derivative_nodes(residual, problem.u, variables)
    for node, index in nodes.items():
        if sum(index) > 2:
            raise NoAutoReference(f"derivative {_name(node)} of order {sum(index)}: the finite "
                                  "differences here go up to second order")
    for i, var in enumerate(problem.space):
        if not any(index[i] == 2 and sum(index) == 2 for index in nodes.values()):
            raise NoAutoReference(f"no second derivative in {var}: the finite differences here "
                                  "solve equations of second order in every variable")
    faces = []
    for c in problem.conditions:
        if c.kind not in ("dirichlet", "neumann") or (c.kind == "neumann" and (
                len(problem.space) > 1 or any(f.box is not None for f in c.faces))):
            raise NoAutoReference(f"condition '{c.label}' ({c.kind}): Dirichlet conditions "
                                  "(and Neumann at the ends of an interval) only")
        faces.extend((face, End(c.kind, c.value)) for face in c.faces)
    named = [face.name for face, _ in faces]
    repeated = sorted({n for n in named if named.count(n) > 1})
    if repeated:
        raise NoAutoReference(f"more than one condition on {', '.join(repeated)}")
    bare = [f.name for f in boundary_faces(problem.domain, problem.excluded, problem.space)
            if f.name not in named]
    if bare:
        raise NoAutoReference(f"no condition on {', '.join(bare)}")
    return SteadyPlan(residual=residual, faces=tuple(faces), reentrant=_reentrant(problem))


def _reentrant(problem) -> bool:
    """Whether some corner of an excluded box lies strictly inside the domain box."""
    for box in problem.excluded:
        inner = [v for v, (lo, hi) in box.items()
                 if problem.domain[v][0] < lo or hi < problem.domain[v][1]]
        if len(inner) >= 2:   # bounds inside the domain along two axes meet at a corner
            return True
    return False


# ------------------------------------------------------------------------------------- helpers
def _derivative_nodes(expr, u, variables) -> dict:
    """Each derivative of u in ``expr`` → its multi-index over ``variables``."""
    return {node: derivative_index(node, variables) for node in expr.atoms(sympy.Derivative)
            if node.expr == u}


def _name(node) -> str:
    """``u_xx`` style name of a derivative node."""
    letters = "".join(str(v) * int(n) for v, n in node.variable_count)
    return f"{node.expr.func}_{letters}"

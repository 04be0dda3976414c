"""Human-readable description of a Problem (``spikepde show NAME``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import sympy

from spikepde.problem.problem import AUTO_SOLVER, REFERENCE_SOLVERS

if TYPE_CHECKING:
    from spikepde.problem.problem import Problem


def display_form(problem: "Problem", expr: sympy.Expr) -> sympy.Expr:
    """Replace ``u(x, t)`` by ``u`` and ``Derivative(u, x, x)`` by ``u_xx`` for display."""
    replacements = {}
    for node in expr.atoms(sympy.Derivative):
        if node.expr == problem.u:
            letters = "".join(str(v) * int(n) for v, n in node.variable_count)
            replacements[node] = sympy.Symbol(f"{problem.output}_{letters}")
    replacements[problem.u] = sympy.Symbol(problem.output)
    return expr.xreplace(replacements)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def describe(problem: "Problem", unicode: bool = True) -> str:
    """The text of :meth:`Problem.pretty`."""
    def pp(expr: sympy.Expr) -> str:
        return sympy.pretty(display_form(problem, expr), use_unicode=unicode)

    lines = [f"{problem.name}: {problem.title}"]
    if problem.description:
        lines += ["", problem.description]
    lines += ["", "Target function" if problem.data_only else "Equation (residual = 0)"]
    if problem.data_only:
        lines.append(_indent(pp(sympy.Eq(sympy.Symbol(problem.output), problem.exact))))
    for residual in problem.residuals:
        lines.append(_indent(pp(sympy.Eq(residual, 0))))
    lines += ["", "Domain"]
    lines.append("  " + ", ".join(f"{v} in [{_fmt(lo)}, {_fmt(hi)}]"
                                  for v, (lo, hi) in problem.domain.items()))
    for k, box in enumerate(problem.excluded):
        lines.append(f"  minus box {k}: " + ", ".join(f"{v} in [{_fmt(lo)}, {_fmt(hi)}]"
                                                     for v, (lo, hi) in box.items()))
    if problem.conditions:
        lines += ["", "Conditions"]
        lines += [_condition_line(problem, c, pp) for c in problem.conditions]
    if problem.parameters:
        lines += ["", "Parameters"]
        for p in problem.parameters.values():
            formula = "" if _is_plain_number(p.default_text) else f" = {p.default_text}"
            if p.value == p.default:
                note = f" ({p.default_text})" if formula else ""
            else:
                note = f" (default {_fmt(p.default)}{formula})"
            lines.append(f"  {p.name} = {_fmt(p.value)}{note}  {p.description}".rstrip())
    lines += ["", "Reference"]
    ref = problem.reference
    if not problem.has_reference:
        lines.append("  none: residual metrics only (the PDE residual of the trained field, strong "
                     "and weak, and each condition's violation)")
        if ref.declined:
            lines.append(f"  no automatic reference: {ref.declined}")
    if problem.exact is not None and not problem.data_only:
        lines.append(_indent(pp(sympy.Eq(sympy.Symbol(problem.output), problem.exact))))
        lines.append("  (checked at load: satisfies the PDE and conditions at these parameters)")
    if ref.solver == AUTO_SOLVER:
        lines.append("  solver: auto (" + _auto_text(problem) + "; its accuracy, the difference "
                     "between two resolutions, is reported with every run) and residual metrics")
    elif ref.solver:
        entry = REFERENCE_SOLVERS[ref.solver]
        lines.append(f"  solver: {ref.solver} (the solution of the catalogue's '{entry}' problem; "
                     "checked at load: this file is that problem)")
    lines.append("  grid: " + ", ".join(
        f"{v} {a.n} points in [{_fmt(a.lo)}, {_fmt(a.hi)}{']' if a.endpoint else ')'}"
        for v, a in ref.grid.items()))
    if ref.notes:
        lines.append(f"  {ref.notes}")
    shown = {k: v for k, v in problem.budget.items()
             if (k != "initial_points" or problem.time) and (k != "boundary_points"
                                                             or problem.conditions)}
    lines += ["", "Default budget", "  " + ", ".join(f"{k} = {v}" for k, v in shown.items())]
    lines += ["", "Literature (relative L2 error)"]
    if not problem.literature:
        lines.append("  none known")
    for entry in problem.literature:
        flag = " [secondary source]" if entry["secondary"] else ""
        lines.append(f"  {entry['relative_l2']:.3g}  {entry['method']} -- {entry['source']}{flag}")
        if entry["note"]:
            lines.append(f"      {entry['note']}")
    return "\n".join(lines)


def _condition_line(problem: "Problem", condition, pp) -> str:
    faces = ", ".join(f.name for f in condition.faces)
    if condition.kind == "periodic":
        var = condition.faces[0].variable
        extra = f" and its first {condition.derivatives} {var}-derivatives" \
            if condition.derivatives else ""
        return f"  periodic in {var}: {problem.output} equal on {faces}{extra}"
    if condition.kind == "neumann":
        lhs = f"d{problem.output}/dn"
    elif condition.kind == "operator":
        lhs = pp(condition.operator).replace("\n", " ")
    else:
        lhs = problem.output
    value = sympy.sstr(display_form(problem, condition.value))
    return f"  {condition.kind} on {faces}: {lhs} = {value}"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _is_plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _auto_text(problem) -> str:
    """Which automatic scheme solves ``problem``, in a few words."""
    from spikepde.problem.auto_plan import EvolutionPlan, plan

    if isinstance(plan(problem), EvolutionPlan):
        return "method of lines: 8th-order differences in x, Radau in t, the grid doubled until " \
               "two solutions agree"
    if len(problem.space) == 1:
        return "finite differences of 8th order and Newton's method, the grid doubled until two " \
               "solutions agree"
    return "5-point finite differences and Newton's method on three nested grids, Richardson " \
           "extrapolation"

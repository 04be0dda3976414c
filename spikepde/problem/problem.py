"""The :class:`Problem`: a PDE (or regression) problem held as sympy objects.

A Problem is what :func:`spikepde.problem.spec.load_problem` returns and what
:func:`spikepde.problem.compile.compile_problem` turns into torch functions. It mirrors the
mathematics: the unknown ``u = Function('u')(x, t)``, residuals written with
``Derivative(u, (x, 2))`` and the parameter *symbols* (their values are applied when compiling),
the domain box minus excluded boxes, the conditions, the reference and the literature numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from spikepde.problem import numeric

#: Condition kinds understood by the compiler.
CONDITION_KINDS = ("initial", "dirichlet", "neumann", "periodic", "operator")
#: The names ``reference.solver`` may take: the registered reference solvers
#: (:data:`spikepde.reference.solvers.SOLVERS`, which sits above this layer and is checked
#: against this list when imported), so a file is judged at load time, by ``show`` as by ``solve``.
#: Each solver computes the solution of one catalogue entry (with the file's parameter values), so
#: a file naming it must be that entry's problem (:mod:`spikepde.problem.solver_match`).
REFERENCE_SOLVERS = {"allen_cahn_spectral": "allen_cahn", "burgers_cole_hopf": "burgers",
                     "kdv_spectral": "kdv", "poisson_lshape_fd": "poisson_lshape",
                     "reaction_diffusion_mol": "reaction_diffusion"}
#: ``reference.solver`` asking for the automatic reference computed from the problem itself
#: (:mod:`spikepde.problem.auto_plan`, :mod:`spikepde.reference.auto`); tied to no entry.
AUTO_SOLVER = "auto"


@dataclass(frozen=True)
class Parameter:
    """A named physical parameter: its default, its current value and what it means."""

    name: str
    default: float
    value: float
    description: str = ""
    default_text: str = ""  #: the default as written in the file, e.g. ``"0.01/pi"``
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Face:
    """One flat face of the domain boundary.

    ``box is None`` means a face of the outer domain box; ``box = k`` a face of the k-th
    excluded box (e.g. the re-entrant edges of the L-shape).
    """

    variable: str
    side: str  # "min" | "max"
    box: int | None = None

    @property
    def name(self) -> str:
        """The name used in problem files: ``x_min``, or ``exclude[0].x_max``."""
        base = f"{self.variable}_{self.side}"
        return base if self.box is None else f"exclude[{self.box}].{base}"

    @property
    def outward_sign(self) -> int:
        """Sign of the outward normal of the *domain* along ``variable`` on this face.

        On an outer ``x_min`` face the normal is −e_x; on an excluded box's ``x_min`` face the
        domain lies on the other side, so the normal is +e_x.
        """
        sign = -1 if self.side == "min" else 1
        return sign if self.box is None else -sign


@dataclass(frozen=True)
class Condition:
    """An initial or boundary condition imposed on one or more faces.

    kinds:
      * ``initial`` / ``dirichlet``: u = value;
      * ``neumann``: ∂u/∂n = value with n the outward normal of the domain;
      * ``operator``: operator(u) = value, e.g. u_t = 0 at t = t_min (initial velocity);
      * ``periodic``: u(min face) = u(max face) at the same other coordinates, and the first
        ``derivatives`` derivatives along the periodic variable as well.
    """

    kind: str
    faces: tuple[Face, ...]
    value: sympy.Expr = sympy.Integer(0)
    operator: sympy.Expr | None = None
    derivatives: int = 0
    weight: float = 1.0
    points: int | None = None
    label: str = ""

    def residual_expression(self, u: sympy.Expr, face: Face,
                            symbols: dict[str, sympy.Symbol]) -> sympy.Expr:
        """The sympy residual of this condition on ``face`` (zero when satisfied).

        Not defined for ``periodic`` (it relates two faces); see :meth:`Problem.pretty`.
        """
        if self.kind in ("initial", "dirichlet"):
            return u - self.value
        if self.kind == "neumann":
            return face.outward_sign * sympy.Derivative(u, symbols[face.variable]) - self.value
        if self.kind == "operator":
            return self.operator - self.value
        raise ValueError("a periodic condition has no single-face residual")


@dataclass(frozen=True)
class GridAxis:
    """One axis of the reference grid: ``n`` points from ``lo`` to ``hi``.

    ``endpoint=False`` leaves out ``hi`` (periodic grids: ``np.linspace(lo, hi, n,
    endpoint=False)``).
    """

    n: int
    lo: float
    hi: float
    endpoint: bool = True

    def points(self) -> np.ndarray:
        """The float64 coordinates of the axis."""
        return np.linspace(self.lo, self.hi, self.n, endpoint=self.endpoint)


@dataclass(frozen=True)
class ReferenceSpec:
    """How the trusted reference is obtained: a closed form, a named solver, or both.

    ``grid`` has one :class:`GridAxis` per input variable, in ``input_names`` order.
    """

    solver: str | None
    grid: dict[str, GridAxis]
    has_exact: bool = False
    notes: str = ""
    #: why no automatic reference applies (a file without [reference] whose problem no
    #: automatic scheme solves); empty otherwise
    declined: str = ""

    def axes(self) -> dict[str, np.ndarray]:
        """The grid axes as float64 arrays (meshgrid with ``indexing="ij"``)."""
        return {name: axis.points() for name, axis in self.grid.items()}


@dataclass(frozen=True)
class HardConstraint:
    """An output transform that satisfies some conditions exactly: ``u = offset + factor · N``.

    ``N`` is the network's raw output; ``offset`` and ``factor`` are sympy expressions of the
    inputs (and parameters) chosen so that every condition listed in ``enforces`` holds for any N
    (e.g. Burgers: ``u = −sin(πx) + t (1 − x²) N`` satisfies u(x, 0) = −sin(πx) and u(±1, t) = 0).
    Those conditions then leave the loss. The transform is affine in N, so derivatives follow by
    Leibniz's rule: ``∂^α u = ∂^α offset + Σ_{β ≤ α} C(α, β) ∂^{α−β} factor · ∂^β N``.
    """

    offset: sympy.Expr
    factor: sympy.Expr
    enforces: tuple[int, ...]


@dataclass(frozen=True)
class Problem:
    """A PDE problem (or a regression target) in sympy form. See docs/problem_format.md."""

    name: str
    title: str
    description: str
    space: tuple[str, ...]
    time: str | None
    output: str
    symbols: dict[str, sympy.Symbol]
    u: sympy.Expr
    domain: dict[str, tuple[float, float]]
    excluded: tuple[dict[str, tuple[float, float]], ...]
    parameters: dict[str, Parameter]
    parameter_symbols: dict[str, sympy.Symbol]
    residuals: tuple[sympy.Expr, ...]
    conditions: tuple[Condition, ...]
    exact: sympy.Expr | None
    reference: ReferenceSpec
    budget: dict[str, int]
    literature: tuple[dict[str, Any], ...]
    data_only: bool
    source: str
    spec: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    hard_constraint: HardConstraint | None = None
    #: where :func:`~spikepde.problem.spec.load_problem` finds it again: the catalogue name of a
    #: catalogue entry, the absolute path of a problem file, None for a problem built in memory
    origin: str | None = None

    # ----------------------------------------------------------------------------- basics
    @property
    def input_names(self) -> tuple[str, ...]:
        """Input columns: the space variables in spec order, time last."""
        return self.space + ((self.time,) if self.time else ())

    @property
    def input_symbols(self) -> tuple[sympy.Symbol, ...]:
        """The sympy symbols of :attr:`input_names`, in the same order."""
        return tuple(self.symbols[n] for n in self.input_names)

    @property
    def has_reference(self) -> bool:
        """Whether a trusted solution is known (a closed form or a named solver); without one
        a run reports residual metrics only."""
        return self.exact is not None or self.reference.solver is not None

    @property
    def dim(self) -> int:
        """Number of input columns d."""
        return len(self.input_names)

    def param_values(self) -> dict[str, float]:
        """Current parameter values, ``{name: float}``."""
        return {name: p.value for name, p in self.parameters.items()}

    def substitutions(self) -> dict[sympy.Symbol, sympy.Float]:
        """Parameter symbol → current value, for ``expr.xreplace``."""
        return {self.parameter_symbols[n]: sympy.Float(v, 17)
                for n, v in self.param_values().items()}

    def with_params(self, **overrides: float | str) -> "Problem":
        """A new Problem with some parameter values replaced (re-parsed and re-validated).

        Values may be numbers or formulas (``"0.01/pi"``); unknown names raise SpecError.
        """
        from spikepde.problem.spec import problem_from_dict  # spec imports this module

        current = {n: p.value for n, p in self.parameters.items() if p.value != p.default}
        current.update(overrides)
        return problem_from_dict(self.spec, source=self.source, origin=self.origin, **current)

    # ----------------------------------------------------------------------------- numbers
    def exact_numpy(self, points: np.ndarray) -> np.ndarray:
        """The closed-form solution at ``points`` ([N, d], input_names order), float64 [N].

        Raises ValueError when the problem has no closed form.
        """
        if self.exact is None:
            raise ValueError(f"problem '{self.name}' has no closed-form solution")
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != self.dim:
            raise ValueError(f"points must have shape [N, {self.dim}] "
                             f"(columns {', '.join(self.input_names)}), got {pts.shape}")
        fn = numeric.build_evaluator(self.exact.xreplace(self.substitutions()),
                                     self.input_symbols, backend="numpy")
        values = fn([pts[:, i] for i in range(self.dim)], {})
        return np.broadcast_to(np.asarray(values, dtype=np.float64), (pts.shape[0],)).copy()

    def exact_on_grid(self, axes: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The closed form on a tensor grid (default: the reference grid), ``indexing="ij"``.

        Points inside excluded boxes are NaN.
        """
        axes = axes if axes is not None else self.reference.axes()
        mesh = np.meshgrid(*[axes[n] for n in self.input_names], indexing="ij")
        points = np.stack([m.ravel() for m in mesh], axis=1)
        values = self.exact_numpy(points)
        values[self.excluded_mask(points)] = np.nan
        return values.reshape(mesh[0].shape)

    def excluded_mask(self, points: np.ndarray) -> np.ndarray:
        """True where a point lies outside the domain because it is in an excluded box.

        An excluded box is open on its faces inside the domain box (those faces are boundary,
        e.g. the re-entrant edges of the L-shape) and closed on faces that lie on the outer
        boundary: ``exclude = [{x = [0, 1], y = [0, 1]}]`` on [-1, 1]² removes (0, 1] × (0, 1].
        """
        pts = np.asarray(points, dtype=np.float64)
        mask = np.zeros(pts.shape[0], dtype=bool)
        for lo, hi in self.excluded_bounds():
            mask |= np.all((pts > lo) & (pts < hi), axis=1)
        return mask

    def excluded_bounds(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each excluded box as open bounds ``(lo, hi)`` over all input columns.

        Bounds on the outer boundary are pushed to ±inf (making the box closed there) and
        axes the box does not restrict (time, or an omitted variable) are (−inf, inf).
        """
        boxes = []
        for box in self.excluded:
            lo = np.full(self.dim, -np.inf)
            hi = np.full(self.dim, np.inf)
            for name, (b_lo, b_hi) in box.items():
                i = self.input_names.index(name)
                d_lo, d_hi = self.domain[name]
                lo[i] = b_lo if b_lo > d_lo else -np.inf
                hi[i] = b_hi if b_hi < d_hi else np.inf
            boxes.append((lo, hi))
        return boxes

    # ----------------------------------------------------------------------------- display
    def residual_text(self) -> str | None:
        """The residual(s) as written in the problem file (several joined by "; "), or None for a
        regression problem (for one-line listings: ``spikepde list``, the catalogue page)."""
        pde = self.spec.get("pde") or {}
        return pde.get("residual") or "; ".join(pde.get("residuals", [])) or None

    def pretty(self, unicode: bool = True) -> str:
        """A multi-line description: equation, domain, conditions, parameters, reference,
        budget and literature numbers with their sources."""
        from spikepde.problem.pretty import describe  # keeps this module about data

        return describe(self, unicode=unicode)

    def __str__(self) -> str:
        return f"Problem({self.name}: {self.title})"


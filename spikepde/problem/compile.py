"""Compile a sympy :class:`Problem` into torch functions: samplers and residuals.

Conventions (docs/architecture.md): inputs are ``[N, d]`` tensors with columns in
``input_names`` order (time last); a *fields* dict maps a derivative multi-index such as
``(2, 0)`` (∂²u/∂x²) to an ``[N]`` tensor; randomness comes only from the generator passed in.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping

import sympy
import torch

from spikepde.problem import numeric
from spikepde.problem.numeric import derivative_index, field_value
from spikepde.problem.problem import Condition, Problem
from spikepde.problem.sampling import Geometry

Fields = Mapping[tuple[int, ...], torch.Tensor]


class CompiledCondition:
    """One condition as torch functions.

    Attributes:
        name: a short unique name (``"c0_dirichlet"``); label: the readable description.
        kind: ``initial | dirichlet | neumann | periodic | operator``.
        derivatives: the multi-indices ``residual`` reads from ``fields``.
        points: default number of points per step (from the budget unless the spec says).
        weight: the loss weight given in the spec (default 1).

    ``sample(n, generator)`` gives ``[n, d]`` points, except for ``periodic``, which gives
    ``[2n, d]``: n points on the min face followed by their partners on the max face.
    ``residual(X, fields)`` is zero where the condition holds: ``[n]`` entries, or for
    ``periodic`` ``[n * (1 + derivatives)]`` (value difference, then each derivative's).
    """

    def __init__(self, index: int, condition: Condition, problem: Problem, geometry: Geometry):
        self.kind = condition.kind
        self.name = f"c{index}_{condition.kind}"
        self.label = condition.label
        self.weight = condition.weight
        self.faces = condition.faces
        budget_key = "initial_points" if condition.kind == "initial" else "boundary_points"
        self.points = condition.points or problem.budget[budget_key]
        self._geometry = geometry
        self._patches = geometry.patches(condition.faces, problem)
        self._setup(condition, problem)

    def _setup(self, condition: Condition, problem: Problem) -> None:
        d = problem.dim
        zero = (0,) * d
        variables = problem.input_symbols
        subs = problem.substitutions()
        self._value = numeric.build_evaluator(condition.value.xreplace(subs), variables)
        if self.kind in ("initial", "dirichlet"):
            self.derivatives = [zero]
        elif self.kind == "neumann":
            self.derivatives = sorted({_unit(d, p.axis) for p in self._patches})
        elif self.kind == "operator":
            operator = condition.operator.xreplace(subs)
            self._operator = numeric.build_evaluator(operator, variables, unknown=problem.u)
            self.derivatives = sorted(_needed(operator, problem))
        else:  # periodic
            axis = self._patches[0].axis
            self.derivatives = [_unit(d, axis, k) for k in range(condition.derivatives + 1)]
            self._upper = problem.domain[condition.faces[0].variable][1]
            self._patch_min = next(p for p in self._patches if p.face.side == "min")

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Uniform points on the condition's faces (see the class docstring for periodic)."""
        if self.kind == "periodic":
            return self._geometry.sample_periodic(self._patch_min, self._upper, n, generator)
        return self._geometry.sample_faces(self._patches, n, generator)

    def grid_points(self, axes: list[torch.Tensor]) -> torch.Tensor:
        """The condition's points on a tensor grid instead of sampled ones: on each face, the
        face's fixed coordinate with every combination of the other inputs' ``axes`` values
        that lies on the face (``axes``: one 1-D tensor per input); for ``periodic`` the min
        face's points followed by their partners on the max face, as :meth:`sample`."""
        if self.kind == "periodic":
            low = self._geometry.face_grid(self._patch_min, axes)
            high = low.clone()
            high[:, self._patch_min.axis] = self._upper
            keep = ~(self._geometry.outside(low) | self._geometry.outside(high))
            return torch.cat([low[keep], high[keep]])
        return torch.cat([self._geometry.face_grid(patch, axes) for patch in self._patches])

    def residual(self, X: torch.Tensor, fields: Fields) -> torch.Tensor:
        """The condition's residual at ``X`` given the network's fields there."""
        cols = list(X.unbind(dim=1))
        if self.kind == "periodic":
            n = X.shape[0] // 2
            return torch.cat([field_value(fields, k)[:n] - field_value(fields, k)[n:] for k in self.derivatives])
        value = _broadcast(self._value(cols, fields), X)
        if self.kind in ("initial", "dirichlet"):
            return field_value(fields, self.derivatives[0]) - value
        if self.kind == "operator":
            return _broadcast(self._operator(cols, fields), X) - value
        return self._normal_derivative(X, fields) - value

    def _normal_derivative(self, X: torch.Tensor, fields: Fields) -> torch.Tensor:
        """∂u/∂n with the outward normal of the face each point lies on (the nearest face)."""
        distance = torch.stack([(X[:, p.axis] - p.value).abs() for p in self._patches])
        nearest = distance.argmin(dim=0)
        result = torch.zeros(X.shape[0], dtype=X.dtype, device=X.device)
        for k, patch in enumerate(self._patches):
            derivative = field_value(fields, _unit(X.shape[1], patch.axis))
            result = torch.where(nearest == k, patch.face.outward_sign * derivative, result)
        return result

    def __repr__(self) -> str:
        return f"CompiledCondition({self.name}: {self.label})"


class CompiledTransform:
    """A :class:`~spikepde.problem.problem.HardConstraint` as torch functions.

    ``apply(X, raw, indices)`` maps the network's fields ∂^β N to the solution's fields ∂^α u by
    Leibniz's rule for ``u = offset + factor · N``; ``required(indices)`` lists the β it needs
    (every β ≤ α).
    """

    def __init__(self, problem: Problem):
        hc = problem.hard_constraint
        subs = problem.substitutions()
        self.offset = hc.offset.xreplace(subs)
        self.factor = hc.factor.xreplace(subs)
        self.enforces = tuple(hc.enforces)
        self._symbols = problem.input_symbols
        self._cache: dict[tuple, Callable] = {}

    def _derivative(self, which: str, index: tuple[int, ...]):
        key = (which, index)
        if key not in self._cache:
            expr = self.offset if which == "offset" else self.factor
            for symbol, order in zip(self._symbols, index):
                if order:
                    expr = sympy.diff(expr, symbol, order)
            self._cache[key] = numeric.build_evaluator(expr, self._symbols)
        return self._cache[key]

    def required(self, indices) -> list[tuple[int, ...]]:
        """Every multi-index β ≤ α for the α in ``indices`` (what the network must provide)."""
        out = set()
        for alpha in indices:
            for beta in itertools.product(*[range(k + 1) for k in alpha]):
                out.add(tuple(beta))
        return sorted(out, key=lambda m: (sum(m), m))

    def apply(self, X: torch.Tensor, raw: Fields, indices) -> dict[tuple[int, ...], torch.Tensor]:
        """∂^α u = ∂^α offset + Σ_{β≤α} C(α, β) ∂^{α−β} factor · ∂^β N, for α in ``indices``."""
        cols = list(X.unbind(dim=1))
        out = {}
        for alpha in indices:
            alpha = tuple(alpha)
            total = _broadcast(self._derivative("offset", alpha)(cols, {}), X)
            for beta in itertools.product(*[range(k + 1) for k in alpha]):
                gamma = tuple(a - b for a, b in zip(alpha, beta))
                coeff = math.prod(math.comb(a, b) for a, b in zip(alpha, beta))
                f = self._derivative("factor", gamma)(cols, {})
                if isinstance(f, float) and f == 0.0:
                    continue
                total = total + coeff * _broadcast(f, X) * raw[tuple(beta)]
            out[alpha] = total
        return out

    def value(self, X: torch.Tensor, N: torch.Tensor) -> torch.Tensor:
        """u = offset + factor · N at ``X``."""
        zero = (0,) * X.shape[1]
        return self.apply(X, {zero: N}, [zero])[zero]


class CompiledProblem:
    """A Problem as torch functions (see docs/architecture.md).

    Attributes:
        problem: the source Problem; input_names: column names (time last);
        lower, upper: ``[d]`` domain bounds; derivatives: every multi-index the residuals and
        conditions read (``u`` itself included); conditions: list of CompiledCondition;
        has_pde: False for regression problems; n_residuals: number of PDE residual rows.
    """

    def __init__(self, problem: Problem, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu", hard_constraints: bool = True):
        self.problem = problem
        self.dtype, self.device = dtype, torch.device(device)
        self.input_names = problem.input_names
        self.has_pde = not problem.data_only
        self._geometry = Geometry(problem, dtype, device)
        self.lower = self._geometry.lower.to(dtype=dtype, device=self.device)
        self.upper = self._geometry.upper.to(dtype=dtype, device=self.device)
        subs = problem.substitutions()
        variables = problem.input_symbols
        residuals = [r.xreplace(subs) for r in problem.residuals]
        self._residuals = [numeric.build_evaluator(r, variables, unknown=problem.u)
                           for r in residuals]
        self.n_residuals = len(residuals)
        self.all_conditions = [CompiledCondition(i, c, problem, self._geometry)
                               for i, c in enumerate(problem.conditions)]
        # with a hard constraint the enforced conditions hold for any network: they leave the loss
        self.transform = (CompiledTransform(problem)
                          if hard_constraints and problem.hard_constraint is not None else None)
        enforced = self.transform.enforces if self.transform else ()
        self.conditions = [c for i, c in enumerate(self.all_conditions) if i not in enforced]
        needed = {(0,) * problem.dim}
        for r in residuals:
            needed.update(_needed(r, problem))
        for c in self.conditions:
            needed.update(c.derivatives)
        self.derivatives = sorted(needed, key=lambda m: (sum(m), tuple(-k for k in m)))
        self._exact_expr = problem.exact.xreplace(subs) if problem.exact is not None else None
        self._exact = (numeric.build_evaluator(self._exact_expr, variables)
                       if self._exact_expr is not None else None)
        self._exact_derivatives: dict[tuple[int, ...], Callable] = {}

    @property
    def has_exact(self) -> bool:
        """Whether a closed-form solution is available."""
        return self._exact is not None

    def inside(self, X: torch.Tensor) -> torch.Tensor:
        """True for the points of ``X`` in the closed domain (the box minus the excluded boxes'
        interiors)."""
        Xc = X.to(torch.float64).cpu()
        in_box = ((Xc >= self._geometry.lower) & (Xc <= self._geometry.upper)).all(dim=1)
        return in_box & ~self._geometry.outside(Xc)

    def sample_interior(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` points uniform in the domain (excluded boxes removed), ``[n, d]``."""
        return self._geometry.sample_interior(n, generator)

    def residual(self, X: torch.Tensor, fields: Fields) -> torch.Tensor:
        """PDE residuals at ``X``: ``[R, N]`` (``R = 0`` for a regression problem)."""
        cols = list(X.unbind(dim=1))
        if not self._residuals:
            return X.new_zeros((0, X.shape[0]))
        return torch.stack([_broadcast(r(cols, fields), X) for r in self._residuals])

    def exact(self, X: torch.Tensor) -> torch.Tensor | None:
        """The closed-form solution at ``X``, ``[N]``, or None when there is none."""
        if self._exact is None:
            return None
        return _broadcast(self._exact(list(X.unbind(dim=1)), {}), X)

    def exact_fields(self, X: torch.Tensor,
                     multi_indices: list[tuple[int, ...]] | None = None) -> dict[tuple[int, ...], torch.Tensor]:
        """Derivatives of the closed form at ``X`` (sympy-differentiated), as a fields dict.

        Default multi-indices: :attr:`derivatives`. Useful to test residuals and derivative
        estimators: ``residual(X, exact_fields(X))`` is ~0 for a correct problem.
        """
        if self._exact_expr is None:
            raise ValueError(f"problem '{self.problem.name}' has no closed-form solution")
        cols = list(X.unbind(dim=1))
        result = {}
        for index in multi_indices or self.derivatives:
            if index not in self._exact_derivatives:
                expr = self._exact_expr
                for symbol, order in zip(self.problem.input_symbols, index):
                    if order:
                        expr = sympy.diff(expr, symbol, order)
                self._exact_derivatives[index] = numeric.build_evaluator(
                    expr, self.problem.input_symbols)
            result[tuple(index)] = _broadcast(self._exact_derivatives[index](cols, {}), X)
        return result

    def __repr__(self) -> str:
        return (f"CompiledProblem({self.problem.name}, inputs={self.input_names}, "
                f"residuals={self.n_residuals}, conditions={[c.name for c in self.conditions]})")


def compile_problem(problem: Problem, dtype: torch.dtype = torch.float32,
                    device: str | torch.device = "cpu", hard_constraints: bool = True) -> CompiledProblem:
    """Turn a Problem into torch samplers and residual functions at its current parameters.

    ``hard_constraints``: use the problem's output transform (if it has one), which satisfies
    the enforced conditions exactly and removes them from ``conditions``.
    """
    return CompiledProblem(problem, dtype=dtype, device=device, hard_constraints=hard_constraints)


def _needed(expr: sympy.Expr, problem: Problem) -> set[tuple[int, ...]]:
    """The multi-indices of u and its derivatives appearing in ``expr``."""
    found = {derivative_index(node, problem.input_symbols)
             for node in expr.atoms(sympy.Derivative) if node.expr == problem.u}
    bare = expr.xreplace({node: sympy.Integer(0) for node in expr.atoms(sympy.Derivative)})
    if bare.has(problem.u):
        found.add((0,) * problem.dim)
    return found


def _unit(d: int, axis: int, order: int = 1) -> tuple[int, ...]:
    return tuple(order if i == axis else 0 for i in range(d))


def _broadcast(value, X: torch.Tensor) -> torch.Tensor:
    """A constant (Python float) or ``[N]`` tensor as an ``[N]`` tensor like ``X``'s columns."""
    if isinstance(value, torch.Tensor):
        return value.expand(X.shape[0]) if value.dim() == 0 else value
    return X.new_full((X.shape[0],), float(value))

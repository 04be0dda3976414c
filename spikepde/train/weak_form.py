r"""Weak-form (Petrov–Galerkin) PDE residual: derivatives fall on smooth test functions, not on u.

Why. A spiking network's output is piecewise constant in its inputs (rates of T steps), so its
true derivatives are zero almost everywhere; the strong-form loss therefore has to use the
surrogate ("shadow") derivatives, which do not describe the field that is evaluated. On
Burgers that caps the spiking methods near a relative L2 of 0.47 (``benchmarks/burgers.py``).
Integrating by parts moves every derivative onto a test function ψ, so the loss reads only
values of u — exactly what the spiking network computes.

Which residuals. After expanding, every additive term of the residual must be one of

* ``c ∂^α u`` with a constant c (any order |α| ≤ 3):  ``⟨c ∂^α u, ψ⟩ = (−1)^{|α|} c ⟨u, ∂^α ψ⟩``;
* ``p(u) ∂u/∂x_i`` (first order, coefficient a function of u only — a conservative flux):
  ``⟨p(u) u_{x_i}, ψ⟩ = −⟨P(u), ∂_i ψ⟩`` with ``P = ∫ p du`` (Burgers: ``u u_x = (u²/2)_x``);
* ``g(x, u)`` without derivatives (sources, reactions): ``⟨g(x, u), ψ⟩`` as it is.

Anything else (a product of two derivatives, a coefficient depending on x times a derivative,
a flux coefficient that is not a polynomial in u) raises :class:`ValueError` naming the term:
the weak form is then not this simple, and the strong form remains available. So does a
residual whose expansion would have more than :data:`MAX_EXPANDED_TERMS` terms
(``(u + x + 1)**64``): the split never runs an unbounded ``expand``, ``simplify`` or
``integrate`` on what a user wrote.

Test functions. Tensor products of uniform cubic B-splines, ``n`` per axis, all supported
strictly inside the box (and, on a domain with excluded boxes such as the L-shape, outside
them: tests reaching into an excluded box are dropped), so no boundary terms appear: the
boundary and initial conditions
enter only through their own loss terms (or the hard-constraint transform). Each ψ_k is
normalised to unit integral, so ``g_k = ⟨r(u), ψ_k⟩`` is a local average of the residual and
``mean_k g_k²`` has the scale of the strong-form ``mean r²``.

Quadrature. A midpoint tensor grid, ``q`` points per axis (default 3 per B-spline interval);
u is evaluated there once per loss, and the products with the 1-D spline matrices are
separable contractions (cheap, and ``vmap``/``jvp``-friendly for the forward-gradient path).
Quadrature of the discontinuous spiking field is first-order accurate; that error acts like
noise in a residual that is itself an average.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import sympy
import torch

from ..problem import numeric
from ..problem.numeric import derivative_index


def bspline(s: torch.Tensor, order: int) -> torch.Tensor:
    """Uniform cubic B-spline centred at 0 (support [−2, 2], unit integral) and its derivatives ≤ 3."""
    a = s.abs()
    sg = torch.sign(s)
    zero = torch.zeros_like(s)
    if order == 0:
        return torch.where(a < 1, 2 / 3 - a ** 2 + a ** 3 / 2, torch.where(a < 2, (2 - a) ** 3 / 6, zero))
    if order == 1:
        return sg * torch.where(a < 1, -2 * a + 1.5 * a ** 2, torch.where(a < 2, -(2 - a) ** 2 / 2, zero))
    if order == 2:
        return torch.where(a < 1, -2 + 3 * a, torch.where(a < 2, 2 - a, zero))
    if order == 3:
        return sg * torch.where(a < 1, torch.full_like(s, 3.0), torch.where(a < 2, -torch.ones_like(s), zero))
    raise ValueError("cubic B-splines give derivatives up to order 3")


#: Most additive terms the expansion of a residual may produce (a PDE has a handful).
MAX_EXPANDED_TERMS = 500
#: Highest degree in u of a flux coefficient p(u) integrated in closed form.
MAX_FLUX_DEGREE = 16


def expanded_terms(expr: sympy.Basic, limit: int) -> int:
    """An upper bound on the number of terms ``sympy.expand`` produces for ``expr`` anywhere in
    it (a power ``(a + b + c)**n`` of positive integer n gives C(n + 2, 2) terms), computed on
    the distinct sub-expressions without expanding; stops once it passes ``limit``."""
    terms: dict[int, int] = {}
    worst = 1
    stack = [(expr, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in terms:
            continue
        if not children_done:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args
                         if id(a) not in terms and not isinstance(node, sympy.Derivative))
            continue
        cost, as_term = _terms_of(node, terms)
        terms[id(node)] = as_term
        worst = max(worst, cost)
        if worst > limit:
            break
    return worst


def _terms_of(node, terms) -> tuple[int, int]:
    """(terms produced by expanding ``node``, terms it counts as in its parent), from its
    arguments' counts (see :func:`expanded_terms`)."""
    if isinstance(node, sympy.Derivative) or not node.args:
        return 1, 1
    counts = [terms[id(a)] for a in node.args]
    if node.is_Add:
        return sum(counts), sum(counts)
    if node.is_Mul:
        return math.prod(counts), math.prod(counts)
    if node.is_Pow and node.exp.is_Integer and counts[0] > 1:
        n = math.comb(abs(int(node.exp)) + counts[0] - 1, counts[0] - 1)
        return n, (n if node.exp > 0 else 1)      # 1/(a + b)**2: the denominator is expanded
    return max(counts), 1         # a function, or a non-integer power: one term, expanded inside


@dataclass
class WeakTerms:
    """The residual split for integration by parts (see the module docstring)."""

    linear: list[tuple[float, tuple[int, ...]]]          # (c, α): c ∂^α u, c constant
    fluxes: list[tuple[int, sympy.Expr]]                  # (axis i, P(u)): p(u) u_{x_i}
    source: sympy.Expr                                    # g(x, u)

    def source_slope(self, u: sympy.Expr, variables) -> float | None:
        """The constant c of a source ``c·u + f(x)``, or None when the source is not of that
        form (nonlinear in u, or u times a function of the coordinates)."""
        w = sympy.Dummy("w")
        slope = sympy.diff(self.source.xreplace({u: w}), w)
        if slope.has(w) or slope.free_symbols & set(variables):
            return None
        return float(slope)

    def is_linear(self, u: sympy.Expr, variables) -> bool:
        """A linear residual with constant coefficients: no flux, a source ``c·u + f(x)``."""
        return not self.fluxes and self.source_slope(u, variables) is not None


def split_residual(residual: sympy.Expr, u: sympy.Expr, variables) -> WeakTerms:
    """Sort the additive terms of ``residual`` (parameters substituted) into :class:`WeakTerms`.

    Raises ValueError for a term that is none of the three kinds, naming it.
    """
    w = sympy.Dummy("w")
    linear: dict[tuple[int, ...], float] = {}
    fluxes: dict[int, sympy.Expr] = {}
    source = sympy.Integer(0)
    n_terms = expanded_terms(residual, MAX_EXPANDED_TERMS)
    if n_terms > MAX_EXPANDED_TERMS:
        raise ValueError(f"weak form: expanding the residual would give more than "
                         f"{MAX_EXPANDED_TERMS} terms (a high power of a sum); the strong form "
                         "takes it as written")
    for term in sympy.Add.make_args(sympy.expand(residual)):
        derivs = [d for d in term.atoms(sympy.Derivative) if d.expr == u]
        if not derivs:
            source += term
            continue
        if len(derivs) > 1:
            raise ValueError(f"weak form: the term {term} multiplies several derivatives of u")
        D = derivs[0]
        factors = list(sympy.Mul.make_args(term))
        if factors.count(D) != 1:          # D**2, sin(D), or D inside another factor
            raise ValueError(f"weak form: the term {term} is not linear in {D}")
        factors.remove(D)
        coef = sympy.Mul(*factors)
        if coef.has(D) or coef.atoms(sympy.Derivative):
            raise ValueError(f"weak form: the term {term} is not linear in {D}")
        alpha = derivative_index(D, variables)
        coef_w = coef.xreplace({u: w})                      # u's arguments are not x-dependence
        on_coordinates = bool(coef_w.free_symbols & set(variables))
        if not coef_w.has(w) and not on_coordinates:
            linear[alpha] = linear.get(alpha, 0.0) + float(coef)
        elif sum(alpha) == 1 and not on_coordinates:
            axis = alpha.index(1)
            P = _antiderivative(coef_w, w, term).xreplace({w: u})
            fluxes[axis] = fluxes.get(axis, sympy.Integer(0)) + P
        else:
            raise ValueError(f"weak form: the coefficient {coef} of {D} in the term {term} depends "
                             "on the coordinates (or multiplies a derivative of order > 1 with u)")
    return WeakTerms([(c, a) for a, c in linear.items() if c != 0.0], list(fluxes.items()), source)


def _antiderivative(p: sympy.Expr, w: sympy.Symbol, term) -> sympy.Expr:
    """``∫ p dw`` for a polynomial p(w) of degree ≤ :data:`MAX_FLUX_DEGREE` (Burgers' flux
    coefficient is w); anything else is refused rather than handed to an open-ended
    ``sympy.integrate``."""
    if not p.is_polynomial(w):
        raise ValueError(f"weak form: the flux coefficient {p} in the term {term} is not a "
                         "polynomial in u")
    poly = sympy.Poly(p, w)
    if poly.degree() > MAX_FLUX_DEGREE:
        raise ValueError(f"weak form: the flux coefficient in the term {term} has degree "
                         f"{poly.degree()} in u; at most {MAX_FLUX_DEGREE}")
    return poly.integrate().as_expr()


class BSplineTests:
    """Tensor-product cubic B-spline test functions and the midpoint quadrature grid they are
    integrated on — the one discretisation every weak form of the package uses.

    ``counts[i]`` uniform B-splines on axis i, all supported strictly inside the box (centres
    ``lo + (k + 2) h``, ``h = (hi − lo)/(n + 3)``), each normalised to unit integral;
    ``quad_points[i]`` midpoints per axis. ``matrices[i][o]`` is ``[q_i, n_i]``: the o-th
    derivative of every 1-D test at every quadrature point times the quadrature weight dx_i
    (float64), so a projection ``⟨f, ∂^α ψ_k⟩`` is one contraction per axis. With ``keep`` (flat
    indices of the tests to keep: the L-shape drops tests reaching into its excluded box) every
    result is restricted to those tests.
    """

    def __init__(self, lower, upper, counts, quad_points, keep_fn=None):
        lo = torch.as_tensor(lower, dtype=torch.float64).cpu()
        hi = torch.as_tensor(upper, dtype=torch.float64).cpu()
        self.d = len(counts)
        self.counts = [int(n) for n in counts]
        self.axes, self.matrices, self.dx, supports = [], [], [], []
        for i in range(self.d):
            n, q = self.counts[i], int(quad_points[i])
            h = (hi[i] - lo[i]) / (n + 3)
            x = (torch.arange(q, dtype=torch.float64) + 0.5) / q * (hi[i] - lo[i]) + lo[i]
            centres = lo[i] + (torch.arange(n, dtype=torch.float64) + 2) * h
            s = (x[:, None] - centres[None]) / h
            dx = float(hi[i] - lo[i]) / q
            # ψ_k normalised to unit integral (the B-spline's integral is h); quadrature weight dx
            self.matrices.append({o: bspline(s, o) / h ** o / h * dx for o in range(4)})
            self.axes.append(x)
            self.dx.append(dx)
            supports.append((centres - 2 * h, centres + 2 * h))
        self.shape = [len(a) for a in self.axes]
        self.points = torch.stack(torch.meshgrid(*self.axes, indexing="ij"), -1).reshape(-1, self.d)
        self.keep = keep_fn(supports) if keep_fn is not None else None
        self.full = math.prod(self.counts)
        self.n_tests = self.full if self.keep is None else int(self.keep.numel())
        self._cast: dict = {}

    def cast(self, dtype, device) -> list[dict]:
        """The matrices in a working precision and device (cached)."""
        key = (dtype, str(device))
        if key not in self._cast:
            self._cast[key] = [{o: M.to(dtype).to(device) for o, M in per.items()} for per in self.matrices]
        return self._cast[key]

    def project(self, values: torch.Tensor, orders: tuple[int, ...]) -> torch.Tensor:
        """``⟨values_j, ∂^orders ψ_k⟩`` for all k: grid values ``[Q]`` → ``[n_tests]``, or
        ``[Q, m]`` → ``[n_tests, m]`` (separable contractions in the values' precision)."""
        B = self.cast(values.dtype, values.device)
        extra = list(values.shape[1:])
        T = values.reshape(self.shape + extra)
        for i in range(self.d):
            # contract the leading grid axis; the test axis is appended at the end
            T = torch.tensordot(T, B[i][orders[i]], dims=([0], [0]))
        if extra:                                    # axes now [m, n_1, ..., n_d]
            T = T.reshape(extra[0], -1).T
        else:
            T = T.reshape(-1)
        return T if self.keep is None else T[self.keep]

    def project_adjoint(self, weights: torch.Tensor, orders: tuple[int, ...]) -> torch.Tensor:
        """The transpose of :meth:`project`: test-space ``[n_tests]`` → grid ``[Q]``."""
        B = self.cast(weights.dtype, weights.device)
        if self.keep is not None:
            weights = weights.new_zeros(self.full).index_copy_(0, self.keep, weights)
        T = weights.reshape(self.counts)
        for i in range(self.d):
            # contract the leading test axis with the spline matrix's test axis; grid axis appended
            T = torch.tensordot(T, B[i][orders[i]], dims=([0], [1]))
        return T.reshape(-1)

    def rows(self, orders: tuple[int, ...]) -> torch.Tensor:
        """The projection as a dense float64 matrix ``[n_tests, Q]`` (Kronecker product)."""
        R = None
        for i in range(self.d):
            Mi = self.matrices[i][orders[i]].T
            R = Mi if R is None else torch.kron(R, Mi)
        return R if self.keep is None else R[self.keep]

    def gram(self, terms) -> torch.Tensor:
        """``G_kl = ⟨Σ_a c_a ∂^a ψ_k, Σ_b c_b ∂^b ψ_l⟩`` by quadrature for ``terms = [(c, a), ...]``
        (float64, separable: Kronecker products of the 1-D Gram matrices)."""
        G = 0
        for c1, a1 in terms:
            for c2, a2 in terms:
                K = None
                for i in range(self.d):
                    g = self.matrices[i][a1[i]].T @ self.matrices[i][a2[i]] / self.dx[i]
                    K = g if K is None else torch.kron(K, g)
                G = G + c1 * c2 * K
        if self.keep is not None:
            G = G[self.keep][:, self.keep]
        return G


class WeakForm:
    """Weak residuals ``g_k = ⟨r(u), ψ_k⟩`` of a compiled problem from values of u on a grid.

    Args:
        compiled: a :class:`~spikepde.problem.compile.CompiledProblem` with one residual. With
            excluded boxes (the L-shape), the tests whose support reaches into one are dropped.
        test_per_axis: B-splines per axis (``n``; ``n^d`` test functions), or one count per axis
            (e.g. more along x than along t for a steep front).
        quad_per_interval: midpoint quadrature points per B-spline interval and axis.
        quad_points: instead, the quadrature points per axis (one number or one per axis).

    Attributes:
        tests: the :class:`BSplineTests`.
        points: the quadrature grid ``[Q, d]`` in the working precision (where the model must
            give u).
        terms: the residual split for integration by parts (:class:`WeakTerms`).
    """

    def __init__(self, compiled, test_per_axis: int = 32, quad_per_interval: int = 3,
                 quad_points=None):
        problem = compiled.problem
        if problem.data_only or compiled.n_residuals != 1:
            raise ValueError("the weak form needs exactly one PDE residual")
        d = problem.dim
        counts = ([int(test_per_axis)] * d if isinstance(test_per_axis, (int, float))
                  else [int(n) for n in test_per_axis])
        if len(counts) != d or min(counts) < 1 or quad_per_interval < 1:
            raise ValueError(f"test_per_axis must be >= 1 (one number, or one per axis: {d}) and "
                             f"quad_per_interval >= 1; got {test_per_axis}, {quad_per_interval}")
        if quad_points is None:
            quad_points = [quad_per_interval * (n + 3) for n in counts]
        elif isinstance(quad_points, (int, float)):
            quad_points = [int(quad_points)] * d
        variables = problem.input_symbols
        residual = problem.residuals[0].xreplace(problem.substitutions())
        self.terms = split_residual(residual, problem.u, variables)
        if any(max(a) > 3 for _, a in self.terms.linear):
            raise ValueError("weak form: derivatives of order > 3 per axis are not supported")
        self.d = d
        self.problem = problem
        self.dtype, self.device = compiled.dtype, compiled.device
        self.tests = BSplineTests(compiled.lower.tolist(), compiled.upper.tolist(), counts, quad_points,
                                  keep_fn=lambda supports: _tests_outside(problem, supports))
        if self.tests.keep is not None and self.tests.keep.numel() == 0:
            raise ValueError(f"weak form: no test function of {counts} per axis fits in "
                             f"'{problem.name}' outside its excluded regions")
        self.points = self.tests.points.to(self.dtype).to(self.device)
        self._cols = list(self.points.unbind(1))
        self._source = numeric.build_evaluator(self.terms.source, variables, unknown=problem.u)
        self._fluxes = [(i, numeric.build_evaluator(P, variables, unknown=problem.u))
                        for i, P in self.terms.fluxes]
        self._zero = (0,) * d
        self.n_tests = self.tests.n_tests

    def linear_operator(self) -> list[tuple[float, tuple[int, ...]]]:
        """The residual as ``Σ_α c_α ∂^α u + f(x)`` with constant ``c_α`` (α = 0 included): the
        terms ``[(c_α, α), ...]``. Raises ValueError (naming why) when the residual is not of that
        form — a flux, or a source that is not affine in u with a constant coefficient."""
        if self.terms.fluxes:
            raise ValueError("weak form: the residual is nonlinear in u (a flux term)")
        slope = self.terms.source_slope(self.problem.u, self.problem.input_symbols)
        if slope is None:
            raise ValueError(f"weak form: the term {self.terms.source} is not u times a constant plus "
                             "a function of the coordinates")
        terms = list(self.terms.linear)
        if slope != 0.0:
            terms.append((slope, self._zero))
        return terms

    def _project(self, values: torch.Tensor, orders: tuple[int, ...]) -> torch.Tensor:
        """``⟨values, ∂^orders ψ_k⟩`` for all k: grid values ``[Q]`` → ``[n_tests]`` (separable)."""
        return self.tests.project(values, orders)

    def _project_adjoint(self, weights: torch.Tensor, orders: tuple[int, ...]) -> torch.Tensor:
        """The transpose of :meth:`_project`: test-space ``[n_tests]`` → grid ``[Q]``."""
        return self.tests.project_adjoint(weights, orders)

    def jacobian_terms(self, u: torch.Tensor) -> list[tuple[float | torch.Tensor, tuple[int, ...]]]:
        """The derivative of :meth:`residual` at u as ``δg_k = Σ_j ⟨c_j δu, ∂^{α_j} ψ_k⟩``:
        the terms ``[(c_j, α_j), ...]`` with c_j a number (a linear term, signs of the
        integration by parts included) or a ``[Q]`` field on :attr:`points` (a source's slope
        ∂g/∂u, a flux's −P'(u)). A source whose slope is the same number everywhere is given as
        that number. No autograd: the slopes are forward-mode derivatives of element-wise
        functions (one ``jvp`` with a tangent of ones each).

        Newton's linearisation of the weak residual, shared by :meth:`residual_adjoint` (the
        forward-gradient trainer's per-point error signals) and the closed-form readout's
        Gauss–Newton rows (:mod:`spikepde.train.closed_form`).
        """
        ones = torch.ones_like(u)
        zero = self._zero

        def elementwise_slope(fn):
            _, slope = torch.func.jvp(lambda v: _broadcast(fn(self._cols, {zero: v}), v), (u,), (ones,))
            return slope

        terms: list = []
        source_slope = elementwise_slope(self._source)
        if bool((source_slope != 0).any()):
            flat = source_slope.flatten()
            constant = bool((flat == flat[0]).all())
            terms.append((float(flat[0]) if constant else source_slope, zero))
        terms += [((-1) ** sum(alpha) * c, alpha) for c, alpha in self.terms.linear]
        for axis, flux in self._fluxes:
            e = tuple(1 if j == axis else 0 for j in range(self.d))
            terms.append((-elementwise_slope(flux), e))
        return terms

    def residual_adjoint(self, u: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``∂/∂u_q Σ_k w_k g_k(u)`` for every quadrature point q (``[Q]``), no autograd.

        Each term of :meth:`residual` is a linear projection P of an element-wise function F(u),
        so its contribution is ``F'(u_q) · (Pᵀ w)_q``: the projections' transposes are the same
        separable contractions the other way round, and F' comes from :meth:`jacobian_terms`.
        The forward-gradient trainer uses it to turn the weak loss into per-point error signals.
        """
        out = torch.zeros_like(u)
        for c, alpha in self.jacobian_terms(u):
            out = out + c * self._project_adjoint(weights, alpha)
        return out

    def residual(self, u: torch.Tensor) -> torch.Tensor:
        """``[n^d]`` weak residuals from u on :attr:`points` (``[Q]``)."""
        fields = {self._zero: u}
        g = self._project(_broadcast(self._source(self._cols, fields), u), self._zero)
        for c, alpha in self.terms.linear:
            g = g + ((-1) ** sum(alpha) * c) * self._project(u, alpha)
        for axis, flux in self._fluxes:
            e = tuple(1 if j == axis else 0 for j in range(self.d))
            g = g - self._project(_broadcast(flux(self._cols, fields), u), e)
        return g

    def __repr__(self) -> str:
        return (f"WeakForm({self.n_tests} cubic B-spline tests, {self.points.shape[0]} quadrature "
                f"points, {len(self.terms.linear)} linear + {len(self.terms.fluxes)} flux terms)")


def _tests_outside(problem, supports) -> torch.Tensor | None:
    """Flat indices of the tensor-product tests whose support avoids every excluded box.

    A test whose support box overlaps an excluded box's interior would integrate across the
    domain's inner boundary (where no integration by parts holds without boundary terms), so it
    is dropped; touching the boundary is fine (a B-spline vanishes at the ends of its support).
    ``None`` when nothing is excluded (every test kept).
    """
    if not problem.excluded:
        return None
    names = problem.input_names
    keep = torch.ones([len(lo) for lo, _ in supports], dtype=torch.bool)
    for box in problem.excluded:
        overlap = torch.ones_like(keep)
        for i, (lo, hi) in enumerate(supports):
            a, b = box.get(names[i], (-math.inf, math.inf))
            axis = (lo < b) & (hi > a)
            shape = [1] * len(supports)
            shape[i] = -1
            overlap = overlap & axis.view(shape)
        keep &= ~overlap
    return torch.nonzero(keep.reshape(-1)).reshape(-1)


def _broadcast(value, like: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.expand_as(like) if value.shape != like.shape else value
    return torch.full_like(like, float(value))


def weak_applies(compiled, linear: bool = False) -> str | None:
    """None if :class:`WeakForm` can be built for ``compiled``, else the reason.

    ``linear=True`` asks more, for a readout solved in closed form (ADMM's minimum-residual weak
    rows): a linear operator with constant coefficients (:meth:`WeakForm.linear_operator`) on
    the whole box (no excluded regions)."""
    try:
        weak = WeakForm(compiled, test_per_axis=8, quad_per_interval=1)   # 8: room beside an excluded box
        if linear:
            weak.linear_operator()
            if compiled.problem.excluded:
                raise ValueError("weak form: the linear weak rows need the whole box (excluded regions)")
    except ValueError as exc:
        return str(exc)
    return None


__all__ = ["BSplineTests", "MAX_EXPANDED_TERMS", "WeakForm", "WeakTerms", "expanded_terms",
           "split_residual", "bspline", "weak_applies"]

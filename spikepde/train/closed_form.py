r"""``lsq``: random spiking features, the readout solved in closed form — no gradient at all.

The field is a :class:`~spikepde.snn.separable.SeparableSpikingField`: one LIF network per
input axis (random, untrained hidden layers at the package's initialisation), whose spike
rasters of every layer at every step are the features, and a Tucker readout coupling the axes.
For a **linear** PDE the weak residual of that field is linear in the readout, so the readout
that minimises the package's weak-form objective (plus the conditions the output transform
does not enforce) is one least-squares solve:

* **rows.** The objective's weak form (:class:`~spikepde.train.weak_form.WeakForm`: cubic
  B-splines ψ_k, its linear operator L, ``g_k = ⟨u, L*ψ_k⟩ − ⟨f, ψ_k⟩``) on the field
  ``u = offset + factor · N`` of the problem's hard constraint, with ``N`` the network's output;
  plus a row per residual of every value condition the transform leaves (Dirichlet, initial,
  periodic pairs, Neumann; their linear maps from :mod:`spikepde.train.linear_maps`), each
  value or normal derivative read where the weak rows see the field — by the polynomial through
  the nearest quadrature points inside, along the face's inward normal
  (:mod:`spikepde.train.boundary_stencils`: a raster cell at the face itself is seen by no weak
  row). With excluded boxes (the L-shape) the weak rows are the test grid's, less the tests
  reaching into a box (``RowBlock.keep``). Each row is weighted as its term of the objective (``√(w/M)`` for M residuals of weight w), so the solve
  minimises exactly the objective the gradient methods train. A condition that the transform
  satisfies whatever N is (wave's u_t(x, 0) = 0 under the factor t²) is skipped; a derivative
  along a face (not across it) is refused.
* **structure.** Every row is a sum of Kronecker products of per-axis vectors (the weak form's
  tests are tensor products, the quadrature grid is one, a separable ``factor`` keeps it so;
  a point is the tensor product of its coordinates), so the Gram matrix of the rows is a sum of
  Hadamard products of small per-axis Gram matrices.
* **solve.** Each axis' raster on the points its rows read is reduced to its row space
  (projection P_i, thin SVD: nothing outside it is seen by any row) — for a linear problem in
  coordinates whose Euclidean norm is a Sobolev norm of the axis functions (lengths per axis:
  :meth:`ClosedFormTrainer._smoothing_lengths`; :func:`sobolev_coordinates`), so that among
  the fields the rows accept the solve returns the smoothest, not the one of smallest
  coefficients: the rows leave a boundary layer free that the coefficient norm fills with
  anything (the L-shape's re-entrant edges: 0.38 → 6.1e-2), and far more time cells than
  time tests (advection1d 1.21 → 9.8e-2) — and the minimum-norm ridge solution of the rows in
  the dual, ``C = Σ_r α_r Σ_terms ⊗_i v_{r,i}`` with
  ``(G + εI) α = y`` (ε = 1e-10 of G's mean diagonal; the error is flat over 1e-12…1e-6 on
  heat1d). One step; the problem being linear, later steps change nothing. The Gram matrix of
  rows on a test grid is a sum of Kronecker products of per-axis Gram matrices (formed in
  place; 4096² for 64² tests).

Regression problems (no PDE) take the data rows ``u(x_n) = u*(x_n)`` at the training points.

**Nonlinear PDEs** (Burgers' flux, reaction terms; at most two inputs) are solved by damped
Gauss–Newton, one step per training step: at the current field u_k the weak residual is
linearised (:meth:`~spikepde.train.weak_form.WeakForm.jacobian_terms`: a source's slope, a
flux's −P'(u_k), the linear terms), each coefficient field times the transform's factor is
split into a few products of axis functions by a truncated SVD (singular values above 1e-3 of
the largest; Burgers needs about 9), and the rows ``J·C = J·C_k − g(u_k)`` are solved for the
minimum-norm core — not for the minimum-norm change, which measured 8.2e-2 against 3.3e-2 on
burgers (the null-space part of the core then only accumulates). The axes' coordinates are then
fixed once: the row space of each raster on its quadrature axis, which holds every row of every
step. A backtracking line search on the true objective (1, 1/2, …, 1/128 of the step) keeps
each step from raising it; a step that no fraction improves ends the iteration.

No reverse-mode autograd runs: the features are hard spikes, the solve is linear algebra, the
Jacobian's coefficients are forward-mode derivatives of element-wise functions.
"""
from __future__ import annotations

import math

import torch

from ..errors import ConfigurationError
from ..fields import TrainedField
from ..snn.lif import LIFConfig
from ..snn.separable import SeparableSpikingField, contract_grid
from ..snn.surrogate import make_surrogate
from .base import Trainer, clone_params
from .boundary_stencils import boundary_stencil
from .kronecker_rows import RowBlock, RowComponent, block_gram, separable_factors
from .linear_maps import condition_linear_map
from .readout_algebra import sobolev_coordinates, spd_solve
from .weak_form import split_residual

#: relative ridge of the dual solve (of the mean diagonal of the rows' Gram matrix)
RIDGE = 1e-10
#: singular values kept in an axis' raster, relative to the largest
RANK_TOL = 1e-9
#: Gauss–Newton steps of a nonlinear problem (the default budget)
NEWTON_STEPS = 8
#: halvings of a Gauss–Newton step tried before it counts as converged
LINE_SEARCH_HALVINGS = 7
#: a nonlinear coefficient field of the weak rows is split into at most this many axis
#: products, dropping singular values below JACOBIAN_TOL of the largest
JACOBIAN_TOL = 1e-3
JACOBIAN_TERMS = 16
#: the Sobolev length of a space axis' readout norm, in units of the axis' length
#: (:func:`sobolev_coordinates`; poisson_lshape at width 256: 0.54 with the coefficient norm,
#: 0.13 / 0.125 / 0.125 with ℓ = 0.5 / 1.6 / 5 lengths — a plateau)
SMOOTHING_LENGTH = 2.0
#: the same on the time axis of a non-parabolic equation (transport, waves; advection1d at
#: width 256: 0.27 / 0.17 / 0.23 / 0.47 / 0.65 with 0.03 / 0.3 / 0.5 / 1 / 2 lengths)
TIME_SMOOTHING_LENGTH = 0.3
#: B-splines along each time slab's time axis (:mod:`spikepde.train.time_slabs`)
SLAB_TIME_TESTS = 16


class ClosedFormTrainer(Trainer):
    """Random separable spiking features, readout by least squares (see the module docstring)."""

    name = "lsq"
    network = "spiking"
    residual_forms = ("weak", "strong")
    options = ("features", "network", "time_slabs")

    @classmethod
    def defaults(cls, cfg, problem) -> dict:
        # One hidden layer: a second adds no breakpoints to a raster (it is a function of the
        # first layer's). Width × T sets how finely an axis is cut; the tests and the quadrature
        # how much of the field the rows see. Per dimension, measured with the time of one solve
        # in mind (benchmarks/lsq_sizes.py): 1-D 512 × 32 with 1024 tests (poisson1d 6.6e-4);
        # 2-D linear 1024 × 16 with 112² tests and 5 quadrature points per interval (128 × 16
        # with 64² tests and 2 points: helmholtz2d 6.0e-2 → 1.7e-2, diffusion_reaction 3.7e-2
        # → 1.2e-2, poisson2d 7.4e-3 → 1.7e-3, heat1d 4.2e-3 → 1.4e-3, each under 90 s; 512
        # wide is 1.2–1.4× less accurate in 0.6× the time); 3-D 64 × 16 with 24³ tests and 3
        # points (heat2d 9.1e-2 → 2.8e-2 in 57 s). A nonlinear 2-D problem in one global solve
        # (time_slabs=1) solves one such system per Gauss–Newton step: 128 × 8 with 112²
        # tests (burgers 2.2e-2 in 105 s,
        # seeds 0–3 2.2–3.0e-2; 64² tests 3.2e-2 in 21 s, 128² 2.2e-2 in 252 s; width 64 or 256
        # is worse, see docs/methods/lsq.md).
        features = "raster"
        sizes = {1: (512, 32, 1024, 2), 2: (1024, 16, 112, 5)}.get(problem.dim, (64, 16, 24, 3))
        if problem.data_only:
            # scattered samples: spike counts, not the raster — a count changes by one at each
            # threshold crossing, so the minimum-norm readout interpolates smoothly between the
            # samples, where a raster's product cells without a sample are left at zero
            # (mexican_hat: counts 1024 × 64 9.1e-3 in 41 s, 512 × 64 1.3e-2, 128 × 16 6.2e-2;
            # the raster 128 × 16 0.26)
            sizes, features = (1024, 64, None, 2), "rate"
        elif problem.dim == 2 and not is_linear(problem):
            # the readout sees an axis only at its quadrature points: 5 per interval resolve
            # Burgers' shock better than 2 (3.3e-2 against 3.8e-2 with 64² tests, same time)
            sizes = (128, 8, 112, 5)
        slabs = cfg.time_slabs if cfg.time_slabs is not None else _default_slabs(problem)
        if slabs > 1:
            # per slab: the nonlinear 2-D network, 112 B-splines in space and 16 along the slab
            # (20 slabs: burgers 1.26e-2 in 45 s, 64 in space 3.8e-2, 160 1.1e-2 in 64 s; kdv
            # 0.108, 64 in space 0.098; 24 along the slab: kdv 0.147; docs/methods/lsq.md)
            sizes = (128, 8, _per_axis(problem, 112, SLAB_TIME_TESTS), 5)
        width, T, tests, quadrature = sizes
        out = {**super().defaults(cfg, problem), "width": width, "depth": 1, "T": T, "dtype": "float64",
               "weak_quadrature": quadrature, "features": features, "network": "separable",
               "time_slabs": slabs}
        return out if tests is None else {**out, "weak_tests": tests}

    @classmethod
    def check(cls, cfg) -> None:
        if cfg.network != "separable":
            raise ValueError(f"lsq fits the readout of the separable network only (got network='{cfg.network}'); "
                             "the mlp network is trained by fgrad, bptt or admm")
        if not isinstance(cfg.time_slabs, int) or cfg.time_slabs < 1:
            raise ValueError(f"time_slabs must be a whole number >= 1, got {cfg.time_slabs!r}")
        if cfg.steps < cfg.time_slabs:
            # a slab without a step would hold the last state: a field that looks solved and is not
            raise ValueError(f"lsq with {cfg.time_slabs} time slabs needs a step per slab: steps >= "
                             f"{cfg.time_slabs} (got {cfg.steps}), or fewer --time-slabs")

    @classmethod
    def build(cls, cfg, compiled, objective, generator) -> Trainer:
        """One readout over the whole domain, or (``time_slabs > 1``) one per time slab,
        solved in order (:class:`~spikepde.train.time_slabs.TimeSlabTrainer`)."""
        if cfg.time_slabs > 1:
            from .time_slabs import TimeSlabTrainer
            return TimeSlabTrainer(cfg, compiled, objective, generator)
        return cls(cfg, compiled, objective, generator)

    @classmethod
    def declines(cls, problem) -> str | None:
        # each reason was measured on the catalogue against fgrad (benchmarks/results/catalogue.md)
        if problem.data_only:
            return None                  # regression: spike counts, see defaults()
        residual = problem.residuals[0].xreplace(problem.substitutions())
        try:
            split_residual(residual, problem.u, problem.input_symbols)
        except ValueError as exc:
            return str(exc)
        if not is_linear(problem) and problem.dim > 2:
            return "nonlinear with more than two inputs"
        # a nonlinear evolution equation is marched in time slabs by default (train.time_slabs:
        # kdv, whose one global solve measured 0.55-0.59 against fgrad's 0.64, reaches 0.11)
        return None

    @classmethod
    def default_steps(cls, problem, cfg=None) -> int:
        # a linear problem is one solve; a nonlinear one a Gauss–Newton step per step (burgers'
        # error stops improving after 4, allen_cahn's first steps are damped to 1/16–1/4); in
        # time slabs, as many per slab
        slabs = cfg.time_slabs if cfg is not None and cfg.time_slabs else _default_slabs(problem)
        return (1 if is_linear(problem) else NEWTON_STEPS) * slabs

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        self.net = SeparableSpikingField(tuple(compiled.lower.tolist()), tuple(compiled.upper.tolist()),
                                         widths=(cfg.width,) * cfg.depth, T=cfg.T, lif=lif_config(cfg),
                                         features=cfg.features or "raster")
        self.params = self._hidden_layers(generator)
        self.weak = self._check_weak()
        self.nonlinear = self.weak is not None and not is_linear(compiled.problem)
        if self.nonlinear and self.net.in_dim > 2:
            raise ConfigurationError(f"lsq: {compiled.problem.name} is nonlinear; its Gauss–Newton rows need a "
                                     "field of at most two inputs (use fgrad or bptt)")
        raw = self._fixed_blocks()
        rasters = []      # each axis' raster on its quadrature points (the weak rows read them)
        if self.weak is not None:
            self.offset, self.factor = self._transform(self.weak.tests.points)
            rasters = [self.net.raster(self.params, i, axis) for i, axis in enumerate(self.weak.tests.axes)]
        bases = self._bases(raw, rasters)
        self.fixed = [b.reduced(bases) for b in raw]
        self.features = [r @ B for r, B in zip(rasters, bases)]
        for i, B in enumerate(bases):
            self.params[f"axis{i}.projection"] = B
        self.params["core"] = torch.zeros([B.shape[1] for B in bases], dtype=torch.float64)
        self.net.ranks = tuple(B.shape[1] for B in bases)
        self.newton_steps = 0
        self.converged = False
        self.step_sizes: list[float] = []
        self.loss_terms = self._loss_terms(self.params["core"])

    def _hidden_layers(self, generator) -> dict[str, torch.Tensor]:
        """The random hidden layers (and zero readout) of :attr:`net` (a time slab reuses its
        field's)."""
        return self.net.init_params(generator, dtype=torch.float64)

    # ------------------------------------------------------------ rows
    def _check_weak(self):
        c, obj = self.compiled, self.objective
        if not c.has_pde:
            return None
        if obj.weak is None:
            raise ConfigurationError("lsq needs the weak form: this run uses the strong form "
                                     "(--residual-form strong); use fgrad or bptt, or the weak form")
        weak = obj.weak
        return weak

    def _fixed_blocks(self) -> list[RowBlock]:
        """The rows that do not change between Gauss–Newton steps (raster coordinates): the data
        of a regression problem, the conditions the transform leaves."""
        c, obj = self.compiled, self.objective
        blocks = []
        if not c.has_pde:
            X = obj.points.interior.to(torch.float64)
            blocks.append(self._point_block("data", 1.0, X, torch.ones(X.shape[0], dtype=torch.float64),
                                            c.exact(obj.points.interior).to(torch.float64)))
        for cond, Xc in zip(c.conditions, obj.points.conditions):
            if self.weak is not None:
                # the conditions on the faces' quadrature grid, not at the sampled points: the
                # readout is free in every raster cell no row reads, and a few hundred scattered
                # boundary points leave most cells of a face unread (helmholtz2d: 0.53 with its
                # 200 points, 0.22 with 2000)
                Xc = cond.grid_points(self.weak.tests.axes)
            block = self._condition_block(cond, Xc.to(torch.float64))
            if block is not None:
                blocks.append(block)
        return blocks

    def _bases(self, fixed: list[RowBlock], rasters: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per axis, an orthonormal basis of everything the rows read of that axis' raster
        (nothing outside it is seen by any row): the readout's coordinates. For a linear
        problem the weak rows themselves (often fewer than the quadrature points); for a
        nonlinear one the raster on the quadrature axis, which holds every Gauss–Newton row."""
        d = self.net.in_dim
        stacks: list[list[torch.Tensor]] = [[] for _ in range(d)]
        for block in fixed:
            for comp in block.components:
                for i in range(d):
                    stacks[i].append(comp.vectors[i])
        if self.weak is not None:
            if self.nonlinear:
                for i in range(d):
                    stacks[i].append(rasters[i])
            else:
                weak = self._weak_block(rasters, self.weak.jacobian_terms(self.offset.to(self.weak.dtype)),
                                        self.factor, torch.zeros(self.weak.n_tests, dtype=torch.float64))
                for comp in weak.components:
                    for i in range(d):
                        stacks[i].append(comp.vectors[i])
        bases = []
        smooth = rasters and self._smooth_readout()
        lengths = self._smoothing_lengths() if smooth else None
        for i in range(d):
            # spike rasters repeat rows (neighbouring points in one cell): the distinct ones suffice
            rows = torch.unique(torch.cat(stacks[i]), dim=0)
            _, S, Vt = torch.linalg.svd(rows, full_matrices=False)
            B = Vt[S > RANK_TOL * S[0]].T                  # [F_i, m_i]
            if smooth:
                B = sobolev_coordinates(B, rasters[i], self.weak.tests.axes[i], lengths[i])
            bases.append(B)
        return bases

    def _smooth_readout(self) -> bool:
        """Whether the readout is the smoothest field the rows accept (:func:`sobolev_coordinates`):
        for a linear problem; a nonlinear one keeps the coefficient norm (burgers' shock: 2.18e-2
        → 2.45e-2 with x smoothed)."""
        return not self.nonlinear

    def _smoothing_lengths(self) -> list[float]:
        """Per axis, the Sobolev length of its readout norm in units of the axis' length
        (:func:`sobolev_coordinates`): :data:`SMOOTHING_LENGTH` on every space axis and on the
        time axis of a parabolic equation (first order in time, second in space),
        :data:`TIME_SMOOTHING_LENGTH` on any other time axis. Measured with the default sizes
        (coefficient norm → these lengths): poisson_lshape 0.38 → 6.1e-2; helmholtz2d 1.7e-2 →
        8.5e-3; heat1d 1.39e-3 → 9.5e-4 (time unsmoothed 1.32e-3); heat2d 2.8e-2 → 2.2e-2;
        advection1d 1.21 → 9.8e-2 (seeds 1, 2: 9.4e-2, 9.6e-2; time unsmoothed 0.40, ℓ = 2
        lengths in time 0.65 at width 256); wave1d 0.30 → 0.18 (ℓ = 2 in time: 1.10 — a
        field that must oscillate eight times in t is not smooth in t)."""
        problem = self.compiled.problem
        names = problem.input_names
        lengths = [SMOOTHING_LENGTH] * len(names)
        if problem.time is not None:
            t = names.index(problem.time)
            orders = [alpha for _, alpha in self.weak.terms.linear]
            time_order = max((a[t] for a in orders), default=0)
            space_order = max((sum(a) - a[t] for a in orders), default=0)
            parabolic = time_order == 1 and space_order >= 2
            lengths[t] = SMOOTHING_LENGTH if parabolic else TIME_SMOOTHING_LENGTH
        return lengths

    def _transform(self, X: torch.Tensor):
        """(offset, factor) of ``u = offset + factor · N`` at the points X (float64)."""
        transform = self.compiled.transform
        X = X.to(self.compiled.dtype)
        if transform is None:
            return torch.zeros(X.shape[0], dtype=torch.float64), torch.ones(X.shape[0], dtype=torch.float64)
        offset = transform.value(X, torch.zeros(X.shape[0], dtype=X.dtype)).to(torch.float64)
        return offset, transform.value(X, torch.ones(X.shape[0], dtype=X.dtype)).to(torch.float64) - offset

    def _weak_block(self, features, jacobian, factor, target) -> RowBlock:
        """The weak rows ``δg_k = Σ_j ⟨c_j · factor · δN, ∂^{α_j} ψ_k⟩`` (Newton's linearisation,
        :meth:`WeakForm.jacobian_terms`; exact for a linear PDE) on per-axis ``features``
        (``[Q_i, F_i]`` on the quadrature axes). Every coefficient field ``c_j · factor`` is split
        into products of axis functions: the factor exactly (at most 4 products), a nonlinear
        coefficient by its truncated SVD (a Gauss–Newton step with a slightly inexact Jacobian
        has the same fixed points)."""
        tests = self.weak.tests
        shape = tuple(tests.shape)
        n_full = tests.full
        # row k = (k_1, …, k_d) of the tensor-product tests, C order
        grids = torch.meshgrid(*[torch.arange(k) for k in tests.counts], indexing="ij")
        index = [g.reshape(-1) for g in grids]
        components = []
        for c, alpha in jacobian:
            if isinstance(c, torch.Tensor):
                pieces = separable_factors((c.to(torch.float64) * factor).reshape(shape), rel_tol=JACOBIAN_TOL,
                                           max_terms=JACOBIAN_TERMS, truncate=True)
            else:
                pieces = [(float(c) * s, f) for s, f in separable_factors(factor.reshape(shape))]
            for s, per_axis in pieces:
                # tests × grid per axis: B_i[a_i]ᵀ (f_i ⊙ φ_i) → [K_i, F_i]
                vecs = [tests.matrices[i][alpha[i]].T @ (per_axis[i][:, None] * features[i])
                        for i in range(self.net.in_dim)]
                components.append(RowComponent(torch.full((n_full,), s, dtype=torch.float64), vecs,
                                               index, grid=tuple(tests.counts)))
        # with excluded boxes the kept tests are a subset of the grid's (WeakForm drops those
        # reaching into a box): the rows are the full grid's, selected
        return RowBlock("pde", float(self.objective.weights()["pde"]) / target.shape[0], components, target,
                        keep=tests.keep)

    def _point_block(self, name, weight, X, coef, target) -> RowBlock:
        vecs = [self.net.raster(self.params, i, X[:, i]) for i in range(self.net.in_dim)]
        return RowBlock(name, weight / X.shape[0], [RowComponent(coef, vecs, [None] * len(vecs))], target)

    def _condition_block(self, cond, X) -> RowBlock | None:
        indices = [tuple(a) for a in cond.derivatives]
        zero = (0,) * self.net.in_dim
        transform = self.compiled.transform
        needed = indices if transform is None else transform.required(indices)
        raw_zero = {a: torch.zeros(X.shape[0], dtype=torch.float64) for a in needed}
        J, b = condition_linear_map(cond, X, self._solution_fields(X, raw_zero, indices))
        read = [a for a in J if bool(J[a].abs().max() > 0)]
        if any(a != zero for a in read) and self._satisfied_by_transform(cond, X, indices):
            return None
        stencils = {a: self._stencil(X, a) for a in read}
        if any(st is None for st in stencils.values()):
            raise ConfigurationError(f"lsq: condition '{cond.name}' reads a derivative of u other than along the "
                                     "face's normal, and the output transform does not satisfy it (use fgrad or bptt)")
        # r = b + Σ_α J_α ∂^α u with ∂^α u(X) ≈ Σ_j w_j u(P_j), u = offset + factor · N
        target = -b.to(torch.float64)
        components = []
        for a, (reads, weights) in stencils.items():
            Ja = J[a].to(torch.float64)                          # [residuals, points]
            # each residual reads one or two points (periodic pairs): one component per
            # nonzero slot and stencil point, reading that stencil point's raster only
            nonzero = Ja != 0
            slots = int(nonzero.sum(1).max())
            cols = torch.argsort((~nonzero).to(torch.int8), dim=1, stable=True)[:, :slots]
            for P, w in zip(reads, weights):
                offset, factor = self._transform(P)
                target = target - Ja @ (w * offset)
                rasters = [self.net.raster(self.params, i, P[:, i]) for i in range(self.net.in_dim)]
                for k in range(slots):
                    idx = cols[:, k]
                    coef = Ja.gather(1, idx[:, None])[:, 0] * (w * factor)[idx]
                    components.append(RowComponent(coef, rasters, [idx] * len(rasters)))
        weight = float(self.objective.weights()[cond.name]) / max(1, target.shape[0])
        return RowBlock(cond.name, weight, components, target)

    def _stencil(self, X, alpha):
        """How a condition at the boundary points ``X`` reads ``∂^α u`` (None: it cannot):
        :func:`~spikepde.train.boundary_stencils.boundary_stencil` on the weak form's quadrature
        axes, or the values at the points themselves without a weak form (regression)."""
        if self.weak is None:
            zero = tuple(0 for _ in alpha)
            return ([X], [torch.ones(X.shape[0], dtype=torch.float64)]) if alpha == zero else None
        return boundary_stencil(X, alpha, self.weak.tests.axes, self.compiled.inside)

    def _solution_fields(self, X, raw, indices):
        transform = self.compiled.transform
        if transform is None:
            return raw
        return {a: v.to(torch.float64) for a, v in
                transform.apply(X.to(self.compiled.dtype), {k: r.to(self.compiled.dtype) for k, r in raw.items()},
                                indices).items()}

    def _satisfied_by_transform(self, cond, X, indices) -> bool:
        """The condition's residual is the same for any N (and zero): the transform enforces it."""
        transform = self.compiled.transform
        if transform is None:
            return False
        g = torch.Generator().manual_seed(7)
        needed = transform.required(indices)
        values = []
        for _ in range(2):
            raw = {a: torch.randn(X.shape[0], generator=g, dtype=torch.float64) for a in needed}
            fields = self._solution_fields(X, raw, indices)
            values.append(cond.residual(X, fields).to(torch.float64))
        scale = 1e-6 * (1 + max(float(v.abs().max()) for v in values))
        return all(float(v.abs().max()) < scale for v in values)

    # ------------------------------------------------------------ the solve
    def step(self) -> float:
        """One solve of the rows (a linear problem: the answer; later steps change nothing) or
        one damped Gauss–Newton step (a nonlinear one). The rows are solved for the new core
        (minimum norm: measured on burgers, 3.3e-2 against 8.2e-2 for the minimum-norm change
        of the core, whose null-space part then only grows)."""
        if not self.converged:
            core = self.params["core"]
            blocks = ([self._weak_rows(core)] if self.weak is not None else []) + self.fixed
            proposal = self._solve(blocks)
            if self.nonlinear:
                proposal = self._line_search(core, proposal)
            else:
                self.converged = True
            if proposal is not None:
                self.params["core"] = proposal
            self.newton_steps += 1
        self.loss_terms = self._loss_terms(self.params["core"])
        return sum(self.loss_terms.values())

    def _weak_rows(self, core) -> RowBlock:
        """The weak rows at the field of ``core`` and their target ``J·C_k − g(u_k)``: the new
        core solves the linearised weak equations ``g(u_k) + J·(C − C_k) = 0`` (for a linear
        PDE, from C_k = 0, the whole answer)."""
        u = self._field_on_quadrature(core).to(self.weak.dtype)
        block = self._weak_block(self.features, self.weak.jacobian_terms(u), self.factor,
                                 torch.zeros(self.weak.n_tests, dtype=torch.float64))
        block.target = block.apply(core) - self.weak.residual(u).to(torch.float64)
        return block

    def _field_on_quadrature(self, core) -> torch.Tensor:
        return self.offset + self.factor * contract_grid(core, self.features).reshape(-1)

    def _line_search(self, core, proposal):
        """The first of 1, 1/2, …, 1/128 of the Gauss–Newton step that lowers the objective
        (undamped Newton overshoots a steep front, and allen_cahn's first step from its initial
        condition needs 1/16); None and converged when none does."""
        before = sum(self.loss_terms.values())             # the objective at ``core`` (last step)
        step = proposal - core
        for k in range(LINE_SEARCH_HALVINGS + 1):
            lam = 0.5 ** k
            trial = core + lam * step
            if sum(self._loss_terms(trial).values()) < before:
                self.step_sizes.append(lam)
                return trial
        self.converged = True
        self.step_sizes.append(0.0)
        return None

    def _solve(self, blocks: list[RowBlock]) -> torch.Tensor:
        """The minimum-norm ridge solution of the weighted rows, in the dual:
        ``C = Σ_r α_r row_r`` with ``(G + εI) α = y``."""
        weights = [math.sqrt(b.weight) for b in blocks]
        y = torch.cat([b.target * w for b, w in zip(blocks, weights)])
        offsets = [0]
        for b in blocks:
            offsets.append(offsets[-1] + b.target.shape[0])
        G = torch.zeros(len(y), len(y), dtype=torch.float64)
        for a, block_a in enumerate(blocks):
            for b in range(a, len(blocks)):
                if a == b:       # a diagonal block is contiguous: accumulated where it lies
                    diagonal = G[offsets[a]:offsets[a + 1]][:, offsets[a]:offsets[a + 1]]
                    if diagonal.is_contiguous() and block_a.keep is None:
                        block_gram(block_a, block_a, True, out=diagonal, scale=weights[a] ** 2)
                        continue
                part = block_gram(block_a, blocks[b], symmetric=a == b, scale=weights[a] * weights[b])
                G[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]] = part
                if a != b:
                    G[offsets[b]:offsets[b + 1], offsets[a]:offsets[a + 1]] = part.T
        eps = RIDGE * float(G.diagonal().mean().clamp_min(1e-300))
        G.diagonal().add_(eps)
        alpha = spd_solve(G, y)
        core = torch.zeros_like(self.params["core"])
        for block, w, lo, hi in zip(blocks, weights, offsets[:-1], offsets[1:]):
            core = core + block.adjoint(alpha[lo:hi] * w)
        return core

    # ------------------------------------------------------------ the contract
    def _loss_terms(self, core) -> dict[str, float]:
        """Each objective term of the field of ``core``: the weak residuals of the field itself
        (not of their linearisation) and the rows' residuals of the conditions, squared, summed
        and weighted as in the objective."""
        out = {}
        if self.weak is not None:
            g = self.weak.residual(self._field_on_quadrature(core).to(self.weak.dtype)).to(torch.float64)
            out["pde"] = float(self.objective.weights()["pde"]) / g.shape[0] * float(g.square().sum())
        for block in self.fixed:
            residual = block.apply(core) - block.target
            out[block.name] = float(block.weight * residual.square().sum())
        return out

    def terms(self) -> dict[str, float]:
        return dict(self.loss_terms)

    def trained_field(self) -> TrainedField:
        return TrainedField(self.net, clone_params(self.params), tuple(self.compiled.input_names), "spiking",
                            torch.float64, "cpu", transform=self.compiled.transform)

    def diagnostics(self) -> dict:
        rows = sum(b.target.shape[0] for b in self.fixed) + (self.weak.n_tests if self.weak is not None else 0)
        out = {"lsq_rows": int(rows), "lsq_ranks": list(self.net.ranks or ()), "lsq_ridge": RIDGE}
        if self.nonlinear:
            out.update(lsq_newton_steps=self.newton_steps, lsq_step_sizes=list(self.step_sizes))
        return out

    def divergence_hints(self) -> list[str]:
        return [f"a smaller network (--width, now {self.cfg.width}; --T, now {self.cfg.T})"]

    def state_dict(self) -> dict:
        return {"params": clone_params(self.params), "newton_steps": self.newton_steps,
                "converged": self.converged, "step_sizes": list(self.step_sizes),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.params = {k: v.clone() for k, v in state["params"].items()}
        self.newton_steps = int(state["newton_steps"])
        self.converged = bool(state["converged"])
        self.step_sizes = list(state["step_sizes"])
        self.generator.set_state(state["generator"])
        self.net.ranks = tuple(self.params["core"].shape)
        self.loss_terms = self._loss_terms(self.params["core"])


def _default_slabs(problem) -> int:
    from .time_slabs import DEFAULT_SLABS, wants_slabs
    return DEFAULT_SLABS if wants_slabs(problem) else 1


def _per_axis(problem, space: int, time: int) -> list[int]:
    """B-splines per input: ``space`` on space axes, ``time`` on the time axis."""
    return [time if name == problem.time else space for name in problem.input_names]


def lif_config(cfg) -> LIFConfig:
    """The LIF neurons of a run's settings."""
    return LIFConfig(beta=cfg.beta, threshold=cfg.threshold, reset=cfg.reset,
                     surrogate=make_surrogate(cfg.surrogate, **cfg.surrogate_options))


def is_linear(problem) -> bool:
    """Whether ``problem``'s PDE is linear in u with constant coefficients (what one
    least-squares solve answers); regression problems count as linear."""
    if problem.data_only or len(problem.residuals) != 1:
        return True
    residual = problem.residuals[0].xreplace(problem.substitutions())
    try:
        terms = split_residual(residual, problem.u, problem.input_symbols)
    except ValueError:
        return True                      # not a weak form: refused with its reason later
    return terms.is_linear(problem.u, problem.input_symbols)

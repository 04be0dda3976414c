"""The physics-informed rows of the readout: linearised PDE and condition residuals (strong form
on feature jets, or minimum-residual weak rows), the weak form's sizes and the memory estimate."""
from __future__ import annotations

import dataclasses
import math
import os

import torch

from ...snn.network import SpikingMLP
from ..linear_maps import condition_linear_map, linearise
from ..weak_form import WeakForm, weak_applies
from .config import ADMMConfig
from .linalg import cholesky, with_ones


def weak_sizes(d: int, cfg: ADMMConfig) -> tuple[int, int]:
    """B-splines and midpoint quadrature points per axis of the weak form in d dimensions.

    Defaults: 400 and 8(K+3) in 1-D; 40 and 2(K+3) in 2-D; 10 and 2(K+3) in 3-D and above
    (10³ = 1000 test functions and 26³ = 17576 quadrature points, the samples of the ADMM
    state: 40 per axis, the 2-D default, would be a 64000 × 64000 Gram matrix, 33 GB).
    """
    K = cfg.test_per_axis or {1: 400, 2: 40}.get(d, 10)
    Mq = cfg.quad_per_axis or (8 * (K + 3) if d == 1 else 2 * (K + 3))
    return int(K), int(Mq)


def memory_limit_bytes(cfg: ADMMConfig) -> float:
    """``cfg.memory_limit_gb`` in bytes; 0: 3/4 of the physical memory, at most 8 GB."""
    if cfg.memory_limit_gb > 0:
        return cfg.memory_limit_gb * 2 ** 30
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 16 * 2 ** 30
    return min(8 * 2 ** 30, 0.75 * ram)


def memory_estimate(*, d: int, form: str, output: str, tests_per_axis: int, quad_per_axis: int,
                    samples: int, condition_rows: int, condition_points: int, widths, T: int,
                    itemsize: int, per_sample_state: bool = False) -> dict[str, float]:
    """Bytes of the large arrays of an ADMM PDE/regression run, by part (an estimate).

    ``weak Gram``: the Gram matrix of L*ψ over the K^d test functions, its Cholesky factor and
    a Kronecker temporary (float64). ``value rows``: the whitened rows R on values (test
    functions and condition rows × quadrature and condition points, float64; built from
    Kronecker products, a few copies alive) and the eigendecomposition of R Rᵀ. ``weak rows``:
    the features on the quadrature grid and their projections (pinned output). ``ADMM state``:
    v, s, a, λ and the previous v of every layer, plus the temporaries of one layer's sweep,
    ``[T, samples, width]`` in the working precision (measured ≈ 13 such arrays for one layer);
    with ``per_sample_state`` (:class:`~spikepde.train.admm.constant_current.ConstantCurrentADMM`)
    ``[samples, width]`` arrays and ``[T, rows, width]`` blocks (:func:`~spikepde.train.admm.constant_current.block_rows`).
    ``weights``: the weights, their Gram matrices and Cholesky factors (float64).
    Measured on heat2d (defaults: 2 × 64 LIF, T = 8, 10 test functions and 26 quadrature points
    per axis): estimate 1.44 GB, peak RSS during training 1.48 GB above the imports.
    """
    parts = {}
    n_tests = tests_per_axis ** d if form == "weak" else 0
    n_quad = quad_per_axis ** d if form == "weak" else 0
    n_feat = max(widths) + 1
    if form == "weak":
        parts["weak Gram"] = 3.0 * n_tests ** 2 * 8
        if output == "prox":
            rows, cols = n_tests + condition_rows, n_quad + condition_points
            parts["value rows"] = 4.0 * rows * cols * 8 + 3.0 * rows * rows * 8
        else:
            parts["weak rows"] = 4.0 * n_quad * n_feat * 8 + 3.0 * n_tests * n_feat * 8 \
                + 6.0 * T * n_quad * max(widths) * itemsize
    if per_sample_state:    # ConstantCurrentADMM: ~10 [B, n] arrays, 6 [T, rows, n] blocks
        from .constant_current import block_rows
        rows = min(samples, block_rows(T, max(widths)))
        parts["ADMM state"] = float(itemsize * max(widths) * (10 * samples + 6 * T * rows))
    else:
        parts["ADMM state"] = float(T * samples * itemsize * (5 * sum(widths) + 8 * max(widths)))
    fan = [(n_in + 1) * n for n_in, n in zip((d,) + tuple(widths[:-1]), widths)]
    parts["weights"] = 6.0 * 8 * sum(fan)
    return parts


class PDEReadout:
    """The physics-informed least squares for the readout (docs/methods/admm.md).

    ``rows(net, params, u_fields)`` returns (A, y) with the readout ``w = [W_o, b]`` solving
    ``min ‖A w − y‖²``.
    """

    def __init__(self, compiled, objective, cfg: ADMMConfig, setup: bool = True):
        self.compiled, self.objective, self.cfg = compiled, objective, cfg
        self.d = len(compiled.input_names)
        self.zero = (0,) * self.d
        self.nonlinear = self._is_nonlinear()
        lin = cfg.linearisation
        self.mode = ("picard" if self.nonlinear else "newton") if lin == "auto" else lin
        form = cfg.pde_form
        self.form = ("weak" if self._weak_applies() else "strong") if form == "auto" else form
        self.tests_per_axis, self.quad_per_axis = weak_sizes(self.d, cfg)
        if setup:
            self.setup()

    def setup(self) -> None:
        """Build the weak form's Gram matrix and test functions (the memory-heavy part)."""
        if self.form == "weak":
            self._setup_weak()

    # ------------------------------------------------------------ analysis of the operator
    def _probe(self, X, scale):
        g = torch.Generator().manual_seed(1234)
        F = {a: scale * torch.randn(X.shape[0], generator=g, dtype=X.dtype) for a in self.compiled.derivatives}
        return F

    def _residual(self, X, F):
        return self.compiled.residual(X, F)[0]

    def _is_nonlinear(self) -> bool:
        X = self.objective.points.interior[:64]
        J1, _ = linearise(self._residual, X, self._probe(X, 1.0), "newton")
        J2, _ = linearise(self._residual, X, self._probe(X, 3.0), "newton")
        return any(not torch.allclose(J1[a], J2[a], rtol=1e-6, atol=1e-9) for a in J1)

    def _weak_applies(self) -> bool:
        """The package's one weak form applies, with a linear constant-coefficient operator on the
        whole box (:func:`~spikepde.train.weak_form.weak_applies` with ``linear=True``)."""
        return weak_applies(self.compiled, linear=True) is None

    # ------------------------------------------------------------ weak form
    def _setup_weak(self):
        """The minimum-residual weak rows on the package's weak form (:class:`WeakForm`): K
        B-splines and Mq midpoints per axis (:func:`weak_sizes`), the operator's terms from the
        symbolic split, the Gram matrix of L*ψ and ⟨f, ψ_k⟩."""
        c = self.compiled
        K, Mq = self.tests_per_axis, self.quad_per_axis
        self.weak = WeakForm(c, test_per_axis=K, quad_points=Mq)
        self.tests = self.weak.tests
        self.Xq = self.weak.points
        self.volume = float(torch.prod(c.upper.to(torch.float64) - c.lower.to(torch.float64)))
        # L*ψ = Σ_α (−1)^|α| c_α ∂^α ψ, as (coefficient, per-axis orders)
        self.terms = [((-1) ** sum(a) * cf, a) for cf, a in self.weak.linear_operator()]
        M = self.tests.gram(self.terms)
        jitter = 1e-12 * float(M.diagonal().mean())
        self.chol = cholesky(M + jitter * torch.eye(M.shape[0], dtype=M.dtype), "the weak form's Gram matrix of L*ψ",
                             f"lower admm test_per_axis (now {K}) or raise quad_per_axis (now {Mq})")
        Fq0 = {a: torch.zeros(self.Xq.shape[0], dtype=c.dtype) for a in c.derivatives}
        r0 = self._residual(self.Xq, Fq0).to(torch.float64)          # = −f on the grid
        self.rhs = -self.tests.project(r0, self.zero)                 # ⟨f, ψ_k⟩

    def _weak_rows(self, features: torch.Tensor):
        """Whitened weak rows for grid features ``[Q, m]``."""
        A = 0
        for cf, orders in self.terms:
            A = A + cf * self.tests.project(features, orders)
        A = torch.linalg.solve_triangular(self.chol, A, upper=False)
        y = torch.linalg.solve_triangular(self.chol, self.rhs[:, None], upper=False)[:, 0]
        scale = self.cfg_weight() / math.sqrt(self.volume)
        return A * scale, y * scale

    def cfg_weight(self) -> float:
        return math.sqrt(self.objective.pde_weight)

    # ------------------------------------------------------------ rows on values (prox output)
    def conditions_are_values(self) -> bool:
        """Every condition reads u only (Dirichlet, initial values): its rows act on values."""
        return all([tuple(a) for a in cond.derivatives] == [self.zero] for cond in self.compiled.conditions)

    def value_condition_points(self) -> list[torch.Tensor]:
        return list(self.objective.points.conditions)

    def value_rows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(R, y)`` with the readout rows equal to ``R`` applied to the values of u.

        Columns: the quadrature grid, then the points of each condition. ``R Φ`` equals the
        (A of :meth:`rows`) for features Φ on those points (float64): the whitened weak rows
        ``C⁻¹ Σ_terms c · ⊗_i B_iᵀ`` (Kronecker products of the per-axis B-spline matrices,
        quadrature weights included), then the condition rows ``diag(w J_0)`` with offsets.
        """
        if self.form != "weak" or not self.conditions_are_values():
            raise ValueError("value rows need the weak form and value-only conditions")
        c = self.compiled
        scale = self.cfg_weight() / math.sqrt(self.volume)
        yw = torch.linalg.solve_triangular(self.chol, self.rhs[:, None], upper=False)[:, 0]
        blocks_R, blocks_y = [], [yw * scale]
        for cond, Xc in zip(c.conditions, self.objective.points.conditions):
            fields = self._zero_fields(Xc, cond.derivatives)
            w = math.sqrt(float(cond.weight) / max(1, cond.residual(Xc, fields).shape[0]))
            J, offset = condition_linear_map(cond, Xc, fields)
            blocks_R.append(w * J[self.zero].to(torch.float64))      # [residuals, points]
            blocks_y.append(-w * offset.to(torch.float64))
        n_w, n_q = yw.numel(), self.Xq.shape[0]
        R = torch.zeros(n_w + sum(b.shape[0] for b in blocks_R), n_q + sum(b.shape[1] for b in blocks_R),
                        dtype=torch.float64)
        # the weak block built in place (R is the largest array of the run: 2-D defaults 1600 ×
        # 7396): one Kronecker product alive at a time, whitened by column blocks
        weak = R[:n_w, :n_q]
        for cf, orders in self.terms:
            weak.add_(self.tests.rows(orders), alpha=cf)
        for j in range(0, n_q, 1024):
            cols = slice(j, j + 1024)
            weak[:, cols] = torch.linalg.solve_triangular(self.chol, weak[:, cols], upper=False)
        weak.mul_(scale)
        r0, c0 = n_w, n_q
        for b in blocks_R:
            R[r0:r0 + b.shape[0], c0:c0 + b.shape[1]] = b
            r0, c0 = r0 + b.shape[0], c0 + b.shape[1]
        return R, torch.cat(blocks_y)

    # ------------------------------------------------------------ rows
    def rows(self, net: SpikingMLP, params, u_params):
        """(A, y) of the readout least squares at the current hidden weights.

        ``u_params``: the current full parameters (the linearisation point u_k).
        """
        n = net.widths[-1]
        fnet = dataclasses.replace(net, out_dim=n)
        fparams = dict(params)
        fparams["readout.weight"] = torch.eye(n, dtype=params["readout.weight"].dtype)
        fparams["readout.bias"] = torch.zeros(n, dtype=params["readout.weight"].dtype)
        blocks = []
        c = self.compiled
        X = self.objective.points.interior
        if self.form == "weak":
            with torch.no_grad():
                F = with_ones(fnet.features(fparams, self.Xq, differentiable=False)).to(torch.float64)
            A, y = self._weak_rows(F)
            blocks.append((A.to(X.dtype), y.to(X.dtype)))
        else:
            blocks.append(self._strong_rows(fnet, fparams, net, u_params, X,
                                            lambda X_, F: self._residual(X_, F), c.derivatives,
                                            math.sqrt(self.objective.pde_weight / X.shape[0])))
        for cond, Xc in zip(c.conditions, self.objective.points.conditions):
            w = math.sqrt(float(cond.weight) / max(1, cond.residual(Xc, self._zero_fields(Xc, cond.derivatives)).shape[0]))
            blocks.append(self._strong_rows(fnet, fparams, net, u_params, Xc, cond,
                                            [tuple(a) for a in cond.derivatives], w))
        A = torch.cat([b[0] for b in blocks])
        y = torch.cat([b[1] for b in blocks])
        return A, y

    def _zero_fields(self, X, indices):
        return {tuple(a): torch.zeros(X.shape[0], dtype=X.dtype) for a in indices}

    def _strong_rows(self, fnet, fparams, net, u_params, X, residual_fn, indices, weight):
        """Rows ``Σ_α J_α ∂^α[Φ, 1]`` (feature jets through ``forward_jet``; plain values when
        only u is read).

        ``residual_fn``: the PDE residual (pointwise, linearised by ``self.mode``) or a
        :class:`CompiledCondition` (linearised by Newton, :func:`condition_linear_map`: a
        condition is linear in u, and Picard's freezing of u would drop a Dirichlet row)."""
        indices = [tuple(a) for a in indices]
        with torch.no_grad():
            if indices == [self.zero]:
                jets = {self.zero: fnet.features(fparams, X, differentiable=False)}
                fields_k = {self.zero: net.forward(u_params, X, differentiable=False)}
            else:
                jets = fnet.forward_jet(fparams, X, indices)
                jets = {a: v.reshape(v.shape[0], -1) for a, v in jets.items()}   # [N, n] also for n = 1
                fields_k = net.forward_jet(u_params, X, indices)
        fields_k = {a: fields_k[a] for a in jets}
        if hasattr(residual_fn, "residual"):        # a condition
            Jm, offset = condition_linear_map(residual_fn, X, fields_k)
            J = {a: (lambda Phi1, m=m: m @ Phi1) for a, m in Jm.items()}
        else:                                       # the PDE: pointwise
            J, offset = linearise(residual_fn, X, fields_k, self.mode)
            J = {a: (lambda Phi1, j=j: j[:, None] * Phi1) for a, j in J.items()}
        A = 0
        for a, Phi in jets.items():
            Phi1 = torch.cat([Phi, (torch.ones_like(Phi[:, :1]) if a == self.zero else torch.zeros_like(Phi[:, :1]))], 1)
            A = A + J[a](Phi1)
        return A * weight, -offset * weight

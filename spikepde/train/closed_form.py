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
  periodic pairs; their linear maps from :mod:`spikepde.train.linear_maps`). Each row is
  weighted as its term of the objective (``√(w/M)`` for M residuals of weight w), so the solve
  minimises exactly the objective the gradient methods train. A condition that the transform
  satisfies whatever N is (wave's u_t(x, 0) = 0 under the factor t²) is skipped; a derivative
  condition otherwise is refused (the field has values only).
* **structure.** Every row is a sum of Kronecker products of per-axis vectors (the weak form's
  tests are tensor products, the quadrature grid is one, a separable ``factor`` keeps it so;
  a point is the tensor product of its coordinates), so the Gram matrix of the rows is a sum of
  Hadamard products of small per-axis Gram matrices.
* **solve.** Each axis' raster on the points its rows read is reduced to its row space
  (projection P_i, thin SVD: nothing outside it is seen by any row), and the minimum-norm
  ridge solution of the rows in the dual, ``C = Σ_r α_r Σ_terms ⊗_i v_{r,i}`` with
  ``(G + εI) α = y`` (ε = 1e-10 of G's mean diagonal; the error is flat over 1e-12…1e-6 on
  heat1d). One step; the problem being linear, later steps change nothing.

Regression problems (no PDE) take the data rows ``u(x_n) = u*(x_n)`` at the training points.
Nonlinear PDEs are refused with the reason (use fgrad or bptt). No reverse-mode autograd runs:
the features are hard spikes, the solve is linear algebra.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from ..errors import ConfigurationError
from ..fields import TrainedField
from ..snn.lif import LIFConfig
from ..snn.separable import SeparableSpikingField
from ..snn.surrogate import make_surrogate
from .base import Trainer, clone_params
from .linear_maps import condition_linear_map

#: relative ridge of the dual solve (of the mean diagonal of the rows' Gram matrix)
RIDGE = 1e-10
#: singular values kept in an axis' raster, relative to the largest
RANK_TOL = 1e-9


@dataclasses.dataclass
class _Component:
    """One Kronecker term of a block's rows: ``row[r] = coef[r] · ⊗_i vectors_i[index_i[r]]``
    (per-axis vectors in raster coordinates; ``index_i`` None: row r reads vector r)."""

    coef: torch.Tensor                  # [R]
    vectors: list[torch.Tensor]         # per axis [R_i, F_i]
    index: list[torch.Tensor | None]    # per axis [R] or None

    def axis(self, i: int, basis: torch.Tensor | None = None) -> torch.Tensor:
        """The ``[R, ·]`` vectors of axis i (reduced by ``basis`` first: cheaper, same rows)."""
        v = self.vectors[i] if basis is None else self.vectors[i] @ basis
        return v if self.index[i] is None else v[self.index[i]]


@dataclasses.dataclass
class _Block:
    """The rows of one objective term and their targets."""

    name: str
    weight: float                      # the term's weight per row (the objective's weight / rows)
    components: list[_Component]
    target: torch.Tensor               # [R]


class ClosedFormTrainer(Trainer):
    """Random separable spiking features, readout by least squares (see the module docstring)."""

    name = "lsq"
    network = "spiking"
    residual_forms = ("weak", "strong")

    @classmethod
    def defaults(cls, cfg, problem) -> dict:
        # One hidden layer: a second adds no breakpoints to a raster (it is a function of the
        # first layer's). Width × T sets how finely an axis is cut; the tests how much of the
        # field the rows see. Per dimension, measured with the time of one solve in mind:
        # 1-D 512 × 32 with 1024 tests (poisson1d 5.8e-4), 2-D 128 × 16 with 64² tests
        # (heat1d 4.2e-3, 4 s), 3-D 64 × 16 with 12³ tests.
        sizes = {1: (512, 32, 1024), 2: (128, 16, 64)}.get(problem.dim, (64, 16, 12))
        width, T, tests = sizes
        return {**super().defaults(cfg, problem), "width": width, "depth": 1, "T": T, "dtype": "float64",
                "weak_tests": tests}

    @classmethod
    def default_steps(cls, problem) -> int:
        return 1

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        lif = LIFConfig(beta=cfg.beta, threshold=cfg.threshold, reset=cfg.reset,
                        surrogate=make_surrogate(cfg.surrogate, **cfg.surrogate_options))
        self.net = SeparableSpikingField(tuple(compiled.lower.tolist()), tuple(compiled.upper.tolist()),
                                         widths=(cfg.width,) * cfg.depth, T=cfg.T, lif=lif)
        self.params = self.net.init_params(generator, dtype=torch.float64)
        self.blocks = self._rows()
        self.solved = False
        self.loss_terms = self._loss_terms(None)

    # ------------------------------------------------------------ rows
    def _rows(self) -> list[_Block]:
        c, obj = self.compiled, self.objective
        blocks = []
        if not c.has_pde:
            X = obj.points.interior.to(torch.float64)
            blocks.append(self._point_block("data", 1.0, X, torch.ones(X.shape[0], dtype=torch.float64),
                                            c.exact(obj.points.interior).to(torch.float64)))
        else:
            if obj.weak is None:
                raise ConfigurationError("lsq needs the weak form of a linear PDE: this run uses the strong form "
                                         "(--residual-form strong); use fgrad or bptt, or the weak form")
            try:
                blocks.append(self._weak_block(obj.weak))
            except ValueError as exc:
                raise ConfigurationError(f"lsq solves linear PDEs in closed form; {c.problem.name}: {exc} "
                                         "(use fgrad or bptt)") from None
        for cond, Xc in zip(c.conditions, obj.points.conditions):
            block = self._condition_block(cond, Xc.to(torch.float64))
            if block is not None:
                blocks.append(block)
        return blocks

    def _transform(self, X: torch.Tensor):
        """(offset, factor) of ``u = offset + factor · N`` at the points X (float64)."""
        transform = self.compiled.transform
        X = X.to(self.compiled.dtype)
        if transform is None:
            return torch.zeros(X.shape[0], dtype=torch.float64), torch.ones(X.shape[0], dtype=torch.float64)
        offset = transform.value(X, torch.zeros(X.shape[0], dtype=X.dtype)).to(torch.float64)
        return offset, transform.value(X, torch.ones(X.shape[0], dtype=X.dtype)).to(torch.float64) - offset

    def _weak_block(self, weak) -> _Block:
        tests = weak.tests
        terms = [((-1) ** sum(a) * cf, a) for cf, a in weak.linear_operator()]
        grid = tests.points
        offset, factor = self._transform(grid)
        factors = _separable_factors(factor.reshape(tests.shape))     # [(coef, [f_i per axis])]
        rasters = [self.net.raster(self.params, i, tests.axes[i]) for i in range(self.net.in_dim)]
        # the target: minus the weak residual of u = offset (the field N = 0)
        target = -weak.residual(offset.to(weak.dtype)).to(torch.float64)
        if tests.keep is not None:
            raise ValueError("the weak form of a domain with excluded regions is not supported yet")
        # rows are the tensor product of the per-axis tests (row k = (k_1, …, k_d), C order)
        grids = torch.meshgrid(*[torch.arange(k) for k in tests.counts], indexing="ij")
        index = [g.reshape(-1) for g in grids]
        n_rows = index[0].shape[0]
        components = []
        for cf, alpha in terms:
            for s, per_axis in factors:
                # tests × grid per axis: B_i[a_i]ᵀ (f_i ⊙ φ_i) → [K_i, F_i]
                vecs = [tests.matrices[i][alpha[i]].T @ (per_axis[i][:, None] * rasters[i])
                        for i in range(self.net.in_dim)]
                components.append(_Component(torch.full((n_rows,), cf * s, dtype=torch.float64), vecs, index))
        return _Block("pde", float(self.objective.weights()["pde"]) / n_rows, components, target)

    def _point_block(self, name, weight, X, coef, target) -> _Block:
        vecs = [self.net.raster(self.params, i, X[:, i]) for i in range(self.net.in_dim)]
        return _Block(name, weight / X.shape[0], [_Component(coef, vecs, [None] * len(vecs))], target)

    def _condition_block(self, cond, X) -> _Block | None:
        indices = [tuple(a) for a in cond.derivatives]
        zero = (0,) * self.net.in_dim
        offset, factor = self._transform(X)
        transform = self.compiled.transform
        needed = indices if transform is None else transform.required(indices)
        raw_zero = {a: torch.zeros(X.shape[0], dtype=torch.float64) for a in needed}
        J, b = condition_linear_map(cond, X, self._solution_fields(X, raw_zero, indices))
        if zero not in J or any(bool(J[a].abs().max() > 0) for a in indices if a != zero):
            if self._satisfied_by_transform(cond, X, indices):
                return None
            raise ConfigurationError(f"lsq: condition '{cond.name}' reads derivatives of u and the output "
                                     "transform does not satisfy it; the field has values only (use fgrad or bptt)")
        Jf = J[zero].to(torch.float64) * factor[None]            # [residuals, points] on N
        target = -(b.to(torch.float64) + J[zero].to(torch.float64) @ offset)
        # each residual reads one or two points (periodic pairs): one component per nonzero slot
        nonzero = Jf != 0
        slots = int(nonzero.sum(1).max()) if Jf.numel() else 0
        cols = torch.argsort((~nonzero).to(torch.int8), dim=1, stable=True)[:, :max(slots, 1)]
        rasters = [self.net.raster(self.params, i, X[:, i]) for i in range(self.net.in_dim)]
        components = []
        for k in range(slots):
            idx = cols[:, k]
            coef = Jf.gather(1, idx[:, None])[:, 0]
            components.append(_Component(coef, rasters, [idx] * len(rasters)))
        weight = float(self.objective.weights()[cond.name]) / max(1, Jf.shape[0])
        return _Block(cond.name, weight, components, target)

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
        if not self.solved:
            self._solve()
            self.solved = True
        self.loss_terms = self._loss_terms(self.params)
        return sum(self.loss_terms.values())

    def _solve(self) -> None:
        d = self.net.in_dim
        # each axis' raster, reduced to the row space of everything the rows read on that axis
        bases = []
        for i in range(d):
            stacked = torch.cat([comp.vectors[i] for block in self.blocks for comp in block.components])
            _, S, Vt = torch.linalg.svd(stacked, full_matrices=False)
            keep = S > RANK_TOL * S[0]
            bases.append(Vt[keep].T)                                  # [F_i, m_i]
        rows, targets = [], []
        for block in self.blocks:
            w = math.sqrt(block.weight)
            rows.append([(comp.coef * w, [comp.axis(i, bases[i]) for i in range(d)]) for comp in block.components])
            targets.append(block.target * w)
        y = torch.cat(targets)
        offsets = [0]
        for t in targets:
            offsets.append(offsets[-1] + t.shape[0])
        G = torch.zeros(len(y), len(y), dtype=torch.float64)
        for a, comps_a in enumerate(rows):
            for b, comps_b in enumerate(rows[a:], start=a):
                block = kronecker_rows_gram(comps_a, comps_b)
                G[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]] = block
                if a != b:
                    G[offsets[b]:offsets[b + 1], offsets[a]:offsets[a + 1]] = block.T
        eps = RIDGE * float(G.diagonal().mean().clamp_min(1e-300))
        try:
            alpha = torch.linalg.solve(G + eps * torch.eye(len(y), dtype=G.dtype), y)
        except torch.linalg.LinAlgError as exc:
            raise ConfigurationError(f"lsq: the rows' Gram matrix cannot be factorised ({exc}); lower --width "
                                     "or --T") from None
        core = torch.zeros([B.shape[1] for B in bases], dtype=torch.float64)
        for comps, lo, hi in zip(rows, offsets[:-1], offsets[1:]):
            a = alpha[lo:hi]
            for coef, vecs in comps:
                core = core + _outer_sum(a * coef, vecs)
        params = dict(self.params)
        for i, B in enumerate(bases):
            params[f"axis{i}.projection"] = B
        params["core"] = core
        self.params = params
        self.net.ranks = tuple(B.shape[1] for B in bases)

    # ------------------------------------------------------------ the contract
    def _loss_terms(self, params) -> dict[str, float]:
        """Each objective term of the field (its rows' mean squared residual times the weight
        the objective gives it)."""
        out = {}
        for block in self.blocks:
            pred = 0
            if params is not None:
                for comp in block.components:
                    z = [comp.axis(i, params[f"axis{i}.projection"]) for i in range(self.net.in_dim)]
                    pred = pred + comp.coef * _contract_rows(params["core"], z)
            residual = pred - block.target
            out[block.name] = float(block.weight * residual.square().sum())
        return out

    def terms(self) -> dict[str, float]:
        return dict(self.loss_terms)

    def trained_field(self) -> TrainedField:
        return TrainedField(self.net, clone_params(self.params), tuple(self.compiled.input_names), "spiking",
                            torch.float64, "cpu", transform=self.compiled.transform)

    def diagnostics(self) -> dict:
        return {"lsq_rows": int(sum(b.target.shape[0] for b in self.blocks)),
                "lsq_ranks": list(self.net.ranks or ()), "lsq_ridge": RIDGE}

    def divergence_hints(self) -> list[str]:
        return [f"a smaller network (--width, now {self.cfg.width}; --T, now {self.cfg.T})"]

    def state_dict(self) -> dict:
        return {"params": clone_params(self.params), "solved": self.solved, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.params = {k: v.clone() for k, v in state["params"].items()}
        self.solved = bool(state["solved"])
        self.generator.set_state(state["generator"])
        self.net.ranks = tuple(self.params["core"].shape)
        self.loss_terms = self._loss_terms(self.params if self.solved else None)


def kronecker_rows_gram(rows_a, rows_b) -> torch.Tensor:
    """Inner products of two sets of rows, each row a sum of Kronecker products
    ``Σ_c coef_c[r] · ⊗_i v_{c,i}[r]`` (``rows = [(coef [R], [v_i [R, m_i]]), ...]``):
    ``⟨⊗_i a_i, ⊗_i b_i⟩ = Π_i ⟨a_i, b_i⟩``, so the Gram matrix is a sum of Hadamard products
    of per-axis Gram matrices and no row is ever formed (it would have Π m_i entries)."""
    out = 0
    for ca, va in rows_a:
        for cb, vb in rows_b:
            prod = ca[:, None] * cb[None, :]
            for a, b in zip(va, vb):
                prod = prod * (a @ b.T)
            out = out + prod
    return out


def _separable_factors(values: torch.Tensor):
    """A grid function as a short sum of products of per-axis functions (the hard constraint's
    factor: ``t·x(1 − x)`` is one product): ``[(s, [f_1, …, f_d]), …]`` from the SVD (2-D) or
    the rank-1 test of every unfolding (d ≠ 2); at most 4 terms."""
    d = values.dim()
    if d == 1:
        return [(1.0, [values])]
    if d == 2:
        U, S, Vt = torch.linalg.svd(values, full_matrices=False)
        r = int((S > 1e-8 * S[0]).sum()) if S[0] > 0 else 1
        if r > 4:
            raise ConfigurationError("lsq: the output transform's factor is not separable in the inputs")
        return [(float(S[k]), [U[:, k], Vt[k]]) for k in range(r)]
    # rank one in every axis: f = c · ⊗_i f_i with f_i a fibre through the largest entry
    idx = list(divmod_unravel(int(values.abs().argmax()), values.shape))
    peak = values[tuple(idx)]
    fibres = []
    for i in range(d):
        sl = list(idx)
        sl[i] = slice(None)
        fibres.append(values[tuple(sl)] / peak)
    rebuilt = peak * _outer_sum(torch.ones(1, dtype=values.dtype), [f[None] for f in fibres])
    if float((rebuilt - values).abs().max()) > 1e-8 * float(values.abs().max()):
        raise ConfigurationError("lsq: the output transform's factor is not separable in the inputs")
    return [(float(peak), fibres)]


def divmod_unravel(flat: int, shape) -> list[int]:
    out = []
    for n in reversed(shape):
        out.append(flat % n)
        flat //= n
    return list(reversed(out))


def _outer_sum(weights: torch.Tensor, vecs: list[torch.Tensor]) -> torch.Tensor:
    """Σ_r w_r ⊗_i vecs_i[r] (a dense tensor of shape ``[m_1, …, m_d]``)."""
    letters = "abcdefgh"[:len(vecs)]
    spec = "r," + ",".join(f"r{c}" for c in letters) + "->" + letters
    return torch.einsum(spec, weights, *vecs)


def _contract_rows(core: torch.Tensor, z: list[torch.Tensor]) -> torch.Tensor:
    """Σ_a C[a] Π_i z_i[r, a_i] for every row r."""
    letters = "abcdefgh"[:len(z)]
    spec = letters + "," + ",".join(f"r{c}" for c in letters) + "->r"
    return torch.einsum(spec, core, *z)

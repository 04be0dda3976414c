"""Rows that are sums of Kronecker products of per-axis vectors, and their Gram matrices.

The closed-form readout of :mod:`spikepde.train.closed_form` solves for a Tucker core C of a
separable field; every row it meets — a weak-form test against the field, a value at a point,
a periodic pair — is ``coef · ⊗_i v_i`` summed over a few components, because the tests, the
quadrature grid, the points and a separable hard-constraint factor are all tensor products.
``⟨⊗_i a_i, ⊗_i b_i⟩ = Π_i ⟨a_i, b_i⟩``: the Gram matrix of such rows is a sum of Hadamard
products of small per-axis Gram matrices (on a test grid, Kronecker products), and products of
the rows with a core are per-axis contractions. No row is ever formed.
"""
from __future__ import annotations

import dataclasses

import torch

from ..errors import ConfigurationError
from ..snn.separable import contract_grid, contract_points


@dataclasses.dataclass
class RowComponent:
    """One Kronecker term of a block's rows: ``row[r] = coef[r] · ⊗_i vectors_i[index_i[r]]``
    (per-axis vectors in raster or readout coordinates; ``index_i`` None: row r reads vector r).
    ``grid``: the rows are the C-order tensor product of the vectors' rows (the weak form's
    tests), which lets products with the rows be per-axis contractions."""

    coef: torch.Tensor                  # [R]
    vectors: list[torch.Tensor]         # per axis [R_i, F_i]
    index: list[torch.Tensor | None]    # per axis [R] or None
    grid: tuple[int, ...] | None = None

    def axis(self, i: int) -> torch.Tensor:
        """The ``[R, ·]`` vectors of axis i, one per row."""
        v = self.vectors[i]
        return v if self.index[i] is None else v[self.index[i]]

    def reduced(self, bases: list[torch.Tensor]) -> "RowComponent":
        """The same rows in the readout's coordinates (``v @ B_i`` per axis)."""
        return dataclasses.replace(self, vectors=[v @ B for v, B in zip(self.vectors, bases)])

    def apply(self, core: torch.Tensor) -> torch.Tensor:
        """The rows times the core: ``[R]``."""
        if self.grid is None:
            return self.coef * contract_points(core, [self.axis(i) for i in range(len(self.vectors))])
        return self.coef * contract_grid(core, self.vectors).reshape(-1)

    def adjoint(self, weights: torch.Tensor) -> torch.Tensor:
        """``Σ_r weights_r · row_r`` as a core-shaped tensor."""
        if self.grid is None:
            return outer_sum(weights * self.coef, [self.axis(i) for i in range(len(self.vectors))])
        return contract_grid((weights * self.coef).reshape(self.grid), [v.T for v in self.vectors])


def component_gram(a: RowComponent, b: RowComponent) -> torch.Tensor:
    """``⟨row_r of a, row_s of b⟩`` for all r, s: per-axis Gram matrices of the (few) distinct
    vectors, then gathered (a Kronecker product on test grids) — never the rows themselves."""
    out = torch.zeros(a.coef.shape[0], b.coef.shape[0], dtype=a.coef.dtype, device=a.coef.device)
    add_component_gram(out, a, b)
    return out


def add_component_gram(out: torch.Tensor, a: RowComponent, b: RowComponent, scale: float = 1.0,
                       transpose: bool = False) -> None:
    """``out += scale · component_gram(a, b)`` (its transpose with ``transpose``), in place."""
    if _kronecker_pair(a, b):
        _add_kronecker_sum(out, [(a, b, transpose)], scale)
        return
    per_axis = _pair_grams(a, b, transpose)
    if transpose:
        a, b = b, a
    if a.grid is not None and b.grid is not None:
        K = per_axis[0]
        for g in per_axis[1:]:
            K = torch.kron(K, g)
        out.add_(K * (a.coef[:, None] * b.coef[None, :]), alpha=scale)
        return
    part = a.coef[:, None] * b.coef[None, :]
    for g, ia, ib in zip(per_axis, a.index, b.index):
        g = g if ia is None else g[ia]
        part = part * (g if ib is None else g[:, ib])
    out.add_(part, alpha=scale)


def block_gram(a: "RowBlock", b: "RowBlock", symmetric: bool, out: torch.Tensor | None = None,
               scale: float = 1.0) -> torch.Tensor:
    """``out += scale ·`` the Gram matrix of two blocks' rows (``out`` None: a new matrix). A
    block with itself takes each pair of components once, adding the pair above the diagonal
    and its transpose. Pairs of test-grid components with constant coefficients are summed by
    one matrix product (:func:`_add_kronecker_sum`), the others one by one."""
    if a.keep is not None or b.keep is not None:
        # the full rows' Gram matrix, then the kept rows of it
        full = block_gram(dataclasses.replace(a, keep=None, target=a.target.new_zeros(a.full_rows)),
                          dataclasses.replace(b, keep=None, target=b.target.new_zeros(b.full_rows)),
                          symmetric, scale=scale)
        part = full if a.keep is None else full[a.keep]
        part = part if b.keep is None else part[:, b.keep]
        del full
        if out is None:
            return part
        out.add_(part)
        return out
    if out is None:
        out = torch.zeros(a.target.shape[0], b.target.shape[0], dtype=a.target.dtype, device=a.target.device)
    kronecker, others = [], []
    for j, ca in enumerate(a.components):
        for k, cb in enumerate(b.components):
            if symmetric and k < j:
                continue
            for transpose in ((False, True) if symmetric and k > j else (False,)):
                (kronecker if _kronecker_pair(ca, cb) else others).append((ca, cb, transpose))
    for ca, cb, transpose in others:
        add_component_gram(out, ca, cb, scale, transpose)
    if kronecker:
        _add_kronecker_sum(out, kronecker, scale)
    return out


def _kronecker_pair(a: RowComponent, b: RowComponent) -> bool:
    """Both components on test grids of two or more axes with constant coefficients: their
    Gram matrix is a scaled Kronecker product."""
    return all(c.grid is not None and len(c.vectors) >= 2 and bool((c.coef == c.coef[0]).all()) for c in (a, b))


def _pair_grams(a: RowComponent, b: RowComponent, transpose: bool) -> list[torch.Tensor]:
    """The per-axis Gram matrices of two components' vectors (transposed with ``transpose``)."""
    per_axis = [va @ vb.T for va, vb in zip(a.vectors, b.vectors)]
    return [g.T for g in per_axis] if transpose else per_axis


def _add_kronecker_sum(out: torch.Tensor, pairs, scale: float, chunk_elements: int = 2 ** 26) -> None:
    """``out += scale · Σ_p c_p (K_p ⊗ L_p)`` for the pairs' leading-axes Gram K_p ``[A, A']``
    and last-axis Gram L_p ``[B, B']``: entry ``[a b, a' b']`` is ``Σ_p c_p K_p[a, a'] L_p[b, b']``,
    one matrix product with the pairs as its inner dimension (≈ 70 Gauss–Newton pairs on 112²
    tests: 1.5 s, where forming and adding each Kronecker product took 70 passes over 1.2 GB),
    formed for a few rows a at a time."""
    lead, last = [], []
    for ca, cb, transpose in pairs:
        *first, final = _pair_grams(ca, cb, transpose)
        K = first[0]
        for g in first[1:]:
            K = torch.kron(K, g)
        lead.append(K * (scale * float(ca.coef[0] * cb.coef[0])))
        last.append(final)
    K = torch.stack(lead)                                   # [P, A, A']
    L = torch.stack(last).flatten(1)                        # [P, B B']
    P, A, A2 = K.shape
    B, B2 = last[0].shape
    view = out.view(A, B, A2, B2)
    step = max(1, chunk_elements // (A2 * B * B2))
    for a0 in range(0, A, step):
        a1 = min(A, a0 + step)
        part = K[:, a0:a1].flatten(1).T @ L                 # [(a, a'), (b, b')]
        view[a0:a1].add_(part.view(a1 - a0, A2, B, B2).permute(0, 2, 1, 3))


@dataclasses.dataclass
class RowBlock:
    """The rows of one objective term and their targets. ``keep`` (indices into the
    components' rows; None: all): the block's rows are that subset — a test grid of an
    L-shaped domain, whose tests reaching into the excluded box are dropped, keeps its
    Kronecker structure by being the full grid's rows, selected."""

    name: str
    weight: float                      # the term's weight per row (the objective's weight / rows)
    components: list[RowComponent]
    target: torch.Tensor               # [R] (the kept rows)
    keep: torch.Tensor | None = None

    @property
    def full_rows(self) -> int:
        """Rows of the components (before ``keep`` selects)."""
        return self.target.shape[0] if self.keep is None else self.components[0].coef.shape[0]

    def reduced(self, bases) -> "RowBlock":
        return dataclasses.replace(self, components=[c.reduced(bases) for c in self.components])

    def apply(self, core: torch.Tensor) -> torch.Tensor:
        out = sum(c.apply(core) for c in self.components)
        return out if self.keep is None else out[self.keep]

    def adjoint(self, weights: torch.Tensor) -> torch.Tensor:
        """``Σ_r weights_r · row_r`` over the block's rows, as a core-shaped tensor."""
        if self.keep is not None:
            weights = weights.new_zeros(self.full_rows).index_copy_(0, self.keep, weights)
        return sum(c.adjoint(weights) for c in self.components)


def kronecker_rows_gram(rows_a, rows_b) -> torch.Tensor:
    """Inner products of two sets of rows, each row a sum of Kronecker products
    ``Σ_c coef_c[r] · ⊗_i v_{c,i}[r]`` (``rows = [(coef [R], [v_i [R, m_i]]), ...]``):
    ``⟨⊗_i a_i, ⊗_i b_i⟩ = Π_i ⟨a_i, b_i⟩``, so the Gram matrix is a sum of Hadamard products
    of per-axis Gram matrices and no row is ever formed (it would have Π m_i entries)."""
    def components(rows):
        return [RowComponent(coef, list(vecs), [None] * len(vecs)) for coef, vecs in rows]
    out = torch.zeros(rows_a[0][0].shape[0], rows_b[0][0].shape[0], dtype=rows_a[0][0].dtype)
    for a in components(rows_a):
        for b in components(rows_b):
            add_component_gram(out, a, b)
    return out


def separable_factors(values: torch.Tensor, rel_tol: float = 1e-8, max_terms: int = 4, truncate: bool = False):
    """A grid function as a short sum of products of per-axis functions (the hard constraint's
    factor: ``t·x(1 − x)`` is one product): ``[(s, [f_1, …, f_d]), …]`` from the SVD (2-D:
    singular values above ``rel_tol`` of the largest; more than ``max_terms`` of them raise, or
    with ``truncate`` — an approximation asked for — the largest ``max_terms`` are kept) or the
    rank-1 test of every unfolding (d ≠ 2)."""
    d = values.dim()
    if d == 1:
        return [(1.0, [values])]
    if d == 2:
        U, S, Vt = torch.linalg.svd(values, full_matrices=False)
        r = int((S > rel_tol * S[0]).sum()) if S[0] > 0 else 1
        if r > max_terms:
            if not truncate:
                raise ConfigurationError("lsq: the output transform's factor is not separable in the inputs")
            r = max_terms
        return [(float(S[k]), [U[:, k], Vt[k]]) for k in range(r)]
    # rank one in every axis: f = c · ⊗_i f_i with f_i a fibre through the largest entry
    idx = [int(k) for k in torch.unravel_index(values.abs().argmax(), values.shape)]
    peak = values[tuple(idx)]
    fibres = []
    for i in range(d):
        sl = list(idx)
        sl[i] = slice(None)
        fibres.append(values[tuple(sl)] / peak)
    rebuilt = peak * outer_sum(torch.ones(1, dtype=values.dtype), [f[None] for f in fibres])
    if float((rebuilt - values).abs().max()) > 1e-8 * float(values.abs().max()):
        raise ConfigurationError("lsq: the output transform's factor is not separable in the inputs")
    return [(float(peak), fibres)]


def outer_sum(weights: torch.Tensor, vecs: list[torch.Tensor]) -> torch.Tensor:
    """Σ_r w_r ⊗_i vecs_i[r] (a dense tensor of shape ``[m_1, …, m_d]``)."""
    letters = "abcdefgh"[:len(vecs)]
    spec = "r," + ",".join(f"r{c}" for c in letters) + "->" + letters
    return torch.einsum(spec, weights, *vecs)

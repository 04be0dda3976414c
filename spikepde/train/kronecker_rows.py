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
    per_axis = [va @ vb.T for va, vb in zip(a.vectors, b.vectors)]
    if a.grid is not None and b.grid is not None:
        K = per_axis[0]
        for g in per_axis[1:]:
            K = torch.kron(K, g)
        if K is per_axis[0]:
            K = K.clone()
        constant = bool((a.coef == a.coef[0]).all() and (b.coef == b.coef[0]).all())
        return K.mul_(float(a.coef[0] * b.coef[0])) if constant else K.mul_(a.coef[:, None] * b.coef[None, :])
    out = a.coef[:, None] * b.coef[None, :]
    for g, ia, ib in zip(per_axis, a.index, b.index):
        g = g if ia is None else g[ia]
        out = out * (g if ib is None else g[:, ib])
    return out


def block_gram(a: "RowBlock", b: "RowBlock", symmetric: bool) -> torch.Tensor:
    """The Gram matrix of two blocks' rows (a block with itself: each pair of components once,
    the pairs above the diagonal added with their transpose at the end). Accumulated in place:
    on a 64² test grid each term is a 4096² matrix."""
    out, upper = None, None
    for j, ca in enumerate(a.components):
        for k, cb in enumerate(b.components):
            if symmetric and k < j:
                continue
            g = component_gram(ca, cb)
            if symmetric and k > j:
                upper = g if upper is None else upper.add_(g)
            else:
                out = g if out is None else out.add_(g)
    if upper is not None:
        out.add_(upper).add_(upper.T)
    return out


@dataclasses.dataclass
class RowBlock:
    """The rows of one objective term and their targets."""

    name: str
    weight: float                      # the term's weight per row (the objective's weight / rows)
    components: list[RowComponent]
    target: torch.Tensor               # [R]

    def reduced(self, bases) -> "RowBlock":
        return dataclasses.replace(self, components=[c.reduced(bases) for c in self.components])

    def apply(self, core: torch.Tensor) -> torch.Tensor:
        return sum(c.apply(core) for c in self.components)


def kronecker_rows_gram(rows_a, rows_b) -> torch.Tensor:
    """Inner products of two sets of rows, each row a sum of Kronecker products
    ``Σ_c coef_c[r] · ⊗_i v_{c,i}[r]`` (``rows = [(coef [R], [v_i [R, m_i]]), ...]``):
    ``⟨⊗_i a_i, ⊗_i b_i⟩ = Π_i ⟨a_i, b_i⟩``, so the Gram matrix is a sum of Hadamard products
    of per-axis Gram matrices and no row is ever formed (it would have Π m_i entries)."""
    def components(rows):
        return [RowComponent(coef, list(vecs), [None] * len(vecs)) for coef, vecs in rows]
    return sum(component_gram(a, b) for a in components(rows_a) for b in components(rows_b))


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

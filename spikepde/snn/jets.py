"""Taylor-mode ("jet") propagation of input derivatives through element-wise non-linearities.

A *jet* is a tensor with a leading axis over a downward-closed set of multi-indices
``[α₀ = 0, α₁, …]``: entry j holds ∂^{α_j} of some quantity with respect to the inputs. Linear
maps act on every entry alike; an element-wise function ``y = φ(v)`` needs Faà di Bruno's
formula, written over set partitions of the list of differentiation directions::

    ∂_{d₁…d_k} φ(v) = Σ_{π ∈ partitions({1..k})} φ^{(|π|)}(v) · Π_{B ∈ π} ∂_{d_B} v

For a spiking layer φ is the spike function with φ(v) = H(v) in value and φ^{(m)} = σ^{(m)}
(the surrogate's derivatives), so the jet holds exactly what nested forward-mode JVPs through
the straight-through spike of :mod:`spikepde.snn.spike` would compute — without the per-op
overhead of ``torch.func`` transforms (``tests/test_jets.py`` checks the equality).
"""
from __future__ import annotations

from functools import lru_cache

import torch

MultiIndex = tuple[int, ...]


def closure(indices, d: int) -> list[MultiIndex]:
    """The downward closure of ``indices`` (every lower multi-index), sorted by order, 0 first."""
    out = {(0,) * d}
    for alpha in indices:
        for lower in _lower_indices(tuple(alpha)):
            out.add(lower)
    return sorted(out, key=lambda a: (sum(a), a))


def _lower_indices(alpha: MultiIndex):
    if not alpha:
        yield ()
        return
    for k in range(alpha[0] + 1):
        for rest in _lower_indices(alpha[1:]):
            yield (k,) + rest


def _set_partitions(items: tuple[int, ...]):
    """All partitions of a tuple of positions into blocks (Bell-number many)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in _set_partitions(rest):
        for i in range(len(partition)):
            yield partition[:i] + [(first,) + partition[i]] + partition[i + 1:]
        yield [(first,)] + partition


@lru_cache(maxsize=None)
def faa_di_bruno_plan(indices: tuple[MultiIndex, ...]) -> tuple:
    """For each multi-index (by position in ``indices``), the terms of Faà di Bruno's formula.

    Returns a tuple over positions j ≥ 1 of tuples of ``(m, (j₁, …, j_m))``: derivative order
    m of φ and the positions of the inner-derivative factors. Terms that share (m, factors)
    are merged with a multiplicity count: ``(count, m, factors)``.
    """
    pos = {a: j for j, a in enumerate(indices)}
    d = len(indices[0])
    plan = []
    for alpha in indices[1:]:
        dirs = tuple(i for i in range(d) for _ in range(alpha[i]))
        terms: dict[tuple, int] = {}
        for partition in _set_partitions(tuple(range(len(dirs)))):
            factors = []
            for block in partition:
                sub = [0] * d
                for p in block:
                    sub[dirs[p]] += 1
                factors.append(pos[tuple(sub)])
            key = (len(partition), tuple(sorted(factors)))
            terms[key] = terms.get(key, 0) + 1
        plan.append(tuple((c, m, f) for (m, f), c in sorted(terms.items())))
    return tuple(plan)


def apply_elementwise(value: torch.Tensor, derivs: list[torch.Tensor], jet: torch.Tensor,
                      plan) -> torch.Tensor:
    """Jet of ``φ(v)`` given ``φ(v₀)`` (``value``), ``[φ', φ'', …](v₀)`` and the jet of v.

    Args:
        value: φ at the primal ``jet[0]``.
        derivs: derivatives of φ at ``jet[0]``; ``derivs[m-1]`` is φ^(m).
        jet: ``[J, ...]`` jet of v.
        plan: :func:`faa_di_bruno_plan` of the jet's indices.
    """
    out = [value]
    for terms in plan:
        acc = None
        for count, m, factors in terms:
            term = derivs[m - 1]
            for f in factors:
                term = term * jet[f]
            if count != 1:
                term = count * term
            acc = term if acc is None else acc + term
        out.append(acc)
    return torch.stack(out)

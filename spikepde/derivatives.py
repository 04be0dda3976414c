"""Input derivatives ∂^α u(x) of a surrogate, for PDE residuals.

A *multi-index* α is a tuple of ints, one per input column (time last): ``(2, 0)`` is
∂²u/∂x², ``(0, 1)`` is ∂u/∂t, ``(0, 0)`` is u. Every estimator returns a dict α → ``[N]``.

What a derivative means for a spiking network. With hard spikes, the network output is
piecewise constant in x (spike counts change in jumps), so its true derivative is 0 almost
everywhere and useless for a residual. The estimators therefore differentiate a *smoothed*
network, in two principled ways:

``surrogate-jvp`` (default for spiking surrogates)
    Forward-mode tangents (nested ``torch.func.jvp`` along the coordinate axes) through the
    network in which every H' is replaced by the surrogate's σ'. This is the exact derivative of
    the "shadow" network obtained by linearising every spike with σ around the actual membrane
    trajectory; values stay those of the hard network. Cheap (one tangent pass per
    derivative order and direction) and deterministic.

``stein`` (derivative-free)
    Gaussian smoothing in input space: ``u_σ(x) = E_ξ[u(x + σξ)]``, ξ ~ N(0, I). Stein's identity
    gives, with probabilists' Hermite polynomials He_k,
    ``∂^α u_σ(x) = σ^{−|α|} E[u(x + σξ) Π_i He_{α_i}(ξ_i)]``
    (He_1 = ξ, He_2 = ξ² − 1, He_3 = ξ³ − 3ξ). Monte-Carlo with M samples; antithetic pairs
    (±ξ) cancel the even/odd parts that carry no signal, and u(x) is used as a control variate.
    Needs only forward evaluations of the hard network — no surrogate at all — but the estimate
    is noisy (variance ∝ 1/(M σ^{2|α|})) and biased by the smoothing (O(σ²)).

``fd``
    Central finite differences with step h (for smooth surrogates and for tests; on a hard
    spiking network a small h sees jumps and a large h is the Stein bias without the noise).

``autograd``
    Reverse-mode ``torch.autograd.grad(create_graph=True)`` (the classical PINN route; used by
    the tanh-MLP baseline, never by the back-propagation-free trainers).

Every ``fields`` call takes ``f(X) -> [N]``, ``X [N, d]`` and the multi-indices wanted.
"""
from __future__ import annotations

import itertools
import math
from typing import Callable, Iterable

import torch
from torch.func import jvp

MultiIndex = tuple[int, ...]
Field = Callable[[torch.Tensor], torch.Tensor]


def _zero(d: int) -> MultiIndex:
    return (0,) * d


def _unit(X: torch.Tensor, dim: int) -> torch.Tensor:
    e = torch.zeros_like(X)
    e[:, dim] = 1
    return e


def _chains(indices: Iterable[MultiIndex]) -> list[MultiIndex]:
    """The maximal multi-indices: every wanted index is dominated by one of them."""
    idx = sorted(set(indices), key=lambda a: -sum(a))
    chains: list[MultiIndex] = []
    for a in idx:
        if not any(all(ai <= ci for ai, ci in zip(a, c)) for c in chains):
            chains.append(a)
    return chains


class SurrogateJVP:
    """Nested forward-mode derivatives through the surrogate (see module docstring)."""

    name = "surrogate-jvp"
    for_spiking = True   # offered for the spiking network's residuals

    def fields(self, f: Field, X: torch.Tensor, indices: Iterable[MultiIndex]) -> dict[MultiIndex, torch.Tensor]:
        indices = list(indices)
        d = X.shape[1]
        out: dict[MultiIndex, torch.Tensor] = {}
        for chain in _chains(indices):
            if sum(chain) == 0:
                continue
            out.update(self._chain(f, X, chain))
        if _zero(d) not in out:
            out[_zero(d)] = f(X)
        return {a: out[a] for a in set(indices) | {_zero(d)}}

    @staticmethod
    def _chain(f: Field, X: torch.Tensor, chain: MultiIndex) -> dict[MultiIndex, torch.Tensor]:
        """All mixed partials along the directions of ``chain`` by 2^k nested JVPs."""
        dims = [i for i, k in enumerate(chain) for _ in range(k)]

        def level(k: int):
            if k == 0:
                return lambda Z: (f(Z),)
            inner = level(k - 1)
            e = _unit(X, dims[k - 1])

            def g(Z):
                primal, tangent = jvp(inner, (Z,), (e,))
                return tuple(primal) + tuple(tangent)
            return g

        outputs = level(len(dims))(X)
        result = {}
        for j, value in enumerate(outputs):
            alpha = [0] * X.shape[1]
            for bit, dim in enumerate(dims):
                if j >> bit & 1:
                    alpha[dim] += 1
            result.setdefault(tuple(alpha), value)
        return result


def _hermite(k: int, z: torch.Tensor) -> torch.Tensor:
    """Probabilists' Hermite polynomial He_k(z), k ≤ 4."""
    if k == 0:
        return torch.ones_like(z)
    if k == 1:
        return z
    if k == 2:
        return z * z - 1
    if k == 3:
        return z ** 3 - 3 * z
    if k == 4:
        return z ** 4 - 6 * z * z + 3
    raise ValueError("Stein estimator supports derivative orders up to 4 per axis")


class Stein:
    """Gaussian-smoothing (Stein's identity) derivative estimator; derivative-free.

    Args:
        sigma: smoothing width per input axis in the input's units (scalar or sequence).
        samples: number of antithetic pairs M.
        generator: the ``torch.Generator`` drawing ξ (same seed → same estimate).
    """

    name = "stein"
    for_spiking = True   # offered for the spiking network's residuals

    def __init__(self, sigma: float | Iterable[float] = 0.02, samples: int = 16,
                 generator: torch.Generator | None = None):
        self.sigma = sigma
        self.samples = int(samples)
        self.generator = generator

    def fields(self, f: Field, X: torch.Tensor, indices: Iterable[MultiIndex]) -> dict[MultiIndex, torch.Tensor]:
        indices = set(indices)
        N, d = X.shape
        sigma = torch.as_tensor(self.sigma, dtype=X.dtype, device=X.device).expand(d)
        xi = torch.randn((self.samples, N, d), generator=self.generator, dtype=X.dtype,
                         device="cpu").to(X.device)
        points = torch.cat([X[None] + sigma * xi, X[None] - sigma * xi, X[None]]).reshape(-1, d)
        values = f(points).reshape(2 * self.samples + 1, N)
        plus, minus, center = values[: self.samples], values[self.samples: -1], values[-1]
        out = {_zero(d): center}
        for alpha in indices:
            order = sum(alpha)
            if order == 0:
                continue
            weight = torch.ones_like(xi[..., 0])
            for i, k in enumerate(alpha):
                weight = weight * _hermite(k, xi[..., i])
            # Antithetic pair: He_α(−ξ) = (−1)^|α| He_α(ξ). Odd orders keep (u+ − u−)/2, even
            # orders keep (u+ + u−)/2 − u(x) (u(x) is a control variate: E[He_α] = 0).
            if order % 2:
                signal = 0.5 * (plus - minus)
            else:
                signal = 0.5 * (plus + minus) - center
            scale = torch.prod(sigma ** torch.as_tensor(alpha, dtype=X.dtype, device=X.device))
            out[alpha] = (signal * weight).mean(0) / scale
        return out


_FD_STENCILS = {
    0: ([0], [1.0]),
    1: ([-1, 1], [-0.5, 0.5]),
    2: ([-1, 0, 1], [1.0, -2.0, 1.0]),
    3: ([-2, -1, 1, 2], [-0.5, 1.0, -1.0, 0.5]),
    4: ([-2, -1, 0, 1, 2], [1.0, -4.0, 6.0, -4.0, 1.0]),
}


class FiniteDifference:
    """Central finite differences (second-order accurate), all stencil points in one batch.

    Args:
        h: step per axis, in the input's units (scalar or sequence).
    """

    name = "fd"
    for_spiking = True   # offered for the spiking network's residuals

    def __init__(self, h: float | Iterable[float] = 1e-3):
        self.h = h

    def fields(self, f: Field, X: torch.Tensor, indices: Iterable[MultiIndex]) -> dict[MultiIndex, torch.Tensor]:
        indices = set(indices) | {_zero(X.shape[1])}
        N, d = X.shape
        h = torch.as_tensor(self.h, dtype=X.dtype, device=X.device).expand(d)
        offsets: dict[tuple[int, ...], int] = {}
        plan = []
        for alpha in indices:
            terms = []
            for combo in itertools.product(*[zip(*_FD_STENCILS[k]) for k in alpha]):
                shift = tuple(int(o) for o, _ in combo)
                w = math.prod(c for _, c in combo)
                offsets.setdefault(shift, len(offsets))
                terms.append((offsets[shift], w))
            plan.append((alpha, terms))
        shifts = torch.tensor(list(offsets), dtype=X.dtype, device=X.device)  # [S, d]
        points = (X[None] + shifts[:, None, :] * h).reshape(-1, d)
        values = f(points).reshape(len(offsets), N)
        out = {}
        for alpha, terms in plan:
            scale = torch.prod(h ** torch.as_tensor(alpha, dtype=X.dtype, device=X.device))
            out[alpha] = sum(w * values[j] for j, w in terms) / scale
        return out


class Autograd:
    """Reverse-mode input derivatives with ``create_graph=True`` (classical PINN)."""

    name = "autograd"
    for_spiking = False   # reverse mode: the tanh baseline's, never offered for spiking residuals

    def fields(self, f: Field, X: torch.Tensor, indices: Iterable[MultiIndex]) -> dict[MultiIndex, torch.Tensor]:
        X = X if X.requires_grad else X.detach().requires_grad_(True)
        u = f(X)
        out = {_zero(X.shape[1]): u}
        for alpha in sorted(set(indices), key=sum):
            if sum(alpha) == 0:
                continue
            # build from the largest already-known lower index to reuse graphs
            cur, cur_alpha = u, [0] * len(alpha)
            for i, k in enumerate(alpha):
                for _ in range(k):
                    cur_alpha[i] += 1
                    key = tuple(cur_alpha)
                    if key not in out:
                        g = torch.autograd.grad(cur.sum(), X, create_graph=True)[0][:, i]
                        out[key] = g
                    cur = out[key]
        return {a: out[a] for a in set(indices) | {_zero(X.shape[1])}}


ESTIMATORS = {"surrogate-jvp": SurrogateJVP, "stein": Stein, "fd": FiniteDifference,
              "autograd": Autograd}


def make_estimator(name: str = "surrogate-jvp", **options):
    """Build a derivative estimator by name: ``surrogate-jvp``, ``stein``, ``fd``, ``autograd``."""
    try:
        cls = ESTIMATORS[name]
    except KeyError:
        raise ValueError(f"unknown derivative estimator '{name}'; expected one of {sorted(ESTIMATORS)}") from None
    return cls(**options)

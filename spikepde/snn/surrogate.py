"""Surrogate derivatives of the Heaviside spike function.

A LIF neuron emits ``s = H(v − θ)``. H has zero derivative almost everywhere, so any gradient-
or tangent-based method replaces ``H'`` by the derivative of a smooth *primitive* ``σ`` with
``σ(−∞) = 0``, ``σ(+∞) = 1``. Each class below gives the primitive ``σ(x)`` and its derivative;
the spike function (:mod:`spikepde.snn.spike`) keeps the exact Heaviside value and borrows every
derivative order from ``σ``.

All primitives are smooth (C^∞) except :class:`FastSigmoid`, whose derivative has a kink at 0
(fine for first-order training, poor for second input derivatives such as ``u_xx``).

==================  ====================================  ===============================
name                primitive σ(x)                        derivative σ'(x)
==================  ====================================  ===============================
``sigmoid``         1 / (1 + exp(−k x))                   k σ (1 − σ)           (peak k/4)
``atan``            1/2 + atan(π α x / 2) / π             α / (2 (1 + (π α x / 2)²)) (peak α/2)
``gaussian``        (1 + erf(x / (√2 s))) / 2             N(x; 0, s²)           (peak 1/(s√(2π)))
``fast_sigmoid``    x / (1 + k|x|)                        1 / (1 + k|x|)²       (SuperSpike; peak 1)
==================  ====================================  ===============================

The Gaussian surrogate is also what Stein's lemma gives in expectation: for ξ ~ N(0, s²),
``d/dv E[H(v + ξ)] = N(v; 0, s²)`` (the "weak" surrogate of Wan, Zhang & Karniadakis,
arXiv:2411.07057, as reconstructed in ``shared/research/seeds.md`` §1.2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


#: a surrogate factor below this is treated as 0 (the derivatives of neurons this far from
#: threshold contribute nothing a float32 sum can see, and subnormal numbers are slow on CPUs)
NEGLIGIBLE = 2.0 ** -64


@dataclass(frozen=True)
class Surrogate:
    """Base class: a smooth primitive ``σ`` whose derivatives stand in for ``H'``.

    A subclass gives :meth:`primitive`, :meth:`derivative` and :meth:`closed_forms` (the first
    ``order ≤ 4`` derivatives, computing only those asked for: the forward-gradient engines call
    it at every neuron and time step, mostly for σ' alone); :meth:`derivatives` adds any higher
    order by forward-mode differentiation of σ^(4).
    """

    name: str = "base"

    def primitive(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def closed_forms(self, x: torch.Tensor, order: int) -> list[torch.Tensor]:
        """``[σ'(x), …, σ^(order)(x)]`` for ``1 ≤ order ≤ 4`` in closed form."""
        raise NotImplementedError  # pragma: no cover - abstract

    def derivatives(self, x: torch.Tensor, order: int) -> list[torch.Tensor]:
        """``[σ'(x), σ''(x), …, σ^(order)(x)]``: closed forms up to order 4, forward-mode
        derivatives of σ^(4) beyond (``[]`` for order 0)."""
        if order <= 0:
            return []
        out = self.closed_forms(x, min(order, 4))
        if order > 4:
            fn = lambda z: self.closed_forms(z, 4)[-1]  # noqa: E731
            one = torch.ones_like(x)
            for _ in range(order - 4):
                fn = (lambda g: (lambda z: torch.func.jvp(g, (z,), (one,))[1]))(fn)
                out.append(fn(x))
        return out


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """Logistic primitive ``σ(x) = 1/(1+e^{−kx})``; ``σ' = k σ(1−σ)``."""

    slope: float = 5.0
    name: str = "sigmoid"

    def primitive(self, x):
        return torch.sigmoid(self.slope * x)

    def derivative(self, x):
        s = torch.sigmoid(self.slope * x)
        return self.slope * s * (1 - s)

    def closed_forms(self, x, order):
        # q = s (1 − s) with s = sigmoid(k x): σ' = k q, σ'' = k² q (1 − 2s),
        # σ^(3) = k³ q (1 − 6q), σ^(4) = k⁴ q (1 − 2s)(1 − 12q); in place where autograd allows.
        # Far below threshold s underflows towards float32's subnormal range, which CPUs process
        # about ten times slower, and every product with it stays there: s < 2⁻⁶⁴ counts as 0
        # (every derivative then vanishes exactly; they are below 3·10⁻¹⁹ k⁴ there anyway).
        k = float(self.slope)
        s = torch.sigmoid(x * k)
        in_place = _in_place_ok(x)
        s = s.masked_fill_(s < NEGLIGIBLE, 0.0) if in_place else s.masked_fill(s < NEGLIGIBLE, 0.0)
        q = torch.rsub(s, 1.0).mul_(s) if in_place else (1 - s) * s
        out = [q * k]
        if order >= 2:
            one_minus_2s = 1 - 2 * s
            out.append(k ** 2 * q * one_minus_2s)
        if order >= 3:
            out.append(k ** 3 * q * (1 - 6 * q))
        if order >= 4:
            out.append(k ** 4 * q * one_minus_2s * (1 - 12 * q))
        return out


@dataclass(frozen=True)
class ATan(Surrogate):
    """Arctangent primitive (snnTorch's default shape), ``σ' = α / (2(1 + (παx/2)²))``."""

    alpha: float = 2.0
    name: str = "atan"

    def primitive(self, x):
        return 0.5 + torch.atan(0.5 * math.pi * self.alpha * x) / math.pi

    def derivative(self, x):
        return 0.5 * self.alpha / (1 + (0.5 * math.pi * self.alpha * x) ** 2)

    def closed_forms(self, x, order):
        # σ' = c r with r = 1/(1 + (a x)²), a = πα/2, c = α/2; differentiate the rational function
        a = 0.5 * math.pi * float(self.alpha)
        a2 = a * a
        c = 0.5 * float(self.alpha)
        r = (x * a).square_().add_(1.0).reciprocal_() if _in_place_ok(x) else 1 / ((x * a) ** 2 + 1)
        out = [r * c]
        if order >= 2:
            out.append(-2 * c * a2 * x * r ** 2)
        if order >= 3:
            out.append(c * (6 * a2 ** 2 * x * x - 2 * a2) * r ** 3)
        if order >= 4:
            out.append(c * 24 * a2 ** 2 * x * (1 - a2 * x * x) * r ** 4)
        return out


@dataclass(frozen=True)
class Gaussian(Surrogate):
    """Gaussian-CDF primitive; ``σ'`` is the N(0, s²) density (Stein / weak surrogate)."""

    width: float = 0.3
    name: str = "gaussian"

    def primitive(self, x):
        return 0.5 * (1 + torch.erf(x / (math.sqrt(2.0) * self.width)))

    def derivative(self, x):
        return torch.exp(-0.5 * (x / self.width) ** 2) / (self.width * math.sqrt(2 * math.pi))

    def closed_forms(self, x, order):
        w2 = self.width ** 2
        phi = self.derivative(x)
        # the density underflows to subnormal numbers a few widths from threshold (see Sigmoid)
        phi = phi.masked_fill(phi < NEGLIGIBLE, 0.0)
        out = [phi, -x / w2 * phi, (x * x / w2 - 1) / w2 * phi,
               (3 * x / w2 - x ** 3 / w2 ** 2) / w2 * phi]
        return out[:order]


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """SuperSpike's fast sigmoid: ``σ' = 1/(1 + k|x|)²``, primitive ``x/(1+k|x|)`` (+ 1/(2k)·0).

    The primitive ``x / (1 + k|x|)`` has range (−1/k, 1/k); only its derivatives are used, so
    the offset and scale of the value do not matter. Its second derivative jumps at 0.
    """

    slope: float = 25.0
    name: str = "fast_sigmoid"

    def primitive(self, x):
        return x / (1 + self.slope * x.abs())

    def derivative(self, x):
        return 1.0 / (1 + self.slope * x.abs()) ** 2

    def closed_forms(self, x, order):
        k = self.slope
        r = 1 / (1 + k * x.abs())
        sgn = torch.sign(x)
        out = [r ** 2, -2 * k * sgn * r ** 3, 6 * k ** 2 * r ** 4, -24 * k ** 3 * sgn * r ** 5]
        return out[:order]


def _in_place_ok(x: torch.Tensor) -> bool:
    """In-place arithmetic on intermediates is safe (and saves allocations in the engines) when
    no autograd graph and no torch.func transform watches them."""
    wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    return not (torch.is_grad_enabled() and x.requires_grad) and wrapped is not None and not wrapped(x)


SURROGATES = {"sigmoid": Sigmoid, "atan": ATan, "gaussian": Gaussian, "fast_sigmoid": FastSigmoid}


def make_surrogate(name: str = "sigmoid", **params) -> Surrogate:
    """Build a surrogate by name (``sigmoid``, ``atan``, ``gaussian``, ``fast_sigmoid``).

    Keyword arguments are the shape parameter of that surrogate (``slope``, ``alpha`` or
    ``width``).
    """
    try:
        cls = SURROGATES[name]
    except KeyError:
        raise ValueError(f"unknown surrogate '{name}'; expected one of {sorted(SURROGATES)}") from None
    return cls(**params)

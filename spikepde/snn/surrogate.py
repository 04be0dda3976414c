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


@dataclass(frozen=True)
class Surrogate:
    """Base class: a smooth primitive ``σ`` whose derivatives stand in for ``H'``."""

    name: str = "base"

    def primitive(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivatives(self, x: torch.Tensor, order: int) -> list[torch.Tensor]:
        """``[σ'(x), σ''(x), …, σ^(order)(x)]`` in closed form (order ≤ 4)."""
        raise NotImplementedError  # pragma: no cover - abstract


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

    def derivatives(self, x, order):
        k = self.slope
        s = torch.sigmoid(k * x)
        q = s * (1 - s)
        out = [k * q, k ** 2 * q * (1 - 2 * s), k ** 3 * q * (1 - 6 * q),
               k ** 4 * q * (1 - 2 * s) * (1 - 12 * q)]
        return out[:order]


@dataclass(frozen=True)
class ATan(Surrogate):
    """Arctangent primitive (snnTorch's default shape), ``σ' = α / (2(1 + (παx/2)²))``."""

    alpha: float = 2.0
    name: str = "atan"

    def primitive(self, x):
        return 0.5 + torch.atan(0.5 * math.pi * self.alpha * x) / math.pi

    def derivative(self, x):
        return 0.5 * self.alpha / (1 + (0.5 * math.pi * self.alpha * x) ** 2)

    def derivatives(self, x, order):
        # σ' = c/(1 + a²x²) with a = πα/2, c = α/2; differentiate the rational function.
        a2 = (0.5 * math.pi * self.alpha) ** 2
        c = 0.5 * self.alpha
        r = 1 / (1 + a2 * x * x)
        out = [c * r, -2 * c * a2 * x * r ** 2, c * (6 * a2 ** 2 * x * x - 2 * a2) * r ** 3,
               c * 24 * a2 ** 2 * x * (1 - a2 * x * x) * r ** 4]
        return out[:order]


@dataclass(frozen=True)
class Gaussian(Surrogate):
    """Gaussian-CDF primitive; ``σ'`` is the N(0, s²) density (Stein / weak surrogate)."""

    width: float = 0.3
    name: str = "gaussian"

    def primitive(self, x):
        return 0.5 * (1 + torch.erf(x / (math.sqrt(2.0) * self.width)))

    def derivative(self, x):
        return torch.exp(-0.5 * (x / self.width) ** 2) / (self.width * math.sqrt(2 * math.pi))

    def derivatives(self, x, order):
        w2 = self.width ** 2
        phi = self.derivative(x)
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

    def derivatives(self, x, order):
        k = self.slope
        r = 1 / (1 + k * x.abs())
        sgn = torch.sign(x)
        out = [r ** 2, -2 * k * sgn * r ** 3, 6 * k ** 2 * r ** 4, -24 * k ** 3 * sgn * r ** 5]
        return out[:order]


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

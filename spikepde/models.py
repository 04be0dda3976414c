"""Surrogate models as :class:`~spikepde.train.objective.FieldModel` s, and the trained result.

* :class:`SpikingField` binds a :class:`~spikepde.snn.network.SpikingMLP` to a parameter dict and a
  derivative estimator (``surrogate-jvp`` uses the network's Taylor-mode jets; ``stein`` and
  ``fd`` call the network on perturbed points).
* :class:`TanhMLP` / :class:`TanhField`: the classical PINN baseline, a tanh MLP whose input
  derivatives come from reverse-mode autograd (DeepXDE's recipe).
* :class:`TrainedSurrogate`: what :func:`spikepde.solve` returns — callable on new points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .derivatives import Autograd, SurrogateJVP
from .snn.network import SpikingMLP


class SpikingField:
    """A spiking network with fixed parameters, seen as a field u(X) with derivatives."""

    def __init__(self, net: SpikingMLP, params: dict[str, torch.Tensor], estimator=None):
        self.net = net
        self.params = params
        self.estimator = estimator or SurrogateJVP()

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        return self.net.forward(self.params, X)

    def fields(self, X: torch.Tensor, indices) -> dict[tuple[int, ...], torch.Tensor]:
        if isinstance(self.estimator, SurrogateJVP):
            return self.net.forward_jet(self.params, X, indices)
        return self.estimator.fields(self, X, indices)


@dataclass
class TanhMLP:
    """A fully connected tanh network (Glorot-normal init, zero biases), in functional form.

    Inputs are mapped from the box ``[lower, upper]`` to [−1, 1] like the spiking network's.
    """

    in_dim: int
    widths: tuple[int, ...] = (20, 20, 20)
    out_dim: int = 1
    lower: tuple[float, ...] | None = None
    upper: tuple[float, ...] | None = None

    def init_params(self, generator: torch.Generator, dtype=torch.float32, device="cpu"):
        """Glorot-normal weights, zero biases."""
        sizes = (self.in_dim,) + tuple(self.widths) + (self.out_dim,)
        params = {}
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            std = math.sqrt(2.0 / (a + b))
            w = torch.randn((b, a), generator=generator, dtype=dtype) * std
            params[f"layers.{i}.weight"] = w.to(device)
            params[f"layers.{i}.bias"] = torch.zeros(b, dtype=dtype, device=device)
        return params

    def forward(self, params, X: torch.Tensor) -> torch.Tensor:
        """u(X) → ``[N]`` (or ``[N, out_dim]``)."""
        h = X
        if self.lower is not None:
            lo = torch.as_tensor(self.lower, dtype=X.dtype, device=X.device)
            hi = torch.as_tensor(self.upper, dtype=X.dtype, device=X.device)
            h = (2 * X - (lo + hi)) / (hi - lo)
        n = len(self.widths)
        for i in range(n + 1):
            h = h @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"]
            if i < n:
                h = torch.tanh(h)
        return h[:, 0] if self.out_dim == 1 else h

    __call__ = forward

    def n_params(self) -> int:
        sizes = (self.in_dim,) + tuple(self.widths) + (self.out_dim,)
        return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


class TanhField:
    """A tanh MLP with fixed parameters; derivatives by reverse-mode autograd."""

    def __init__(self, net: TanhMLP, params: dict[str, torch.Tensor]):
        self.net, self.params = net, params
        self._autograd = Autograd()

    def __call__(self, X):
        return self.net.forward(self.params, X)

    def fields(self, X, indices):
        return self._autograd.fields(self, X, indices)


@dataclass
class TrainedSurrogate:
    """A trained surrogate, callable on new points.

    ``surrogate(points)`` takes an array-like ``[N, d]`` (columns in ``input_names`` order, time
    last) and returns a numpy array ``[N]``; spiking networks are evaluated with their true
    (hard-threshold) forward pass.
    """

    net: Any
    params: dict[str, torch.Tensor]
    input_names: tuple[str, ...]
    kind: str                      # "spiking" or "tanh"
    dtype: torch.dtype = torch.float32
    device: str = "cpu"
    meta: dict = field(default_factory=dict)
    transform: Any = None          # hard constraint u = offset + factor · N (CompiledTransform)

    def predict(self, points, batch: int = 8192) -> np.ndarray:
        """u at ``points`` (``[N, d]``) as a float64 numpy array."""
        X = torch.as_tensor(np.asarray(points, dtype=np.float64), dtype=self.dtype, device=self.device)
        if X.dim() == 1:
            X = X[:, None]
        if X.shape[1] != len(self.input_names):
            raise ValueError(f"expected points with {len(self.input_names)} columns "
                             f"({', '.join(self.input_names)}), got {X.shape[1]}")
        out = []
        with torch.no_grad():
            for chunk in X.split(batch):
                if self.kind == "spiking":
                    N = self.net.forward(self.params, chunk, differentiable=False)
                else:
                    N = self.net.forward(self.params, chunk)
                out.append(N if self.transform is None else self.transform.value(chunk, N))
        return torch.cat(out).double().cpu().numpy()

    __call__ = predict

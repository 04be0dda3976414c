"""Fields: a network with parameters seen as u(x), during training and as the trained result.

* :class:`SpikingField` binds a :class:`~spikepde.snn.network.SpikingMLP` to a parameter dict and a
  derivative estimator (``surrogate-jvp`` uses the network's Taylor-mode jets; ``stein`` and
  ``fd`` call the network on perturbed points): the
  :class:`~spikepde.train.objective.FieldModel` the spiking trainers hand to the objective.
  (The tanh baseline's counterpart, ``TanhField``, lives with its trainer in
  :mod:`spikepde.train.ann`.)
* :class:`TrainedField`: what :func:`spikepde.solve` returns — callable on new points.
  ``TrainedSurrogate`` is its earlier name ("surrogate" now means only the spike's smooth
  derivative).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .derivatives import SurrogateJVP
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
class TrainedField:
    """A trained field, callable on new points.

    ``surrogate(points)`` takes an array-like ``[N, d]`` (columns in ``input_names`` order, time
    last) and returns a numpy array ``[N]``; spiking networks are evaluated with their true
    (hard-threshold) forward pass.
    """

    net: Any
    params: dict[str, torch.Tensor]
    input_names: tuple[str, ...]
    kind: str                      # "spiking" (evaluated with hard spikes; spike statistics) or "tanh"
    dtype: torch.dtype = torch.float32
    device: str = "cpu"
    transform: Any = None          # hard constraint u = offset + factor · N (CompiledTransform)

    def predict(self, points, batch: int = 8192) -> np.ndarray:
        """u at ``points`` (``[N, d]``) as a float64 numpy array (``batch`` rows per call; the
        spiking MLP splits a call further into its own ``rows_per_block()``)."""
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


#: the earlier name of :class:`TrainedField`
TrainedSurrogate = TrainedField

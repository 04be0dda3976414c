"""Metrics of a trained surrogate on a reference grid.

* relative L2 error ``‖û − u‖₂ / ‖u‖₂`` over every finite reference point (DeepXDE's
  ``l2 relative error``; NaN points outside a non-box domain are skipped),
* maximum and mean absolute error,
* for spiking surrogates, the spike rate, synaptic operations and energy estimate of the
  forward pass over the grid (:mod:`spikepde.snn.energy`).
"""
from __future__ import annotations

import numpy as np
import torch

from .fields import TrainedField
from .reference.solution import ReferenceSolution
from .snn.energy import energy_report


def relative_l2(pred: np.ndarray, ref: np.ndarray) -> float:
    """‖pred − ref‖₂ / ‖ref‖₂ over the entries where ``ref`` is finite."""
    mask = np.isfinite(ref)
    return float(np.linalg.norm(pred[mask] - ref[mask]) / np.linalg.norm(ref[mask]))


def evaluate(surrogate: TrainedField, reference: ReferenceSolution) -> tuple[dict, np.ndarray]:
    """Metrics of ``surrogate`` against ``reference`` and the predicted grid values.

    Returns:
        ``(metrics, predicted)`` where ``predicted`` has the shape of ``reference.values``
        (NaN where the reference is NaN).
    """
    points = reference.points()
    ref = reference.values.reshape(-1)
    mask = np.isfinite(ref)
    pred = np.full_like(ref, np.nan)
    pred[mask] = surrogate.predict(points[mask])
    err = np.abs(pred[mask] - ref[mask])
    metrics = {
        "relative_l2": relative_l2(pred, ref),
        "max_abs_error": float(err.max()),
        "mean_abs_error": float(err.mean()),
        "reference_points": int(mask.sum()),
    }
    if surrogate.kind == "spiking":
        X = torch.as_tensor(points[mask], dtype=surrogate.dtype, device=surrogate.device)
        _, stats = surrogate.net.forward_stats(surrogate.params, X)
        metrics.update(energy_report(stats))
    return metrics, pred.reshape(reference.values.shape)

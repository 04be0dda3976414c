"""Metrics of a trained surrogate on a reference grid.

* relative L2 error ``‖û − u‖₂ / ‖u‖₂`` over every finite reference point (DeepXDE's
  ``l2 relative error``; NaN points outside a non-box domain are skipped),
* maximum and mean absolute error,
* for spiking surrogates, the spike rate, synaptic operations and energy estimate of the
  forward pass over the grid (:mod:`spikepde.snn.energy`).

A problem without a reference (no closed form, no named solver) is evaluated on a grid of its
domain only (:func:`grid_without_reference`: values 0 inside, NaN in excluded boxes, marked
``meta["grid_only"]``); :func:`residual_metrics` then says what can be known without a
solution: the PDE residual of the field as it is evaluated (strong, by central differences, and
weak, by B-spline tests) and each condition's violation.
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
    if reference.meta.get("grid_only"):
        metrics = {"reference": "none", "grid_points": int(mask.sum())}
    else:
        err = np.abs(pred[mask] - ref[mask])
        metrics = {
            "relative_l2": relative_l2(pred, ref),
            "max_abs_error": float(err.max()),
            "mean_abs_error": float(err.mean()),
            "reference_points": int(mask.sum()),
        }
        if "field_check" in reference.meta:          # how well the reference solves the file
            metrics["reference_check"] = reference.meta["field_check"]
        if reference.meta.get("solver") == "auto":   # a computed reference carries its accuracy
            metrics.update(reference_solver=f"auto ({reference.meta['method']})",
                           reference_resolution=reference.meta["resolution"],
                           reference_error_estimate=reference.meta["error_estimate"])
    if surrogate.kind == "spiking":
        X = torch.as_tensor(points[mask], dtype=surrogate.dtype, device=surrogate.device)
        _, stats = surrogate.net.forward_stats(surrogate.params, X)
        metrics.update(energy_report(stats))
    return metrics, pred.reshape(reference.values.shape)


def grid_without_reference(problem) -> ReferenceSolution:
    """The evaluation grid of a problem without a reference (its ``reference.grid``, by default
    about 40 000 points): values 0 inside the domain, NaN in excluded boxes, ``meta["grid_only"]``
    set so that no error against it is ever reported."""
    axes = problem.reference.axes()
    grid = ReferenceSolution(axes=axes, values=np.zeros(tuple(len(a) for a in axes.values())),
                             meta={"grid_only": True, "problem": problem.name})
    grid.values[problem.excluded_mask(grid.points()).reshape(grid.shape)] = np.nan
    return grid


def residual_metrics(surrogate: TrainedField, compiled, *, seed: int = 12345,
                     points: int = 2048, tests_per_axis: int = 16, step: float = 0.01) -> dict:
    """What can be known of a field without a solution, on points not used in training.

    * ``strong_residual_rms``: RMS of the PDE residual at ``points`` fresh random points of the
      domain, the derivatives taken by central differences of the field *as it is evaluated*
      (step ``step`` times each axis' length: a spiking field is piecewise constant, so its
      derivatives exist only at a scale; this is the scale of the default grids).
    * ``weak_residual_rms``: RMS over cubic B-spline tests (``tests_per_axis`` per axis, unit
      integral) of ⟨r(u), ψ_k⟩, a local average of the residual in its units, from values only;
      None where the weak form does not take the residual (``weak_residual_note`` says why).
    * ``condition_rms``: per condition, the RMS violation at ``points`` fresh random points of
      its faces (derivatives by the same central differences).
    """
    from .train.weak_form import WeakForm, weak_applies

    generator = torch.Generator().manual_seed(seed)
    lengths = (compiled.upper - compiled.lower).double().cpu()
    out: dict = {"finite_difference_step": step}
    X = compiled.sample_interior(points, generator)
    fields = _difference_fields(surrogate, X, compiled.derivatives, step * lengths)
    out["strong_residual_rms"] = _rms(compiled.residual(X.double(), fields))
    out["condition_rms"] = {}
    for condition in compiled.conditions:
        X = condition.sample(points, generator)
        fields = _difference_fields(surrogate, X, condition.derivatives, step * lengths)
        out["condition_rms"][condition.name] = _rms(condition.residual(X.double(), fields))
    reason = weak_applies(compiled)
    out["weak_residual_rms"] = None
    if reason is None:
        weak = WeakForm(compiled, test_per_axis=tests_per_axis, quad_per_interval=3)
        values = surrogate.predict(weak.points.cpu().numpy())
        out["weak_residual_rms"] = _rms(weak.residual(torch.as_tensor(values, dtype=weak.dtype,
                                                                      device=weak.device)))
        out["weak_residual_tests"] = int(weak.n_tests)
    else:
        out["weak_residual_note"] = reason
    return out


#: Central-difference weights (offsets -2..2) for derivative orders 0..4, second-order accurate.
_CENTRAL = {0: [0, 0, 1, 0, 0], 1: [0, -0.5, 0, 0.5, 0], 2: [0, 1, -2, 1, 0],
            3: [-0.5, 1, 0, -1, 0.5], 4: [1, -4, 6, -4, 1]}


def _difference_fields(surrogate: TrainedField, X: torch.Tensor, indices, steps) -> dict:
    """``{multi-index: ∂^α u at X}`` by tensor products of central differences of the field's
    values (float64)."""
    import itertools

    X = X.double().cpu()
    fields = {}
    for index in indices:
        per_axis = [[(o - 2, w / float(steps[i]) ** k) for o, w in enumerate(_CENTRAL[k]) if w]
                    for i, k in enumerate(index)]
        total = torch.zeros(X.shape[0], dtype=torch.float64)
        for combo in itertools.product(*per_axis):
            shift = torch.tensor([o * float(steps[i]) for i, (o, _) in enumerate(combo)],
                                 dtype=torch.float64)
            weight = float(np.prod([w for _, w in combo]))
            total += weight * torch.as_tensor(surrogate.predict((X + shift).numpy()), dtype=torch.float64)
        fields[tuple(index)] = total
    return fields


def _rms(values: torch.Tensor) -> float:
    return float(torch.sqrt(torch.mean(values.double() ** 2)))

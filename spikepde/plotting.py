"""Plots of a run: where the error lives, and how the loss went.

* :func:`plot_fields` — predicted, reference and |error| side by side: heatmaps over (x, t) or
  (x, y) with colour bars; line plots for a 1-D problem; for 2-D-in-space time-dependent problems
  one row per time slice (several times, first and last included), with one |error| colour scale
  for all slices so the rows compare.
* :func:`plot_loss` — loss terms against the step on a log scale.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot state, no backend
switch), so they render on headless machines and in CI and leave a notebook's backend alone.
Constrained layout places every element (the title included), so the PNG is written without
``bbox_inches="tight"``, which would lay the figure out and draw it a second time (about 10-15 %
of a figure's time on one core; the plots are over half of a tiny CLI run, 0.7-0.9 s for one
heatmap row, about 3 s for four).
Each PNG carries ``Title`` and ``Description`` text chunks saying what its panels show (read them
with ``PIL.Image.open(path).text``), e.g. the times of the slices.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .reference.solution import ReferenceSolution
from .runs import atomic_write_bytes


def new_figure(nrows=1, ncols=1, figsize=(6, 4), squeeze=True, layout="constrained"):
    """A pyplot-free ``Figure`` and its axes (``fig.subplots``)."""
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def save_figure(fig, path, *, title: str = "", description: str = "") -> Path:
    """Write ``fig`` as a PNG atomically, with ``Title``/``Description`` text chunks."""
    import io

    metadata = {k: v for k, v in (("Title", title), ("Description", description)) if v}
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata=metadata)
    return atomic_write_bytes(path, buf.getvalue())


def _heat(ax, x, y, values, title, xlabel, ylabel, cmap, label, vmin=None, vmax=None):
    mesh = ax.pcolormesh(x, y, values.T, shading="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.figure.colorbar(mesh, ax=ax, label=label)


def plot_prediction(grid: ReferenceSolution, predicted: np.ndarray, path, *, title: str = "",
                    output: str = "u", n_slices: int = 4) -> Path:
    """Save a figure of ``predicted`` on ``grid`` (a problem without a reference): a line in
    1-D, a heatmap in 2-D, heatmaps at ``n_slices`` times beyond."""
    names = grid.names
    axes = list(grid.axes.values())
    pred = np.where(np.isfinite(grid.values), np.asarray(predicted).reshape(grid.values.shape), np.nan)
    if len(names) == 1:
        fig, a0 = new_figure(1, 1, figsize=(6, 3.6))
        a0.plot(axes[0], pred, "r-")
        a0.set_xlabel(names[0]); a0.set_ylabel(output); a0.set_title("surrogate (no reference)")
        description = f"1-D: the surrogate over {names[0]} (no reference known)"
    else:
        times = ([None] if len(names) == 2 else
                 np.linspace(0, len(axes[-1]) - 1, min(n_slices, len(axes[-1]))).round().astype(int))
        fig, ax = new_figure(1, len(times), figsize=(5 * len(times), 4), squeeze=False)
        lo, hi = np.nanmin(pred), np.nanmax(pred)
        for a, k in zip(ax[0], times):
            vals = pred if k is None else pred[:, :, k] if len(names) == 3 else \
                pred[(slice(None), slice(None)) + (0,) * (len(names) - 3) + (k,)]   # 4-D: first slice
            label = "surrogate" if k is None else f"surrogate, {names[-1]} = {axes[-1][k]:.3g}"
            _heat(a, axes[0], axes[1], vals, label, names[0], names[1], "RdBu_r", output, lo, hi)
        description = (f"heatmaps of the surrogate over ({names[0]}, {names[1]}) "
                       "(no reference known)")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, title=title or "surrogate", description=description)


def plot_fields(reference: ReferenceSolution, predicted: np.ndarray, path, *, title: str = "",
                output: str = "u", n_slices: int = 4) -> Path:
    """Save a figure comparing ``predicted`` with ``reference`` (same grid) to ``path``."""
    if reference.meta.get("grid_only"):      # no reference: the prediction alone
        return plot_prediction(reference, predicted, path, title=title, output=output,
                               n_slices=n_slices)
    names = reference.names
    axes = list(reference.axes.values())
    ref, pred = reference.values, np.asarray(predicted).reshape(reference.values.shape)
    err = np.abs(pred - ref)
    vmin, vmax = np.nanmin(ref), np.nanmax(ref)
    if len(names) == 1:
        fig, (a0, a1) = new_figure(1, 2, figsize=(10, 3.6))
        a0.plot(axes[0], ref, "k-", label="reference")
        a0.plot(axes[0], pred, "r--", label="surrogate")
        a0.set_xlabel(names[0]); a0.set_ylabel(output); a0.legend(); a0.set_title("solution")
        a1.semilogy(axes[0], np.maximum(err, 1e-16), "b-")
        a1.set_xlabel(names[0]); a1.set_ylabel(f"|{output} error|"); a1.set_title("absolute error")
        description = f"1-D: surrogate and reference over {names[0]}; |error| (log scale)"
    elif len(names) == 2:
        fig, ax = new_figure(1, 3, figsize=(15, 4))
        for a, (vals, t, cmap, lab) in zip(ax, [
                (pred, "surrogate", "RdBu_r", output), (ref, "reference", "RdBu_r", output),
                (err, "|error|", "magma", f"|{output} error|")]):
            lo, hi = (vmin, vmax) if cmap != "magma" else (None, None)
            _heat(a, axes[0], axes[1], vals, t, names[0], names[1], cmap, lab, lo, hi)
        description = f"heatmaps over ({names[0]}, {names[1]}): surrogate, reference, |error|"
    else:
        times = np.linspace(0, len(axes[-1]) - 1, min(n_slices, len(axes[-1]))).round().astype(int)
        fig, ax = new_figure(len(times), 3, figsize=(15, 3.6 * len(times)), squeeze=False)
        emax = np.nanmax(err) if np.isfinite(err).any() else None
        for row, k in enumerate(times):
            tlabel = f"{names[-1]} = {axes[-1][k]:.3g}"
            sl = (slice(None), slice(None), k) if len(names) == 3 else (Ellipsis, k)
            for a, (vals, t, cmap, lab) in zip(ax[row], [
                    (pred[sl], "surrogate", "RdBu_r", output), (ref[sl], "reference", "RdBu_r", output),
                    (err[sl], "|error|", "magma", f"|{output} error|")]):
                lo, hi = (vmin, vmax) if cmap != "magma" else (0.0, emax)
                _heat(a, axes[0], axes[1], vals, f"{t}, {tlabel}", names[0], names[1], cmap, lab, lo, hi)
        description = (f"heatmaps over ({names[0]}, {names[1]}): surrogate, reference, |error| at "
                       f"{len(times)} time slices {names[-1]} = "
                       + ", ".join(f"{axes[-1][k]:.3g}" for k in times))
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, title=title, description=description)


def plot_loss(history: dict, path, title: str = "") -> Path:
    """Loss terms (``history["step"]`` and one list per term) against the step, log scale."""
    fig, ax = new_figure(figsize=(7, 4))
    steps = history.get("step", [])
    for name, values in history.items():
        if name in ("step", "time") or not isinstance(values, list) or not values:
            continue
        ax.semilogy(steps[: len(values)], np.maximum(np.asarray(values, dtype=float), 1e-30), label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss term")
    ax.legend()
    ax.set_title(title or "training loss")
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, path, title=title or "training loss",
                 description="loss terms against the step (log scale)")

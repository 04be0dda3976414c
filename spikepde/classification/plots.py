"""Plots of a classification run: confusion matrix, per-class accuracy, training curves, spike raster.

Each function draws one figure and saves it to ``path`` (PNG, written atomically). Figures are
``matplotlib.figure.Figure`` objects (no pyplot state, no backend switch), so they render
headless in tests and benchmarks and leave a notebook's backend alone.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plotting import new_figure, save_figure


def plot_confusion(confusion, classes, path) -> Path:
    """Row-normalised confusion matrix ``P(predicted = j | true = i)`` with the counts written in."""
    conf = np.asarray(confusion, dtype=float)
    norm = conf / np.maximum(conf.sum(1, keepdims=True), 1)
    fig, ax = new_figure(figsize=(5.5, 4.8), layout="tight")
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(conf)):
        for j in range(len(conf)):
            if conf[i, j]:
                ax.text(j, i, int(conf[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xlabel="predicted", ylabel="true",
           title="confusion matrix (test)")
    ax.set_xticklabels(classes, rotation=90, fontsize=7)
    ax.set_yticklabels(classes, fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return save_figure(fig, path)


def plot_per_class(per_class, classes, path, group_sizes=None) -> Path:
    """Bar chart of per-class test accuracy; the final class-group sizes of layer 1 on a twin axis."""
    fig, ax = new_figure(figsize=(6, 3.5), layout="tight")
    x = np.arange(len(classes))
    ax.bar(x, per_class, color="tab:blue", label="test accuracy")
    ax.set(xticks=x, ylim=(min(0.5, min(per_class) - 0.05), 1.0), ylabel="accuracy",
           title="per-class accuracy (test)")
    ax.set_xticklabels(classes, rotation=45, fontsize=7)
    if group_sizes is not None:
        twin = ax.twinx()
        twin.plot(x, group_sizes, "o-", color="tab:orange", label="group size (layer 1)")
        twin.set_ylabel("units in class group")
        twin.legend(loc="lower right", fontsize=7)
    return save_figure(fig, path)


def plot_training(history: dict, path) -> Path:
    """Per-layer training loss and validation accuracy (per layer and overall) against the epoch."""
    fig, (a1, a2) = new_figure(1, 2, figsize=(9, 3.5), layout="tight")
    epochs = history["epoch"]
    losses = np.asarray(history["loss_per_layer"])
    for l in range(losses.shape[1] if losses.ndim == 2 else 0):
        a1.plot(epochs, losses[:, l], label=f"layer {l + 1}" if losses.shape[1] > 1 else "loss")
    a1.set(xlabel="epoch", ylabel="training loss", yscale="log", title="training loss")
    a1.legend(fontsize=7)
    per_layer = np.asarray(history["val_accuracy_per_layer"])
    for l in range(per_layer.shape[1] if per_layer.ndim == 2 else 0):
        a2.plot(epochs, per_layer[:, l], lw=0.8, label=f"layer {l + 1}")
    a2.plot(epochs, history["val_accuracy"], "k-", lw=1.5, label="overall (readout)")
    a2.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy")
    a2.legend(fontsize=7)
    return save_figure(fig, path)


def plot_raster(layer_spikes, path, title: str = "spike raster of one test sample") -> Path:
    """Raster of every layer's spikes for one sample: ``layer_spikes`` is a list of ``[T, n]`` arrays."""
    fig, axes = new_figure(1, len(layer_spikes), figsize=(3.2 * len(layer_spikes), 3.2), squeeze=False,
                           layout="tight")
    for l, (ax, s) in enumerate(zip(axes[0], layer_spikes)):
        s = np.asarray(s)
        t, n = np.nonzero(s)
        ax.scatter(t, n, s=1.5, marker="|", color="k")
        ax.set(xlim=(-0.5, s.shape[0] - 0.5), ylim=(-0.5, s.shape[1] - 0.5), xlabel="time step",
               ylabel="neuron" if l == 0 else None, title=f"layer {l + 1} (rate {s.mean():.2f})")
    fig.suptitle(title)
    return save_figure(fig, path)

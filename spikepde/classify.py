"""``spikepde.classify``: image classification with the spiking engine (FF, BPTT or ADMM).

Evaluation protocol (the honest one; FFGAF-SNN's public code differs on every point, see
``shared/research/seeds.md`` §3.6):

* **splits**: the test set is fixed (the data set's own, or a stratified 20 % of ``digits``
  drawn with a fixed seed); a stratified validation split is carved from the training part
  (:mod:`spikepde.datasets`);
* **normalisation**: per-channel mean and standard deviation from the *training split only*;
* **eval mode**: batch normalisation uses its running statistics (folded into the weights), no
  dropout, spikes from the true LIF forward pass (no surrogate, no straight-through path);
* **selection**: the epoch, the overall readout (which layers' goodness are combined) and the
  class-aware adaptation all read the *validation* split; the test set is scored once, at the
  end, with the selected model (``metrics["selection"] == "validation"``).

Peak memory is measured as ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the process's resident
set high-water mark) after training minus the resident set size just before training (psutil, or
``/proc/self/statm``); it is meaningful in a fresh process (the benchmark runs one per measurement).
``torch.cuda.max_memory_allocated`` is reported too on CUDA.
"""
from __future__ import annotations

import os
import sys
import resource
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .datasets import ClassificationData, load_dataset
from .runs import RunDir
from .snn.energy import energy_report
from .train.forward_forward import FFConfig, SpikingClassifier, combine_scores

METHODS = ("ff", "bptt", "admm")

# Per-data-set defaults (overridable through **options). The MLP is the only body implemented.
DEFAULTS = {
    "digits": dict(hidden=(200, 200, 200), T=8, epochs=30, batch_size=64, dropout=0.1, val_fraction=0.1),
    "mnist": dict(hidden=(1000, 1000, 1000), T=8, epochs=20, batch_size=128, dropout=0.1, val_fraction=0.1),
    "fashion-mnist": dict(hidden=(1000, 1000, 1000), T=8, epochs=30, batch_size=128, dropout=0.2,
                          val_fraction=0.1),
    "cifar10": dict(hidden=(2000, 2000, 2000), T=8, epochs=30, batch_size=128, dropout=0.2, val_fraction=0.1),
}


@dataclass
class ClassifyResult:
    """Outcome of :func:`classify`.

    Attributes:
        dataset, method: what was run.
        accuracy: overall test accuracy (readout chosen on validation).
        per_layer_accuracy: test accuracy of each layer's own goodness argmax (FF/BPTT).
        per_class_accuracy: test recall of each class.
        confusion: ``[C, C]`` test counts, rows = true class.
        metrics: everything written to ``metrics.json``.
        history: per-epoch training record.
        config: everything written to ``config.json``.
        out: the run directory (None when nothing was written).
        model: the trained :class:`SpikingClassifier` (None for ADMM).
        predict: ``predict(X [N, D] standardised) -> scores [N, C]``.
    """

    dataset: str
    method: str
    accuracy: float
    per_layer_accuracy: list[float]
    per_class_accuracy: list[float]
    confusion: list[list[int]]
    metrics: dict
    history: dict
    config: dict
    out: Path | None = None
    model: SpikingClassifier | None = None
    predict: Callable | None = field(default=None, repr=False)


def classify(dataset: str = "digits", method: str = "ff", epochs: int | None = None, seed: int = 0,
             data_dir: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
             device: str = "cpu", quiet: bool = False, *, adaptation: bool = True,
             variant: str = "cwc", plots: bool = True, limit: int | None = None,
             **options) -> ClassifyResult:
    """Train a spiking classifier and score it once on the test set.

    Args:
        dataset: ``digits`` (default, offline), ``mnist``, ``fashion-mnist`` or ``cifar10``.
        method: ``ff`` (Forward-Forward, layer-local, :mod:`spikepde.train.forward_forward`),
            ``bptt`` (surrogate-gradient BPTT on the same network,
            :mod:`spikepde.train.classify_bptt`) or ``admm`` (delegated to
            ``spikepde.train.admm.train_classifier``, see below).
        epochs: training epochs (ADMM: iterations); None = the data set's default.
        seed: seeds the one generator of the trainer (init, shuffling, dropout, negatives).
            The splits do not depend on it. Same seed → same numbers on CPU.
        data_dir: folder with the MNIST/Fashion-MNIST IDX or CIFAR-10 binary files.
        out: run directory (config.json, metrics.json, history.json, checkpoint.pt, plots);
            None writes nothing.
        device: torch device (``"cuda"`` for the large data sets).
        quiet: no progress bar.
        adaptation: class-aware complexity adaptation on/off (FF only).
        variant: FF goodness: ``"cwc"`` (class groups, one-pass prediction) or ``"hinton"``
            (label in the input, C passes).
        plots: write the PNG figures into ``out``.
        limit: keep at most this many training and test samples (smoke runs).
        **options: any :class:`~spikepde.train.forward_forward.FFConfig` field (``hidden``,
            ``T``, ``lr``, ``batch_size``, ``dropout``, ``goodness_scale``, ``adapt_alpha``,
            ``adapt_every``, ``adapt_mode``, …) and ``val_fraction``.

    ADMM contract (implemented in ``spikepde.train.admm`` by its owner)::

        train_classifier(X_train, y_train, X_val, y_val, *, hidden, T, seed, iterations, quiet)
            -> (predict_fn, history: dict, extra_metrics: dict)

    with standardised float32 ``[N, D]`` tensors and int64 labels; ``predict_fn(X) -> [N, C]``
    scores computed with the true LIF forward pass. Model selection inside it must use only
    ``X_val``/``y_val``.

    Returns:
        A :class:`ClassifyResult`; ``metrics["selection"] == "validation"``.
    Raises:
        DataError: data files missing or malformed. ValueError: unknown method/option.
        NotImplementedError: ``admm`` without ``spikepde.train.admm.train_classifier``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")
    key = dataset.lower().replace("_", "-").replace("cifar-10", "cifar10")
    settings = {**DEFAULTS.get(key, DEFAULTS["digits"]), **options}
    if epochs is not None:
        settings["epochs"] = int(epochs)
    val_fraction = settings.pop("val_fraction")
    config = _make_config(settings, variant, adaptation)
    data = load_dataset(key, data_dir, val_fraction=val_fraction, limit=limit)
    tensors, norm = _prepare(data, device)
    run = RunDir(out)
    run_config = {"dataset": data.name, "method": method, "seed": seed, "device": device,
                  "val_fraction": val_fraction, "limit": limit, "split_sizes": data.sizes(),
                  "normalisation": norm, "model": config.to_dict()}
    run.write_json("config.json", run_config)
    rss_before = _current_rss()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    trained = _train(method, tensors, config, seed, quiet)
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    memory = _memory_report(rss_before, device)
    result = _evaluate(trained, tensors, data, method, config)
    result.metrics.update(memory)
    result.metrics.update({"wall_time_s": wall, "train_seconds": trained.get("train_seconds", wall),
                           "cpu_time_s": cpu, "torch_threads": torch.get_num_threads()})
    result.config, result.out = run_config, run.path
    _write_run(run, result, trained, tensors, data, plots)
    return result


# --------------------------------------------------------------------------- pieces
def _make_config(settings: dict, variant: str, adaptation: bool) -> FFConfig:
    known = {f.name for f in fields(FFConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown classify option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return FFConfig(**{**settings, "variant": variant, "adaptation": adaptation})


def _prepare(data: ClassificationData, device: str):
    """Flatten, standardise per channel with training-split statistics, move to ``device``."""
    axes = (0,) + tuple(range(2, data.X_train.ndim))
    mean = data.X_train.mean(axis=axes, keepdims=True)
    std = data.X_train.std(axis=axes, keepdims=True) + 1e-6

    def to_tensor(X):
        return torch.as_tensor(((X - mean) / std).reshape(len(X), -1), dtype=torch.float32, device=device)

    tensors = {"X_train": to_tensor(data.X_train), "X_val": to_tensor(data.X_val), "X_test": to_tensor(data.X_test)}
    for split in ("train", "val", "test"):
        tensors[f"y_{split}"] = torch.as_tensor(getattr(data, f"y_{split}"), dtype=torch.long, device=device)
    norm = {"per_channel_mean": mean.ravel().tolist(), "per_channel_std": std.ravel().tolist(),
            "from": "training split only"}
    return tensors, norm


def _train(method: str, t: dict, config: FFConfig, seed: int, quiet: bool) -> dict:
    args = (t["X_train"], t["y_train"], t["X_val"], t["y_val"])
    if method == "admm":
        return _train_admm(args, config, seed, quiet)
    if method == "ff":
        from .train.forward_forward import train
    else:
        from .train.classify_bptt import train
    res = train(*args, config, seed=seed, quiet=quiet)
    return {"model": res.model, "history": res.history, "best_epoch": res.best_epoch,
            "val_accuracy": res.val_accuracy, "activation_bytes": res.activation_bytes,
            "train_seconds": res.train_seconds, "extra": {}}


def _train_admm(args, config: FFConfig, seed: int, quiet: bool) -> dict:
    try:
        from .train import admm
    except ImportError:
        admm = None
    if admm is None or not hasattr(admm, "train_classifier"):
        raise NotImplementedError("method 'admm' needs spikepde.train.admm.train_classifier(X_train, y_train, "
                                  "X_val, y_val, *, hidden, T, seed, iterations, quiet), which is not available yet")
    predict, history, extra = admm.train_classifier(*args, hidden=config.hidden, T=config.T, seed=seed,
                                                    iterations=config.epochs, quiet=quiet)
    return {"model": None, "predict": predict, "history": history, "extra": dict(extra or {}),
            "activation_bytes": (extra or {}).get("activation_bytes")}


def _evaluate(trained: dict, t: dict, data: ClassificationData, method: str, config: FFConfig) -> ClassifyResult:
    """Score the selected model on the test set — the only place the test set is used."""
    model: SpikingClassifier | None = trained["model"]
    y = t["y_test"]
    C = data.n_classes
    if model is not None:
        layer_scores = model.layer_scores(t["X_test"])
        scores = combine_scores(layer_scores, model.readout)
        per_layer = [_accuracy(s, y) for s in layer_scores]
        predict = model.predict
    else:
        predict = trained["predict"]
        scores, per_layer = predict(t["X_test"]), []
    pred = scores.argmax(1)
    confusion = torch.zeros(C, C, dtype=torch.long)
    confusion.index_put_((y.cpu(), pred.cpu()), torch.ones(len(y), dtype=torch.long), accumulate=True)
    per_class = (confusion.diag().double() / confusion.sum(1).clamp_min(1)).tolist()
    metrics = {"dataset": data.name, "method": method, "variant": config.variant if method == "ff" else None,
               "adaptation": config.adaptation if method == "ff" else None,
               "test_accuracy": _accuracy(scores, y), "test_accuracy_per_layer": per_layer,
               "per_class_accuracy": per_class, "confusion_matrix": confusion.tolist(),
               "classes": list(data.classes), "selection": "validation",
               "val_accuracy": trained.get("val_accuracy"), "best_epoch": trained.get("best_epoch"),
               "readout_layers": [l + 1 for l in model.readout] if model is not None else None,
               "activation_bytes_held_for_update": trained.get("activation_bytes"),
               "activation_bytes_note": ("saved-for-backward tensors of one update, measured with autograd "
                                         "saved-tensor hooks (parameters excluded); FF: the largest single "
                                         "layer, BPTT: all layers x T")}
    metrics.update(trained.get("extra", {}))
    if model is not None:
        metrics.update(_energy(model, t["X_test"]))
    return ClassifyResult(data.name, method, metrics["test_accuracy"], per_layer, per_class,
                          confusion.tolist(), metrics, trained["history"], {}, None, model, predict)


def _energy(model: SpikingClassifier, X: torch.Tensor) -> dict:
    """Spike rate, synaptic operations and the energy estimate of test-set inference (per sample)."""
    report = energy_report(model.spike_stats(X))
    passes = model.n_classes if model.variant == "hinton" else 1
    for k in ("synaptic_ops_per_sample", "macs_per_sample", "neuron_updates_per_sample",
              "energy_pj_per_sample", "dense_equivalent_energy_pj_per_sample"):
        report[k] *= passes
    report["inference_passes"] = passes
    report["energy_note"] = "estimate: 0.9 pJ/AC, 4.6 pJ/MAC (45 nm, Horowitz 2014), compute only"
    return report


def _accuracy(scores: torch.Tensor, y: torch.Tensor) -> float:
    return float((scores.argmax(1) == y).float().mean())


def _cpu_seconds() -> float:
    """User + system CPU time of this process (wall time is misleading on a shared machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _current_rss() -> int:
    """Resident set size now, in bytes (psutil, else /proc/self/statm)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _memory_report(rss_before: int, device: str) -> dict:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024     # KiB on Linux
    report = {"peak_rss_mb": peak / 2**20, "peak_rss_delta_mb": max(0, peak - rss_before) / 2**20,
              "memory_method": "ru_maxrss after training minus RSS before training (fresh process)"}
    if device.startswith("cuda"):
        report["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return report


def _write_run(run: RunDir, result: ClassifyResult, trained: dict, t: dict, data, plots: bool) -> None:
    if not run:
        return
    run.write_json("metrics.json", result.metrics)
    run.write_json("history.json", result.history)
    if result.model is not None:
        run.save_checkpoint({"model": result.model.state(), "method": result.method,
                             "config": result.config["model"], "seed": result.config["seed"],
                             "normalisation": result.config["normalisation"]})
    if plots:
        _plots(run, result, t, data)


def _plots(run: RunDir, result: ClassifyResult, t: dict, data) -> None:
    from . import plot_classify as pc

    classes = list(data.classes)
    pc.plot_confusion(result.confusion, classes, run.file("confusion.png"))
    sizes = None
    if result.model is not None and result.model.variant == "cwc":
        sizes = torch.bincount(result.model.groups[0], minlength=len(classes)).tolist()
    pc.plot_per_class(result.per_class_accuracy, classes, run.file("per_class_accuracy.png"), sizes)
    if result.history.get("epoch"):
        pc.plot_training(result.history, run.file("training.png"))
    if result.model is not None:
        x = t["X_test"][:1]
        if result.model.variant == "hinton":
            x = result.model.with_label(x, t["y_test"][:1])
        spikes = [s[:, 0].cpu().numpy() for s in result.model.layer_spikes(x)]
        pc.plot_raster(spikes, run.file("raster.png"),
                       title=f"spikes of test sample 0 (class {classes[int(t['y_test'][0])]})")


def load_classifier(path: str | os.PathLike) -> tuple[SpikingClassifier, dict]:
    """Rebuild a trained classifier from a run directory's ``checkpoint.pt`` (weights_only load)."""
    from .runs import load_checkpoint

    path = Path(path)
    state = load_checkpoint(path / "checkpoint.pt" if path.is_dir() else path)
    return SpikingClassifier.from_state(state["model"]), state


__all__ = ["classify", "ClassifyResult", "load_classifier", "METHODS", "DEFAULTS"]




# ``import spikepde.classify`` (which the lazy ``spikepde.classify`` wrapper also does on its
# first call) rebinds the package attribute to this module, so the module itself must be
# callable for ``spikepde.classify(...)`` to keep working (the same fix as spikepde.study).
class _CallableModule(type(sys.modules[__name__])):
    def __call__(self, *args, **kwargs):
        return classify(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

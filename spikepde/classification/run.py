"""``spikepde.classify``: image classification with the spiking engine (FF, BPTT or ADMM).

The methods are looked up in :data:`spikepde.train.registry.CLASSIFIERS`; this module holds the
evaluation protocol around them and the run directory.

Evaluation protocol (the honest one; FFGAF-SNN's public code differs on every point, see
``shared/research/seeds.md`` §3.6):

* **splits**: the test set is fixed (the data set's own, or a stratified 20 % of ``digits``
  drawn with a fixed seed); a stratified validation split is carved from the training part
  (:mod:`spikepde.classification.datasets`);
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
import resource
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

import torch

from ..runs import RunDir
from ..snn.classifier import SpikingClassifier, combine_scores
from ..snn.energy import energy_report
from ..train.classifier_training import ClassifierConfig
from ..train.registry import CLASSIFIERS
from .datasets import ClassificationData, load_dataset, standardise

# Per-data-set defaults (overridable through **options). The MLP is the only body implemented.
DEFAULTS = {
    "digits": dict(hidden=(200, 200, 200), T=8, epochs=30, batch_size=64, dropout=0.1, val_fraction=0.1),
    "mnist": dict(hidden=(1000, 1000, 1000), T=8, epochs=20, batch_size=128, dropout=0.1, val_fraction=0.1),
    "fashion-mnist": dict(hidden=(1000, 1000, 1000), T=8, epochs=30, batch_size=128, dropout=0.2,
                          val_fraction=0.1),
    "cifar10": dict(hidden=(2000, 2000, 2000), T=8, epochs=30, batch_size=128, dropout=0.2, val_fraction=0.1),
}
#: What a method needs instead, by data set (over DEFAULTS, under **options). ADMM learns the
#: readout of one wide layer (docs/methods/admm.md): on digits 256 x 1 with 20 iterations is
#: benchmarks/admm.py's setting (95.0 % test), where the shared 200 x 3 with 30 gave 89.4 %.
METHOD_DEFAULTS = {("admm", "digits"): dict(hidden=(256,), epochs=20)}


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
        paths: name → path of every file written (empty when ``out`` is None), as
            :attr:`spikepde.RunResult.paths`.
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
    paths: dict[str, Path] = field(default_factory=dict)
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
        method: a name of :data:`~spikepde.train.registry.CLASSIFIERS`: ``ff`` (Forward-Forward,
            layer-local, :mod:`spikepde.train.forward_forward`), ``bptt`` (surrogate-gradient
            BPTT on the same network, :mod:`spikepde.train.bptt`) or ``admm`` (closed-form
            ADMM on a LIF MLP, :mod:`spikepde.train.admm.classifier`; full batch, its model
            selection reads only the validation split).
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
        **options: any :class:`~spikepde.train.classifier_training.ClassifierConfig` field
            (``hidden``, ``T``, ``lr``, ``batch_size``, ``dropout``, ``goodness_scale``,
            ``adapt_alpha``, ``adapt_every``, ``adapt_mode``, …) and ``val_fraction``.

    Returns:
        A :class:`ClassifyResult`; ``metrics["selection"] == "validation"``.
    Raises:
        DataError: data files missing or malformed. ValueError: unknown method/option.
    """
    if method not in CLASSIFIERS:
        raise ValueError(f"unknown method '{method}'; choose one of {', '.join(CLASSIFIERS)}")
    key = dataset.lower().replace("_", "-").replace("cifar-10", "cifar10")
    settings = {**DEFAULTS.get(key, DEFAULTS["digits"]), **METHOD_DEFAULTS.get((method, key), {}),
                **options}
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
    result.config = run_config
    result.paths = _write_run(run, result, tensors, data, plots)
    return result


# --------------------------------------------------------------------------- pieces
def _make_config(settings: dict, variant: str, adaptation: bool) -> ClassifierConfig:
    known = {f.name for f in fields(ClassifierConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown classify option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return ClassifierConfig(**{**settings, "variant": variant, "adaptation": adaptation})


def _prepare(data: ClassificationData, device: str):
    """Flatten and standardise per channel with training-split statistics, move to ``device``."""
    arrays, norm = standardise(data.X_train, data.X_val, data.X_test)
    tensors = {f"X_{split}": torch.as_tensor(X, dtype=torch.float32, device=device)
               for split, X in zip(("train", "val", "test"), arrays)}
    for split in ("train", "val", "test"):
        tensors[f"y_{split}"] = torch.as_tensor(getattr(data, f"y_{split}"), dtype=torch.long, device=device)
    return tensors, norm


def _train(method: str, t: dict, config: ClassifierConfig, seed: int, quiet: bool) -> dict:
    res = CLASSIFIERS[method](t["X_train"], t["y_train"], t["X_val"], t["y_val"], config, seed=seed,
                              quiet=quiet)
    return {"model": res.model, "predict": res.predict, "history": res.history,
            "best_epoch": res.best_epoch, "val_accuracy": res.val_accuracy,
            "activation_bytes": res.activation_bytes, "train_seconds": res.train_seconds,
            "extra": dict(res.extra)}


def _evaluate(trained: dict, t: dict, data: ClassificationData, method: str,
              config: ClassifierConfig) -> ClassifyResult:
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
                          confusion.tolist(), metrics, trained["history"], {}, {}, model, predict)


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


def _write_run(run: RunDir, result: ClassifyResult, t: dict, data, plots: bool) -> dict[str, Path]:
    """Write metrics, history, checkpoint and plots; name → path of every file of the run."""
    if not run:
        return {}
    paths = {"config": run.file("config.json")}
    paths["metrics"] = run.write_json("metrics.json", result.metrics)
    paths["history"] = run.write_json("history.json", result.history)
    if result.model is not None:
        paths["checkpoint"] = run.save_checkpoint({
            "model": result.model.state(), "method": result.method, "config": result.config["model"],
            "seed": result.config["seed"], "normalisation": result.config["normalisation"]})
    if plots:
        paths.update(_plots(run, result, t, data))
    return paths


def _plots(run: RunDir, result: ClassifyResult, t: dict, data) -> dict[str, Path]:
    from . import plots as pc

    classes = list(data.classes)
    paths = {"confusion_plot": pc.plot_confusion(result.confusion, classes, run.file("confusion.png"))}
    sizes = None
    if result.model is not None and result.model.variant == "cwc":
        sizes = torch.bincount(result.model.groups[0], minlength=len(classes)).tolist()
    paths["per_class_plot"] = pc.plot_per_class(result.per_class_accuracy, classes,
                                                run.file("per_class_accuracy.png"), sizes)
    if result.history.get("epoch"):
        paths["training_plot"] = pc.plot_training(result.history, run.file("training.png"))
    if result.model is not None:
        x = t["X_test"][:1]
        if result.model.variant == "hinton":
            x = result.model.with_label(x, t["y_test"][:1])
        spikes = [s[:, 0].cpu().numpy() for s in result.model.layer_spikes(x)]
        paths["raster_plot"] = pc.plot_raster(
            spikes, run.file("raster.png"), title=f"spikes of test sample 0 (class {classes[int(t['y_test'][0])]})")
    return paths


def load_classifier(path: str | os.PathLike) -> tuple[SpikingClassifier, dict]:
    """Rebuild a trained classifier from a run directory's ``checkpoint.pt`` (weights_only load)."""
    from ..runs import load_checkpoint

    path = Path(path)
    state = load_checkpoint(path / "checkpoint.pt" if path.is_dir() else path)
    return SpikingClassifier.from_state(state["model"]), state

"""ADMM training of a spiking classifier (full batch, one-hot targets, true LIF evaluation)."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from ...snn.lif import LIFConfig
from ...snn.network import SpikingMLP
from .blocks import output_update
from .config import ADMMConfig
from .engine import LIFADMM, admm_iteration
from ..classifier_training import ClassifierConfig, TrainOutput
from .linalg import user_facing_errors


def supervised_output_step(Y):
    def step(engine: LIFADMM):
        engine.readout_least_squares()
        m = engine.readout_input() @ engine.W_out.T
        engine.Z = output_update(Y, m, engine.Mu, engine.rho_out)
    return step


@user_facing_errors
def train_classifier(X_train, y_train, X_val, y_val, *, hidden: int | tuple = 256, T: int = 8,
                     seed: int = 0, iterations: int = 30, quiet: bool = False,
                     beta: float = 0.9, threshold: float = 1.0, admm: ADMMConfig | None = None,
                     target_scale: float = 1.0, X_test=None, y_test=None):
    """Train a LIF classifier by ADMM (full batch); evaluation with the true LIF pass.

    Args:
        X_train, X_val: ``[N, ...]`` arrays (flattened; standardise them first).
        y_train, y_val: integer labels.
        hidden: width (or widths) of the hidden LIF layer(s).
        T: time steps; iterations: ADMM iterations.
        X_test, y_test: optional, for the convergence curve only (not used in any choice).
    Returns:
        ``(predict_fn, history, extra_metrics)``: ``predict_fn(X) -> scores [N, C]`` (a float64
        tensor; true LIF
        forward pass of the learned weights, rate readout); ``history`` holds the convergence
        curves; the readout weights of the iteration with the best validation accuracy are kept.
    """
    dtype = torch.float64
    widths = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    Xtr = torch.as_tensor(np.asarray(X_train), dtype=dtype).reshape(len(X_train), -1)
    Xva = torch.as_tensor(np.asarray(X_val), dtype=dtype).reshape(len(X_val), -1)
    ytr = torch.as_tensor(np.asarray(y_train), dtype=torch.long)
    yva = np.asarray(y_val)
    C = int(max(int(ytr.max()), int(yva.max())) + 1)
    Y = torch.nn.functional.one_hot(ytr, C).to(dtype) * target_scale
    lif = LIFConfig(beta=beta, threshold=threshold)
    net = SpikingMLP(Xtr.shape[1], widths, out_dim=C, T=T, lif=lif)
    gen = torch.Generator().manual_seed(seed)
    params = net.init_params(gen, dtype=dtype)
    cfg = admm or ADMMConfig()
    engine = LIFADMM(Xtr, widths, T, lif, C, params, cfg)
    engine.readout_least_squares()   # start from the best readout of the initial features

    def predict(p, X):
        X = torch.as_tensor(np.asarray(X.cpu() if torch.is_tensor(X) else X), dtype=dtype).reshape(len(X), -1)
        with torch.no_grad():
            return net.forward(p, X, differentiable=False)

    def accuracy(p, X, y):
        return float((predict(p, X).argmax(1).numpy() == np.asarray(y)).mean())

    history = {k: [] for k in ("iteration", "primal_residual", "primal_residual_relative", "dual_residual",
                               "objective", "train_metric", "test_metric", "val_metric", "spike_flips",
                               "rho", "time")}
    step = supervised_output_step(Y)
    best = (-1.0, engine.params(C), 0)
    t0 = time.perf_counter()
    for k in range(1, iterations + 1):
        primal, dual = admm_iteration(engine, step)
        p = engine.params(C)
        train_acc, val_acc = accuracy(p, Xtr, ytr.numpy()), accuracy(p, Xva, yva)
        scores = predict(p, Xtr)
        history["iteration"].append(k)
        history["primal_residual"].append(primal)
        history["primal_residual_relative"].append(engine.last_primal_relative)
        history["dual_residual"].append(dual)
        history["spike_flips"].append(engine.last_flips)
        history["rho"].append(engine.rho_used)
        history["objective"].append(float(0.5 * (scores - Y).square().sum(1).mean()))
        history["train_metric"].append(train_acc)
        history["val_metric"].append(val_acc)
        history["test_metric"].append(accuracy(p, X_test, y_test) if X_test is not None else float("nan"))
        history["time"].append(time.perf_counter() - t0)
        if val_acc > best[0]:
            best = (val_acc, p, k)
        if not quiet:
            print(f"admm {k:3d}  primal {primal:.3e} (relative {engine.last_primal_relative:.2e})  dual {dual:.3e}  "
                  f"flips {engine.last_flips}  train {train_acc:.4f}  val {val_acc:.4f}")
    best_params = best[1]
    extra = {"admm_best_iteration": best[2], "admm_val_accuracy": best[0],
             "admm_primal_reduction": (history["primal_residual"][0] / max(history["primal_residual"][-1], 1e-300)
                                       if history["primal_residual"] else float("nan")),
             "admm_primal_reduction_relative": (history["primal_residual_relative"][0]
                                                / max(history["primal_residual_relative"][-1], 1e-300)
                                                if history["primal_residual"] else float("nan")),
             "admm_config": dataclasses.asdict(cfg), "admm_hidden": list(widths), "admm_T": T}
    return (lambda X: predict(best_params, X)), history, extra


def train(X_train, y_train, X_val, y_val, config: ClassifierConfig, *, seed: int = 0,
          quiet: bool = False) -> TrainOutput:
    """:func:`train_classifier` behind the classification trainers' common signature: ``hidden``
    and ``T`` from ``config``, ``config.epochs`` ADMM iterations."""
    t0 = time.perf_counter()
    predict, history, extra = train_classifier(X_train, y_train, X_val, y_val, hidden=config.hidden,
                                               T=config.T, seed=seed, iterations=config.epochs,
                                               quiet=quiet)
    return TrainOutput(None, history, None, None, extra.get("activation_bytes"),
                       time.perf_counter() - t0, predict=predict, extra=dict(extra))

"""``bptt``: spiking networks trained by surrogate-gradient back-propagation through time.

The baseline the back-propagation-free methods are measured against, for both tasks:

* PDEs (:class:`BPTTTrainer`): the same :class:`~spikepde.snn.network.SpikingMLP`, loss, points
  and budget as ``fgrad``, with the exact gradient of the surrogate network from reverse-mode
  autograd (every spike's H' replaced by σ').
* classification (:func:`train_classifier`): exactly the Forward-Forward classifier's network
  (:class:`~spikepde.snn.classifier.SpikingClassifier`: same layers, batch normalisation, IF
  neurons, class groups, eval-mode forward pass), trained end to end on
  ``L = CE(κ g^L, y)``, ``g^L_k = (1/|G_k|) Σ_{j∈G_k} r_j²``, ``r = (1/T) Σ_t s_L[t]``. Only the
  last layer is trained for its goodness; the read-out is chosen on the validation split as
  for FF, and the class-aware adaptation settings are ignored.

Autograd keeps the spikes, membranes and surrogate inputs of every layer at every time step
until the backward pass, so its memory grows linearly with T (``benchmarks/engine.py``;
measured with the same saved-tensor meter as FF, :class:`SavedActivationMeter`) — the memory the
forward-only methods avoid.
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from ..errors import ConfigurationError
from ..snn.classifier import SpikingClassifier, group_matrix
from .classifier_training import (ClassifierConfig, SavedActivationMeter, TrainOutput, new_history,
                                  progress, set_epoch_lr, validate)
from .spiking import SpikingTrainer


class BPTTTrainer(SpikingTrainer):
    """The spiking surrogate trained by surrogate-gradient back-propagation through time.

    ``network="separable"`` trains lsq's network instead of the MLP: the same per-axis LIF
    networks (lsq's width, depth and T for the problem unless given) and a Tucker readout of
    ``rank`` coordinates per input, every parameter trained — the back-propagated counterpart
    of lsq's random hidden layers with a closed-form readout. That field has values only, so
    it needs the weak form and conditions on values."""

    name = "bptt"
    options = ("network", "rank")

    @classmethod
    def defaults(cls, cfg, problem) -> dict:
        out = {**super().defaults(cfg, problem), "network": "mlp"}
        if cfg.network == "separable":
            from .closed_form import ClosedFormTrainer   # the network sizes lsq measured
            sizes = ClosedFormTrainer.defaults(cfg, problem)
            # Adam's step moves every projection entry at once and a raster row has hundreds of
            # spikes: 1e-2 diverges (burgers 1.68 after 200 steps), 1e-3 0.137, 3e-4 0.158;
            # rank 16 with three inputs (a 32³ core costs 0.7 s per step on heat2d)
            out.update({k: sizes[k] for k in ("width", "depth", "T")}, lr=1e-3,
                       rank=32 if problem.dim <= 2 else 16)
        return out

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        if cfg.network == "separable":
            self._check_values_only()
        for p in self.params.values():
            p.requires_grad_(True)
        self._start_optimizer()

    def _check_values_only(self):
        """The separable field has no input derivatives: every loss term must read values."""
        zero = (0,) * len(self.compiled.input_names)
        for X, indices in self.objective.field_requests():
            if list(indices) != [zero]:
                what = ("the strong form" if self.objective.weak is None and self.compiled.has_pde
                        else "a condition on a derivative")
                raise ConfigurationError(f"bptt --network separable: {self.compiled.problem.name} needs {what}, "
                                         "and the separable field has values only (use the weak form, "
                                         "or --network mlp)")

    def step(self) -> float:
        return self._backprop_step()


# --------------------------------------------------------------------- classification
def forward_train(model: SpikingClassifier, x: torch.Tensor, dropout: float = 0.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Training-mode forward pass with surrogate gradients; returns the last layer's rates ``[B, n_L]``."""
    s_in = x
    for i in range(model.n_layers):
        if dropout > 0:
            shape = s_in.shape[-2:]
            mask = (torch.rand(shape, generator=generator) >= dropout).to(s_in.dtype).to(s_in.device)
            s_in = s_in * mask / (1 - dropout)
        s_mean = s_in if s_in.dim() == 2 else s_in.mean(0)
        _, (mu, inv) = model.drive(i, s_mean, train=True)
        s_in = model.spikes(model.currents(i, s_in, mu, inv), differentiable=True)
    return s_in.mean(0)


def train_classifier(X_train: torch.Tensor, y_train: torch.Tensor, X_val: torch.Tensor,
                     y_val: torch.Tensor, config: ClassifierConfig, *, seed: int = 0,
                     quiet: bool = False) -> TrainOutput:
    """Train the classifier with surrogate-gradient BPTT (Adam, cosine decay, same batches as FF).

    Args and return value as :func:`spikepde.train.forward_forward.train`; ``activation_bytes``
    is the saved-tensor total of one whole update (all layers × T).
    """
    gen = torch.Generator().manual_seed(seed)
    C = int(max(int(y_train.max()), int(y_val.max())) + 1)
    model = SpikingClassifier(X_train.shape[1], config.hidden, C, config.T, config.lif(), "cwc")
    model.init(gen, config.init_scale, config.init_shift, device=X_train.device)
    params = list(model.params.values())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    M = group_matrix(model.groups[-1], C)
    history = new_history()
    meter = SavedActivationMeter()
    best = (-1.0, 0, model.state())
    t0 = time.perf_counter()
    bar = progress(config.epochs, quiet, "bptt")
    for epoch in range(1, config.epochs + 1):
        set_epoch_lr(opt, config, epoch)
        loss = _epoch(model, X_train, y_train, config, gen, opt, M, meter if epoch == 1 else None)
        val_acc, per_layer, name = validate(model, X_val, y_val)
        for key, value in (("epoch", epoch), ("loss_per_layer", [loss]), ("val_accuracy", val_acc),
                           ("val_accuracy_per_layer", per_layer), ("readout", name)):
            history[key].append(value)
        if val_acc >= best[0]:
            best = (val_acc, epoch, model.state())
        bar.set_postfix(val=f"{val_acc:.3f}", loss=f"{loss:.3f}")
        bar.update()
    bar.close()
    history["activation_bytes_per_layer"] = meter.layer_bytes
    return TrainOutput(SpikingClassifier.from_state(best[2]), history, best[1], best[0],
                       int(max(meter.layer_bytes or [0])), time.perf_counter() - t0)


def _epoch(model, X, y, config, gen, opt, M, meter) -> float:
    perm = torch.randperm(len(X), generator=gen).to(X.device)
    total, n = 0.0, 0
    for start in range(0, len(X), config.batch_size):
        idx = perm[start: start + config.batch_size]
        if len(idx) < 2:
            continue
        if meter is not None:
            meter.reset()
            with meter:
                loss = _loss(model, X[idx], y[idx], config, gen, M)
            meter.layer_bytes.append(meter.bytes)
            meter = None
        else:
            loss = _loss(model, X[idx], y[idx], config, gen, M)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        total += float(loss.detach())
        n += 1
    return total / max(n, 1)


def _loss(model, x, y, config, gen, M) -> torch.Tensor:
    rates = forward_train(model, x, config.dropout, gen)
    return F.cross_entropy(config.goodness_scale * ((rates * rates) @ M), y)

"""What the classification trainers share: their settings, their result, the epoch bookkeeping
(validation with the read-out chosen on validation data, history, progress bar, learning-rate
schedule) and the meter of activations held for an update."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from ..snn.classifier import VARIANTS, SpikingClassifier, choose_readout
from ..snn.lif import LIFConfig
from .schedules import cosine_decay

#: class-aware adaptation modes of Forward-Forward
ADAPT_MODES = ("both", "weights", "groups")


@dataclass
class ClassifierConfig:
    """Hyper-parameters of the spiking classifier and of its training (FF, BPTT, ADMM).

    Attributes:
        hidden: widths of the hidden (spiking) layers; each must be ≥ C·min_group.
        T: time steps.
        threshold: IF threshold θ.
        beta: membrane leak per step (1.0 = integrate-and-fire, which makes Q_T exact).
        epochs, batch_size, lr, weight_decay: Adam with a cosine decay to 5 % of ``lr``.
        goodness_scale: κ, the temperature of the goodness logits.
        variant: ``"cwc"`` (class groups) or ``"hinton"`` (label in the input).
        label_strength: λ, the value of the one-hot label block (hinton).
        hinton_threshold: τ, the goodness threshold (hinton).
        adaptation: turn the class-aware adaptation on/off.
        adapt_mode: ``"both"`` (group sizes and loss weights), ``"weights"`` or ``"groups"``.
        adapt_alpha: α in ``share_k = (1 − α) + α d_k``.
        adapt_every, adapt_warmup: schedule in epochs.
        min_group: minimum class-group size m.
        init_scale, init_shift: initial γ and β (β = 0.3 → about 40 % of units active at start).
        dropout: training-only dropout probability on every layer's input (features or spikes).
    """

    hidden: tuple[int, ...] = (400, 400, 400)
    T: int = 8
    threshold: float = 1.0
    beta: float = 1.0
    epochs: int = 60
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.0
    goodness_scale: float = 20.0
    variant: str = "cwc"
    label_strength: float = 1.0
    hinton_threshold: float = 0.2
    adaptation: bool = True
    adapt_mode: str = "both"
    adapt_alpha: float = 0.5
    adapt_every: int = 5
    adapt_warmup: int = 5
    min_group: int = 1
    init_scale: float = 0.5
    init_shift: float = 0.3
    dropout: float = 0.0

    def __post_init__(self):
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.variant not in VARIANTS:
            raise ValueError(f"FF variant must be one of {VARIANTS}, got '{self.variant}'")
        if self.adapt_mode not in ADAPT_MODES:
            raise ValueError(f"adapt_mode must be one of {ADAPT_MODES}, got '{self.adapt_mode}'")
        if not 0.0 <= self.adapt_alpha <= 1.0:
            raise ValueError(f"adapt_alpha must lie in [0, 1], got {self.adapt_alpha}")
        if self.T < 1 or self.epochs < 0 or self.batch_size < 1 or not self.hidden:
            raise ValueError("ClassifierConfig needs T >= 1, epochs >= 0, batch_size >= 1 and a hidden layer")

    def lif(self) -> LIFConfig:
        """The LIF configuration of every hidden layer."""
        return LIFConfig(beta=self.beta, threshold=self.threshold, reset="subtract")

    def to_dict(self) -> dict:
        """Plain-JSON form (for config.json)."""
        return asdict(self)


#: the earlier name of :class:`ClassifierConfig` (it configured Forward-Forward first)
FFConfig = ClassifierConfig


@dataclass
class TrainOutput:
    """What a classification trainer returns: the selected model (or, for a method without a
    :class:`SpikingClassifier`, its ``predict`` function), the history and training-cost
    measurements; ``extra`` holds method-specific entries of ``metrics.json``."""

    model: SpikingClassifier | None
    history: dict
    best_epoch: int | None
    val_accuracy: float | None
    activation_bytes: int | None
    train_seconds: float
    predict: Callable | None = field(default=None, repr=False)
    extra: dict = field(default_factory=dict)


def set_epoch_lr(optimizer: torch.optim.Optimizer, config: ClassifierConfig, epoch: int) -> None:
    """The learning rate of epoch ``epoch`` (1-based): a cosine decay from ``lr`` to ``lr/20``."""
    for group in optimizer.param_groups:
        group["lr"] = cosine_decay(epoch - 1, max(config.epochs, 1), config.lr)


def validate(model, X_val, y_val) -> tuple[float, list[float], str]:
    """Overall validation accuracy with the readout chosen on validation; sets ``model.readout``."""
    scores = model.layer_scores(X_val)
    per_layer = [float((s.argmax(1) == y_val).float().mean()) for s in scores]
    name, layers, acc = choose_readout(scores, y_val)
    model.readout = layers
    return acc, per_layer, name


class SavedActivationMeter:
    """Bytes of tensors autograd saves for backward (parameters excluded), via saved-tensor hooks.

    Used as ``with meter: loss = ...``; ``meter.bytes`` is the total of distinct saved tensors
    since the last :meth:`reset`. This measures "activations held for the update" directly.
    """

    def __init__(self):
        self.bytes = 0
        self.layer_bytes: list[int] = []    # filled by the trainers, one entry per measured update
        self._seen: set = set()
        self._hooks = None

    def reset(self) -> None:
        self.bytes, self._seen = 0, set()

    def _pack(self, t: torch.Tensor):
        if not (t.is_leaf and t.requires_grad):
            key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
            if key not in self._seen:
                self._seen.add(key)
                self.bytes += t.numel() * t.element_size()
        return t

    def __enter__(self):
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self._hooks.__exit__(*exc)


def progress(total: int, quiet: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=quiet, unit="epoch", leave=False)


def new_history() -> dict:
    return {"epoch": [], "loss_per_layer": [], "val_accuracy": [], "val_accuracy_per_layer": [],
            "readout": [], "group_sizes": [], "class_weights": [], "activation_bytes_per_layer": []}


def meter_bytes(history: dict) -> int:
    """Largest single-layer saved-activation bytes recorded in the history (0 if none)."""
    return int(max(history.get("activation_bytes_per_layer") or [0]))

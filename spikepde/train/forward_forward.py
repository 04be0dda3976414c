"""Forward-Forward (FF) training of a spiking classifier with layer-local losses only.

Seed: FFGAF-SNN (arXiv 2507.23643) as found in its public code (``shared/research/seeds.md`` §3):
channel-wise competitive goodness over class groups, a quantised clipped activation, and the
spike generator placed *after* the local loss so that no gradient ever passes through a spike.

The network (:class:`SpikingClassifier`)
----------------------------------------
Layer ℓ = 1..L has weights ``W_ℓ`` (no bias), a batch normalisation without its own affine
part, a per-unit scale ``γ_ℓ`` and shift ``β_ℓ``, and integrate-and-fire neurons
(:func:`spikepde.snn.lif.lif_scan`, ``β_leak = 1``, threshold θ, reset by subtraction). With
``s_0`` the standardised input (a constant current, direct encoding) and ``s_ℓ[t]`` the spikes::

    z_ℓ[t] = W_ℓ s_{ℓ−1}[t]                        (a linear map of spikes: accumulates only)
    I_ℓ[t] = θ (γ_ℓ (z_ℓ[t] − μ_ℓ) / σ_ℓ + β_ℓ)      (μ, σ: batch statistics of z̄ = mean_t z[t]
                                                     in training, running averages in eval)
    s_ℓ    = LIF(I_ℓ)                               (spikes [T, B, n_ℓ])

In eval mode μ, σ are constants, so ``I_ℓ[t] = W'_ℓ s_{ℓ−1}[t] + b'_ℓ`` with folded weights and
the whole network *is* a :class:`spikepde.snn.network.SpikingMLP` (same neuron, same layer
code): evaluation runs that class on the folded parameters (:meth:`SpikingClassifier.folded_params`).

What gets a gradient (the FF formulation)
-----------------------------------------
For layer ℓ the local, differentiable quantity is the time-averaged drive
``r̃_ℓ = mean_t I_ℓ[t] / θ = γ_ℓ (W_ℓ s̄_{ℓ−1} − μ_ℓ)/σ_ℓ + β_ℓ`` computed from the *detached*
input firing rates ``s̄_{ℓ−1} = mean_t s_{ℓ−1}[t]`` (the loss needs only ``[B, n]`` tensors: W is
linear, so the mean over time commutes with it). The activation is

    a_ℓ = Q_T(clip(r̃_ℓ, 0, 1)),   Q_T(r) = ⌊T r⌋ / T   (straight-through: dQ/dr := 1)

which is *exactly* the firing rate an IF neuron with threshold θ emits over T steps for a
constant current ``θ r̃`` (layer 1), and close to it for the spike-train input of later layers.
The loss of layer ℓ depends only on ``(W_ℓ, γ_ℓ, β_ℓ)``; gradients reach no other layer and
never pass through a spike (the spike generator runs under ``torch.no_grad``; its output feeds
the next layer detached). The only non-smooth element differentiated is the rounding in
``Q_T`` (identity straight-through estimator, as in FFGAF's quantiser).

Goodness and loss, variant ``"cwc"`` (channel-wise competitive, default)
----------------------------------------------------------------------
The n_ℓ units of each layer are partitioned into C class groups ``G_1..G_C``; the goodness of
class k is the mean square activation of its group, and the layer loss is a (class-weighted)
softmax cross-entropy over the C goodness values::

    g_k = (1/|G_k|) Σ_{j∈G_k} a_j²,      L_ℓ = − w_y log softmax_k(κ g_k)[y] / mean_batch(w_y)

κ (``goodness_scale``) is a fixed temperature: ``g ∈ [0, 1]`` so κ bounds the logit gap. No
negative data is generated, and prediction is one pass: ``argmax_k g_k`` per layer. The overall
prediction adds the per-layer goodness normalised to sum 1, ``ĝ^ℓ_k = g^ℓ_k / Σ_c g^ℓ_c``, over
a set of layers chosen on the validation split (each single layer, all, or all but the first).

Variant ``"hinton"`` (Hinton 2022, label in the input)
------------------------------------------------------
The input gets a one-hot label block ``λ e_y`` appended. Positive data carry the true label,
negative data a uniformly drawn wrong label. Goodness ``G = mean_j a_j²`` over the whole
layer; loss ``softplus(κ (τ − G_pos)) + softplus(κ (G_neg − τ))`` with threshold τ. Prediction
tries all C labels (C passes) and takes ``argmax_c Σ_ℓ Ĝ^ℓ(x, c)``.

Class-aware complexity adaptation (dynamic)
-------------------------------------------
Every ``adapt_every`` epochs after ``adapt_warmup`` epochs, the per-class difficulty is measured
on the **validation split** (never the test set) from the current overall prediction::

    e_k = (errors_k + 1) / (n_k + 2)             (Laplace-smoothed per-class error, i.e. 1 − recall)
    ē_k ← ½ ē_k + ½ e_k                          (running average over adaptation rounds)
    d_k = ē_k / mean_c ē_c                       (relative difficulty, mean 1)
    share_k = (1 − α) + α d_k                    (α = ``adapt_alpha`` ∈ [0, 1])

* **loss weights** ``w_k = share_k`` (mean 1), used in every layer's loss;
* **group sizes** (``cwc`` only): ``n_ℓ,k = m + LR(share_k/Σ share · (n_ℓ − C m))`` where ``m``
  (``min_group``) is the minimum size and LR is largest-remainder rounding, so the sizes sum to
  the layer width exactly. Shrinking groups release their least useful units (lowest mean
  ``a_j²`` on validation samples of their own class); growing groups take them, and a moved
  unit's incoming weights are re-initialised (new capacity, not a relabelled detector).

``adaptation=False`` keeps equal groups and unit weights throughout (the ablation).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from ..snn.lif import LIFConfig, lif_scan
from ..snn.network import SpikeStats, SpikingMLP

VARIANTS = ("cwc", "hinton")
ADAPT_MODES = ("both", "weights", "groups")
BN_EPS = 1e-5


# =========================================================================== configuration
@dataclass
class FFConfig:
    """Hyper-parameters of the spiking classifier and of FF training.

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
            raise ValueError("FFConfig needs T >= 1, epochs >= 0, batch_size >= 1 and a hidden layer")

    def lif(self) -> LIFConfig:
        """The LIF configuration of every hidden layer."""
        return LIFConfig(beta=self.beta, threshold=self.threshold, reset="subtract")

    def to_dict(self) -> dict:
        """Plain-JSON form (for config.json)."""
        return asdict(self)


# =========================================================================== class groups
def largest_remainder(total: int, weights: torch.Tensor, minimum: int = 0) -> list[int]:
    """Integer sizes ``n_k ≥ minimum`` with ``Σ n_k = total`` and ``n_k − minimum ∝ weights_k``.

    Each class first gets ``minimum``; the remaining ``R = total − C·minimum`` is split as
    ``⌊R w_k / Σw⌋`` and the leftover units go to the largest fractional parts (ties: lower k).
    """
    C = len(weights)
    rest = total - C * minimum
    if rest < 0:
        raise ValueError(f"cannot give {C} groups at least {minimum} units out of {total}")
    quota = weights.double().clamp_min(0) / weights.double().clamp_min(0).sum() * rest
    base = torch.floor(quota).long()
    order = torch.argsort(-(quota - base), stable=True)
    base[order[: rest - int(base.sum())]] += 1
    return [minimum + int(b) for b in base]


def group_matrix(group_of: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``M [n, C]`` with ``M[j, k] = 1/|G_k|`` if unit j is in group k, so ``g = a² M``."""
    onehot = F.one_hot(group_of, n_classes).to(torch.float32)
    return onehot / onehot.sum(0, keepdim=True).clamp_min(1.0)


def per_class_difficulty(pred: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Laplace-smoothed per-class error ``e_k = (errors_k + 1)/(n_k + 2)`` on a held-out split."""
    n = torch.bincount(y, minlength=n_classes).double()
    wrong = torch.bincount(y[pred != y], minlength=n_classes).double()
    return (wrong + 1) / (n + 2)


def difficulty_shares(errors: torch.Tensor, alpha: float) -> torch.Tensor:
    """``share_k = (1 − α) + α e_k / mean(e)`` (mean 1): loss weights and group proportions."""
    return (1 - alpha) + alpha * errors / errors.mean()


def reassign_units(group_of: torch.Tensor, new_sizes: list[int],
                   usefulness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the fewest units so that group k has ``new_sizes[k]`` units.

    Groups that shrink release their units with the lowest ``usefulness``; groups that grow take
    released units in class order. Returns the new assignment and the indices of moved units.
    """
    group_of = group_of.clone()
    old = torch.bincount(group_of, minlength=len(new_sizes)).tolist()
    pool = []
    for k, (o, n) in enumerate(zip(old, new_sizes)):
        if o > n:
            members = torch.nonzero(group_of == k).flatten()
            worst = torch.argsort(usefulness[members], stable=True)[: o - n]
            pool.extend(members[worst].tolist())
    moved = torch.tensor(sorted(pool), dtype=torch.long)
    cursor = 0
    for k, (o, n) in enumerate(zip(old, new_sizes)):
        for _ in range(max(0, n - o)):
            group_of[pool[cursor]] = k
            cursor += 1
    return group_of, moved


# =========================================================================== the network
@dataclass
class SpikingClassifier:
    """A spiking MLP classifier with class-group (or label-input) goodness read-outs.

    Attributes:
        in_dim: input features (without the label block).
        widths: hidden widths.
        n_classes: C.
        T, lif: time steps and neuron parameters (shared with :class:`SpikingMLP`).
        variant: ``"cwc"`` or ``"hinton"``.
        label_strength: λ of the label block (hinton).
        params: ``layers.{i}.weight [n_i, n_{i−1}]``, ``layers.{i}.scale``, ``layers.{i}.shift``.
        buffers: ``layers.{i}.running_mean``, ``layers.{i}.running_var`` (BN running statistics).
        groups: per layer, the class group of every unit (``[n_i]`` long).
        readout: indices of the layers whose normalised goodness is summed for the prediction.
    """

    in_dim: int
    widths: tuple[int, ...]
    n_classes: int
    T: int
    lif: LIFConfig
    variant: str = "cwc"
    label_strength: float = 1.0
    params: dict[str, torch.Tensor] = field(default_factory=dict)
    buffers: dict[str, torch.Tensor] = field(default_factory=dict)
    groups: list[torch.Tensor] = field(default_factory=list)
    readout: list[int] = field(default_factory=list)

    @property
    def input_dim(self) -> int:
        """Width of the first layer's input (features plus the label block for hinton)."""
        return self.in_dim + (self.n_classes if self.variant == "hinton" else 0)

    @property
    def n_layers(self) -> int:
        return len(self.widths)

    # ------------------------------------------------------------------ construction
    def init(self, generator: torch.Generator, init_scale: float = 0.5, init_shift: float = 0.3,
             device="cpu") -> "SpikingClassifier":
        """Random weights ``U(±√(3/fan_in))``, γ = init_scale, β = init_shift, equal groups."""
        sizes = (self.input_dim,) + self.widths
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.params[f"layers.{i}.weight"] = _uniform((n_out, n_in), math.sqrt(3.0 / n_in), generator).to(device)
            self.params[f"layers.{i}.scale"] = torch.full((n_out,), init_scale, device=device)
            self.params[f"layers.{i}.shift"] = torch.full((n_out,), init_shift, device=device)
            self.buffers[f"layers.{i}.running_mean"] = torch.zeros(n_out, device=device)
            self.buffers[f"layers.{i}.running_var"] = torch.ones(n_out, device=device)
            equal = largest_remainder(n_out, torch.ones(self.n_classes))
            self.groups.append(torch.repeat_interleave(torch.arange(self.n_classes), torch.tensor(equal)).to(device))
        self.readout = [self.n_layers - 1]
        return self

    # ------------------------------------------------------------------ training-mode pieces
    def drive(self, i: int, s_mean: torch.Tensor, train: bool,
              momentum: float = 0.1) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Time-averaged normalised drive ``r̃ = γ (W s̄ − μ)/σ + β`` of layer i, and ``(μ, 1/σ)``.

        In training mode μ, σ² are the batch statistics of ``W s̄`` (and the running averages are
        updated without gradient); in eval mode the running averages are used.
        """
        W = self.params[f"layers.{i}.weight"]
        z = s_mean @ W.T
        if train:
            mu, var = z.mean(0), z.var(0, unbiased=False)
            with torch.no_grad():
                rm, rv = self.buffers[f"layers.{i}.running_mean"], self.buffers[f"layers.{i}.running_var"]
                rm.mul_(1 - momentum).add_(momentum * mu.detach())
                rv.mul_(1 - momentum).add_(momentum * var.detach())
        else:
            mu, var = self.buffers[f"layers.{i}.running_mean"], self.buffers[f"layers.{i}.running_var"]
        inv = torch.rsqrt(var + BN_EPS)
        r = self.params[f"layers.{i}.scale"] * (z - mu) * inv + self.params[f"layers.{i}.shift"]
        return r, (mu, inv)

    def currents(self, i: int, s_in: torch.Tensor, mu: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
        """Per-step input currents ``I[t] = θ (γ (W s[t] − μ)/σ + β)``; ``s_in`` is ``[T,B,n]`` or ``[B,n]``."""
        W = self.params[f"layers.{i}.weight"]
        z = (s_in.reshape(-1, s_in.shape[-1]) @ W.T).reshape(*s_in.shape[:-1], -1)
        gain = self.params[f"layers.{i}.scale"] * inv
        return self.lif.threshold * (gain * (z - mu) + self.params[f"layers.{i}.shift"])

    def spikes(self, currents: torch.Tensor, differentiable: bool = False) -> torch.Tensor:
        """The layer's LIF neurons (:func:`lif_scan`); constant ``[B, n]`` currents run T steps."""
        T = self.T if currents.dim() == 2 else None
        return lif_scan(currents, self.lif, T=T, differentiable=differentiable)

    # ------------------------------------------------------------------ eval mode: a SpikingMLP
    def folded_params(self) -> dict[str, torch.Tensor]:
        """Eval-mode parameters in :class:`SpikingMLP` form: ``W' = θ γ/σ · W``, ``b' = θ (β − γ μ/σ)``."""
        out = {}
        theta = self.lif.threshold
        for i in range(self.n_layers):
            inv = torch.rsqrt(self.buffers[f"layers.{i}.running_var"] + BN_EPS)
            gain = self.params[f"layers.{i}.scale"] * inv
            out[f"layers.{i}.weight"] = theta * gain[:, None] * self.params[f"layers.{i}.weight"]
            out[f"layers.{i}.bias"] = theta * (self.params[f"layers.{i}.shift"]
                                               - gain * self.buffers[f"layers.{i}.running_mean"])
        return {k: v.detach() for k, v in out.items()}

    def mlp(self) -> SpikingMLP:
        """The equivalent :class:`SpikingMLP` (its readout is unused: we read goodness instead)."""
        return SpikingMLP(self.input_dim, self.widths, out_dim=self.n_classes, T=self.T, lif=self.lif)

    @torch.no_grad()
    def layer_spikes(self, X: torch.Tensor) -> list[torch.Tensor]:
        """True LIF forward pass in eval mode: spike trains ``[T, B, n_ℓ]`` of every layer."""
        return self.mlp().hidden_spikes(self.folded_params(), X, differentiable=False)

    @torch.no_grad()
    def layer_scores(self, X: torch.Tensor, chunk: int = 1024) -> list[torch.Tensor]:
        """Per-layer class scores ``[N, C]`` from the spike rates of the true forward pass.

        ``cwc``: ``g_k = mean_{j∈G_k} r_j²`` with ``r`` the firing rates (one pass).
        ``hinton``: ``G(x, c) = mean_j r_j²`` with label c in the input (C passes).
        """
        parts = [self._scores_chunk(X[i: i + chunk]) for i in range(0, len(X), chunk)]
        return [torch.cat([p[l] for p in parts]) for l in range(self.n_layers)]

    def _scores_chunk(self, X: torch.Tensor) -> list[torch.Tensor]:
        if self.variant == "cwc":
            rates = [s.mean(0) for s in self.layer_spikes(X)]
            return [(r * r) @ group_matrix(g, self.n_classes) for r, g in zip(rates, self.groups)]
        per_label = []
        for c in range(self.n_classes):
            label = torch.full((len(X),), c, dtype=torch.long, device=X.device)
            rates = [s.mean(0) for s in self.layer_spikes(self.with_label(X, label))]
            per_label.append([(r * r).mean(1) for r in rates])
        return [torch.stack([pl[l] for pl in per_label], dim=1) for l in range(self.n_layers)]

    def with_label(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Append the label block ``λ e_y`` (hinton variant)."""
        return torch.cat([X, self.label_strength * F.one_hot(y, self.n_classes).to(X.dtype)], dim=1)

    def predict(self, X: torch.Tensor, layers: list[int] | None = None) -> torch.Tensor:
        """Overall scores ``[N, C]``: the sum of normalised goodness over ``layers`` (default: the readout)."""
        return combine_scores(self.layer_scores(X), self.readout if layers is None else layers)

    def spike_stats(self, X: torch.Tensor) -> SpikeStats:
        """Spike counts of one eval pass, for :func:`spikepde.snn.energy.energy_report`.

        The last layer's spikes each feed one goodness accumulator (fan-out 1); the hinton
        variant's C label passes are counted by the caller.
        """
        spikes = self.layer_spikes(X if self.variant == "cwc" else
                                   self.with_label(X, torch.zeros(len(X), dtype=torch.long, device=X.device)))
        return SpikeStats(spikes=[float(s.sum()) for s in spikes], neurons=list(self.widths),
                          samples=len(X), T=self.T, fan_out=list(self.widths[1:]) + [1],
                          in_dim=self.input_dim)

    # ------------------------------------------------------------------ checkpoint
    def state(self) -> dict:
        """A checkpoint dict of tensors, numbers and strings (``weights_only``-loadable)."""
        return {"in_dim": self.in_dim, "widths": list(self.widths), "n_classes": self.n_classes,
                "T": self.T, "beta": self.lif.beta, "threshold": self.lif.threshold,
                "variant": self.variant, "label_strength": self.label_strength,
                "params": {k: v.detach().clone() for k, v in self.params.items()},
                "buffers": {k: v.clone() for k, v in self.buffers.items()},
                "groups": [g.clone() for g in self.groups], "readout": list(self.readout)}

    @classmethod
    def from_state(cls, state: dict) -> "SpikingClassifier":
        """Rebuild a classifier from :meth:`state`."""
        model = cls(state["in_dim"], tuple(state["widths"]), state["n_classes"], state["T"],
                    LIFConfig(beta=state["beta"], threshold=state["threshold"], reset="subtract"),
                    state["variant"], state["label_strength"])
        model.params = {k: v.clone() for k, v in state["params"].items()}
        model.buffers = {k: v.clone() for k, v in state["buffers"].items()}
        model.groups = [g.clone() for g in state["groups"]]
        model.readout = list(state["readout"])
        return model


def combine_scores(layer_scores: list[torch.Tensor], layers: list[int]) -> torch.Tensor:
    """``Σ_{ℓ∈layers} s^ℓ / Σ_c s^ℓ_c``: per-layer scores normalised to sum 1, then added."""
    return sum(s / (s.sum(1, keepdim=True) + 1e-12) for s in (layer_scores[l] for l in layers))


def readout_candidates(n_layers: int) -> dict[str, list[int]]:
    """The layer sets the overall prediction may use: each layer, all, and all but the first."""
    cands = {f"layer{l + 1}": [l] for l in range(n_layers)}
    if n_layers > 1:
        cands["sum_all"] = list(range(n_layers))
    if n_layers > 2:
        cands["sum_2_to_L"] = list(range(1, n_layers))
    return cands


def choose_readout(layer_scores: list[torch.Tensor], y: torch.Tensor) -> tuple[str, list[int], float]:
    """The candidate layer set with the best accuracy on ``(layer_scores, y)`` (the validation split)."""
    best = None
    for name, layers in readout_candidates(len(layer_scores)).items():
        acc = float((combine_scores(layer_scores, layers).argmax(1) == y).float().mean())
        if best is None or acc > best[2]:
            best = (name, layers, acc)
    return best


def quantise(r: torch.Tensor, T: int) -> torch.Tensor:
    """``Q_T(r) = ⌊T r⌋/T`` in value, identity in gradient (straight-through)."""
    q = torch.floor(T * r + 1e-6) / T     # 1e-6: the IF neuron fires at v == θ exactly
    return r + (q - r).detach()


# =========================================================================== activation memory
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


# =========================================================================== training
@dataclass
class TrainOutput:
    """What a trainer returns: the selected model, the history and training-cost measurements."""

    model: SpikingClassifier
    history: dict
    best_epoch: int
    val_accuracy: float
    activation_bytes: int
    train_seconds: float


def train(X_train: torch.Tensor, y_train: torch.Tensor, X_val: torch.Tensor, y_val: torch.Tensor,
          config: FFConfig, *, seed: int = 0, quiet: bool = False) -> TrainOutput:
    """Train a :class:`SpikingClassifier` with Forward-Forward (see module docstring).

    Args:
        X_train, y_train: standardised ``[N, D]`` float inputs and ``[N]`` labels.
        X_val, y_val: the validation split (model selection, readout choice and adaptation).
        config: hyper-parameters.
        seed: seeds the one ``torch.Generator`` used for init, shuffling and negatives.
        quiet: no progress bar.
    Returns:
        The model state of the epoch with the best overall validation accuracy (readout chosen
        on validation), its history, and the measured bytes of activations held for one update
        (the largest single layer's saved tensors, since each layer is updated on its own).
    """
    gen = torch.Generator().manual_seed(seed)
    C = int(max(int(y_train.max()), int(y_val.max())) + 1)
    model = SpikingClassifier(X_train.shape[1], config.hidden, C, config.T, config.lif(),
                              config.variant, config.label_strength)
    model.init(gen, config.init_scale, config.init_shift, device=X_train.device)
    if config.adaptation:
        _check_group_room(config, C)
    opt = torch.optim.Adam(list(model.params.values()), lr=config.lr, weight_decay=config.weight_decay)
    for p in model.params.values():
        p.requires_grad_(True)
    sched = _cosine(opt, config.epochs)
    state = _AdaptState(weights=torch.ones(C, device=X_train.device), errors=None)
    history = _new_history()
    meter = SavedActivationMeter()
    best = (-1.0, 0, model.state())
    t0 = time.perf_counter()
    bar = _progress(config.epochs, quiet, "ff")
    for epoch in range(1, config.epochs + 1):
        losses = _ff_epoch(model, X_train, y_train, config, gen, opt, state,
                           meter if epoch == 1 else None)
        sched.step()
        val_acc, per_layer, name = _validate(model, X_val, y_val)
        _log(history, epoch, losses, val_acc, per_layer, name, model, state)
        if val_acc >= best[0]:      # ties go to the later epoch (smaller learning rate)
            best = (val_acc, epoch, model.state())
        if config.adaptation and epoch >= config.adapt_warmup and epoch % config.adapt_every == 0 \
                and epoch < config.epochs:
            _adapt(model, X_val, y_val, config, state, gen, opt)
        bar.set_postfix(val=f"{val_acc:.3f}", loss=f"{sum(losses) / len(losses):.3f}")
        bar.update()
    bar.close()
    history["activation_bytes_per_layer"] = meter.layer_bytes
    return TrainOutput(SpikingClassifier.from_state(best[2]), history, best[1], best[0],
                       meter_bytes(history), time.perf_counter() - t0)


@dataclass
class _AdaptState:
    weights: torch.Tensor
    errors: torch.Tensor | None


def _check_group_room(config: FFConfig, C: int) -> None:
    if config.variant == "cwc" and min(config.hidden) < C * config.min_group:
        raise ValueError(f"hidden widths {config.hidden} leave no room for {C} groups of ≥ {config.min_group}")


def _ff_epoch(model, X, y, config, gen, opt, state, meter) -> list[float]:
    """One pass over the training data; returns the mean loss of each layer."""
    perm = torch.randperm(len(X), generator=gen).to(X.device)
    totals = torch.zeros(model.n_layers)
    n_batches = 0
    for start in range(0, len(X), config.batch_size):
        idx = perm[start: start + config.batch_size]
        if len(idx) < 2:        # batch statistics need two samples
            continue
        x = X[idx]
        if config.variant == "cwc":
            layer_losses = _cwc_step(model, x, y[idx], config, state.weights, gen, meter)
        else:
            layer_losses = _hinton_step(model, x, y[idx], config, state.weights, gen, meter)
        opt.step()
        opt.zero_grad(set_to_none=True)
        totals += torch.tensor(layer_losses)
        n_batches += 1
        meter = None            # measure the first batch only (shapes repeat)
    return (totals / max(n_batches, 1)).tolist()


def _local_update(model, i, s_in, s_mean, loss_fn, config, meter, mask=None) -> tuple[float, torch.Tensor]:
    """Layer i's local loss and backward, then its spikes (no gradient) for the next layer.

    ``s_in`` is the layer's input (``[B, D]`` features or ``[T, B, n]`` spikes), ``s_mean`` its
    time average, ``mask`` an optional dropout mask ``[B, n]`` applied to both. Returns
    ``(loss value, boolean spikes [T, B, n_i])``.
    """
    x_mean = s_mean if mask is None else s_mean * mask
    if meter is not None:
        meter.reset()
        with meter:
            loss, stats = _layer_loss(model, i, x_mean, loss_fn, config)
        meter.layer_bytes.append(meter.bytes)
    else:
        loss, stats = _layer_loss(model, i, x_mean, loss_fn, config)
    loss.backward()             # reaches only layer i: its input is detached
    return float(loss.detach()), _generate(model, i, s_in, *stats, mask=mask)


@torch.no_grad()
def _generate(model, i, s_in, mu, inv, mask=None, chunk: int = 256) -> torch.Tensor:
    """Layer i's spikes (the black box: no gradient), computed in batch chunks.

    Spikes are stored as ``bool`` (they are 0/1) and the currents exist only for ``chunk``
    samples at a time, so the peak is one layer's input and output spike trains at one byte per
    spike — the FF memory argument (BPTT must keep float tensors of every layer and step).
    """
    B = s_in.shape[-2]
    out = None
    for b in range(0, B, chunk):
        x = s_in[..., b: b + chunk, :].to(mu.dtype)
        if mask is not None:
            x = x * mask[b: b + chunk]
        s = model.spikes(model.currents(i, x, mu, inv))
        if out is None:
            out = torch.empty((s.shape[0], B, s.shape[2]), dtype=torch.bool, device=s.device)
        out[:, b: b + chunk] = s.bool()
    return out


def _layer_loss(model, i, s_mean, loss_fn, config):
    r, (mu, inv) = model.drive(i, s_mean.detach(), train=True)
    a = quantise(r.clamp(0.0, 1.0), config.T)
    return loss_fn(a), (mu.detach(), inv.detach())


def _dropout_mask(shape, p, gen, like) -> torch.Tensor | None:
    """Inverted-dropout mask ``[B, n]`` (None when p = 0), shared by the spikes and their mean."""
    if p <= 0:
        return None
    return (torch.rand(shape, generator=gen) >= p).to(like.dtype).to(like.device) / (1 - p)


def _rates(s: torch.Tensor) -> torch.Tensor:
    """Firing rates ``[B, n]`` of boolean spikes ``[T, B, n]`` without a float copy of the train."""
    return s.sum(0, dtype=torch.float32) / s.shape[0]


def _cwc_step(model, x, y, config, class_w, gen, meter) -> list[float]:
    """Channel-wise competitive FF step on every layer, bottom-up."""
    s_in, s_mean, out = x, x, []
    weight = class_w[y]
    for i in range(model.n_layers):
        mask = _dropout_mask(s_mean.shape, config.dropout, gen, s_mean)
        M = group_matrix(model.groups[i], model.n_classes)

        def loss_fn(a, M=M):
            logits = config.goodness_scale * ((a * a) @ M)
            return (F.cross_entropy(logits, y, reduction="none") * weight).sum() / weight.sum()

        loss, s_in = _local_update(model, i, s_in, s_mean, loss_fn, config, meter, mask)
        s_mean = _rates(s_in)
        out.append(loss)
    return out


def _hinton_step(model, x, y, config, class_w, gen, meter) -> list[float]:
    """Hinton-style FF step: positives (true label) and negatives (random wrong label) together."""
    C = model.n_classes
    wrong = (y + torch.randint(1, C, y.shape, generator=gen).to(y.device)) % C
    inp = torch.cat([model.with_label(x, y), model.with_label(x, wrong)])
    sign = torch.cat([torch.ones(len(x)), -torch.ones(len(x))]).to(x.device)
    weight = class_w[y].repeat(2)
    s_in, s_mean, out = inp, inp, []
    for i in range(model.n_layers):
        mask = _dropout_mask(s_mean.shape, config.dropout, gen, s_mean)

        def loss_fn(a):
            goodness = (a * a).mean(1)
            margin = sign * (goodness - config.hinton_threshold)
            return (F.softplus(-config.goodness_scale * margin) * weight).sum() / weight.sum()

        loss, s_in = _local_update(model, i, s_in, s_mean, loss_fn, config, meter, mask)
        s_mean = _rates(s_in)
        out.append(loss)
    return out


def _validate(model, X_val, y_val) -> tuple[float, list[float], str]:
    """Overall validation accuracy with the readout chosen on validation; sets ``model.readout``."""
    scores = model.layer_scores(X_val)
    per_layer = [float((s.argmax(1) == y_val).float().mean()) for s in scores]
    name, layers, acc = choose_readout(scores, y_val)
    model.readout = layers
    return acc, per_layer, name


def _adapt(model, X_val, y_val, config, state: _AdaptState, gen, opt) -> None:
    """One round of class-aware complexity adaptation (formula in the module docstring)."""
    scores = model.layer_scores(X_val)
    pred = combine_scores(scores, model.readout).argmax(1)
    e = per_class_difficulty(pred.cpu(), y_val.cpu(), model.n_classes)
    state.errors = e if state.errors is None else 0.5 * state.errors + 0.5 * e
    shares = difficulty_shares(state.errors, config.adapt_alpha)
    if config.adapt_mode in ("both", "weights"):
        state.weights = shares.to(torch.float32).to(state.weights.device)
    if config.adapt_mode in ("both", "groups") and model.variant == "cwc":
        _reallocate_groups(model, X_val, y_val, shares, config, gen, opt)


@torch.no_grad()
def _reallocate_groups(model, X_val, y_val, shares, config, gen, opt) -> None:
    rates = [s.mean(0) for s in model.layer_spikes(X_val)]
    for i, r in enumerate(rates):
        sizes = largest_remainder(model.widths[i], shares, config.min_group)
        # usefulness of unit j: its mean squared rate on validation samples of its own class
        own = F.one_hot(y_val, model.n_classes).to(r.dtype)[:, model.groups[i]]
        use = ((r * r) * own).sum(0) / own.sum(0).clamp_min(1)
        model.groups[i], moved = reassign_units(model.groups[i], sizes, use.cpu())
        model.groups[i] = model.groups[i].to(r.device)
        if len(moved):
            _reinit_rows(model, i, moved.to(r.device), gen, config, opt)


def _reinit_rows(model, i, rows, gen, config, opt) -> None:
    """Fresh incoming weights (and γ, β, Adam moments) for the units that changed group."""
    W = model.params[f"layers.{i}.weight"]
    W[rows] = _uniform((len(rows), W.shape[1]), math.sqrt(3.0 / W.shape[1]), gen).to(W.device)
    model.params[f"layers.{i}.scale"][rows] = config.init_scale
    model.params[f"layers.{i}.shift"][rows] = config.init_shift
    for name in ("weight", "scale", "shift"):
        st = opt.state.get(model.params[f"layers.{i}.{name}"], {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in st:
                st[key][rows] = 0


# =========================================================================== small helpers
def _uniform(shape, bound, generator) -> torch.Tensor:
    return (2 * torch.rand(shape, generator=generator) - 1) * bound


def _cosine(opt, epochs: int):
    """Cosine decay of the learning rate from lr to 5 % of lr over the epochs."""
    total = max(epochs, 1)
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(e, total) / total)))


def _progress(total: int, quiet: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=quiet, unit="epoch", leave=False)


def _new_history() -> dict:
    return {"epoch": [], "loss_per_layer": [], "val_accuracy": [], "val_accuracy_per_layer": [],
            "readout": [], "group_sizes": [], "class_weights": [], "activation_bytes_per_layer": []}


def _log(history, epoch, losses, val_acc, per_layer, name, model, state) -> None:
    history["epoch"].append(epoch)
    history["loss_per_layer"].append(losses)
    history["val_accuracy"].append(val_acc)
    history["val_accuracy_per_layer"].append(per_layer)
    history["readout"].append(name)
    history["group_sizes"].append([torch.bincount(g, minlength=model.n_classes).tolist() for g in model.groups])
    history["class_weights"].append(state.weights.tolist())


def meter_bytes(history: dict) -> int:
    """Largest single-layer saved-activation bytes recorded in the history (0 if none)."""
    return int(max(history.get("activation_bytes_per_layer") or [0]))

"""Forward-Forward (FF) training of a spiking classifier with layer-local losses only.

Seed: FFGAF-SNN (arXiv 2507.23643) as found in its public code (``shared/research/seeds.md`` §3):
channel-wise competitive goodness over class groups, a quantised clipped activation, and the
spike generator placed *after* the local loss so that no gradient ever passes through a spike.
The network is :class:`spikepde.snn.classifier.SpikingClassifier` (its layers, batch
normalisation and eval-mode folding are described there).

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
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..snn.classifier import (SpikingClassifier, combine_scores, group_matrix, largest_remainder,
                              uniform_weights)
from .classifier_training import (ClassifierConfig, SavedActivationMeter, TrainOutput, meter_bytes,
                                  new_history, progress, set_epoch_lr, validate)


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


def quantise(r: torch.Tensor, T: int) -> torch.Tensor:
    """``Q_T(r) = ⌊T r⌋/T`` in value, identity in gradient (straight-through)."""
    q = torch.floor(T * r + 1e-6) / T     # 1e-6: the IF neuron fires at v == θ exactly
    return r + (q - r).detach()


def train(X_train: torch.Tensor, y_train: torch.Tensor, X_val: torch.Tensor, y_val: torch.Tensor,
          config: ClassifierConfig, *, seed: int = 0, quiet: bool = False) -> TrainOutput:
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
    state = _AdaptState(weights=torch.ones(C, device=X_train.device), errors=None)
    history = new_history()
    meter = SavedActivationMeter()
    best = (-1.0, 0, model.state())
    t0 = time.perf_counter()
    bar = progress(config.epochs, quiet, "ff")
    for epoch in range(1, config.epochs + 1):
        set_epoch_lr(opt, config, epoch)
        losses = _ff_epoch(model, X_train, y_train, config, gen, opt, state,
                           meter if epoch == 1 else None)
        val_acc, per_layer, name = validate(model, X_val, y_val)
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


def _check_group_room(config: ClassifierConfig, C: int) -> None:
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
    W[rows] = uniform_weights((len(rows), W.shape[1]), math.sqrt(3.0 / W.shape[1]), gen).to(W.device)
    model.params[f"layers.{i}.scale"][rows] = config.init_scale
    model.params[f"layers.{i}.shift"][rows] = config.init_shift
    for name in ("weight", "scale", "shift"):
        st = opt.state.get(model.params[f"layers.{i}.{name}"], {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in st:
                st[key][rows] = 0


def _log(history, epoch, losses, val_acc, per_layer, name, model, state) -> None:
    history["epoch"].append(epoch)
    history["loss_per_layer"].append(losses)
    history["val_accuracy"].append(val_acc)
    history["val_accuracy_per_layer"].append(per_layer)
    history["readout"].append(name)
    history["group_sizes"].append([torch.bincount(g, minlength=model.n_classes).tolist() for g in model.groups])
    history["class_weights"].append(state.weights.tolist())

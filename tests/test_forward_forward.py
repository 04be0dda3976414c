"""Forward-Forward trainer: group arithmetic, locality, exactness of the IF proxy, tiny training."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spikepde.classification.datasets import load_dataset
from spikepde.snn.classifier import SpikingClassifier, group_matrix, largest_remainder
from spikepde.train import forward_forward as ff
from spikepde.train.bptt import train_classifier as bptt_train
from spikepde.train.classifier_training import ClassifierConfig


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("digits")
    mean, std = float(d.X_train.mean()), float(d.X_train.std())
    t = lambda X: torch.as_tensor((X.reshape(len(X), -1) - mean) / std, dtype=torch.float32)
    return (t(d.X_train), torch.as_tensor(d.y_train), t(d.X_val), torch.as_tensor(d.y_val),
            t(d.X_test), torch.as_tensor(d.y_test))


def test_largest_remainder_sums_and_respects_minimum():
    assert largest_remainder(40, torch.tensor([1.0, 1.0, 2.0])) == [10, 10, 20]
    sizes = largest_remainder(37, torch.tensor([0.1, 3.0, 1.0, 1.0]), minimum=2)
    assert sum(sizes) == 37 and min(sizes) >= 2 and sizes[1] == max(sizes)
    with pytest.raises(ValueError):
        largest_remainder(5, torch.ones(3), minimum=2)


def test_difficulty_shares_formula():
    e = ff.per_class_difficulty(torch.tensor([0, 0, 1, 1, 2, 0]), torch.tensor([0, 0, 1, 1, 2, 2]), 3)
    assert torch.allclose(e, torch.tensor([1 / 4, 1 / 4, 2 / 4], dtype=torch.float64))   # (err+1)/(n+2)
    shares = ff.difficulty_shares(e, alpha=0.5)
    assert torch.isclose(shares.mean(), torch.tensor(1.0, dtype=torch.float64))
    assert shares[2] > shares[0]
    assert torch.allclose(ff.difficulty_shares(e, alpha=0.0), torch.ones(3, dtype=torch.float64))


def test_reassign_moves_least_useful_units_only():
    group_of = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    use = torch.tensor([5.0, 0.1, 3.0, 0.2, 1.0, 1.0, 1.0, 1.0])
    new, moved = ff.reassign_units(group_of, [2, 3, 3], use)
    assert torch.bincount(new, minlength=3).tolist() == [2, 3, 3]
    assert moved.tolist() == [1, 3]                      # the two weakest units of class 0
    assert torch.equal(new[[0, 2, 4, 5, 6, 7]], group_of[[0, 2, 4, 5, 6, 7]])


def test_quantiser_value_and_straight_through_gradient():
    r = torch.tensor([0.0, 0.12, 0.5, 0.99, 1.0], requires_grad=True)
    q = ff.quantise(r, 8)
    assert torch.allclose(q, torch.tensor([0.0, 0.0, 0.5, 0.875, 1.0]))
    q.sum().backward()
    assert torch.equal(r.grad, torch.ones(5))


def _model(in_dim=64, widths=(30, 30, 30), T=8, seed=0):
    cfg = ClassifierConfig(hidden=widths, T=T)
    return SpikingClassifier(in_dim, widths, 10, T, cfg.lif()).init(torch.Generator().manual_seed(seed))


def test_first_layer_proxy_is_the_exact_if_firing_rate(digits):
    """Q_T(clip(r̃)) equals the firing rate of the true IF forward pass for the first layer."""
    model = _model()
    X = digits[0][:200]
    model.drive(0, X, train=True)                        # set running statistics
    r, _ = model.drive(0, X, train=False)
    proxy = ff.quantise(r.clamp(0, 1), model.T)
    rates = model.layer_spikes(X)[0].mean(0)
    assert torch.allclose(proxy, rates, atol=1e-6)


def test_losses_are_layer_local_and_spikes_carry_no_gradient(digits):
    model = _model()
    for p in model.params.values():
        p.requires_grad_(True)
    x, y = digits[0][:64], digits[1][:64]
    layer0 = model.spikes(model.currents(0, x, *model.drive(0, x, train=True)[1]))
    assert not layer0.requires_grad                      # the spike generator is a black box
    M = group_matrix(model.groups[1], 10)
    loss, spikes = ff._local_update(model, 1, layer0, layer0.mean(0),
                                    lambda a: torch.nn.functional.cross_entropy(20 * (a * a) @ M, y),
                                    model_config := ClassifierConfig(hidden=(30, 30, 30)), None)
    assert spikes.dtype == torch.bool and spikes.shape == (8, 64, 30)
    assert model.params["layers.1.weight"].grad is not None
    for name in ("layers.0.weight", "layers.0.scale", "layers.2.weight"):
        assert model.params[name].grad is None, name
    assert model_config.variant == "cwc"


def test_folded_params_give_the_eval_currents(digits):
    model = _model()
    X = digits[0][:50]
    model.drive(0, X, train=True)
    r, (mu, inv) = model.drive(0, X, train=False)
    folded = model.folded_params()
    current = X @ folded["layers.0.weight"].T + folded["layers.0.bias"]
    assert torch.allclose(current, model.lif.threshold * r, atol=1e-5)


def _tiny(**kw):
    base = dict(hidden=(40, 40, 40), T=8, epochs=4, batch_size=64, lr=5e-3, adapt_warmup=2, adapt_every=2)
    return ClassifierConfig(**{**base, **kw})


def test_ff_learns_digits_and_is_reproducible(digits):
    Xtr, ytr, Xva, yva, Xte, yte = digits
    out = ff.train(Xtr, ytr, Xva, yva, _tiny(), seed=0, quiet=True)
    acc = float((out.model.predict(Xte).argmax(1) == yte).float().mean())
    assert acc > 0.85, acc
    assert out.val_accuracy > 0.85
    again = ff.train(Xtr, ytr, Xva, yva, _tiny(), seed=0, quiet=True)
    assert again.history["val_accuracy"] == out.history["val_accuracy"]
    for k, v in out.model.params.items():
        assert torch.equal(v, again.model.params[k]), k
    other = ff.train(Xtr, ytr, Xva, yva, _tiny(epochs=1), seed=1, quiet=True)
    assert not torch.equal(other.model.params["layers.0.weight"], out.model.params["layers.0.weight"])


def test_adaptation_reallocates_groups_and_weights(digits):
    Xtr, ytr, Xva, yva = digits[:4]
    on = ff.train(Xtr, ytr, Xva, yva, _tiny(epochs=3, adapt_alpha=1.0), seed=0, quiet=True)
    sizes = on.history["group_sizes"][-1]
    assert all(sum(s) == 40 for s in sizes) and min(min(s) for s in sizes) >= 1
    assert len(set(sizes[0])) > 1                                  # unequal after adaptation
    assert on.history["class_weights"][-1] != [1.0] * 10
    off = ff.train(Xtr, ytr, Xva, yva, _tiny(epochs=3, adaptation=False), seed=0, quiet=True)
    assert off.history["group_sizes"][-1][0] == [4] * 10
    assert off.history["class_weights"][-1] == [1.0] * 10


def test_hinton_variant_beats_chance(digits):
    Xtr, ytr, Xva, yva = digits[:4]
    out = ff.train(Xtr, ytr, Xva, yva, _tiny(variant="hinton", epochs=3, hinton_threshold=0.2), seed=0, quiet=True)
    assert out.val_accuracy > 0.4                                   # chance is 0.1
    assert out.model.predict(Xva[:7]).shape == (7, 10)


def test_ff_holds_far_fewer_activation_bytes_than_bptt(digits):
    Xtr, ytr, Xva, yva = (t[:300] for t in digits[:4])
    cfg = _tiny(epochs=1, T=8, batch_size=128)
    f = ff.train(Xtr, ytr, Xva, yva, cfg, seed=0, quiet=True)
    b = bptt_train(Xtr, ytr, Xva, yva, cfg, seed=0, quiet=True)
    assert len(f.history["activation_bytes_per_layer"]) == 3
    assert 0 < f.activation_bytes * 4 < b.activation_bytes


def test_bptt_baseline_learns(digits):
    Xtr, ytr, Xva, yva = digits[:4]
    out = bptt_train(Xtr, ytr, Xva, yva, _tiny(epochs=2), seed=0, quiet=True)
    assert out.val_accuracy > 0.7
    assert np.isfinite(out.history["loss_per_layer"][-1][0])

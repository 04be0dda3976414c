"""The forward-gradient estimator: unbiased, variance falling with K, and no backward pass."""
import torch
import pytest

import spikepde
from spikepde.fields import SpikingField
from spikepde.problem.compile import compile_problem
from spikepde.snn.network import SpikingMLP
from spikepde.train.fgrad.estimators import forward_gradient, sample_directions
from spikepde.train.objective import Objective, TrainingPoints


def _setup(problem="burgers", n=48, dtype=torch.float64):
    compiled = compile_problem(spikepde.load_problem(problem), dtype=dtype)
    g = torch.Generator().manual_seed(0)
    points = TrainingPoints.sample(compiled, g, interior=n, scale=0.25)
    objective = Objective(compiled, points)
    net = SpikingMLP(len(compiled.input_names), (12, 10), T=4,
                     lower=tuple(compiled.lower.tolist()), upper=tuple(compiled.upper.tolist()))
    params = net.init_params(g, dtype=dtype)
    loss_fn = lambda p: objective(SpikingField(net, p))  # noqa: E731
    return net, params, loss_fn, g


def _autograd_gradient(loss_fn, params):
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss = loss_fn(p)
    grads = torch.autograd.grad(loss, list(p.values()))
    return torch.cat([g.reshape(-1) for g in grads])


def _flat(d):
    return torch.cat([v.reshape(-1) for v in d.values()])


@pytest.mark.parametrize("distribution", ["rademacher", "gaussian"])
def test_estimator_is_unbiased(distribution):
    net, params, loss_fn, g = _setup()
    true = _autograd_gradient(loss_fn, params)
    total = torch.zeros_like(true)
    rounds, K = 20, 200
    for _ in range(rounds):
        _, est = forward_gradient(loss_fn, params, K, g, distribution)
        total += _flat(est)
    mean = total / rounds
    cosine = torch.nn.functional.cosine_similarity(mean, true, dim=0)
    assert cosine > 0.95, float(cosine)


def test_layerwise_estimator_is_unbiased_and_less_noisy_per_direction():
    net, params, loss_fn, g = _setup()
    true = _autograd_gradient(loss_fn, params)
    groups = net.layer_names()
    total = torch.zeros_like(true)
    for _ in range(20):
        _, est = forward_gradient(loss_fn, params, 100, g, groups=groups)
        total += _flat(est)
    assert torch.nn.functional.cosine_similarity(total / 20, true, dim=0) > 0.95
    # one direction per layer vs one global direction: the layer-wise error is smaller
    def mse(groups, K):
        errs = [(_flat(forward_gradient(loss_fn, params, K, g, groups=groups)[1]) - true).square().sum()
                for _ in range(30)]
        return torch.stack(errs).mean()
    assert mse(groups, 1) < mse(None, 1)


def test_variance_falls_with_K():
    net, params, loss_fn, g = _setup()
    true = _autograd_gradient(loss_fn, params)
    def mse(K):
        return torch.stack([(_flat(forward_gradient(loss_fn, params, K, g)[1]) - true).square().sum()
                            for _ in range(20)]).mean()
    assert mse(32) < 0.25 * mse(2)


def test_directions_have_identity_covariance():
    params = {"w": torch.zeros(3, 2, dtype=torch.float64)}
    g = torch.Generator().manual_seed(1)
    for dist in ("rademacher", "gaussian"):
        v = sample_directions(params, 20000, g, dist)["w"].reshape(20000, -1)
        cov = v.T @ v / 20000
        assert torch.allclose(cov, torch.eye(6, dtype=torch.float64), atol=0.05)


def test_fgrad_training_runs_without_any_backward(monkeypatch, tmp_path):
    def forbidden(*args, **kwargs):
        raise AssertionError("reverse-mode autograd used in the fgrad path")
    monkeypatch.setattr(torch.Tensor, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "grad", forbidden)
    r = spikepde.solve("burgers", method="fgrad", steps=4, seed=0, out=tmp_path / "run", quiet=True,
                       interior_points=64, width=8, T=4, K=4)
    assert r.metrics["steps"] == 4
    assert 0 < r.metrics["relative_l2"] < 10

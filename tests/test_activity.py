"""Activity-perturbation forward gradients: exact error signals, unbiased estimates, no backward."""
import pytest
import torch

import spikepde
from spikepde.fields import SpikingField
from spikepde.problem.compile import compile_problem
from spikepde.train.fgrad.activity_perturbation import (_rademacher, activity_forward_gradient,
                                                      activity_tangents)
from spikepde.snn.network import SpikingMLP
from spikepde.train.fgrad.weight_perturbation import forward_jet_tangent
from spikepde.train.objective import Objective, TrainingPoints
from spikepde.train.weak_form import WeakForm

CASES = [("burgers", "weak", True), ("burgers", "strong", False), ("kdv", "strong", True),
         ("advection1d", "strong", False), ("mexican_hat", "strong", True), ("heat1d", "weak", False),
         ("poisson2d", "strong", False)]


def _objective(name, form, hard, n=64, tests=6):
    compiled = compile_problem(spikepde.load_problem(name), dtype=torch.float64, hard_constraints=hard)
    g = torch.Generator().manual_seed(0)
    points = TrainingPoints.sample(compiled, g, interior=n, scale=0.25)
    weak = WeakForm(compiled, tests, 1) if form == "weak" else None
    return compiled, Objective(compiled, points, weak=weak), g


@pytest.mark.parametrize("name,form,hard", CASES)
def test_sensitivities_equal_autograd(name, form, hard):
    """∂L/∂N_α(x_b) from forward mode and the weak form's adjoint = reverse-mode autograd."""
    _, objective, g = _objective(name, form, hard)
    fields = [{a: torch.randn(X.shape[0], dtype=torch.float64, generator=g, requires_grad=True)
               for a in indices} for X, indices in objective.field_requests()]
    leaves = [v for f in fields for v in f.values()]
    loss = objective.total(objective.terms_from_fields(fields))
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    value, signals = objective.sensitivities(fields)
    assert float(value) == pytest.approx(float(loss), rel=1e-14)
    mine = [v for s in signals for v in s.values()]
    assert len(mine) == len(grads)
    for ours, ref in zip(mine, grads):
        ref = torch.zeros_like(ours) if ref is None else ref
        assert torch.allclose(ours, ref, rtol=1e-10, atol=1e-12 * float(ref.abs().max() + 1))


def test_weak_residual_adjoint_is_the_transpose():
    compiled, objective, g = _objective("burgers", "weak", True)
    weak = objective.weak
    u = torch.randn(weak.points.shape[0], dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(weak.n_tests, dtype=torch.float64, generator=g)
    (ref,) = torch.autograd.grad((weak.residual(u) * w).sum(), [u])
    assert torch.allclose(weak.residual_adjoint(u.detach(), w), ref, rtol=1e-12, atol=1e-14)


def _network(compiled, g, widths=(12, 10), T=4):
    net = SpikingMLP(len(compiled.input_names), widths, T=T,
                     lower=tuple(compiled.lower.tolist()), upper=tuple(compiled.upper.tolist()))
    return net, net.init_params(g, dtype=torch.float64)


def _autograd_gradient(objective, net, params):
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss = objective(SpikingField(net, p))
    return dict(zip(p, torch.autograd.grad(loss, list(p.values())))), float(loss)


def test_values_and_tangents_match_the_reference_forward():
    """Pass 1's fields equal the plain forward jets, and each slot's output tangent equals
    ``torch.func.jvp`` of a hand-written LIF forward along the same injected current noise
    (layer 0: constant in time; layer 1: per step), regenerated from the same seed."""
    from spikepde.train.fgrad.activity_perturbation import _noise_generator
    from spikepde.snn.lif import lif_scan

    compiled, objective, g = _objective("burgers", "strong", False)
    net, params = _network(compiled, g)
    X = objective.points.interior
    indices = [(0, 0), (1, 0), (0, 1), (2, 0)]
    fields, rates, _ = activity_tangents(net, params, X, indices, K=3, seed=7)
    ref, _ = forward_jet_tangent(net, params, X, indices)
    assert torch.equal(fields[(0, 0)], ref[(0, 0)])          # same spikes, same roundings
    for a in ref:
        assert torch.allclose(fields[a], ref[a], rtol=1e-12, atol=1e-12)
    assert rates.shape == (len(fields), X.shape[0], net.widths[-1])

    K, (n0, n1), B = 3, net.widths, X.shape[0]
    fields, _, tangents = activity_tangents(net, params, X, [(0, 0)], K=K, seed=7, chunk=0)
    gen = _noise_generator(7, 0)
    U0 = _rademacher((1, B, K, n0), gen, X.dtype, "cpu")[0]
    U1 = torch.stack([_rademacher((1, B, K, n1), gen, X.dtype, "cpu")[0] for _ in range(net.T)])

    def u_of(z0, z1):
        current = net.encode(X) @ params["layers.0.weight"].T + params["layers.0.bias"] + z0
        s0 = lif_scan(current, net.lif, T=net.T)
        s1 = lif_scan(s0 @ params["layers.1.weight"].T + params["layers.1.bias"] + z1, net.lif)
        return net.readout(params, s1.mean(0))
    z0, z1 = torch.zeros(B, n0, dtype=X.dtype), torch.zeros(net.T, B, n1, dtype=X.dtype)
    for k in range(K):
        _, t0 = torch.func.jvp(u_of, (z0, z1), (U0[:, k], torch.zeros_like(z1)))
        _, t1 = torch.func.jvp(u_of, (z0, z1), (torch.zeros_like(z0), U1[:, :, k]))
        assert torch.allclose(tangents[(0, 0)][k], t0, rtol=1e-10, atol=1e-12)
        assert torch.allclose(tangents[(0, 0)][K + k], t1, rtol=1e-10, atol=1e-12)


def test_readout_gradient_is_exact():
    compiled, objective, g = _objective("burgers", "weak", True)
    net, params = _network(compiled, g)
    true, loss = _autograd_gradient(objective, net, params)
    value, est = activity_forward_gradient(objective, net, params, 2, g)
    assert float(value) == pytest.approx(loss, rel=1e-12)
    for name in ("readout.weight", "readout.bias"):
        assert torch.allclose(est[name], true[name], rtol=1e-10, atol=1e-14)


def _assert_mean_estimate_matches_autograd(objective, net, params, g, rounds=300):
    """The mean of ``rounds`` estimates (K = 4) points along the back-propagated surrogate
    gradient, parameter by parameter (cosine > 0.95)."""
    true, _ = _autograd_gradient(objective, net, params)
    mean = {k: torch.zeros_like(v) for k, v in params.items()}
    for _ in range(rounds):
        _, est = activity_forward_gradient(objective, net, params, 4, g)
        for k in mean:
            mean[k] += est[k] / rounds
    for k in params:
        cosine = torch.nn.functional.cosine_similarity(mean[k].reshape(-1), true[k].reshape(-1), dim=0)
        assert cosine > 0.95, (k, float(cosine))


@pytest.mark.parametrize("name,form,hard", [("burgers", "weak", True), ("mexican_hat", "strong", True)])
def test_estimator_is_unbiased(name, form, hard):
    """The mean of many estimates approaches the back-propagated surrogate gradient, layer by layer."""
    compiled, objective, g = _objective(name, form, hard, n=48)
    net, params = _network(compiled, g)
    _assert_mean_estimate_matches_autograd(objective, net, params, g)


@pytest.mark.parametrize("widths", [(12,), (10, 8, 6)])
def test_estimator_is_unbiased_for_one_and_three_hidden_layers(widths):
    compiled, objective, g = _objective("burgers", "weak", True, n=48)
    net, params = _network(compiled, g, widths=widths)
    _assert_mean_estimate_matches_autograd(objective, net, params, g)


def test_jet_estimates_converge_like_an_unbiased_mean():
    """Strong form (jets of u_t, u_x): the per-point noise covers every jet entry, so single
    estimates are noisy; the error of a mean of n estimates must fall like 1/sqrt(n) (16x more
    estimates: about 4x smaller), which a bias would stop."""
    compiled, objective, g = _objective("advection1d", "strong", False, n=32)
    net, params = _network(compiled, g, widths=(8, 6))
    true, _ = _autograd_gradient(objective, net, params)
    flat = lambda d: torch.cat([d[k].reshape(-1) for k in true])  # noqa: E731

    def error_of_mean(n):
        mean = sum(flat(activity_forward_gradient(objective, net, params, 4, g)[1]) for _ in range(n)) / n
        return float((mean - flat(true)).norm())
    assert error_of_mean(960) < 0.5 * error_of_mean(60)


def test_activity_beats_weight_perturbation_per_tangent():
    """At equal tangent slots (K·L = 8) the activity estimate is closer to the true gradient."""
    from spikepde.train.fgrad.estimators import forward_gradient

    compiled, objective, g = _objective("burgers", "weak", True, n=48)
    net, params = _network(compiled, g, widths=(24, 24))
    true, _ = _autograd_gradient(objective, net, params)
    flat = lambda d: torch.cat([d[k].reshape(-1) for k in true])  # noqa: E731
    loss_fn = lambda p: objective(SpikingField(net, p))  # noqa: E731

    def mean_cos(make):
        return sum(float(torch.nn.functional.cosine_similarity(flat(make()), flat(true), dim=0))
                   for _ in range(20)) / 20
    activity = mean_cos(lambda: activity_forward_gradient(objective, net, params, 4, g)[1])
    weight = mean_cos(lambda: forward_gradient(loss_fn, params, 8, g)[1])
    assert activity > 2 * weight, (activity, weight)


def test_same_seed_same_estimate():
    compiled, objective, _ = _objective("burgers", "weak", True)
    net, params = _network(compiled, torch.Generator().manual_seed(3))
    a = activity_forward_gradient(objective, net, params, 3, torch.Generator().manual_seed(5))[1]
    b = activity_forward_gradient(objective, net, params, 3, torch.Generator().manual_seed(5))[1]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_rademacher_noise_is_balanced_and_uncorrelated():
    u = _rademacher((4000, 6), torch.Generator().manual_seed(0), torch.float64, "cpu")
    assert set(u.unique().tolist()) == {-1.0, 1.0}
    assert torch.allclose(u.T @ u / 4000, torch.eye(6, dtype=torch.float64), atol=0.06)


def test_activity_training_runs_without_any_backward(monkeypatch, tmp_path):
    def forbidden(*args, **kwargs):
        raise AssertionError("reverse-mode autograd used in the activity-perturbation path")
    monkeypatch.setattr(torch.Tensor, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "grad", forbidden)
    for form in ("weak", "strong"):
        r = spikepde.solve("burgers", method="fgrad", steps=4, seed=0, out=tmp_path / form, quiet=True,
                           interior_points=64, width=8, T=4, K=2, perturbation="activity",
                           residual_form=form, weak_tests=8)
        assert r.metrics["steps"] == 4
        assert 0 < r.metrics["relative_l2"] < 10

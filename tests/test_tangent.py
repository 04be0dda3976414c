"""The hand-written forward mode (train/fgrad/weight_perturbation.py) and the fast forward gradient equal the reference.

Reference: ``torch.func.vmap(torch.func.jvp(...))`` through :meth:`SpikingMLP.forward_jet` /
:meth:`SpikingMLP.forward` and :class:`Objective` — the generic path that the fast one replaces.
"""
import pytest
import torch
from torch.func import jvp, vmap

from spikepde.fields import SpikingField
from spikepde.problem.compile import compile_problem
from spikepde.problem.spec import load_problem
from spikepde.snn.lif import LIFConfig
from spikepde.snn.network import SpikingMLP
from spikepde.snn.surrogate import make_surrogate
from spikepde.train.fgrad.weight_perturbation import (directional_derivatives_fields, forward_gradient_fields,
                                                    forward_jet_tangent, forward_step_major, forward_tangent)
from spikepde.train.fgrad.estimators import directional_derivatives, forward_gradient, sample_directions
from spikepde.train.objective import Objective, TrainingPoints


def _net(reset="subtract", detach=True, surrogate="sigmoid", widths=(12, 10, 8), T=5, out_dim=1,
         dtype=torch.float64, seed=1):
    g = torch.Generator().manual_seed(seed)
    lif = LIFConfig(beta=0.85, reset=reset, detach_reset=detach, surrogate=make_surrogate(surrogate))
    net = SpikingMLP(2, widths, out_dim=out_dim, T=T, lif=lif, lower=(-1.0, 0.0), upper=(1.0, 2.0))
    params = net.init_params(g, dtype=dtype)
    X = torch.rand(40, 2, generator=g, dtype=dtype) * 2 - torch.tensor([1.0, 0.0], dtype=dtype)
    return net, params, X, g


def _close(a, b, rtol):
    scale = b.abs().max().clamp_min(1e-12)
    return float((a - b).abs().max() / scale) <= rtol


@pytest.mark.parametrize("reset,detach", [("subtract", True), ("subtract", False), ("zero", True),
                                          ("none", True)])
@pytest.mark.parametrize("surrogate", ["sigmoid", "atan", "fast_sigmoid"])
def test_jet_tangents_equal_vmap_jvp(reset, detach, surrogate):
    net, params, X, g = _net(reset, detach, surrogate)
    idx = [(0, 0), (1, 0), (2, 0), (0, 1), (3, 0), (1, 1)]
    dirs = sample_directions(params, 3, g, "gaussian")
    fields, tangents = forward_jet_tangent(net, params, X, idx, dirs)
    ref_f, ref_t = vmap(lambda v: jvp(lambda p: net.forward_jet(p, X, idx), (params,), (v,)))(dirs)
    assert set(fields) == set(ref_f)
    for a in idx:
        assert _close(fields[a], ref_f[a][0], 1e-12), a
        assert tangents[a].shape == (3, X.shape[0])
        assert _close(tangents[a], ref_t[a], 1e-10), a


@pytest.mark.parametrize("reset,detach", [("subtract", True), ("subtract", False), ("zero", True),
                                          ("zero", False), ("none", True)])
def test_plain_forward_tangent_equals_jvp(reset, detach):
    net, params, X, g = _net(reset, detach, "atan")
    dirs = sample_directions(params, 4, g)
    u, ut = forward_tangent(net, params, X, dirs)
    ref_u, ref_t = vmap(lambda v: jvp(lambda p: net.forward(p, X), (params,), (v,)))(dirs)
    assert torch.equal(u, ref_u[0])
    assert _close(ut, ref_t, 1e-12)


def test_non_detached_zero_reset_jets_are_refused():
    net, params, X, g = _net("zero", False)
    with pytest.raises(NotImplementedError):
        forward_jet_tangent(net, params, X, [(1, 0)], sample_directions(params, 2, g))


def test_vector_output_and_missing_directions():
    net, params, X, g = _net(out_dim=3)
    dirs = sample_directions(params, 2, g, "gaussian")
    dirs.pop("layers.1.bias")                      # a missing name is a zero tangent
    u, ut = forward_tangent(net, params, X, dirs)
    full = {k: dirs.get(k, torch.zeros((2,) + tuple(p.shape), dtype=p.dtype)) for k, p in params.items()}
    ref_u, ref_t = vmap(lambda v: jvp(lambda p: net.forward(p, X), (params,), (v,)))(full)
    assert u.shape == (40, 3) and ut.shape == (2, 40, 3)
    assert torch.equal(u, ref_u[0]) and _close(ut, ref_t, 1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_step_major_forward_has_the_same_spikes(dtype):
    # readout = identity, so the output *is* the last layer's spike counts / T
    net, params, X, _ = _net(widths=(16, 16, 16), T=12, out_dim=16, dtype=dtype)
    params["readout.weight"] = torch.eye(16, dtype=dtype)
    rates_ref = net.hidden_spikes(params, X, differentiable=False)[-1].mean(0)
    rates = forward_step_major(net, params, X)
    assert torch.equal(rates * net.T, rates_ref * net.T)
    p2 = net.init_params(torch.Generator().manual_seed(3), dtype=dtype)
    assert torch.equal(forward_step_major(net, p2, X), net.forward(p2, X, differentiable=False))


def _problem(name, dtype, widths=(12, 12), T=4, interior=48):
    compiled = compile_problem(load_problem(name), dtype=dtype)
    g = torch.Generator().manual_seed(0)
    points = TrainingPoints.sample(compiled, g, interior=interior, scale=0.25)
    objective = Objective(compiled, points)
    net = SpikingMLP(len(compiled.input_names), widths, T=T,
                     lower=tuple(compiled.lower.tolist()), upper=tuple(compiled.upper.tolist()))
    params = net.init_params(g, dtype=dtype)
    return objective, net, params, g


@pytest.mark.parametrize("name", ["burgers", "mexican_hat"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("layerwise", [False, True])
def test_fast_directional_derivatives_equal_reference(name, dtype, layerwise):
    objective, net, params, g = _problem(name, dtype)
    groups = net.layer_names() if layerwise else None
    dirs = sample_directions(params, 3, g, "rademacher", groups)
    loss_ref, d_ref = directional_derivatives(lambda p: objective(SpikingField(net, p)), params, dirs)
    loss, d = directional_derivatives_fields(objective, net, params, dirs)
    tol = 1e-10 if dtype == torch.float64 else 2e-4
    assert d.shape == d_ref.shape == (dirs["readout.bias"].shape[0],)
    assert abs(float(loss - loss_ref)) <= tol * abs(float(loss_ref))
    assert _close(d, d_ref, tol)
    assert loss.dtype == d.dtype == dtype


def test_fast_forward_gradient_equals_reference_estimate():
    objective, net, params, _ = _problem("burgers", torch.float64)
    groups = net.layer_names()
    loss_ref, g_ref = forward_gradient(lambda p: objective(SpikingField(net, p)), params, 2,
                                       torch.Generator().manual_seed(5), groups=groups)
    loss, g = forward_gradient_fields(objective, net, params, 2, torch.Generator().manual_seed(5),
                                      groups=groups)
    assert torch.allclose(loss, loss_ref, rtol=1e-12)
    for k in params:
        assert g[k].shape == params[k].shape
        assert torch.allclose(g[k], g_ref[k], rtol=1e-9, atol=1e-12), k


def test_fast_path_uses_no_reverse_mode(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("reverse-mode autograd called on the forward-gradient path")
    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    monkeypatch.setattr(torch.autograd, "grad", refuse)
    for name in ("burgers", "mexican_hat"):
        objective, net, params, g = _problem(name, torch.float32)
        params = {k: v.requires_grad_() for k, v in params.items()}
        loss, grads = forward_gradient_fields(objective, net, params, 4, g)
        assert torch.isfinite(loss) and all(torch.isfinite(v).all() for v in grads.values())
        assert not loss.requires_grad


@pytest.mark.parametrize("surrogate", ["sigmoid", "atan", "gaussian", "fast_sigmoid"])
def test_surrogate_derivative_shortcuts_match_closed_forms(surrogate):
    sur = make_surrogate(surrogate)
    x = torch.linspace(-3, 3, 101, dtype=torch.float64)
    for order in range(1, 6):
        got = sur.derivatives(x, order)
        ref = sur.derivatives(x, 4)[:min(order, 4)]
        assert len(got) == order
        for a, b in zip(got, ref):
            assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)
    # the fifth derivative (by forward mode) against a finite difference of the fourth
    h = 1e-4
    fd = (sur.derivatives(x + h, 4)[3] - sur.derivatives(x - h, 4)[3]) / (2 * h)
    scale = fd.abs().max()
    mask = x.abs() > 0.05          # fast_sigmoid's derivatives jump at 0
    assert ((sur.derivatives(x, 5)[4] - fd)[mask].abs().max() / scale) < 1e-5


def test_float32_spikes_agree_on_a_larger_network():
    net, params, X, g = _net(widths=(64, 64, 64), T=16, out_dim=64, dtype=torch.float32)
    X = torch.rand(600, 2, generator=g) * 2 - torch.tensor([1.0, 0.0])
    params["readout.weight"] = torch.eye(64)
    counts_ref = net.hidden_spikes(params, X, differentiable=False)[-1].sum(0)
    counts = forward_step_major(net, params, X) * net.T
    assert torch.equal(counts, counts_ref)

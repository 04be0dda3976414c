"""Taylor-mode input derivatives of the spiking network equal nested forward-mode JVPs."""
import pytest
import torch
from torch.func import jvp

from spikepde.derivatives import SurrogateJVP
from spikepde.snn.jets import closure, faa_di_bruno_plan, apply_elementwise
from spikepde.snn.lif import LIFConfig
from spikepde.snn.network import SpikingMLP
from spikepde.snn.surrogate import make_surrogate


def test_faa_di_bruno_on_a_smooth_function():
    # y = sin(v(x, t)) with v = x² t + x: compare the jet formula with autograd
    X = torch.tensor([[0.3, 0.7], [-0.5, 0.2]], dtype=torch.float64, requires_grad=True)
    idx = closure([(3, 0), (1, 1), (2, 1)], 2)
    def v_of(X):
        return X[:, 0] ** 2 * X[:, 1] + X[:, 0]
    def deriv(fn, alpha):
        y = fn(X)
        for i, k in enumerate(alpha):
            for _ in range(k):
                y = torch.autograd.grad(y.sum(), X, create_graph=True)[0][:, i]
        return y
    vjet = torch.stack([deriv(v_of, a) for a in idx])
    v0 = vjet[0]
    derivs = [torch.cos(v0), -torch.sin(v0), -torch.cos(v0), torch.sin(v0)]
    yjet = apply_elementwise(torch.sin(v0), derivs, vjet, faa_di_bruno_plan(tuple(idx)))
    for j, a in enumerate(idx):
        assert torch.allclose(yjet[j], deriv(lambda Z: torch.sin(v_of(Z)), a), atol=1e-12), a


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("surrogate", ["sigmoid", "atan"])
def test_network_jet_equals_nested_jvp(reset, surrogate):
    g = torch.Generator().manual_seed(1)
    lif = LIFConfig(beta=0.85, reset=reset, surrogate=make_surrogate(surrogate))
    net = SpikingMLP(2, (16, 12), T=5, lif=lif, lower=(-1.0, 0.0), upper=(1.0, 2.0))
    params = net.init_params(g, dtype=torch.float64)
    X = torch.rand(50, 2, generator=g, dtype=torch.float64) * torch.tensor([2.0, 2.0]) - torch.tensor([1.0, 0.0])
    idx = [(0, 0), (1, 0), (2, 0), (0, 1), (3, 0), (1, 1)]
    ref = SurrogateJVP().fields(lambda Z: net.forward(params, Z), X, idx)
    got = net.forward_jet(params, X, idx)
    for a in idx:
        scale = ref[a].abs().max().clamp_min(1e-12)
        assert ((got[a] - ref[a]).abs().max() / scale) < 1e-12, a
    assert torch.allclose(got[(0, 0)], net.forward(params, X, differentiable=False), atol=1e-12)


def test_jet_is_differentiable_in_parameters():
    g = torch.Generator().manual_seed(2)
    net = SpikingMLP(1, (10,), T=4)
    params = net.init_params(g, dtype=torch.float64)
    X = torch.linspace(-1, 1, 20, dtype=torch.float64)[:, None]
    tangent = {k: torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in params.items()}
    loss_jet = lambda p: net.forward_jet(p, X, [(1,)])[(1,)].square().mean()
    loss_ref = lambda p: SurrogateJVP().fields(lambda Z: net.forward(p, Z), X, [(1,)])[(1,)].square().mean()
    a = jvp(loss_jet, (params,), (tangent,))[1]
    b = jvp(loss_ref, (params,), (tangent,))[1]
    assert torch.allclose(a, b, rtol=1e-10)

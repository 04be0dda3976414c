"""The spike function: exact Heaviside values, surrogate derivatives in reverse and forward mode."""
import pytest
import torch
from torch.func import jvp, vmap

from spikepde.snn.spike import SpikeFunction, heaviside, spike
from spikepde.snn.surrogate import make_surrogate

SURROGATES = ["sigmoid", "atan", "gaussian", "fast_sigmoid"]


def _points():
    # avoid 0 exactly: the fast sigmoid's higher derivatives jump there
    return torch.linspace(-1.3, 1.7, 37, dtype=torch.float64)


def _fd(fn, v, h=1e-6):
    return (fn(v + h) - fn(v - h)) / (2 * h)


@pytest.mark.parametrize("name", SURROGATES)
def test_values_are_exact_heaviside(name):
    v = _points()
    sur = make_surrogate(name)
    assert torch.equal(spike(v, sur), heaviside(v))
    assert torch.equal(SpikeFunction.apply(v, sur), heaviside(v))
    assert set(spike(v, sur).unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("impl", ["ste", "function"])
def test_reverse_and_forward_mode_match_fd_of_smoothed(name, impl):
    sur = make_surrogate(name)
    fn = (lambda x: spike(x, sur)) if impl == "ste" else (lambda x: SpikeFunction.apply(x, sur))
    v = _points()
    expected = _fd(sur.primitive, v)
    vr = v.clone().requires_grad_(True)
    grad = torch.autograd.grad(fn(vr).sum(), vr)[0]
    _, tangent = jvp(fn, (v,), (torch.ones_like(v),))
    assert torch.allclose(grad, expected, atol=1e-6)
    assert torch.allclose(tangent, expected, atol=1e-6)
    # vmap over several tangents (K perturbation directions in one pass)
    dirs = torch.randn(5, v.numel(), dtype=v.dtype, generator=torch.Generator().manual_seed(0))
    batched = vmap(lambda t: jvp(fn, (v,), (t,))[1])(dirs)
    assert torch.allclose(batched, expected * dirs, atol=1e-6)


@pytest.mark.parametrize("name", ["sigmoid", "atan", "gaussian"])
def test_nested_forward_mode_gives_surrogate_second_derivative(name):
    sur = make_surrogate(name)
    v = _points()
    one = torch.ones_like(v)
    first = lambda x: jvp(lambda y: spike(y, sur), (x,), (one,))[1]
    _, second = jvp(first, (v,), (one,))
    assert torch.allclose(second, _fd(sur.derivative, v), atol=1e-5)


@pytest.mark.parametrize("name", SURROGATES)
def test_closed_form_higher_derivatives(name):
    sur = make_surrogate(name)
    v = _points().requires_grad_(True)
    y = sur.primitive(v)
    for k, d in enumerate(sur.derivatives(v, 4)):
        y = torch.autograd.grad(y.sum(), v, create_graph=True)[0]
        assert torch.allclose(y, d, rtol=1e-8, atol=1e-8), f"order {k + 1}"

"""bptt on lsq's network (``network="separable"``): the surrogate path computes the same field,
gradients reach the hidden layers, training lowers the error, and settings that cannot work
are refused in one line."""
from __future__ import annotations

import pytest
import torch

import spikepde
from spikepde.errors import ConfigurationError
from spikepde.snn.lif import LIFConfig
from spikepde.snn.separable import SeparableSpikingField

SMALL = dict(width=32, T=8, rank=8, quiet=True, out=None)


def _trainable_field(seed=0):
    net = SeparableSpikingField((0.0, -1.0), (1.0, 1.0), widths=(16,), T=4, lif=LIFConfig(), ranks=(5, 3),
                                trained_readout=True)
    params = net.init_params(torch.Generator().manual_seed(seed), dtype=torch.float64)
    params["core"] = torch.randn(5, 3, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    return net, params


def test_surrogate_path_gives_the_hard_spike_field_and_gradients_reach_the_hidden_layers():
    net, params = _trainable_field()
    axes = [torch.linspace(0, 1, 9, dtype=torch.float64), torch.linspace(-1, 1, 7, dtype=torch.float64)]
    X = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    hard = net.forward(params, X)                                    # no parameter asks for a gradient
    for p in params.values():
        p.requires_grad_(True)
    soft = net.forward(params, X)
    assert soft.requires_grad
    torch.testing.assert_close(soft.detach(), hard, rtol=1e-12, atol=1e-12)
    (soft ** 2).sum().backward()
    for name in ("axis0.layers.0.weight", "axis1.layers.0.bias", "axis0.projection", "core"):
        assert params[name].grad is not None and float(params[name].grad.abs().sum()) > 0, name


def test_the_random_readout_is_drawn_only_for_a_trained_readout():
    net, params = _trainable_field()
    assert float(params["axis0.projection"].abs().sum()) > 0
    fitted = SeparableSpikingField((0.0,), (1.0,), widths=(16,), T=4, ranks=(3,))
    assert float(fitted.init_params(torch.Generator().manual_seed(0))["axis0.projection"].abs().sum()) == 0


def test_bptt_on_the_separable_network_lowers_the_error():
    # a small network (a few spikes per raster row) takes the larger step
    r = spikepde.solve("poisson1d", method="bptt", network="separable", steps=400, lr=1e-2, **SMALL)
    assert r.config.depth == 1                       # lsq's network sizes unless given
    assert r.metrics["relative_l2"] < 0.5 * r.metrics["initial_relative_l2"]
    assert 0 < r.metrics["spike_rate"] < 1


def test_settings_that_cannot_work_are_refused():
    with pytest.raises(ConfigurationError, match="values only"):
        spikepde.solve("poisson1d", method="bptt", network="separable", residual_form="strong", steps=1, **SMALL)
    with pytest.raises(ValueError, match="network='separable' is for method"):
        spikepde.solve("poisson1d", method="fgrad", network="separable", steps=1, quiet=True, out=None)
    with pytest.raises(ValueError, match="separable network only"):
        spikepde.solve("poisson1d", method="lsq", network="mlp", quiet=True, out=None)

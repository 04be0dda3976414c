"""The fast evaluation paths of the spiking engine are pinned to the reference (functional) path."""
import warnings

import pytest
import torch

from spikepde.snn import compiled as compiled_mod
from spikepde.snn.lif import LIFConfig
from spikepde.snn.network import SpikingMLP


def _net(reset="subtract", T=8, dtype=torch.float32, compile=False):
    net = SpikingMLP(2, (32, 32, 16), T=T, lif=LIFConfig(beta=0.9, reset=reset), compile=compile,
                     lower=(-1.0, 0.0), upper=(1.0, 1.0))
    params = net.init_params(torch.Generator().manual_seed(3), dtype=dtype)
    X = torch.rand(513, 2, generator=torch.Generator().manual_seed(4), dtype=dtype)
    return net, params, X


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inplace_eval_path_is_bit_identical(reset, dtype):
    net, params, X = _net(reset, dtype=dtype)
    fast = net.hidden_spikes(params, X, differentiable=False)          # in-place buffers
    ref = net._hidden_spikes_functional(params, X, differentiable=True)  # surrogate spikes
    assert len(fast) == 3
    for a, b in zip(fast, ref):
        assert a.shape == b.shape
        assert torch.equal(a, b.detach())
    assert 0.01 < float(fast[0].mean()) < 0.99                      # the test sees real spiking


def test_inplace_path_not_used_under_vmap():
    """Inside torch.func transforms the functional path serves (in-place buffers would fail).

    float64: vmap runs the matmuls as batched products, whose kernels round differently from
    the plain ones on some CPUs (AVX-512 here), and in float32 that can flip a spike."""
    net, params, X = _net(dtype=torch.float64)
    batched = torch.stack([X[:50], X[50:100]])
    out = torch.func.vmap(lambda x: net.forward(params, x, differentiable=False))(batched)
    torch.testing.assert_close(out[1], net.forward(params, X[50:100], differentiable=False),
                               rtol=1e-12, atol=1e-12)


def test_compiled_forward_matches_eager_float64():
    net, params, X = _net(dtype=torch.float64, compile=True)
    eager = SpikingMLP(**{**net.__dict__, "compile": False})
    with torch.no_grad():
        u_c = net.forward(params, X, differentiable=False)
        u_e = eager.forward(params, X, differentiable=False)
    cf = compiled_mod.compiled_forward(net)
    if cf.backend == "eager":
        pytest.fail(f"torch.compile fell back to eager here: {cf.error}")
    assert cf.compile_seconds and cf.compile_seconds[0] > 0
    torch.testing.assert_close(u_c, u_e, rtol=1e-12, atol=1e-12)
    # a second batch size: recompiles once (dynamic batch), still the same numbers
    with torch.no_grad():
        torch.testing.assert_close(net.forward(params, X[:100], differentiable=False),
                                   eager.forward(params, X[:100], differentiable=False),
                                   rtol=1e-12, atol=1e-12)


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken_compile(fn, **kwargs):
        def run(*a, **k):
            raise RuntimeError("no C++ compiler (simulated)")
        return run
    monkeypatch.setattr(torch, "compile", broken_compile)
    monkeypatch.setattr(compiled_mod, "_CACHE", {})
    net, params, X = _net(T=5, compile=True)
    with pytest.warns(RuntimeWarning, match="simulated"):
        u = net.forward(params, X, differentiable=False)
    cf = compiled_mod.compiled_forward(net)
    assert cf.backend == "eager" and "simulated" in cf.error
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # warned once, then silent
        u2 = net.forward(params, X, differentiable=False)
    eager = SpikingMLP(**{**net.__dict__, "compile": False})
    assert torch.equal(u, eager.forward(params, X, differentiable=False)) and torch.equal(u, u2)


def test_tune_allocator_applies_and_validates(monkeypatch):
    import sys

    from spikepde import tune_allocator
    if not sys.platform.startswith("linux"):
        assert tune_allocator() is False
        return
    assert tune_allocator() is True
    with pytest.raises(ValueError, match="mmap_threshold"):
        tune_allocator(mmap_threshold=1 << 40)
    monkeypatch.setenv("SPIKEPDE_MALLOC_TUNING", "0")
    assert tune_allocator() is False

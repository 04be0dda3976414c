"""The fast evaluation paths of the spiking engine are pinned to the reference (functional) path."""
import dataclasses
import warnings

import pytest
import torch

from spikepde.snn import fast_forward as compiled_mod
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
    eager = dataclasses.replace(net, compile=False)
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
    eager = dataclasses.replace(net, compile=False)
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


def test_workspace_forward_is_bit_identical_and_reuses_its_buffers():
    """The derivative-free forward keeps two [T, B, n] buffers between calls: the same numbers as
    the functional path for any batch size, the same storage on the next call, bounded memory."""
    import pickle

    net, params, X = _net()
    ref = lambda Z: net.readout(params, net._hidden_spikes_functional(params, Z, differentiable=False)[-1].mean(0))  # noqa: E731
    first = net.forward(params, X, differentiable=False)
    assert torch.equal(first, ref(X))
    kept = net.workspace.nbytes
    ptr = net.workspace.take("spikes", (8, 513, 32), torch.float32, "cpu").data_ptr()
    for n in (100, 513, 7):                      # smaller batches use a prefix of the buffers
        assert torch.equal(net.forward(params, X[:n], differentiable=False), ref(X[:n]))
    assert net.workspace.nbytes == kept and 0 < kept < net.workspace.max_bytes
    assert net.workspace.take("spikes", (8, 513, 32), torch.float32, "cpu").data_ptr() == ptr
    # features() hands out a copy, not the workspace's buffer
    f1 = net.features(params, X[:5], differentiable=False)
    net.forward(params, X[5:10], differentiable=False)
    assert torch.equal(f1, net.features(params, X[:5], differentiable=False))
    # a pass that finds the workspace busy (another thread) allocates its own buffers
    with net.workspace.claimed() as ws:
        assert ws is not None
        assert torch.equal(net.forward(params, X, differentiable=False), first)
    # copies and pickles start empty; a pass larger than the limit keeps nothing
    assert pickle.loads(pickle.dumps(net)).workspace.nbytes == 0
    small = dataclasses.replace(net)
    small.workspace.max_bytes = 1000
    assert torch.equal(small.forward(params, X, differentiable=False), first) and small.workspace.nbytes == 0

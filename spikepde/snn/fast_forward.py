"""``torch.compile`` for the spiking network's derivative-free forward pass, with an eager fallback.

Why only that pass: the plain forward (evaluation, Forward-Forward and ADMM's true-LIF passes)
is a short chain of element-wise ops per time step, which inductor fuses into one loop per step
— on this project's 2-core CPU about 5× faster than eager at width 64, T = 16
(``benchmarks/engine.py``). The forward-gradient engine (:mod:`spikepde.train.fgrad.weight_perturbation`) is
already a hand-scheduled in-place loop; compiled, it ran *slower* (graph breaks around its
output buffers), so it stays eager.

Compilation costs 10–40 s on the first call of a new shape (reported separately by the engine
benchmark; inductor caches on disk, so a second process is faster). Where it fails — no C++
compiler, an unsupported device, a dynamo error — the first call warns once and every later
call runs eager: ``compile`` is an optimisation, never a requirement.

Results equal the eager pass up to float rounding: inductor may fuse ``β v − θ s + I`` into a
single expression, so in float32 an occasional neuron sitting exactly at threshold can flip
(``tests/test_engine_paths.py`` pins the spikes in float64).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import torch

from .network import SpikingMLP


@dataclass
class CompiledForward:
    """A compiled ``net.forward(params, X, differentiable=False)`` with an eager fallback.

    Attributes:
        net: the network it was built for (compiled once per network configuration).
        backend: ``"inductor"`` while compilation works, ``"eager"`` after a fallback.
        error: why it fell back (``None`` if it did not).
        compile_seconds: wall time of the first call of each new input shape (the compile).
    """

    net: SpikingMLP
    backend: str = "inductor"
    error: str | None = None
    compile_seconds: list[float] = field(default_factory=list)
    _fn: object = None
    _shapes: set = field(default_factory=set)

    def __post_init__(self):
        eager = _eager_copy(self.net)

        def plain_forward(params, X):
            return eager.readout(params, eager._hidden_spikes_functional(params, X, differentiable=False)[-1].mean(0))

        self._eager = plain_forward
        # dynamic=None: the first shape compiles static, a second shape recompiles once with a
        # symbolic batch size (the last chunk of a chunked evaluation), then no more compiles
        self._fn = torch.compile(plain_forward, dynamic=None)

    def __call__(self, params: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
        if self.backend == "eager":
            return self._eager(params, X)
        key = (tuple(X.shape), X.dtype, str(X.device))
        first = key not in self._shapes
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                out = self._fn(params, X)
        except Exception as exc:  # any compiler failure: warn once, then stay eager
            self.backend, self.error = "eager", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            warnings.warn(f"torch.compile of the spiking forward failed ({self.error}); running eager",
                          RuntimeWarning, stacklevel=2)
            return self._eager(params, X)
        if first:
            self._shapes.add(key)
            self.compile_seconds.append(time.perf_counter() - t0)
        return out


_CACHE: dict[tuple, CompiledForward] = {}


def _eager_copy(net: SpikingMLP) -> SpikingMLP:
    """The same network with ``compile=False`` (what the compiled function traces)."""
    import dataclasses
    return dataclasses.replace(net, compile=False)


def _key(net: SpikingMLP) -> tuple:
    lif = net.lif
    return (net.in_dim, net.widths, net.out_dim, net.T, lif.beta, lif.threshold, lif.reset,
            net.lower, net.upper)


def compiled_forward(net: SpikingMLP) -> CompiledForward:
    """The process-wide :class:`CompiledForward` for ``net``'s configuration (built on first use).

    Networks with the same architecture, LIF constants and input box share one compiled
    function (parameters are arguments, not constants), so re-creating a network does not
    recompile.
    """
    key = _key(net)
    if key not in _CACHE:
        _CACHE[key] = CompiledForward(net)
    return _CACHE[key]

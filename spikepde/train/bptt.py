"""``bptt``: the spiking network trained by surrogate-gradient back-propagation through time.

The baseline the back-propagation-free methods are measured against: the same
:class:`~spikepde.snn.network.SpikingMLP`, loss, points and budget as ``fgrad``, with the exact
gradient of the surrogate network from reverse-mode autograd (every spike's H' replaced by σ').
Autograd keeps every layer's state at every time step until the backward pass, so its memory
grows linearly with T (``benchmarks/engine.py``).
"""
from __future__ import annotations

from .spiking import SpikingTrainer


class BPTTTrainer(SpikingTrainer):
    """The spiking surrogate trained by surrogate-gradient back-propagation through time."""

    name = "bptt"

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        for p in self.params.values():
            p.requires_grad_(True)
        self._start_optimizer()

    def step(self) -> float:
        return self._backprop_step()

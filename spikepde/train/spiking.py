"""What the spiking trainers share: the network a config asks for, and Adam-style bookkeeping.

:func:`spiking_network` turns the network settings of a solve (``width`` × ``depth`` LIF layers,
``T``, ``beta``, ``threshold``, ``reset``, ``surrogate``) and the problem's input box into a
:class:`~spikepde.snn.network.SpikingMLP`; every spiking method (fgrad, bptt, admm) trains the
same network for the same settings. :class:`SpikingTrainer` adds the derivative estimator and
the trained field to :class:`~spikepde.train.base.GradientTrainer`.
"""
from __future__ import annotations

from ..derivatives import make_estimator
from ..fields import SpikingField, TrainedField
from ..snn.lif import LIFConfig
from ..snn.network import SpikingMLP
from ..snn.separable import SeparableSpikingField
from ..snn.surrogate import make_surrogate
from .base import GradientTrainer, clone_params


def spiking_network(cfg, compiled) -> SpikingMLP | SeparableSpikingField:
    """The spiking network of a solve's settings on the compiled problem's input box:
    ``cfg.network`` ``"mlp"`` (the default) or ``"separable"`` (ranks ``cfg.rank`` per input,
    its readout initialised for gradient training)."""
    lif = LIFConfig(beta=cfg.beta, threshold=cfg.threshold, reset=cfg.reset,
                    surrogate=make_surrogate(cfg.surrogate, **cfg.surrogate_options))
    if cfg.network == "separable":
        d = len(compiled.input_names)
        return SeparableSpikingField(tuple(compiled.lower.tolist()), tuple(compiled.upper.tolist()),
                                     widths=(cfg.width,) * cfg.depth, T=cfg.T, lif=lif,
                                     ranks=(cfg.rank,) * d, trained_readout=True)
    return SpikingMLP(len(compiled.input_names), tuple([cfg.width] * cfg.depth), T=cfg.T, lif=lif,
                      lower=tuple(compiled.lower.tolist()), upper=tuple(compiled.upper.tolist()),
                      compile=bool(cfg.compile))


def trained_spiking_field(net, params, compiled, dtype, device, transform=True) -> TrainedField:
    """The result of a spiking trainer: the network with a copy of its parameters."""
    return TrainedField(net, clone_params(params), tuple(compiled.input_names), "spiking", dtype,
                            str(device), transform=compiled.transform if transform else None)


class SpikingTrainer(GradientTrainer):
    """A spiking network, its initial parameters and input-derivative estimator, and Adam."""

    network = "spiking"
    residual_forms = ("weak", "strong")

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        self.net = spiking_network(cfg, compiled)
        self.params = self.net.init_params(generator, dtype=self.dtype, device=self.device)
        opts = dict(cfg.estimator_options)
        if cfg.estimator == "stein":
            opts.setdefault("generator", generator)
        self.estimator = make_estimator(cfg.estimator, **opts)

    def field(self, params):
        return SpikingField(self.net, params, self.estimator)

    def trained_field(self) -> TrainedField:
        return trained_spiking_field(self.net, self.params, self.compiled, self.dtype, self.device)

    def divergence_hints(self) -> list[str]:
        return super().divergence_hints() + [f"a different number of time steps (--T, now {self.cfg.T})"]

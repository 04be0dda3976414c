"""The PDE trainers behind ``spikepde solve --method fgrad|bptt|ann``.

Each trainer owns its parameters, optimizer and RNG, performs one update per :meth:`step`, and
can save/restore its complete state (parameters, optimizer moments, RNG state) so that a resumed
run reproduces an uninterrupted one bit for bit on the CPU.

* :class:`ForwardGradientTrainer` (``fgrad``): spiking network, randomized forward-mode
  gradient (:mod:`spikepde.train.forward_gradient`), no backward pass.
* :class:`BPTTTrainer` (``bptt``): the same spiking network, loss and points, trained with
  surrogate-gradient back-propagation through time (the baseline the paper compares with).
* :class:`ANNTrainer` (``ann``): a tanh MLP PINN, autograd input derivatives, Adam then
  L-BFGS in float64 (DeepXDE's recipe; float64 avoids L-BFGS's silent early stops).
"""
from __future__ import annotations

import torch

from ..derivatives import make_estimator
from ..models import SpikingField, TanhField, TanhMLP, TrainedSurrogate
from ..snn.lif import LIFConfig
from ..snn.network import SpikingMLP
from ..snn.surrogate import make_surrogate
from ..derivatives import SurrogateJVP
from .forward_gradient import activity_forward_gradient, forward_gradient, forward_gradient_fields
from .objective import Objective


def _clone(params):
    return {k: v.detach().clone() for k, v in params.items()}


class _Base:
    """Shared bookkeeping: parameters, Adam optimizer, state dict."""

    kind = "spiking"

    def __init__(self, cfg, compiled, objective: Objective, generator: torch.Generator):
        self.cfg, self.compiled, self.objective, self.generator = cfg, compiled, objective, generator
        self.dtype = compiled.dtype
        self.device = compiled.device

    def _backprop_step(self) -> float:
        """One optimizer step on the back-propagated gradient (the bptt and ann baselines)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.objective(self.field(self.params))
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def _make_optimizer(self, params, lr):
        return torch.optim.Adam(list(params.values()), lr=lr)

    def state_dict(self) -> dict:
        return {"params": _clone(self.params), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state["params"].items():
            self.params[k].data.copy_(v)
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])

    def terms(self) -> dict[str, float]:
        """The current loss terms (for logging; computed without any gradient)."""
        with torch.no_grad():
            return {k: float(v) for k, v in self.objective.terms(self.field(self.params)).items()}

    def params_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.params.values())


class _SpikingBase(_Base):
    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        lif = LIFConfig(beta=cfg.beta, threshold=cfg.threshold, reset=cfg.reset,
                        surrogate=make_surrogate(cfg.surrogate, **cfg.surrogate_options))
        self.net = SpikingMLP(len(compiled.input_names), tuple([cfg.width] * cfg.depth), T=cfg.T, lif=lif,
                              lower=tuple(compiled.lower.tolist()), upper=tuple(compiled.upper.tolist()),
                              compile=bool(getattr(cfg, "compile", False)))
        self.params = self.net.init_params(generator, dtype=self.dtype, device=self.device)
        opts = dict(cfg.estimator_options)
        if cfg.estimator == "stein":
            opts.setdefault("generator", generator)
        self.estimator = make_estimator(cfg.estimator, **opts)

    def field(self, params):
        return SpikingField(self.net, params, self.estimator)

    def surrogate(self) -> TrainedSurrogate:
        return TrainedSurrogate(self.net, _clone(self.params), tuple(self.compiled.input_names),
                                "spiking", self.dtype, str(self.device),
                                transform=self.compiled.transform)


#: ``SolveConfig.perturbation``: weight perturbation of all parameters at once or of one layer
#: at a time (:mod:`spikepde.train.forward_gradient`), or activity perturbation
#: (:mod:`spikepde.snn.activity`)
PERTURBATIONS = ("global", "layerwise", "activity")


class ForwardGradientTrainer(_SpikingBase):
    """Spiking surrogate trained by randomized forward-mode gradients (no backward pass)."""

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        self.optimizer = self._make_optimizer(self.params, cfg.lr)
        self.groups = self.net.layer_names() if cfg.perturbation == "layerwise" else None
        if cfg.perturbation not in PERTURBATIONS:
            raise ValueError(f"perturbation must be one of {', '.join(PERTURBATIONS)}, "
                             f"got '{cfg.perturbation}'")
        if cfg.perturbation == "activity" and not isinstance(self.estimator, SurrogateJVP):
            raise ValueError("perturbation='activity' needs the surrogate-jvp input-derivative "
                             f"estimator (got '{cfg.estimator}')")

    def step(self) -> float:
        # Surrogate derivatives of neurons far from threshold underflow to float32 denormals,
        # which this CPU processes ~20x slower (measured: 8 s vs 0.44 s per Burgers step).
        # Flushing them to zero (values below 1.2e-38) is on during the step only; torch cannot
        # report the previous setting, so it is switched back off (torch's default) afterwards.
        torch.set_flush_denormal(True)
        try:
            return self._step()
        finally:
            torch.set_flush_denormal(False)

    def _step(self) -> float:
        if self.cfg.perturbation == "activity":
            # per-point noise on the hidden currents + exact error signals (spikepde.snn.activity)
            loss, grads = activity_forward_gradient(self.objective, self.net, self.params, self.cfg.K,
                                                    self.generator)
        elif isinstance(self.estimator, SurrogateJVP):
            # hand-written K-tangent forward mode (spikepde.snn.tangent): same estimate as the
            # vmap(jvp) reference below, without functorch's per-op overhead
            loss, grads = forward_gradient_fields(self.objective, self.net, self.params, self.cfg.K,
                                                  self.generator, self.cfg.directions, self.groups)
        else:
            loss_fn = lambda p: self.objective(self.field(p))  # noqa: E731
            loss, grads = forward_gradient(loss_fn, self.params, self.cfg.K, self.generator,
                                           self.cfg.directions, self.groups)
        for name, p in self.params.items():
            p.grad = grads[name]
        self.optimizer.step()
        return float(loss)


class BPTTTrainer(_SpikingBase):
    """The same spiking surrogate trained by surrogate-gradient back-propagation through time."""

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        for p in self.params.values():
            p.requires_grad_(True)
        self.optimizer = self._make_optimizer(self.params, cfg.lr)

    def step(self) -> float:
        return self._backprop_step()


class ANNTrainer(_Base):
    """tanh MLP PINN: Adam for ``cfg.steps`` steps, then L-BFGS for ``cfg.lbfgs_steps`` iterations."""

    kind = "tanh"

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        self.net = TanhMLP(len(compiled.input_names), tuple([cfg.ann_width] * cfg.ann_depth),
                           lower=tuple(compiled.lower.tolist()), upper=tuple(compiled.upper.tolist()))
        self.params = self.net.init_params(generator, dtype=self.dtype, device=self.device)
        for p in self.params.values():
            p.requires_grad_(True)
        self.optimizer = self._make_optimizer(self.params, cfg.lr)
        self.lbfgs = None

    def field(self, params):
        return TanhField(self.net, params)

    def step(self) -> float:
        return self._backprop_step()

    def lbfgs_step(self, iterations: int) -> float:
        """Run up to ``iterations`` L-BFGS iterations (one ``optimizer.step`` call)."""
        if self.lbfgs is None:
            self.lbfgs = torch.optim.LBFGS(list(self.params.values()), lr=1.0, max_iter=iterations,
                                           max_eval=int(iterations * 1.25), history_size=50,
                                           tolerance_grad=1e-10, tolerance_change=0.0,
                                           line_search_fn="strong_wolfe")
        else:
            self.lbfgs.param_groups[0]["max_iter"] = iterations
            self.lbfgs.param_groups[0]["max_eval"] = int(iterations * 1.25)

        def closure():
            self.lbfgs.zero_grad(set_to_none=True)
            loss = self.objective(self.field(self.params))
            loss.backward()
            return loss

        self.lbfgs.step(closure)
        return float(self.objective(self.field(self.params)).detach())

    def terms(self) -> dict[str, float]:
        # autograd input derivatives need a graph even for logging
        return {k: float(v.detach()) for k, v in self.objective.terms(self.field(self.params)).items()}

    def surrogate(self) -> TrainedSurrogate:
        return TrainedSurrogate(self.net, _clone(self.params), tuple(self.compiled.input_names),
                                "tanh", self.dtype, str(self.device),
                                transform=self.compiled.transform)


def _admm_trainer(cfg, compiled, objective, generator):
    """ADMM with closed-form updates (imported lazily: :mod:`spikepde.train.admm`)."""
    from .admm import ADMMTrainer

    return ADMMTrainer(cfg, compiled, objective, generator)


TRAINERS = {"fgrad": ForwardGradientTrainer, "bptt": BPTTTrainer, "ann": ANNTrainer,
            "admm": _admm_trainer}

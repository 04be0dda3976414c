"""``fgrad``: the spiking network trained by randomized forward-mode gradients (no backward pass).

Three estimators of the surrogate gradient, chosen by ``SolveConfig.perturbation``:

* ``"activity"`` (default): per-point Rademacher noise on each hidden layer's input currents,
  contracted with the exact per-point error signals of the loss, and the readout's exact local
  gradient (:mod:`.activity_perturbation`); ``K`` draws per hidden layer (default 4).
* ``"global"``: weight perturbation, ``K`` random directions over all parameters per step
  (default 8), evaluated as one batched forward-mode pass (:mod:`.weight_perturbation`).
* ``"layerwise"``: weight perturbation with each direction supported on one layer, ``K`` per
  layer.

The estimates themselves (direction sampling, ĝ = (1/K) Σ_k (∇L·v_k) v_k) are in
:mod:`.estimators`. No reverse-mode autograd runs anywhere in this method.
"""
from __future__ import annotations

from ...derivatives import SurrogateJVP
from ..spiking import SpikingTrainer
from .activity_perturbation import activity_forward_gradient
from .estimators import forward_gradient
from .weight_perturbation import forward_gradient_fields

#: ``SolveConfig.perturbation``: activity perturbation, or weight perturbation of all parameters
#: at once or of one layer at a time
PERTURBATIONS = ("activity", "global", "layerwise")
#: ``SolveConfig.directions`` of weight perturbation (both have E[v vᵀ] = I)
DIRECTIONS = ("rademacher", "gaussian")


class ForwardGradientTrainer(SpikingTrainer):
    """Spiking surrogate trained by randomized forward-mode gradients (no backward pass)."""

    name = "fgrad"
    options = ("K", "perturbation", "directions")

    @classmethod
    def defaults(cls, cfg, problem) -> dict:
        perturbation = cfg.perturbation or PERTURBATIONS[0]
        # K counts directions per step (global), per parameter group (layerwise) or noise draws
        # per hidden layer (activity): equal tangent slots for a 2-layer network by default
        return {**super().defaults(cfg, problem), "perturbation": perturbation, "directions": DIRECTIONS[0],
                "K": 4 if perturbation == "activity" else 8}

    @classmethod
    def check(cls, cfg) -> None:
        if cfg.perturbation not in PERTURBATIONS:
            raise ValueError(f"perturbation must be one of {', '.join(PERTURBATIONS)}, "
                             f"got '{cfg.perturbation}'")
        if cfg.directions not in DIRECTIONS:
            raise ValueError(f"directions must be one of {', '.join(DIRECTIONS)}, got '{cfg.directions}'")
        if cfg.K < 1:
            raise ValueError(f"K must be >= 1, got {cfg.K}")
        if cfg.perturbation == "activity" and cfg.estimator != "surrogate-jvp":
            raise ValueError("perturbation='activity' needs the surrogate-jvp input-derivative "
                             f"estimator (got '{cfg.estimator}')")

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        self._start_optimizer()
        self.groups = self.net.layer_names() if cfg.perturbation == "layerwise" else None

    def step(self) -> float:
        cfg = self.cfg
        if cfg.perturbation == "activity":
            # per-point noise on the hidden currents + exact error signals
            loss, grads = activity_forward_gradient(self.objective, self.net, self.params, cfg.K,
                                                    self.generator)
        elif isinstance(self.estimator, SurrogateJVP):
            # hand-written K-tangent forward mode: the estimate of the vmap(jvp) reference below,
            # without functorch's per-op overhead
            loss, grads = forward_gradient_fields(self.objective, self.net, self.params, cfg.K,
                                                  self.generator, cfg.directions, self.groups)
        else:
            loss_fn = lambda p: self.objective(self.field(p))  # noqa: E731
            loss, grads = forward_gradient(loss_fn, self.params, cfg.K, self.generator,
                                           cfg.directions, self.groups)
        for name, p in self.params.items():
            p.grad = grads[name]
        self.optimizer.step()
        return float(loss)

    def diagnostics(self) -> dict:
        return {"forward_passes_per_step": self.forward_passes_per_step()}

    def forward_passes_per_step(self) -> int:
        """Forward-pass equivalents of one step: the primal plus one per tangent slot (layer-wise:
        K per parameter group; activity: K per hidden layer, plus the replay pass)."""
        K = self.cfg.K
        if self.cfg.perturbation == "layerwise":
            return K * len(self.net.layer_names()) + 1
        if self.cfg.perturbation == "activity":
            return K * len(self.net.widths) + 2
        return K + 1

    def divergence_hints(self) -> list[str]:
        lr, *rest = super().divergence_hints()
        return [lr, f"more directions (--K, now {self.cfg.K})", *rest]

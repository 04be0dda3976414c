"""``ann``: the classical PINN baseline, a tanh MLP trained by Adam then L-BFGS in float64.

DeepXDE's recipe: input derivatives by reverse-mode autograd, Adam at a constant learning rate
for the step budget, then ``lbfgs_steps`` L-BFGS iterations (float64 keeps L-BFGS from stopping
early on rounding).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..derivatives import Autograd
from ..fields import TrainedField
from ..snn.network import encode_box
from .base import GradientTrainer, clone_params


@dataclass
class TanhMLP:
    """A fully connected tanh network (Glorot-normal init, zero biases), in functional form.

    Inputs are mapped from the box ``[lower, upper]`` to [−1, 1] like the spiking network's.
    """

    in_dim: int
    widths: tuple[int, ...] = (20, 20, 20)
    out_dim: int = 1
    lower: tuple[float, ...] | None = None
    upper: tuple[float, ...] | None = None

    def init_params(self, generator: torch.Generator, dtype=torch.float32, device="cpu"):
        """Glorot-normal weights, zero biases."""
        sizes = (self.in_dim,) + tuple(self.widths) + (self.out_dim,)
        params = {}
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            std = math.sqrt(2.0 / (a + b))
            w = torch.randn((b, a), generator=generator, dtype=dtype) * std
            params[f"layers.{i}.weight"] = w.to(device)
            params[f"layers.{i}.bias"] = torch.zeros(b, dtype=dtype, device=device)
        return params

    def forward(self, params, X: torch.Tensor) -> torch.Tensor:
        """u(X) → ``[N]`` (or ``[N, out_dim]``)."""
        h = encode_box(X, self.lower, self.upper)
        n = len(self.widths)
        for i in range(n + 1):
            h = h @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"]
            if i < n:
                h = torch.tanh(h)
        return h[:, 0] if self.out_dim == 1 else h

    __call__ = forward


class TanhField:
    """A tanh MLP with fixed parameters; derivatives by reverse-mode autograd."""

    def __init__(self, net: TanhMLP, params: dict[str, torch.Tensor]):
        self.net, self.params = net, params
        self._autograd = Autograd()

    def __call__(self, X):
        return self.net.forward(self.params, X)

    def fields(self, X, indices):
        return self._autograd.fields(self, X, indices)


class ANNTrainer(GradientTrainer):
    """tanh MLP PINN: Adam for ``cfg.steps`` steps, then L-BFGS for ``cfg.lbfgs_steps`` iterations."""

    name = "ann"
    network = "tanh"
    residual_forms = ("strong", "weak")
    options = ("ann_width", "ann_depth", "lbfgs_steps")
    finishing_phase = "L-BFGS"

    @classmethod
    def defaults(cls, cfg, problem) -> dict:
        # DeepXDE's recipe: constant Adam, then L-BFGS, in float64 (L-BFGS's silent early stops)
        return {**super().defaults(cfg, problem), "lr": 1e-3, "lr_schedule": "constant", "dtype": "float64"}

    @classmethod
    def check(cls, cfg) -> None:
        for name in ("ann_width", "ann_depth"):
            if getattr(cfg, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
        if cfg.lbfgs_steps < 0:
            raise ValueError(f"lbfgs_steps must be >= 0, got {cfg.lbfgs_steps}")

    @classmethod
    def finishing_steps(cls, cfg) -> int:
        return int(cfg.lbfgs_steps)

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        self.net = TanhMLP(len(compiled.input_names), tuple([cfg.ann_width] * cfg.ann_depth),
                           lower=tuple(compiled.lower.tolist()), upper=tuple(compiled.upper.tolist()))
        self.params = self.net.init_params(generator, dtype=self.dtype, device=self.device)
        for p in self.params.values():
            p.requires_grad_(True)
        self._start_optimizer()
        self.lbfgs = None

    def field(self, params):
        return TanhField(self.net, params)

    def step(self) -> float:
        return self._backprop_step()

    def finish(self) -> float:
        """The L-BFGS phase (one ``optimizer.step`` call of ``lbfgs_steps`` iterations)."""
        return self.lbfgs_step(self.cfg.lbfgs_steps)

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

    def trained_field(self) -> TrainedField:
        return TrainedField(self.net, clone_params(self.params), tuple(self.compiled.input_names),
                                "tanh", self.dtype, str(self.device), transform=self.compiled.transform)

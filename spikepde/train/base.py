"""The trainer contract: what :func:`spikepde.solve` asks of a training method, and nothing more.

``solve`` knows no method by name. It looks the method up in
:data:`spikepde.train.registry.TRAINERS`, asks the class for its defaults and its accepted
settings, builds it, and then only calls the methods below. A new method is one module with a
:class:`Trainer` subclass plus one :func:`~spikepde.train.registry.register_trainer` line.

Class attributes (read before the trainer is built):

* ``network``: the kind of field it trains, ``"spiking"`` or ``"tanh"``.
* ``budget_key``: the entry of the problem's ``[budget]`` that gives its default number of
  steps (``"steps"``; ADMM counts iterations: ``"admm_steps"``).
* ``uses_output_transform``: whether it trains through the problem's hard-constraint output
  transform (ADMM's closed-form readout needs the untransformed output: False).
* ``residual_forms``: the PDE loss forms it accepts, preferred first; ``residual_form="auto"``
  takes the first that applies to the problem (``"weak"`` needs a weak form,
  :func:`~spikepde.train.weak_form.weak_applies`).
* ``options``: the :class:`~spikepde.solving.SolveConfig` fields that only this method reads
  (the command line refuses them with another method instead of ignoring them).
* ``finishing_phase``: the name of a phase run once after the steps (``"L-BFGS"``), or None.

Class methods: :meth:`Trainer.defaults` (values for the settings left at ``None``: ``lr``,
``lr_schedule``, ``dtype``, the spiking network's ``width``/``depth``/``T``, and the method's
own), :meth:`Trainer.default_steps` (its budget for a problem), :meth:`Trainer.check`
(validate its own settings, one-line ``ValueError``) and :meth:`Trainer.finishing_steps`.

Instances are built by :meth:`Trainer.build` (``cls(cfg, compiled, objective, generator)``
unless a method picks a variant: lsq with ``time_slabs``) from the resolved config,
the compiled problem, the shared :class:`~spikepde.train.objective.Objective` and the run's one
``torch.Generator``, and provide ``params`` (the parameter dict), ``optimizer`` (a torch
optimizer whose learning rate the loop schedules, or None), :meth:`step`, :meth:`finish`,
:meth:`terms`, :meth:`trained_field`, :meth:`diagnostics`, :meth:`divergence_hints`,
:meth:`state_dict` / :meth:`load_state_dict` (everything a resumed run needs to continue bit for
bit) and :meth:`params_finite`.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch


def clone_params(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached copies of a parameter dict (for checkpoints and returned fields)."""
    return {k: v.detach().clone() for k, v in params.items()}


class Trainer:
    """Base class of every PDE training method (see the module docstring for the contract)."""

    name: ClassVar[str] = ""
    network: ClassVar[str] = "spiking"
    budget_key: ClassVar[str] = "steps"
    uses_output_transform: ClassVar[bool] = True
    residual_forms: ClassVar[tuple[str, ...]] = ("strong",)
    residual_form_hint: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()
    finishing_phase: ClassVar[str | None] = None

    params: dict[str, torch.Tensor]
    optimizer: torch.optim.Optimizer | None = None

    # ---------------------------------------------------------------- before construction
    @classmethod
    def defaults(cls, cfg, problem) -> dict[str, Any]:
        """Values for the settings of ``cfg`` left at ``None`` (only those are used)."""
        return {"lr": 1e-2, "lr_schedule": "cosine", "dtype": "float32", "width": 64, "depth": 2, "T": 8}

    @classmethod
    def default_steps(cls, problem, cfg=None) -> int:
        """Steps when none are asked for: the problem's ``[budget]`` entry :attr:`budget_key`
        (``cfg``: the settings with the method's defaults filled in, None where unknown)."""
        return int(problem.budget[cls.budget_key])

    @classmethod
    def build(cls, cfg, compiled, objective, generator) -> "Trainer":
        """The trainer of a run (``cls(...)``; a method may pick a variant from ``cfg``)."""
        return cls(cfg, compiled, objective, generator)

    @classmethod
    def declines(cls, problem) -> str | None:
        """Why ``method="auto"`` should not pick this method for ``problem`` (None: it may).
        Cheap, from the problem's equations only; the method may still refuse at construction."""
        return None

    @classmethod
    def check(cls, cfg) -> None:
        """Raise ``ValueError`` (one line) for a setting of this method that cannot work."""

    @classmethod
    def finishing_steps(cls, cfg) -> int:
        """Iterations of the finishing phase (0: none)."""
        return 0

    # ---------------------------------------------------------------- the run
    def __init__(self, cfg, compiled, objective, generator: torch.Generator):
        self.cfg, self.compiled, self.objective, self.generator = cfg, compiled, objective, generator
        self.dtype = compiled.dtype
        self.device = compiled.device

    def step(self) -> float:
        """One update; returns the training loss it saw."""
        raise NotImplementedError

    def finish(self) -> float:
        """The finishing phase (:attr:`finishing_phase`); returns the final loss."""
        raise NotImplementedError(f"{type(self).__name__} has no finishing phase")

    def terms(self) -> dict[str, float]:
        """The current loss terms by name (for logging)."""
        raise NotImplementedError

    def trained_field(self):
        """The trained field, a :class:`~spikepde.fields.TrainedField`."""
        raise NotImplementedError

    def diagnostics(self) -> dict[str, Any]:
        """Method-specific entries of ``metrics.json`` (a ``"convergence"`` dict of per-iteration
        curves is also plotted)."""
        return {}

    def divergence_hints(self) -> list[str]:
        """Settings worth changing after a divergence, each as ``"what (--flag, now value)"``."""
        return [f"a smaller learning rate (--lr, now {self.cfg.lr:g})"]

    def state_dict(self) -> dict:
        """Everything a resumed run needs (parameters, optimizer moments, the generator)."""
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError

    def params_finite(self) -> bool:
        """False once a parameter is NaN or infinite (the loop then stops the run)."""
        return all(bool(torch.isfinite(p).all()) for p in self.params.values())


class GradientTrainer(Trainer):
    """Shared bookkeeping of the methods that step an Adam optimizer on a parameter dict.

    Subclasses set ``self.params`` and call :meth:`_start_optimizer`; they provide
    :meth:`field` (the parameters seen as a :class:`~spikepde.train.objective.FieldModel`).
    """

    def _start_optimizer(self) -> None:
        self.optimizer = torch.optim.Adam(list(self.params.values()), lr=self.cfg.lr)

    def field(self, params):
        raise NotImplementedError

    def _backprop_step(self) -> float:
        """One optimizer step on the back-propagated gradient (the bptt and ann baselines)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.objective(self.field(self.params))
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def terms(self) -> dict[str, float]:
        with torch.no_grad():
            return {k: float(v) for k, v in self.objective.terms(self.field(self.params)).items()}

    def state_dict(self) -> dict:
        return {"params": clone_params(self.params), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state["params"].items():
            self.params[k].data.copy_(v)
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])

"""The training methods by name: ``spikepde solve --method NAME`` and ``spikepde.solve(method=NAME)``.

Each entry names a :class:`~spikepde.train.base.Trainer` subclass; the built-in ones are given as
``"module:Class"`` and imported on first use, so listing the names (the command line's choices)
imports no trainer. A new method is one module plus one line::

    from spikepde.train.registry import register_trainer
    register_trainer("mine", MyTrainer)            # or "my_package.module:MyTrainer"

after which ``spikepde.solve(problem, method="mine")`` and ``spikepde solve NAME --method mine``
(in the same process) run it.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Iterator


class Registry(Mapping):
    """Names → classes, each imported from ``"module:attribute"`` when first looked up."""

    def __init__(self, what: str, entries: dict[str, object]):
        self.what = what
        self._entries = dict(entries)

    def __getitem__(self, name: str):
        try:
            entry = self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.what} '{name}'; known: {', '.join(self)}") from None
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), attribute)
        return entry

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def register(self, name: str, entry) -> None:
        """Add (or replace) ``name``; ``entry`` is the class or its ``"module:Class"`` path."""
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ValueError(f"a {self.what} name must be a non-empty word, got {name!r}")
        self._entries[name] = entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a method a test or a notebook registered for a while)."""
        self._entries.pop(name, None)


#: PDE training methods (:class:`~spikepde.train.base.Trainer` subclasses)
TRAINERS = Registry("method", {
    "fgrad": "spikepde.train.fgrad:ForwardGradientTrainer",
    "bptt": "spikepde.train.bptt:BPTTTrainer",
    "ann": "spikepde.train.ann:ANNTrainer",
    "admm": "spikepde.train.admm:ADMMTrainer",
    "lsq": "spikepde.train.closed_form:ClosedFormTrainer",
})


#: classification methods: ``train(X_train, y_train, X_val, y_val, config, *, seed, quiet)`` →
#: :class:`~spikepde.train.classifier_training.TrainOutput`
CLASSIFIERS = Registry("classification method", {
    "ff": "spikepde.train.forward_forward:train",
    "bptt": "spikepde.train.bptt:train_classifier",
    "admm": "spikepde.train.admm.classifier:train",
})

#: the method of ``spikepde solve`` when none is named: ``"auto"``, see :func:`choose_method`
AUTO = "auto"
DEFAULT_METHOD = AUTO
#: what ``"auto"`` tries, best first (measured over the catalogue, benchmarks/results/catalogue.md):
#: the closed-form readout where it accepts the problem, else the forward gradient
AUTO_METHODS = ("lsq", "fgrad")


def choose_method(method: str, problem) -> str:
    """``method`` itself, or for ``"auto"`` the first of :data:`AUTO_METHODS` whose trainer does
    not decline ``problem`` (:meth:`~spikepde.train.base.Trainer.declines`)."""
    if method != AUTO:
        return method
    declined = auto_reasons(problem)
    return next((name for name in AUTO_METHODS if name not in declined), AUTO_METHODS[-1])


def auto_reasons(problem) -> dict[str, str]:
    """Why each method ``"auto"`` passed over for ``problem`` declined it (for reports)."""
    out = {}
    for name in AUTO_METHODS:
        reason = TRAINERS[name].declines(problem)
        if reason is None:
            break
        out[name] = reason
    return out


def register_trainer(name: str, trainer) -> None:
    """Make ``trainer`` (a :class:`~spikepde.train.base.Trainer` subclass, or its
    ``"module:Class"`` path) available as ``method=name``."""
    TRAINERS.register(name, trainer)

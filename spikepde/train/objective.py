"""The training objective shared by every PDE trainer: same loss, same points, same weights.

For a compiled problem with residuals r_j and conditions c_i, on fixed collocation points::

    L(θ) = w_pde · (1/R) Σ_j mean_x r_j(x)²  +  Σ_i w_i · mean_x c_i(x)²

A regression problem (no PDE, e.g. ``mexican_hat``) uses ``L = mean_x (u(x) − u*(x))²`` with the
closed form u*. With ``weak=`` a :class:`~spikepde.train.weak_form.WeakForm`, the PDE term is
``mean_k ⟨r(u), ψ_k⟩²`` over smooth test functions instead (integrated by parts: the model only
gives values of u on the quadrature grid). The fields (u and the input derivatives the residual reads) come from a
:class:`FieldModel`, so the same objective serves the spiking network (surrogate-jvp jets,
Stein or FD estimates) and the tanh MLP (autograd).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from ..problem.compile import CompiledProblem


class FieldModel(Protocol):
    """Anything that gives u(X) and its input derivatives at X."""

    def __call__(self, X: torch.Tensor) -> torch.Tensor: ...

    def fields(self, X: torch.Tensor, indices) -> dict[tuple[int, ...], torch.Tensor]: ...


@dataclass
class TrainingPoints:
    """Collocation points: interior ``[N, d]`` and one tensor per condition."""

    interior: torch.Tensor
    conditions: list[torch.Tensor]

    @classmethod
    def sample(cls, compiled: CompiledProblem, generator: torch.Generator,
               interior: int | None = None, scale: float = 1.0) -> "TrainingPoints":
        """Draw points with the problem's default counts (``scale`` multiplies every count)."""
        budget = compiled.problem.budget
        n_int = interior if interior is not None else budget.get("interior_points", 1000)
        X = compiled.sample_interior(max(1, int(n_int * scale)), generator)
        conds = [c.sample(max(1, int(c.points * scale)), generator) for c in compiled.conditions]
        return cls(X, conds)

    def state(self) -> dict:
        """Tensors for a checkpoint."""
        return {"interior": self.interior, "conditions": list(self.conditions)}


class Objective:
    """The physics-informed (or data) loss of a :class:`FieldModel` on fixed points.

    Args:
        compiled: the compiled problem.
        points: the training points.
        pde_weight: weight of the PDE residual term (conditions carry the weights of the spec).
        weak: a :class:`~spikepde.train.weak_form.WeakForm` for the PDE term (None: strong form
            at the interior collocation points).
    """

    def __init__(self, compiled: CompiledProblem, points: TrainingPoints, pde_weight: float = 1.0,
                 weak=None):
        self.compiled = compiled
        self.points = points
        self.pde_weight = pde_weight
        self.weak = weak
        if weak is not None and not compiled.has_pde:
            raise ValueError("a weak form needs a PDE residual (this is a regression problem)")
        self.scales: dict[str, float] = {}   # set by calibrate(); empty = every term unscaled
        self.pde_indices = sorted({tuple(index) for index in compiled.derivatives}, key=sum)
        self._zero = (0,) * len(compiled.input_names)
        self._targets = None
        if not compiled.has_pde:
            if not compiled.has_exact:
                raise ValueError(f"regression problem '{compiled.problem.name}' needs a closed form")
            self._targets = compiled.exact(points.interior)

    def _network_indices(self, indices) -> list[tuple[int, ...]]:
        """What the network must give for ``indices`` of u (all lower ones under a transform)."""
        transform = self.compiled.transform
        return list(indices) if transform is None else transform.required(indices)

    def _solution_fields(self, X, raw, indices):
        """Fields of u from the network's raw fields (identity without a hard constraint)."""
        transform = self.compiled.transform
        return raw if transform is None else transform.apply(X, raw, indices)

    def _model_fields(self, model: FieldModel, X, indices):
        needed = self._network_indices(indices)
        raw = {self._zero: model(X)} if needed == [self._zero] else model.fields(X, needed)
        return self._solution_fields(X, raw, indices)

    def terms(self, model: FieldModel) -> dict[str, torch.Tensor]:
        """Each loss term (a scalar tensor) by name: ``pde`` or ``data``, then the conditions."""
        out = {}
        X = self.points.interior
        if self._targets is not None:
            u = self._model_fields(model, X, [self._zero])[self._zero]
            out["data"] = (u - self._targets).square().mean()
        elif self.weak is not None:
            Xq = self.weak.points
            u = self._model_fields(model, Xq, [self._zero])[self._zero]
            out["pde"] = self.weak.residual(u).square().mean()
        else:
            fields = self._model_fields(model, X, self.pde_indices)
            out["pde"] = self.compiled.residual(X, fields).square().mean()
        for cond, Xc in zip(self.compiled.conditions, self.points.conditions):
            fields = self._model_fields(model, Xc, [tuple(a) for a in cond.derivatives])
            out[cond.name] = cond.residual(Xc, fields).square().mean()
        return out

    # ------------------------------------------------------------ fields-level interface
    # The fast forward-gradient path (``forward_gradient.forward_gradient_fields``) evaluates
    # the network once on every point set, with its parameter tangents, and then needs the loss
    # as a function of the fields alone. These two methods split ``terms`` at that seam.

    def field_requests(self) -> list[tuple[torch.Tensor, list[tuple[int, ...]]]]:
        """The point sets and multi-indices :meth:`terms` reads: interior first, then conditions.

        ``terms_from_fields`` takes one fields dict per request, in this order.
        """
        if self.weak is not None:
            out = [(self.weak.points, self._network_indices([self._zero]))]
        else:
            out = [(self.points.interior, self._network_indices(
                [self._zero] if self._targets is not None else list(self.pde_indices)))]
        for cond, Xc in zip(self.compiled.conditions, self.points.conditions):
            out.append((Xc, self._network_indices([tuple(a) for a in cond.derivatives])))
        return out

    def terms_from_fields(self, fields_list) -> dict[str, torch.Tensor]:
        """:meth:`terms` given the fields at each of :meth:`field_requests` (same values).

        The result is a cheap element-wise function of ``[N]``-sized tensors, so
        ``vmap(jvp(...))`` of it over K field tangents costs little.
        """
        out = {}
        X = self.points.interior
        if self._targets is not None:
            u = self._solution_fields(X, fields_list[0], [self._zero])[self._zero]
            out["data"] = (u - self._targets).square().mean()
        elif self.weak is not None:
            Xq = self.weak.points
            u = self._solution_fields(Xq, fields_list[0], [self._zero])[self._zero]
            out["pde"] = self.weak.residual(u).square().mean()
        else:
            fields = self._solution_fields(X, fields_list[0], self.pde_indices)
            out["pde"] = self.compiled.residual(X, fields).square().mean()
        for cond, Xc, raw in zip(self.compiled.conditions, self.points.conditions, fields_list[1:]):
            fields = self._solution_fields(Xc, raw, [tuple(a) for a in cond.derivatives])
            out[cond.name] = cond.residual(Xc, fields).square().mean()
        return out

    def weights(self) -> dict[str, float]:
        """The weight of each term (the spec's weights times the calibration scales)."""
        w = {"data": 1.0, "pde": self.pde_weight}
        w.update({c.name: float(c.weight) for c in self.compiled.conditions})
        return {k: v * self.scales.get(k, 1.0) for k, v in w.items()}

    def calibrate(self, initial_terms: dict[str, float]) -> dict[str, float]:
        """Divide every term by its value for the initial model, so each starts at 1.

        Residuals of different equations have very different magnitudes (Helmholtz's forcing is
        ~10² while its boundary values are ~1); without this the optimiser ignores the small
        terms at first. The scales depend only on the seed, so a resumed run recomputes the same.
        """
        self.scales = {k: 1.0 / max(float(v), 1e-12) for k, v in initial_terms.items()}
        return self.scales

    def total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum of the terms."""
        values = torch.stack(list(terms.values()))
        # A weight tensor of the terms' dtype, not Python floats: under vmap(jvp(...)) a Python
        # scalar times a 0-d tensor came out as float64 tangents in torch 2.13.
        weights = self.weights()
        w = torch.tensor([weights[name] for name in terms], dtype=values.dtype, device=values.device)
        return (values * w).sum()

    def __call__(self, model: FieldModel) -> torch.Tensor:
        return self.total(self.terms(model))

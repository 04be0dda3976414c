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

    def terms(self, model: FieldModel) -> dict[str, torch.Tensor]:
        """Each loss term (a scalar tensor) by name: ``pde`` or ``data``, then the conditions.

        The model gives the raw fields each of :meth:`field_requests` asks for (its plain
        forward pass when only u is read), and :meth:`terms_from_fields` turns them into the loss
        terms — the same function the forward-gradient engines call with fields they computed
        themselves."""
        fields_list = []
        for X, indices in self.field_requests():
            fields_list.append({self._zero: model(X)} if indices == [self._zero] else model.fields(X, indices))
        return self.terms_from_fields(fields_list)

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

    def sensitivities(self, fields_list) -> tuple[torch.Tensor, list[dict[tuple[int, ...], torch.Tensor]]]:
        """The loss and its derivative with respect to every network field at every point.

        Returns ``(L, e)`` with ``L`` equal to ``total(terms_from_fields(fields_list))`` and, for
        each of :meth:`field_requests`, a dict α → ``[N]``: ``e_α[b] = ∂L/∂N_α(x_b)``, the
        sensitivity of the loss to the network's (raw, untransformed) field α at point b.

        These are the per-point error signals of activity-perturbation training
        (:mod:`spikepde.train.fgrad.activity_perturbation`). They are computed without reverse-mode autograd: every
        loss term is ``w · mean(r²)`` of residual entries that each depend on the fields at one
        point (two for a periodic condition), so ``∂L/∂N_α(x_b) = (2w/M) Σ_{m at b} r_m ∂r_m/∂N_α``,
        and ``∂r_m/∂N_α`` at all points at once is one forward-mode ``jvp`` with a tangent of ones
        on field α (per point group for periodic pairs). The weak form's residuals mix points;
        their error signal uses the projections' transposes
        (:meth:`~spikepde.train.weak_form.WeakForm.residual_adjoint`).
        """
        weights = self.weights()
        zero = self._zero
        terms, signals = {}, []
        X = self.points.interior
        first = fields_list[0]
        if self._targets is not None:
            fn = lambda raw: self._solution_fields(X, raw, [zero])[zero] - self._targets  # noqa: E731
            terms["data"], e = _pointwise_sensitivity(fn, first, weights["data"], 1)
        elif self.weak is not None:
            terms["pde"], e = self._weak_sensitivity(first, weights["pde"])
        else:
            fn = lambda raw: self.compiled.residual(X, self._solution_fields(X, raw, self.pde_indices))  # noqa: E731
            terms["pde"], e = _pointwise_sensitivity(fn, first, weights["pde"], 1)
        signals.append(e)
        for cond, Xc, raw in zip(self.compiled.conditions, self.points.conditions, fields_list[1:]):
            indices = [tuple(a) for a in cond.derivatives]
            fn = (lambda c, Xc, indices: lambda r: c.residual(Xc, self._solution_fields(Xc, r, indices)))(
                cond, Xc, indices)
            terms[cond.name], e = _pointwise_sensitivity(fn, raw, weights[cond.name],
                                                         2 if cond.kind == "periodic" else 1)
            signals.append(e)
        return torch.stack(list(terms.values())).sum(), signals

    def _weak_sensitivity(self, raw, weight):
        Xq = self.weak.points
        zero = self._zero
        fn = lambda r: self._solution_fields(Xq, r, [zero])[zero]  # noqa: E731
        u = fn(raw)
        g = self.weak.residual(u)
        e_u = (2.0 * weight / g.numel()) * self.weak.residual_adjoint(u, g)
        e = {}
        for alpha in raw:   # u = offset + factor·N: ∂u/∂N_α point by point (one jvp each)
            tangent = {a: (torch.ones_like(v) if a == alpha else torch.zeros_like(v)) for a, v in raw.items()}
            _, du = torch.func.jvp(fn, (raw,), (tangent,))
            e[alpha] = e_u * du
        return weight * g.square().mean(), e

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


def _pointwise_sensitivity(fn, raw: dict, weight: float, groups: int):
    """``w · mean(r²)`` of ``r = fn(raw)`` and its derivative with respect to each raw field.

    The points are ``groups`` equal consecutive blocks, and the flattened residual entries run
    over the points of a block in order (``[R, N]`` rows: one block; a periodic condition's
    ``[min-face points; max-face partners]``: two): entry m depends on point ``m mod size`` of
    each block, so one ``jvp`` per (field, block) with a tangent of ones on that block gives
    every ``∂r_m/∂N_α`` at once.
    """
    r = fn(raw).reshape(-1)
    some = next(iter(raw.values()))
    n = some.shape[0]
    size = n // groups
    scale = 2.0 * weight / r.numel()
    signals = {}
    for alpha in raw:
        parts = []
        for g in range(groups):
            tangent = {a: torch.zeros_like(v) for a, v in raw.items()}
            tangent[alpha][g * size:(g + 1) * size] = 1
            _, dr = torch.func.jvp(fn, (raw,), (tangent,))
            parts.append((r * dr.reshape(-1)).reshape(-1, size).sum(0))
        signals[alpha] = scale * torch.cat(parts)
    return weight * r.square().mean(), signals

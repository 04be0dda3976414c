"""The forward-gradient estimate and its reference implementation for any loss.

For a loss L(θ) and a random direction v with E[v vᵀ] = I, one forward-mode Jacobian–vector
product gives the directional derivative ``d = ∇L(θ)·v`` together with L(θ), and

    ĝ = d · v,        E[ĝ] = E[v vᵀ] ∇L = ∇L            (unbiased)

(Baydin et al. 2022, arXiv:2202.08587; Shukla & Shin, arXiv:2310.14168; for spiking networks in
SciML: Wan, Zhang & Karniadakis, arXiv:2411.07057). With K directions, ĝ = (1/K) Σ_k d_k v_k and
the variance falls as 1/K. The second moment is E‖ĝ‖² = (p + 2)‖∇L‖² for Gaussian v and
p‖∇L‖² for Rademacher v (p = number of perturbed coordinates), which is why Rademacher
directions (smallest kurtosis) are the default and why perturbing fewer coordinates at once
helps:

* ``perturbation="global"``: each direction perturbs every parameter (one tangent per
  direction).
* ``perturbation="layerwise"``: each direction is supported on one layer's parameters only;
  every layer gets K directions, so a step costs (#layers × K) tangents but each block's
  estimate has the variance of a p_ℓ-dimensional problem instead of a p-dimensional one.

The reference path here (:func:`forward_gradient`) evaluates all directions of a step as **one
batched pass**: ``torch.func.vmap`` over ``torch.func.jvp`` — the primal (the network and loss
at θ) is computed once and the K tangents ride along as a batch; it serves any loss and any
input-derivative estimator. The spiking network's fast paths are the hand-written engines of
:mod:`.weight_perturbation` and :mod:`.activity_perturbation`, which :func:`stacked_requests`
feeds with every point set of the objective at once. The spike non-linearity's forward-mode rule is the surrogate derivative
(:mod:`spikepde.snn.spike`); PDE input derivatives are Taylor-mode jets inside the same pass.
No reverse-mode autograd is used anywhere in this path (``tests/test_forward_gradient.py``
patches ``Tensor.backward`` and ``torch.autograd.grad`` to raise).

The optimizer (Adam by default) steps on ĝ exactly as it would on a back-propagated gradient.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch.func import jvp, vmap

Params = dict[str, torch.Tensor]


def sample_directions(params: Params, K: int, generator: torch.Generator,
                      distribution: str = "rademacher",
                      groups: list[list[str]] | None = None) -> Params:
    """K random tangent directions per parameter, stacked on a leading axis.

    Args:
        params: the parameters (shapes and dtypes to match).
        K: directions (per group when ``groups`` is given).
        generator: the RNG (the run's single generator).
        distribution: ``"rademacher"`` (±1) or ``"gaussian"`` (N(0, 1)); both have E[vvᵀ] = I.
        groups: for layer-wise perturbation, lists of parameter names; the result then has
            ``len(groups) * K`` directions, direction ``g*K + k`` being zero outside group g.
    Returns:
        dict name → ``[K_total, *shape]`` tensor.
    """
    if distribution not in ("rademacher", "gaussian"):
        raise ValueError(f"direction distribution must be 'rademacher' or 'gaussian', got '{distribution}'")
    groups = groups or [list(params)]
    total = len(groups) * K
    out = {}
    for name, p in params.items():
        shape = (total,) + tuple(p.shape)
        if distribution == "rademacher":
            v = torch.randint(0, 2, shape, generator=generator, dtype=torch.int8).to(p.dtype) * 2 - 1
        else:
            v = torch.randn(shape, generator=generator, dtype=p.dtype)
        if len(groups) > 1:
            mask = torch.zeros(total, dtype=p.dtype)
            for g, names in enumerate(groups):
                if name in names:
                    mask[g * K:(g + 1) * K] = 1
            v = v * mask.view((total,) + (1,) * p.dim())
        out[name] = v.to(p.device)
    return out


def directional_derivatives(loss_fn: Callable[[Params], torch.Tensor], params: Params,
                            directions: Params) -> tuple[torch.Tensor, torch.Tensor]:
    """L(θ) and ∇L(θ)·v_k for every stacked direction, in one vmapped forward-mode pass."""
    def one(v):
        return jvp(loss_fn, (params,), (v,))
    losses, derivs = vmap(one)(directions)
    return losses[0], derivs


def forward_gradient(loss_fn: Callable[[Params], torch.Tensor], params: Params, K: int,
                     generator: torch.Generator, distribution: str = "rademacher",
                     groups: list[list[str]] | None = None) -> tuple[torch.Tensor, Params]:
    """The forward-gradient estimate ĝ = (1/K) Σ_k (∇L·v_k) v_k and the loss.

    With ``groups`` (layer-wise), each group's block of ĝ averages that group's K directions.
    """
    directions = sample_directions(params, K, generator, distribution, groups)
    loss, d = directional_derivatives(loss_fn, params, directions)
    grads = {name: torch.tensordot(d, v, dims=1) / K for name, v in directions.items()}
    return loss, grads


def stacked_requests(objective):
    """Every point set the objective reads, stacked into one batch for one network pass.

    Returns ``(requests, X_all, indices, sizes)``: :meth:`Objective.field_requests` (point sets
    and multi-indices, interior first), their points concatenated, the union of the
    multi-indices ordered by derivative order, and the size of each point set.
    """
    requests = objective.field_requests()
    union: set[tuple[int, ...]] = set()
    for _, indices in requests:
        union.update(tuple(a) for a in indices)
    X_all = torch.cat([X for X, _ in requests]) if len(requests) > 1 else requests[0][0]
    return requests, X_all, sorted(union, key=sum), [X.shape[0] for X, _ in requests]

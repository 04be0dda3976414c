"""Randomized forward-mode gradient (``fgrad``): training without any backward pass.

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

All directions of a step are evaluated as **one batched pass**: ``torch.func.vmap`` over
``torch.func.jvp`` — the primal (the network and loss at θ) is computed once and the K tangents
ride along as a batch. The spike non-linearity's forward-mode rule is the surrogate derivative
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


# --------------------------------------------------------------------------- fast path
def directional_derivatives_fields(objective, net, params: Params,
                                   directions: Params) -> tuple[torch.Tensor, torch.Tensor]:
    """L(θ) and ∇L(θ)·v_k of an :class:`~spikepde.train.objective.Objective` on a spiking network.

    The same numbers as :func:`directional_derivatives` of
    ``lambda p: objective(SpikingField(net, p))`` (surrogate-jvp input derivatives), computed in
    two stages:

    1. **network**: every point set the loss reads (interior and each condition) is concatenated
       and evaluated in *one* call of :func:`spikepde.snn.tangent.forward_jet_tangent`, with the
       union of the multi-indices; it returns the fields ``u_α`` ``[N]`` and their directional
       derivatives ``ũ_α,k`` ``[K, N]`` by hand-written forward mode (K as a batch axis).
    2. **loss**: L is an element-wise function of the fields followed by means, so by the chain
       rule ``∇L·v_k = Σ_α ⟨∂L/∂u_α, ũ_α,k⟩`` is the JVP of ``L(fields)`` along the field
       tangents — evaluated with ``vmap(jvp)`` on ``[N]``-sized tensors only, which is cheap.

    No reverse-mode autograd is involved.
    """
    from ..snn.tangent import forward_jet_tangent

    requests = objective.field_requests()
    union: set[tuple[int, ...]] = set()
    for _, indices in requests:
        union.update(tuple(a) for a in indices)
    X_all = torch.cat([X for X, _ in requests]) if len(requests) > 1 else requests[0][0]
    fields, tangents = forward_jet_tangent(net, params, X_all, sorted(union, key=sum), directions)
    sizes = [X.shape[0] for X, _ in requests]
    keys = list(fields)
    field_parts = [dict(zip(keys, parts)) for parts in
                   zip(*[fields[a].split(sizes, dim=0) for a in keys])]
    tangent_parts = [dict(zip(keys, parts)) for parts in
                     zip(*[tangents[a].split(sizes, dim=1) for a in keys])]

    def loss_from_fields(parts):
        return objective.total(objective.terms_from_fields(parts))

    def one(tangent):
        return jvp(loss_from_fields, (field_parts,), (tangent,))

    losses, derivs = vmap(one)(tangent_parts)
    return losses[0], derivs


def forward_gradient_fields(objective, net, params: Params, K: int, generator: torch.Generator,
                            distribution: str = "rademacher",
                            groups: list[list[str]] | None = None) -> tuple[torch.Tensor, Params]:
    """Fast :func:`forward_gradient` for ``objective(SpikingField(net, params))``.

    Same directions (drawn by :func:`sample_directions` from ``generator`` in the same order),
    same estimate ĝ = (1/K) Σ_k (∇L·v_k) v_k, same loss — computed by
    :func:`directional_derivatives_fields` instead of ``vmap(jvp)`` over the whole network.
    Valid for a :class:`~spikepde.snn.network.SpikingMLP` whose input derivatives come from the
    ``surrogate-jvp`` estimator (the network's Taylor-mode jets); other estimators use the
    reference path.
    """
    directions = sample_directions(params, K, generator, distribution, groups)
    loss, d = directional_derivatives_fields(objective, net, params, directions)
    grads = {name: torch.tensordot(d, v, dims=1) / K for name, v in directions.items()}
    return loss, grads


def activity_forward_gradient(objective, net, params: Params, K: int,
                              generator: torch.Generator) -> tuple[torch.Tensor, Params]:
    """Forward gradient by **activity perturbation** (``perturbation="activity"``).

    Hidden layers: K Rademacher draws per layer of per-point noise on the layer's input
    currents, contracted with the exact per-point error signals of the loss
    (:meth:`~spikepde.train.objective.Objective.sensitivities`), see
    :mod:`spikepde.snn.activity`; unbiased for the surrogate gradient, with far less variance
    than weight perturbation because every training point gives its own estimate. Readout: the
    exact local gradient ``Σ_b e_b r̄_b`` of the linear map of rates. No reverse-mode autograd.
    The step's noise seed is drawn from ``generator`` (one draw per step, so a resumed run
    draws the same noise).
    """
    from ..snn.activity import activity_gradients, activity_tangents
    from ..snn.jets import closure

    requests = objective.field_requests()
    union: set[tuple[int, ...]] = set()
    for _, indices in requests:
        union.update(tuple(a) for a in indices)
    order = sorted(union, key=sum)
    X_all = torch.cat([X for X, _ in requests]) if len(requests) > 1 else requests[0][0]
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
    fields, rates, tangents = activity_tangents(net, params, X_all, order, K, seed)
    sizes = [X.shape[0] for X, _ in requests]
    field_parts = []
    offset = 0
    for (X, indices), n in zip(requests, sizes):
        field_parts.append({tuple(a): fields[tuple(a)][offset:offset + n] for a in indices})
        offset += n
    loss, signals = objective.sensitivities(field_parts)
    idx = tuple(closure(order, net.in_dim))
    errors = {}
    for alpha in idx:   # ∂L/∂N_α over all points (zero where a point set does not read α)
        errors[alpha] = torch.cat([sig[alpha] if alpha in sig else fields[alpha].new_zeros(n)
                                   for sig, n in zip(signals, sizes)])
    coefficients = sum(errors[a][None] * tangents[a] for a in idx)          # [K·L, N]
    grads = activity_gradients(net, params, X_all, order, K, seed, coefficients)
    grads["readout.weight"] = sum(errors[a][None] @ rates[j] for j, a in enumerate(idx))
    grads["readout.bias"] = errors[idx[0]].sum().reshape(1)
    return loss.detach(), grads

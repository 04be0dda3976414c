"""Hand-written forward mode: K parameter tangents ride through the spiking network as a batch axis.

The generic forward gradient (:func:`spikepde.train.fgrad.estimators.directional_derivatives`)
evaluates ``vmap(jvp(loss))`` with ``torch.func``; every tensor op then pays the transforms'
per-op dispatch, which costs 10–15× a plain loss evaluation at K = 16. This module computes the
same numbers — the network output, its Taylor-mode input derivatives (the *jet*, see
:mod:`spikepde.snn.jets`) and the directional derivatives of all of them along K parameter
directions ``V_k`` — with plain tensor ops on buffers that carry K as an ordinary axis.

Notation. For one hidden layer with weights ``W``, bias ``b`` and tangent directions
``(V_k, c_k)``, a jet of spike trains ``s`` (entries α ∈ idx, shape ``[J, B, n]``) and its tangents
``s̃`` (``[J, B, K, n]``):

* **linear map**: ``I = s Wᵀ + b·[α = 0]`` and

      Ĩ_k = s̃_k Wᵀ + s V_kᵀ + c_k·[α = 0],

  the first product as one GEMM on ``[J·B·K, n]``, the second as one GEMM of ``s`` (``[J·B, n]``)
  with all K directions stacked (``[n, K·m]``), whose output is already laid out ``[J, B, K, m]``.
  That is why the tangent axis K sits *inside* the batch axis.
* **membrane** (reset by subtraction; ``r`` is the reset jet, only its entry 0 when the reset
  is detached):

      v[t] = β v[t−1] − θ r[t−1] + I[t],      ṽ[t] = β ṽ[t−1] − θ r̃[t−1] + Ĩ[t]

  with ``r̃ = 0`` when ``LIFConfig.detach_reset`` (the default) and ``r̃ = s̃`` otherwise;
  ``reset="zero"`` multiplies by ``(1 − s₀[t−1])`` instead (and, not detached, adds
  ``−β v[t−1] s̃₀[t−1]``, supported for plain forwards only, like :func:`lif.lif_scan_jet`).
* **spike jet**: with ``x = v₀ − θ`` the value is ``H(x)`` and for α ≠ 0 Faà di Bruno gives
  ``s_α = Σ_terms c σ^{(m)}(x) Π_{f ∈ F} v_f``. Differentiating once more along a parameter
  direction (the value spike's tangent is ``σ'(x) ṽ₀``, as for the straight-through spike):

      s̃_α = Σ_terms c [ σ^{(m+1)}(x) ṽ₀ Π_F v_f  +  σ^{(m)}(x) Σ_{i} ṽ_{f_i} Π_{l≠i} v_{f_l} ]

  which is linear in the tangent jet: ``s̃_α = Σ_{α'} M_{α α'} ṽ_{α'}`` with coefficients
  ``M`` (``[B, n]`` each, independent of K) computed once per step; applying M costs one
  multiply-add per non-zero entry over ``[B, K, n]``.
* **readout**: ``u = r̄ W_rᵀ + b_r·[α = 0]`` with the rates ``r̄ = (1/T) Σ_t s_L[t]``, and
  ``ũ_k = r̃_k W_rᵀ + r̄ V_{r,k}ᵀ + c_{r,k}·[α = 0]``.

The loop is **step-major**: at each time step every layer advances once, and only the running
sum of the last layer's spikes is kept. Memory is therefore independent of T (the layer-major
:meth:`SpikingMLP.forward_jet` stores ``[J, T, B, n]`` per layer, and back-propagation through
time must keep every step). Per-step buffers are allocated once and written in place.

Values equal :meth:`SpikingMLP.forward_jet` / :meth:`SpikingMLP.forward` and tangents equal
``torch.func.jvp`` of them (``tests/test_tangent.py``); nothing here records an autograd graph.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch.func import jvp, vmap

from ...snn.jets import closure
from ...snn.network import SpikingMLP
from .estimators import sample_directions, stacked_requests
from .step_major import CHUNK_ELEMENTS, first_layer_jet, jet_plans, lif_step

MultiIndex = tuple[int, ...]
Params = dict[str, torch.Tensor]


def _split_directions(net: SpikingMLP, directions: Params | None, params: Params):
    """Per-layer ``(V [K, m, n] or None, c [K, m] or None)`` and K (0 without directions)."""
    L = len(net.widths)
    names = [(f"layers.{i}.weight", f"layers.{i}.bias") for i in range(L)]
    names.append(("readout.weight", "readout.bias"))
    if not directions:
        return [(None, None)] * (L + 1), 0
    K = next(iter(directions.values())).shape[0]
    out = []
    for wn, bn in names:
        V = directions.get(wn)
        c = directions.get(bn)
        for name, t in ((wn, V), (bn, c)):
            if t is not None and tuple(t.shape) != (K,) + tuple(params[name].shape):
                raise ValueError(f"direction '{name}' has shape {tuple(t.shape)}, expected "
                                 f"{(K,) + tuple(params[name].shape)}")
        out.append((V, c))
    unknown = set(directions) - {n for pair in names for n in pair}
    if unknown:
        raise ValueError(f"directions for unknown parameters: {sorted(unknown)}")
    return out, K


def forward_jet_tangent(net: SpikingMLP, params: Params, X: torch.Tensor,
                        indices: Sequence[MultiIndex] | None = None,
                        directions: Params | None = None, chunk: int | None = None):
    """Output jet of ``net`` at ``X`` and its directional derivatives along K parameter directions.

    Args:
        net: the spiking network (its ``lif`` config decides reset and surrogate).
        params: the parameter dict (``layers.{i}.weight`` …, ``readout.bias``).
        X: ``[N, in_dim]`` inputs.
        indices: the multi-indices wanted (their downward closure is computed); ``None`` means
            the output only (the plain :meth:`SpikingMLP.forward`).
        directions: dict name → ``[K, *shape]`` (as from
            :func:`spikepde.train.fgrad.estimators.sample_directions`); a missing name has a zero
            tangent. ``None`` computes the values only (a step-major, T-independent-memory
            forward).
    Returns:
        ``(fields, tangents)``: dicts α → ``[N]`` (``[N, out_dim]`` when ``out_dim > 1``) and
        α → ``[K, N]`` (``[K, N, out_dim]``), the latter ``None`` without directions. Both cover
        every α of the closure of ``indices``.
        chunk: samples per block. The network acts on each sample independently, so the batch
            is cut into blocks of ``chunk`` rows, run one after the other (default: blocks whose
            ``[J, B, K, n]`` tangent buffer holds about :data:`CHUNK_ELEMENTS` numbers; 0 means
            one block). Values do not depend on it.
    """
    d = net.in_dim
    J = len(closure(indices if indices is not None else [(0,) * d], d))
    K = next(iter(directions.values())).shape[0] if directions else 0
    N = X.shape[0]
    if chunk is None:
        chunk = max(256, CHUNK_ELEMENTS // (J * max(K, 1) * max(net.widths)))
    if chunk <= 0 or chunk >= N:
        return _forward_block(net, params, X, indices, directions)
    parts = [_forward_block(net, params, Xc, indices, directions) for Xc in X.split(chunk)]
    fields = {a: torch.cat([p[0][a] for p in parts]) for a in parts[0][0]}
    if not K:
        return fields, None
    tangents = {a: torch.cat([p[1][a] for p in parts], dim=1) for a in parts[0][1]}
    return fields, tangents


def _forward_block(net, params, X, indices, directions):
    """:func:`forward_jet_tangent` on one block of samples."""
    d = net.in_dim
    zero = (0,) * d
    idx = tuple(closure(indices if indices is not None else [zero], d))
    lif = net.lif
    plan, tplan, order = jet_plans(idx, lif)
    J = len(idx)
    layer_dirs, K = _split_directions(net, directions, params)
    with_tangent = K > 0
    beta, theta = float(lif.beta), float(lif.threshold)
    n_deriv = order + 1 if with_tangent else order
    dtype, device = X.dtype, X.device
    B = X.shape[0]
    L = len(net.widths)
    widths = net.widths

    with torch.no_grad():
        # ---- layer 0: constant current jet over time (and its tangents)
        x, scale, I0 = first_layer_jet(net, params, X, idx)
        n0 = widths[0]
        I0t = None
        if with_tangent:
            V0, c0 = layer_dirs[0]
            I0t = torch.zeros(J, B, K, n0, dtype=dtype, device=device)
            if V0 is not None:
                # x V_kᵀ for every k in one GEMM: [B, d] @ [d, K·n0] → [B, K, n0]
                torch.mm(x, V0.reshape(K * n0, d).T, out=I0t[0].view(B, K * n0))
                for j, alpha in enumerate(idx):
                    if sum(alpha) == 1:
                        i = alpha.index(1)
                        I0t[j] = (V0[:, :, i] * scale[i])[None]
            if c0 is not None:
                I0t[0] += c0[None]

        # ---- per-layer state, allocated once
        v = [torch.empty(J, B, n, dtype=dtype, device=device) for n in widths]
        s = [torch.empty(J, B, n, dtype=dtype, device=device) for n in widths]
        cur = [None] + [torch.empty(J, B, n, dtype=dtype, device=device) for n in widths[1:]]
        if with_tangent:
            vt = [torch.empty(J, B, K, n, dtype=dtype, device=device) for n in widths]
            st = [torch.empty(J, B, K, n, dtype=dtype, device=device) for n in widths]
            curt = [None] + [torch.empty(J, B, K, n, dtype=dtype, device=device) for n in widths[1:]]
        nL = widths[-1]
        rate = torch.zeros(J, B, nL, dtype=dtype, device=device)
        rate_t = torch.zeros(J, B, K, nL, dtype=dtype, device=device) if with_tangent else None
        need_prev_v = with_tangent and lif.reset == "zero" and not lif.detach_reset
        keep = torch.empty(B, max(widths), dtype=dtype, device=device)   # 1 − s₀ for zero reset

        for t in range(net.T):
            for l in range(L):
                n = widths[l]
                if l == 0:
                    I, It = I0, I0t
                else:
                    I = cur[l]
                    W, bias = params[f"layers.{l}.weight"], params[f"layers.{l}.bias"]
                    sp = s[l - 1]
                    torch.mm(sp.view(J * B, -1), W.T, out=I.view(J * B, n))
                    I[0] += bias
                    if with_tangent:
                        It = curt[l]
                        V, c = layer_dirs[l]
                        torch.mm(st[l - 1].view(J * B * K, -1), W.T, out=It.view(J * B * K, n))
                        if V is not None:
                            # s V_kᵀ for all k at once; the [J·B, K·n] result is [J, B, K, n]
                            It.view(J * B, K * n).addmm_(sp.view(J * B, -1), V.reshape(K * n, -1).T)
                        if c is not None:
                            It[0] += c
                lif_step(t, l, v, s, vt if with_tangent else None, st if with_tangent else None,
                          I, It if with_tangent else None, lif, beta, theta, keep[:, :n],
                          need_prev_v, plan, tplan, J, n_deriv, with_tangent)
            rate += s[L - 1]
            if with_tangent:
                rate_t += st[L - 1]

        # ---- readout of the mean rates
        rate /= net.T
        Wr, br = params["readout.weight"], params["readout.bias"]
        out_dim = Wr.shape[0]
        u = (rate.view(J * B, nL) @ Wr.T).view(J, B, out_dim)
        u[0] += br
        fields = {alpha: (u[j, :, 0] if net.out_dim == 1 else u[j]) for j, alpha in enumerate(idx)}
        if not with_tangent:
            return fields, None
        rate_t /= net.T
        Vr, cr = layer_dirs[L]
        ut = (rate_t.view(J * B * K, nL) @ Wr.T).view(J, B, K, out_dim)
        if Vr is not None:
            ut.view(J * B, K * out_dim).addmm_(rate.view(J * B, nL), Vr.reshape(K * out_dim, nL).T)
        if cr is not None:
            ut[0] += cr
        ut = ut.permute(0, 2, 1, 3)                                  # [J, K, B, out]
        tangents = {alpha: (ut[j, :, :, 0].contiguous() if net.out_dim == 1 else ut[j].contiguous())
                    for j, alpha in enumerate(idx)}
        return fields, tangents


def directional_derivatives_fields(objective, net, params: Params,
                                   directions: Params) -> tuple[torch.Tensor, torch.Tensor]:
    """L(θ) and ∇L(θ)·v_k of an :class:`~spikepde.train.objective.Objective` on a spiking network.

    The same numbers as :func:`directional_derivatives` of
    ``lambda p: objective(SpikingField(net, p))`` (surrogate-jvp input derivatives), computed in
    two stages:

    1. **network**: every point set the loss reads (interior and each condition) is concatenated
       and evaluated in *one* call of :func:`forward_jet_tangent`, with the
       union of the multi-indices; it returns the fields ``u_α`` ``[N]`` and their directional
       derivatives ``ũ_α,k`` ``[K, N]`` by hand-written forward mode (K as a batch axis).
    2. **loss**: L is an element-wise function of the fields followed by means, so by the chain
       rule ``∇L·v_k = Σ_α ⟨∂L/∂u_α, ũ_α,k⟩`` is the JVP of ``L(fields)`` along the field
       tangents — evaluated with ``vmap(jvp)`` on ``[N]``-sized tensors only, which is cheap.

    No reverse-mode autograd is involved.
    """
    _, X_all, indices, sizes = stacked_requests(objective)
    fields, tangents = forward_jet_tangent(net, params, X_all, indices, directions)
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


def forward_tangent(net: SpikingMLP, params: Params, X: torch.Tensor, directions: Params | None):
    """The plain output ``u(X)`` (``[N]``) and its K directional derivatives ``[K, N]``.

    Equal to :meth:`SpikingMLP.forward` and to ``jvp`` of it along each direction; memory does
    not grow with T (step-major loop).
    """
    zero = (0,) * net.in_dim
    fields, tangents = forward_jet_tangent(net, params, X, [zero], directions)
    return fields[zero], (tangents[zero] if tangents is not None else None)


def forward_step_major(net: SpikingMLP, params: Params, X: torch.Tensor) -> torch.Tensor:
    """:meth:`SpikingMLP.forward` values computed step-major (memory independent of T)."""
    return forward_tangent(net, params, X, None)[0]

"""The step-major LIF engine shared by both forward-gradient estimators (no autograd).

At each time step every layer advances once, in place, on buffers allocated once per call:
memory does not grow with T (back-propagation through time must keep every step). A layer's
state is a *jet* (the value and its input derivatives, entries α of a multi-index closure; see
:mod:`spikepde.snn.jets`) and, optionally, K *tangents* of it (directional derivatives along
parameter or activity perturbations, K as a batch axis inside the sample axis).

:func:`lif_step` advances one layer by one step; :func:`tangent_plan` turns the Faà di Bruno
plan of the spike jet into the coefficients of its tangent; :data:`CHUNK_ELEMENTS` sizes the
blocks of samples the engines process one after the other.
"""
from __future__ import annotations

import torch

from ...snn.jets import faa_di_bruno_plan

#: default working-set size (elements of one ``[J, B, K, n]`` buffer) per batch chunk; the
#: per-step element-wise work then stays in the CPU's cache instead of streaming from memory
CHUNK_ELEMENTS = 1 << 19


def jet_plans(idx, lif) -> tuple[tuple, tuple, int]:
    """The Faà di Bruno plan of the spike jet over the multi-indices ``idx``, its tangent plan
    and the highest derivative order (both engines start every block with this)."""
    if len(idx) > 1 and lif.reset == "zero" and not lif.detach_reset:
        raise NotImplementedError("jets through a non-detached zero reset are not supported")
    plan = faa_di_bruno_plan(idx)
    return plan, tangent_plan(plan), max(sum(a) for a in idx)


def first_layer_jet(net, params, X, idx) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The encoded inputs x̃ ``[B, d]``, dx̃/dx per axis, and the first layer's current jet
    ``[J, B, n0]`` (constant over time): ``W x̃ + b`` (matmul, then bias: the roundings of
    :meth:`SpikingMLP.forward`, hence the same spikes), ``W[:, i]·dx̃_i/dx_i`` for a first
    derivative along axis i, zero for higher orders."""
    x = net.encode(X)
    scale = net._encode_scale(X)
    W0 = params["layers.0.weight"]
    I0 = torch.zeros(len(idx), X.shape[0], net.widths[0], dtype=X.dtype, device=X.device)
    torch.mm(x, W0.T, out=I0[0])
    I0[0] += params["layers.0.bias"]
    for j, alpha in enumerate(idx):
        if sum(alpha) == 1:
            i = alpha.index(1)
            I0[j] = W0[:, i] * scale[i]
    return x, scale, I0


def tangent_plan(plan) -> tuple:
    """For each jet entry j ≥ 1, the coefficient recipe of ``∂s_j/∂v_{j'}`` for every j'.

    Returns a tuple over j ≥ 1 of tuples ``(j', recipe)`` where recipe lists
    ``(count, m, factors)``: a term ``count · σ^{(m)} · Π_{f ∈ factors} v_f``. Entry j' = 0 collects
    the ``σ^{(m+1)} ṽ₀ Π v`` parts, the others the product-rule parts.
    """
    out = []
    for terms in plan:
        coeffs: dict[int, list] = {}
        for count, m, factors in terms:
            coeffs.setdefault(0, []).append((count, m + 1, factors))
            for i, f in enumerate(factors):
                rest = factors[:i] + factors[i + 1:]
                coeffs.setdefault(f, []).append((count, m, rest))
        merged = []
        for jp in sorted(coeffs):
            acc: dict[tuple, int] = {}
            for count, m, factors in coeffs[jp]:
                key = (m, tuple(sorted(factors)))
                acc[key] = acc.get(key, 0) + count
            merged.append((jp, tuple((c, m, f) for (m, f), c in sorted(acc.items()))))
        out.append(tuple(merged))
    return tuple(out)


def poly(recipe, derivs, v, out=None):
    """``Σ count · σ^{(m)} · Π v_f`` over a recipe (``derivs[m-1]`` = σ^{(m)}, v the jet)."""
    acc = out
    first = True
    for count, m, factors in recipe:
        term = derivs[m - 1]
        for f in factors:
            term = term * v[f]
        if count != 1:
            term = count * term
        if first:
            if acc is None:
                acc = term.clone() if term is derivs[m - 1] else term
            else:
                acc.copy_(term)
            first = False
        else:
            acc.add_(term)
    return acc


def lif_step(t, l, v, s, vt, st, I, It, lif, beta, theta, keep, need_prev_v, plan, tplan, J,
              n_deriv, with_tangent):
    """Advance layer ``l`` by one step in place: membrane, spike jet and their tangents."""
    vl, sl = v[l], s[l]
    if t == 0:
        vl.copy_(I)
        if with_tangent:
            vt[l].copy_(It)
    else:
        s0 = sl[0]                                  # spikes of step t−1 (still in the buffer)
        if lif.reset == "subtract":
            if with_tangent:
                torch.add(It, vt[l], alpha=beta, out=vt[l])          # ṽ ← Ĩ + β ṽ
                if not lif.detach_reset:
                    vt[l].sub_(st[l], alpha=theta)
            # values: the reference's exact order of roundings, (β v − θ s) + I, so that
            # float32 spikes agree bit for bit (a fused multiply-add would round differently)
            vl.mul_(beta)
            if lif.detach_reset:
                vl[0].sub_(s0, alpha=theta)
            else:
                vl.sub_(sl, alpha=theta)
            vl.add_(I)
        elif lif.reset == "zero":
            torch.sub(1.0, s0, out=keep)
            keep.mul_(beta)
            if with_tangent:
                if need_prev_v:       # J == 1: ṽ = β(ṽ(1 − s) − v s̃) + Ĩ
                    vt[l][0].mul_(keep[:, None, :])
                    vt[l][0].sub_(beta * vl[0][:, None, :] * st[l][0])
                else:
                    vt[l].mul_(keep[None, :, None, :])
                vt[l].add_(It)
            vl.mul_(keep[None])
            vl.add_(I)
        else:
            if with_tangent:
                torch.add(It, vt[l], alpha=beta, out=vt[l])
            vl.mul_(beta).add_(I)

    x = vl[0] - theta
    sl[0].copy_(x >= 0)
    if J == 1 and not with_tangent:
        return
    surrogate = lif.surrogate
    derivs = surrogate.derivatives(x, n_deriv)
    if with_tangent:
        # tangents first: the product-rule coefficients read the membrane jet, not s
        vtl, stl = vt[l], st[l]
        torch.mul(vtl[0], derivs[0][:, None, :], out=stl[0])
        for j, entries in enumerate(tplan, start=1):
            first = True
            for jp, recipe in entries:
                coef = poly(recipe, derivs, vl)
                if first:
                    torch.mul(vtl[jp], coef[:, None, :], out=stl[j])
                    first = False
                else:
                    stl[j].addcmul_(vtl[jp], coef[:, None, :])
    for j, terms in enumerate(plan, start=1):
        poly(terms, derivs, vl, out=sl[j])

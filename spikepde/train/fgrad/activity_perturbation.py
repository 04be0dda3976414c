r"""Activity-perturbation forward gradients for the spiking network (no backward pass).

Weight perturbation (:mod:`spikepde.train.fgrad.weight_perturbation`) draws one random direction in
parameter space per tangent; its estimate's variance grows with the number of parameters
perturbed at once (p ≈ 4·10³ for a 64-wide layer). *Activity* (node) perturbation instead
perturbs each hidden layer's input current, independently for every training point, and uses
that the loss is a sum of per-point contributions (Ren, Kornblith, Liao & Hinton, ICLR 2023,
"Scaling Forward Gradient with Local Losses"; classical node perturbation). For layer ℓ with
currents ``I_ℓ[t, b] = W_ℓ s_{ℓ−1}[t, b] + b_ℓ`` (jet entries α for PDE residuals), the
back-propagated surrogate gradient is

    ∂L/∂W_ℓ = Σ_b Σ_t Σ_α δ_α[t, b] s_{ℓ−1,α}[t, b]ᵀ,      δ_α[t, b] = ∂L/∂I_{ℓ,α}[t, b].

**Estimator.** Draw Rademacher noise ``U[t, b]`` (one independent vector per point, time step
and jet entry) and run one forward-mode tangent pass with ``Ĩ_ℓ = U`` injected at layer ℓ
(zero tangents elsewhere). The network's output tangent at point b, contracted with the exact
per-point error signal ``e_b = ∂L/∂u_b`` (:meth:`~spikepde.train.objective.Objective.sensitivities`,
forward mode as well), is the *per-point* directional derivative ``d_b = Σ_{t,α} δ_α[t,b]·U_α[t,b]``,
because each point's output depends only on its own noise. Then

    δ̂_α[t, b] = d_b U_α[t, b],      E[δ̂] = δ   (E[U Uᵀ] = I per point),
    Ĝ_ℓ = Σ_b Σ_t Σ_α δ̂_α[t, b] s_{ℓ−1,α}[t, b]ᵀ     (unbiased for ∂L/∂W_ℓ),

averaged over K independent draws. Each point contributes an independent estimate whose
dimension is T·n·J (the activities it perturbs), and the B points of a batch average out — a
cosine of ≈ 0.2 to the true gradient at K = 8 on Burgers' weak loss, against ≈ 0.04 for
weight perturbation with the same K (``benchmarks/burgers.py``). The first layer's current is
constant in time, so its noise is too (dimension n·J per point; Σ_t δ[t] is all its gradient
needs). The readout's gradient ``Σ_b Σ_α e_α[b] r̄_α[b]`` (rates r̄) is exact and local.

**Two passes, memory independent of T.** Pass 1 (:func:`activity_tangents`) runs the
step-major forward with ``K·L`` tangent slots (slot ``ℓK + k`` carries layer ℓ's k-th draw) and
returns the fields, the readout's input rates and the output tangents. The error signals give
the coefficients ``d`` [K·L, N]. Pass 2 (:func:`activity_gradients`) replays the forward,
regenerates the same noise from the same seed, and accumulates ``Σ_t (d ⊙ U[t])ᵀ s_{ℓ−1}[t]`` —
one GEMM per layer and step; nothing of size T is stored.

Spikes are Heaviside in value; tangents pass through them with the surrogate derivative, so the
estimate is unbiased for the same surrogate gradient that BPTT computes
(``tests/test_activity.py`` checks the mean over many draws against autograd, and that no
reverse-mode autograd runs).
"""
from __future__ import annotations

from typing import Sequence

import torch

from ...snn.jets import closure
from ...snn.network import SpikingMLP
from .estimators import stacked_requests
from .step_major import CHUNK_ELEMENTS, first_layer_jet, jet_plans, lif_step

MultiIndex = tuple[int, ...]
Params = dict[str, torch.Tensor]


#: the eight ±1 signs of every byte value, one row per byte: a lookup turns random bytes into
#: float noise in one pass (5x faster than unpacking bits with logical ops)
_SIGNS = ((torch.arange(256)[:, None] >> torch.arange(8)) & 1).to(torch.float64) * 2 - 1


def _rademacher(shape, generator: torch.Generator, dtype, device) -> torch.Tensor:
    """±1 noise of ``shape``: eight signs per random byte."""
    n = 1
    for k in shape:
        n *= int(k)
    words = torch.randint(0, 256, ((n + 7) // 8,), generator=generator, dtype=torch.int64)
    table = _SIGNS.to(dtype)
    return torch.nn.functional.embedding(words, table).view(-1)[:n].view(shape).to(device)


def _chunks(net: SpikingMLP, X: torch.Tensor, J: int, slots: int, chunk: int | None):
    if chunk is None:
        chunk = max(256, CHUNK_ELEMENTS // (J * max(slots, 1) * max(net.widths)))
    if chunk <= 0 or chunk >= X.shape[0]:
        return [X]
    return list(X.split(chunk))


def _noise_generator(seed: int, block: int) -> torch.Generator:
    # one generator per batch block, seeded from the step's seed: both passes draw the same noise
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + block) % (2 ** 63))


def _layer0_mask(idx: Sequence[MultiIndex]) -> list[bool]:
    """Jet entries of the first layer's current that depend on its weights (order ≤ 1)."""
    return [sum(a) <= 1 for a in idx]


def activity_tangents(net: SpikingMLP, params: Params, X: torch.Tensor,
                      indices: Sequence[MultiIndex], K: int, seed: int, chunk: int | None = None):
    """Pass 1: fields, readout input rates and output tangents under activity noise.

    Args:
        net, params: the spiking network and its parameters.
        X: ``[N, in_dim]`` points.
        indices: the multi-indices of u wanted (their downward closure is computed).
        K: noise draws per hidden layer.
        seed: the noise seed of this step (pass 2 must get the same).
        chunk: points per block (default: as :func:`spikepde.train.fgrad.weight_perturbation.forward_jet_tangent`).
    Returns:
        ``(fields, rates, tangents)``: α → ``[N]``; the last layer's rate jet ``[J, N, n_L]``
        (entries in the order of ``closure(indices)``); α → ``[K·L, N]`` output tangents, slot
        ``ℓK + k`` being layer ℓ's k-th draw.
    """
    idx = tuple(closure(indices, net.in_dim))
    L = len(net.widths)
    parts = [_activity_block(net, params, Xc, idx, K, _noise_generator(seed, i))
             for i, Xc in enumerate(_chunks(net, X, len(idx), K * L, chunk))]
    fields = {a: torch.cat([p[0][a] for p in parts]) for a in idx}
    rates = torch.cat([p[1] for p in parts], dim=1)
    tangents = {a: torch.cat([p[2][a] for p in parts], dim=1) for a in idx}
    return fields, rates, tangents


def activity_gradients(net: SpikingMLP, params: Params, X: torch.Tensor,
                       indices: Sequence[MultiIndex], K: int, seed: int, coefficients: torch.Tensor,
                       chunk: int | None = None) -> Params:
    """Pass 2: the hidden layers' gradient estimates Ĝ_ℓ, ĝ_ℓ (weights, biases) for coefficients d.

    ``coefficients`` is ``[K·L, N]``: ``d[ℓK + k, b]``, the per-point directional derivative of
    the loss along draw k of layer ℓ (from pass 1's tangents and the error signals). The same
    ``X``, ``indices``, ``K``, ``seed`` and ``chunk`` as pass 1 regenerate the same noise.
    """
    idx = tuple(closure(indices, net.in_dim))
    L = len(net.widths)
    grads = {}
    for name in params:
        if name.startswith("layers."):
            grads[name] = torch.zeros_like(params[name])
    start = 0
    for i, Xc in enumerate(_chunks(net, X, len(idx), K * L, chunk)):
        n = Xc.shape[0]
        _activity_block(net, params, Xc, idx, K, _noise_generator(seed, i),
                        coefficients[:, start:start + n], grads)
        start += n
    return {k: v / K for k, v in grads.items()}


def _activity_block(net, params, X, idx, K, generator, coefficients=None, grads=None):
    """One block of points: pass 1 (``coefficients is None``) or pass 2 (accumulate ``grads``)."""
    lif = net.lif
    plan, tplan, order = jet_plans(idx, lif)
    J = len(idx)
    replay = coefficients is not None
    with_tangent = not replay
    L = len(net.widths)
    S = K * L
    beta, theta = float(lif.beta), float(lif.threshold)
    n_deriv = order + 1 if with_tangent else order
    dtype, device = X.dtype, X.device
    B = X.shape[0]
    widths = net.widths
    layer0 = _layer0_mask(idx)

    with torch.no_grad():
        x, scale, I0 = first_layer_jet(net, params, X, idx)
        n0 = widths[0]
        # the first layer's noise: constant over time, only on the entries W0 reaches
        U0 = _rademacher((J, B, K, n0), generator, dtype, device)
        U0[[j for j, keep in enumerate(layer0) if not keep]] = 0
        if replay:
            A0 = torch.einsum("jbkn,kb->jbn", U0, coefficients[:K])
            grads["layers.0.weight"] += A0[0].T @ x
            for j, alpha in enumerate(idx):
                if sum(alpha) == 1:
                    i = alpha.index(1)
                    grads["layers.0.weight"][:, i] += A0[j].sum(0) * scale[i]
            grads["layers.0.bias"] += A0[0].sum(0)
            I0t = None
        else:
            I0t = U0.clone()        # layer 0 carries only its own K slots

        v = [torch.empty(J, B, n, dtype=dtype, device=device) for n in widths]
        s = [torch.empty(J, B, n, dtype=dtype, device=device) for n in widths]
        cur = [None] + [torch.empty(J, B, n, dtype=dtype, device=device) for n in widths[1:]]
        vt = st = curt = None
        if with_tangent:
            # layer l carries the slots of the draws of layers 0..l (later layers' noise has not
            # entered yet): (l + 1)·K slots, the last layer all S = L·K
            vt = [torch.empty(J, B, (l + 1) * K, n, dtype=dtype, device=device) for l, n in enumerate(widths)]
            st = [torch.empty(J, B, (l + 1) * K, n, dtype=dtype, device=device) for l, n in enumerate(widths)]
            curt = [None] + [torch.empty(J, B, (l + 1) * K, n, dtype=dtype, device=device)
                             for l, n in enumerate(widths) if l]
        nL = widths[-1]
        rate = torch.zeros(J, B, nL, dtype=dtype, device=device)
        rate_t = torch.zeros(J, B, S, nL, dtype=dtype, device=device) if with_tangent else None
        keep = torch.empty(B, max(widths), dtype=dtype, device=device)
        need_prev_v = with_tangent and lif.reset == "zero" and not lif.detach_reset

        # the replay needs the inputs of layers 1..L-1 only: the last layer's LIF is skipped
        active = L - 1 if replay else L
        for t in range(net.T):
            for l in range(L):
                n = widths[l]
                It = None
                if l == 0:
                    if l >= active:      # one hidden layer: its replay needs no LIF step
                        continue
                    I, It = I0, I0t
                else:
                    I = cur[l]
                    W, bias = params[f"layers.{l}.weight"], params[f"layers.{l}.bias"]
                    sp = s[l - 1]
                    U = _rademacher((J, B, K, n), generator, dtype, device)
                    if replay:
                        A = torch.einsum("jbkn,kb->jbn", U, coefficients[l * K:(l + 1) * K])
                        grads[f"layers.{l}.weight"].addmm_(A.reshape(J * B, n).T, sp.view(J * B, -1))
                        grads[f"layers.{l}.bias"] += A[0].sum(0)
                        if l >= active:
                            continue
                    torch.mm(sp.view(J * B, -1), W.T, out=I.view(J * B, n))
                    I[0] += bias
                    if not replay:
                        It = curt[l]
                        prev = st[l - 1]
                        It[:, :, :l * K] = torch.mm(prev.view(-1, prev.shape[-1]), W.T).view(J, B, l * K, n)
                        It[:, :, l * K:] = U
                lif_step(t, l, v, s, vt, st, I, It, lif, beta, theta, keep[:, :n], need_prev_v, plan,
                          tplan, J, n_deriv, with_tangent)
            if with_tangent:
                rate += s[L - 1]
                rate_t += st[L - 1]
        if replay:
            return None
        rate /= net.T
        rate_t /= net.T
        Wr, br = params["readout.weight"], params["readout.bias"]
        out_dim = Wr.shape[0]
        if out_dim != 1:
            raise NotImplementedError("activity perturbation supports a scalar output")
        u = (rate.view(J * B, nL) @ Wr.T).view(J, B)
        u[0] += br
        ut = (rate_t.view(J * B * S, nL) @ Wr.T).view(J, B, S).permute(0, 2, 1)    # [J, S, B]
        fields = {alpha: u[j] for j, alpha in enumerate(idx)}
        tangents = {alpha: ut[j].contiguous() for j, alpha in enumerate(idx)}
        return fields, rate, tangents


def activity_forward_gradient(objective, net, params: Params, K: int,
                              generator: torch.Generator) -> tuple[torch.Tensor, Params]:
    """Forward gradient by **activity perturbation** (``perturbation="activity"``).

    Hidden layers: K Rademacher draws per layer of per-point noise on the layer's input
    currents, contracted with the exact per-point error signals of the loss
    (:meth:`~spikepde.train.objective.Objective.sensitivities`), see
    the module docstring; unbiased for the surrogate gradient, with far less variance
    than weight perturbation because every training point gives its own estimate. Readout: the
    exact local gradient ``Σ_b e_b r̄_b`` of the linear map of rates. No reverse-mode autograd.
    The step's noise seed is drawn from ``generator`` (one draw per step, so a resumed run
    draws the same noise).
    """
    requests, X_all, order, sizes = stacked_requests(objective)
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
    fields, rates, tangents = activity_tangents(net, params, X_all, order, K, seed)
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


__all__ = ["activity_forward_gradient", "activity_tangents", "activity_gradients"]

"""The exact joint (v, s) block of the constant-current first layer: the LIF response to a
constant current is piecewise constant in the current, so the block compares the pieces."""
from __future__ import annotations

import functools
import math

import torch


@functools.lru_cache(maxsize=32)
def _lif_pieces_cached(T: int, beta: float, theta: float, margin: float):
    c = [sum(beta ** k for k in range(t + 1)) for t in range(T)]   # ∂v[t]/∂z on a piece

    def pattern(z: float) -> tuple:
        v = s = 0.0
        out = []
        for _ in range(T):
            v = beta * v - theta * s + z
            s = 1.0 if v >= theta else 0.0
            out.append(s)
        return tuple(out)

    def resets(P, t):   # Σ_{k<t} β^{t−1−k} P[k]: accumulated reset in v[t]
        return sum(beta ** (t - 1 - k) * P[k] for k in range(t))

    lo, pats = [-math.inf], [tuple([0.0] * T)]
    while not all(pats[-1]):
        P = pats[-1]
        # on this piece v[t] = c_t z − θ q_t grows with z; the next breakpoint is where the first
        # silent entry reaches θ
        nxt = min(theta * (1 + resets(P, t)) / c[t] for t in range(T) if P[t] == 0.0)
        step = 1e-13
        Q = pattern(nxt * (1 + step) + step)
        while Q == P:            # rounding at the breakpoint: look a little further
            step *= 10
            Q = pattern(nxt * (1 + step) + step)
        lo.append(nxt)
        pats.append(Q)
    hi = lo[1:] + [math.inf]
    up = []
    for p, P in enumerate(pats):
        # margin: silent entries must stay at v ≤ θ − δ, i.e. z ≤ (θ − δ + θ q_t)/c_t
        u = min([(theta - margin + theta * resets(P, t)) / c[t] for t in range(T) if P[t] == 0.0] + [hi[p]])
        up.append(u)
    return lo, up, pats


def lif_pieces(T: int, beta: float, theta: float, margin: float = 0.0, dtype=torch.float64):
    """The spike trains of a LIF neuron (reset by subtraction) driven by a constant current z.

    The response is piecewise constant in z: returns ``(lo, up, patterns)`` with ``patterns[p]``
    ``[P, T]`` the spike train for every z in ``[lo[p], hi[p])`` (``hi[p] = lo[p+1]``;
    ``lo[0] = −∞``, the last piece, all ones, runs to +∞). ``up[p] ≤ hi[p]`` is the end of the
    part of the piece where every silent step also keeps the margin, ``v[t] ≤ θ − δ``
    (``up = hi`` for δ = 0; a piece with ``up < lo`` cannot keep the margin at all). Exact: on a
    piece ``v[t] = c_t z − θ q_t`` with ``c_t = Σ_{k≤t} β^k`` and q_t the decayed resets, so the
    next breakpoint is ``min_t θ(1 + q_t)/c_t`` over the silent steps; a sweep from z = −∞ visits
    every piece (T = 8: 37 pieces, T = 32: 453 for β = 0.9).
    """
    lo, up, pats = _lif_pieces_cached(int(T), float(beta), float(theta), float(margin))
    return (torch.tensor(lo, dtype=dtype), torch.tensor(up, dtype=dtype), torch.tensor(pats, dtype=dtype))


def consistent_update(m: torch.Tensor, a: torch.Tensor, pieces, rho: float, kappa: float,
                      rate: bool = False, window: int = 8, chunk_elements: int = 1 << 19) -> torch.Tensor:
    """The exact joint (v, s) block of a constant-current layer: the current z ``[B, n]``.

    Over the LIF-consistent trajectories (v, s) = LIF(z) — (H) exact, (D) up to the constant
    offset z − Wx̂ — the block objective ``ρ/2 Σ_t (z − m)² + κ/2 Σ_t (a[t] − s[t])²`` is, on
    piece p, ``ρT/2 (z − m)² + κ/2 ‖a − S_p‖²``: minimised by ``z = clip(m, piece p)``; the
    cheapest piece is kept. ``z`` is kept 64 machine epsilons (relative) inside its piece, so
    that the forward pass in the working precision reproduces S_p.
    ``m``: ``[B, n]`` (the drive W x̂ minus the mean scaled dual); ``a``: ``[T, B, n]``.

    ``rate=True`` (the last hidden layer, read only through its rate): the relaxation is on the
    rate, ``κT/2 (ā − mean_t S_p)²`` with ``a`` the rate ā ``[B, n]``. Then the pieces within
    ``window`` of m's own piece are evaluated first; with C* the best of them, a piece further
    out costs at least ``ρT/2 dist(m, piece)² ≥ C*`` when the window spans ``m ± √(2C*/(ρT))``,
    and the entries where it does not are evaluated over every piece — still exact.
    Otherwise every piece is evaluated (``a·S_p`` for all p is one matrix product).
    """
    lo, up, P = pieces
    T = P.shape[1]
    lo, up, P = lo.to(m.dtype), up.to(m.dtype), P.to(m.dtype)
    pad = 64 * torch.finfo(m.dtype).eps * torch.clamp(torch.maximum(lo.abs(), up.abs()).nan_to_num(posinf=1.0), min=1.0)
    lo_in = torch.where(torch.isfinite(lo), lo + pad, lo)
    up_in = torch.where(torch.isfinite(up), up - pad, up)
    inf = torch.tensor(math.inf, dtype=m.dtype)
    sq = P.sum(1)                                      # ‖S_p‖²
    rates = P.mean(1)
    mf = m.reshape(-1)
    af = a.reshape(-1) if rate else a.reshape(T, -1)

    def costs(mm, lo_c, up_c, fit):
        zc = torch.minimum(torch.maximum(mm, lo_c), up_c)
        cost = 0.5 * rho * T * (zc - mm).square() + 0.5 * kappa * fit
        return zc, torch.where(up_c >= lo_c, cost, inf)

    def full(rows: torch.Tensor) -> torch.Tensor:
        res = torch.empty(rows.numel(), dtype=m.dtype)
        step = max(1, chunk_elements // max(1, P.shape[0]))
        for i in range(0, rows.numel(), step):
            r = rows[i:i + step]
            mm = mf[r, None]
            fit = T * (af[r, None] - rates).square() if rate else sq - 2 * (af[:, r].T @ P.T)
            zc, cost = costs(mm, lo_in, up_in, fit)
            res[i:i + step] = torch.gather(zc, 1, cost.argmin(1, keepdim=True))[:, 0]
        return res

    n_p = P.shape[0]
    if not rate or n_p <= 2 * window + 1:
        return full(torch.arange(mf.numel())).reshape(m.shape)
    out = torch.empty_like(mf)
    hi = torch.cat([lo[1:], inf[None]])
    todo = []
    step = max(1, chunk_elements // (2 * window + 1))
    offsets = torch.arange(-window, window + 1)
    for i in range(0, mf.numel(), step):
        mm = mf[i:i + step]
        own = torch.searchsorted(lo, mm.contiguous(), right=True) - 1
        start = (own - window).clamp(0, n_p - 2 * window - 1)
        idx = start[:, None] + offsets + window                       # [N, 2W+1]
        zc, cost = costs(mm[:, None], lo_in[idx], up_in[idx], T * (af[i:i + step, None] - rates[idx]).square())
        best, k = cost.min(1, keepdim=True)
        out[i:i + step] = torch.gather(zc, 1, k)[:, 0]
        reach = (2 * best[:, 0] / (rho * T)).sqrt()
        left_ok = (start == 0) | (mm - lo[start] >= reach)
        right_ok = (start + 2 * window == n_p - 1) | (hi[start + 2 * window] - mm >= reach)
        bad = ~(left_ok & right_ok)
        if bool(bad.any()):
            todo.append(bad.nonzero()[:, 0] + i)
    if todo:
        rows = torch.cat(todo)
        out[rows] = full(rows)
    return out.reshape(m.shape)


# ---------------------------------------------------------------- the rate-relaxed current step
def relaxed_rate_nodes(pieces, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes ``(z, r)`` of h̃, the piecewise-linear relaxation of the rate staircase h(z).

    The rate of a LIF neuron on a constant current steps up at some of the breakpoints of
    :func:`lif_pieces` (at most breakpoints only the spike times move: T = 64 has 1598 pieces
    but 65 rates). h̃ passes through the middle of every step of the rate (at its breakpoint,
    the mean of the two rates) and is linear between them; one more node half a step's spacing
    beyond each end reaches the rates 0 and 1, constant outside. So ``|h̃ − h|`` is at most half
    the step of h at every z, h̃ is continuous and increasing where h is not constant, and its
    slope is what lets a small pull on the rate move the current (the staircase is flat almost
    everywhere)."""
    lo, _, P = pieces
    rates = P.to(torch.float64).mean(1)
    if bool((rates[1:] < rates[:-1]).any()):
        raise ValueError("the LIF rate must not fall as the current grows")
    steps = (rates[1:] > rates[:-1]).nonzero()[:, 0]       # piece p → p + 1 raises the rate
    if steps.numel() < 2:
        raise ValueError("the relaxed rate needs at least two steps of the rate (T >= 2)")
    b = lo[1:].to(torch.float64)[steps]
    mid = (rates[steps] + rates[steps + 1]) / 2
    z = torch.cat([b[:1] - (b[1] - b[0]) / 2, b, b[-1:] + (b[-1] - b[-2]) / 2])
    r = torch.cat([rates[:1], mid, rates[-1:]])
    return z.to(dtype), r.to(dtype)


def relaxed_rate(current: torch.Tensor, nodes) -> torch.Tensor:
    """h̃(current), elementwise (:func:`relaxed_rate_nodes`)."""
    zn, rn = (x.to(torch.float64) for x in nodes)
    z = current.to(torch.float64)
    k = torch.searchsorted(zn, z.contiguous()).clamp(1, zn.numel() - 1)
    z0, z1 = zn[k - 1], zn[k]
    w = ((z - z0) / (z1 - z0)).clamp(0, 1)
    return (rn[k - 1] + w * (rn[k] - rn[k - 1])).to(current.dtype)


def _relaxed_segments(zn, rn):
    """Segments of h̃ as ``(start, end, slope, intercept)``: h̃ = intercept + slope·z on each."""
    inf = torch.full((1,), math.inf, dtype=zn.dtype)
    zero = torch.zeros(1, dtype=zn.dtype)
    slope = (rn[1:] - rn[:-1]) / (zn[1:] - zn[:-1])
    start = torch.cat([-inf, zn])
    end = torch.cat([zn, inf])
    g = torch.cat([zero, slope, zero])
    c = torch.cat([rn[:1], rn[:-1] - slope * zn[:-1], rn[-1:]])
    return start, end, g, c


def relaxed_current_update(m: torch.Tensor, target: torch.Tensor, nodes, rho: float, kappa: float,
                           window: int = 8, chunk_elements: int = 1 << 19) -> torch.Tensor:
    """The current z ``[B, n]`` minimising ``ρT/2 (z − m)² + κT/2 (t − h̃(z))²`` exactly.

    The rate-relaxed form of :func:`consistent_update` (``rate=True``): the staircase h replaced
    by h̃ (:func:`relaxed_rate_nodes`). On each linear segment the cost is a quadratic in z,
    minimised in closed form and clipped to the segment; the cheapest segment wins. Only
    segments between m and a z with h̃(z) = t can hold the minimiser (outside, both terms grow
    away from it), so the ``window`` segments from the lower end are evaluated first and the
    entries whose interval spans more are evaluated over every segment.
    """
    # in float64 whatever the working precision, like the nodes: the costs of neighbouring
    # segments differ by little, and the clipped minimisers sit on the nodes themselves
    zn, rn = (x.to(torch.float64) for x in nodes)
    start, end, g, c = _relaxed_segments(zn, rn)
    n_seg = start.numel()
    mf, tf = m.reshape(-1).to(torch.float64), target.reshape(-1).to(torch.float64)
    # a z with h̃(z) = t (the end nodes when t lies outside h̃'s range)
    tc = tf.clamp(float(rn[0]), float(rn[-1]))
    k = torch.searchsorted(rn, tc.contiguous()).clamp(1, rn.numel() - 1)
    dr = rn[k] - rn[k - 1]
    w = torch.where(dr > 0, (tc - rn[k - 1]) / torch.where(dr > 0, dr, torch.ones_like(dr)), torch.zeros_like(dr))
    z_t = zn[k - 1] + w * (zn[k] - zn[k - 1])
    first = torch.searchsorted(zn, torch.minimum(mf, z_t).contiguous())
    last = torch.searchsorted(zn, torch.maximum(mf, z_t).contiguous())

    def best(mm, tt, idx):
        z = (rho * mm + kappa * g[idx] * (tt - c[idx])) / (rho + kappa * g[idx].square())
        z = torch.minimum(torch.maximum(z, start[idx]), end[idx])
        cost = rho * (z - mm).square() + kappa * (tt - c[idx] - g[idx] * z).square()
        return torch.gather(z, 1, cost.argmin(1, keepdim=True))[:, 0]

    out = torch.empty_like(mf)
    offsets = torch.arange(window)
    step = max(1, chunk_elements // window)
    for i in range(0, mf.numel(), step):
        sl = slice(i, i + step)
        idx = (first[sl, None] + offsets).clamp(max=n_seg - 1)
        out[sl] = best(mf[sl, None], tf[sl, None], idx)
    wide = (last - first >= window).nonzero()[:, 0]
    if wide.numel():
        every = torch.arange(n_seg)
        step = max(1, chunk_elements // n_seg)
        for i in range(0, wide.numel(), step):
            rows = wide[i:i + step]
            out[rows] = best(mf[rows, None], tf[rows, None], every.expand(rows.numel(), n_seg))
    return out.reshape(m.shape).to(m.dtype)

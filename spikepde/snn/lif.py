"""Discrete-time leaky integrate-and-fire (LIF) dynamics as a pure function.

For one layer with input currents ``I[t]`` (t = 1..T), membrane ``v`` and spikes ``s``::

    v[t] = β v[t−1] + I[t] − θ s[t−1]        (reset by subtraction, the default)
    s[t] = H(v[t] − θ)

with ``v[0] = 0``, leak ``β = exp(−Δt/τ)`` per step (give β directly), threshold θ. Options:

* ``reset="subtract"`` (above; keeps the surplus charge, so the spike count over T is close to
  ``T·I/θ`` for a constant current and quantises the input linearly),
  ``reset="zero"`` (``v[t] = β v[t−1] (1 − s[t−1]) + I[t]``), or ``reset="none"``.
* ``detach_reset=True`` (default) takes the reset term out of every derivative, as snnTorch
  does: the surrogate derivative then follows the membrane integration only, which keeps
  tangents and gradients from oscillating through the reset loop.

The function is pure: state lives in local tensors, nothing is registered anywhere, so it
composes with ``torch.func.jvp``/``vmap``/``functional_call`` and cannot leak state between
networks (cf. snnTorch issues #328/#438 about its global neuron list).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .spike import heaviside, spike
from .surrogate import Sigmoid, Surrogate

RESETS = ("subtract", "zero", "none")


@dataclass(frozen=True)
class LIFConfig:
    """Parameters of a LIF layer (dimensionless; time is counted in steps).

    Attributes:
        beta: leak factor per step, 0 < β ≤ 1 (β = exp(−Δt/τ_mem)).
        threshold: firing threshold θ (> 0).
        reset: ``"subtract"``, ``"zero"`` or ``"none"``.
        detach_reset: take the reset out of derivatives (see module docstring).
        surrogate: smooth primitive whose derivatives replace H' (default ``Sigmoid(5)``).
    """

    beta: float = 0.9
    threshold: float = 1.0
    reset: str = "subtract"
    detach_reset: bool = True
    surrogate: Surrogate = field(default_factory=Sigmoid)

    def __post_init__(self):
        if not 0.0 < self.beta <= 1.0:
            raise ValueError(f"LIF beta must lie in (0, 1], got {self.beta}")
        if self.threshold <= 0:
            raise ValueError(f"LIF threshold must be > 0, got {self.threshold}")
        if self.reset not in RESETS:
            raise ValueError(f"LIF reset must be one of {RESETS}, got '{self.reset}'")


def lif_scan(currents: torch.Tensor, cfg: LIFConfig, T: int | None = None,
             differentiable: bool = True) -> torch.Tensor:
    """Run a LIF layer over time.

    Args:
        currents: ``[T, B, N]`` input currents, or ``[B, N]`` for a current that is constant
            over time (then ``T`` must be given; the tensor is not expanded in memory).
        cfg: the LIF parameters.
        T: number of steps when ``currents`` is constant.
        differentiable: if False, skip the surrogate entirely (pure Heaviside; fastest, for
            evaluation). If True, spikes carry surrogate derivatives (:func:`spike`).
    Returns:
        ``[T, B, N]`` spikes (0/1 values in the dtype of ``currents``).
    """
    constant = currents.dim() == 2
    if constant and T is None:
        raise ValueError("a constant current needs T")
    steps = T if constant else currents.shape[0]
    fire = (lambda x: spike(x, cfg.surrogate)) if differentiable else heaviside
    v = None
    s_prev = None
    out = []
    for t in range(steps):
        i_t = currents if constant else currents[t]
        v = i_t if v is None else _leak_and_reset(v, s_prev, cfg) + i_t
        s_prev = fire(v - cfg.threshold)
        out.append(s_prev)
    return torch.stack(out)


def lif_scan_inplace(currents: torch.Tensor, cfg: LIFConfig, out: torch.Tensor,
                     membrane: torch.Tensor | None = None, state: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`lif_scan` without derivatives, written into ``out`` (``[T, B, N]``) with in-place ops.

    The evaluation path: no surrogate, no autograd, one membrane buffer and one boolean buffer
    for the whole scan instead of several temporaries per step and a final ``stack``. The
    roundings are those of :func:`lif_scan` — ``(β v − θ s) + I`` with θ·s exact for s ∈ {0, 1},
    and ``v ≥ θ`` ⇔ ``v − θ ≥ 0`` for normal numbers — so the spikes are bit-identical
    (``tests/test_engine_paths.py``). The comparison writes 0/1 straight into ``out[t]``
    (a boolean buffer plus a cast costs about 7× more on CPU). ``currents`` is ``[B, N]``
    (constant over t) or ``[T, B, N]``. With ``membrane`` (``[T, B, N]``) the membrane potential
    of every step is written there too (ADMM's state). ``state`` (``[B, N]``) is the buffer the
    running membrane lives in (default: a fresh one); a caller that keeps it between calls
    avoids one allocation per layer.
    """
    T = out.shape[0]
    constant = currents.dim() == 2
    theta, beta = float(cfg.threshold), float(cfg.beta)
    with torch.no_grad():
        first = currents if constant else currents[0]
        v = first.clone() if state is None else state.copy_(first)
        for t in range(T):
            if t:
                v.mul_(beta)
                if cfg.reset == "subtract":
                    v.sub_(out[t - 1], alpha=theta)
                elif cfg.reset == "zero":
                    v.mul_(1 - out[t - 1])
                v.add_(currents if constant else currents[t])
            torch.ge(v, theta, out=out[t])
            if membrane is not None:
                membrane[t].copy_(v)
    return out


def _leak_and_reset(v: torch.Tensor, s_prev: torch.Tensor, cfg: LIFConfig) -> torch.Tensor:
    """``β v[t−1]`` with the reset caused by the spike of step t−1 (see module docstring)."""
    s = s_prev.detach() if cfg.detach_reset else s_prev
    if cfg.reset == "subtract":
        return cfg.beta * v - cfg.threshold * s
    if cfg.reset == "zero":
        return cfg.beta * v * (1 - s)
    return cfg.beta * v


def lif_scan_jet(current_jet: torch.Tensor, cfg: LIFConfig, plan, max_order: int,
                 T: int | None = None) -> torch.Tensor:
    """:func:`lif_scan` on a jet of input currents (see :mod:`spikepde.snn.jets`).

    Args:
        current_jet: ``[J, T, B, N]``, or ``[J, B, N]`` for a current constant over time.
        cfg: LIF parameters (``reset="zero"`` needs ``detach_reset=True`` here).
        plan: :func:`spikepde.snn.jets.faa_di_bruno_plan` of the jet's multi-indices.
        max_order: highest derivative order in the jet.
    Returns:
        ``[J, T, B, N]``: the spike trains and their input derivatives through the surrogate.
        Entry 0 carries the straight-through spike, so parameter derivatives flow as well.
    """
    from .jets import apply_elementwise

    if cfg.reset == "zero" and not cfg.detach_reset:
        raise NotImplementedError("jets through a non-detached zero reset are not supported")
    constant = current_jet.dim() == 3
    steps = T if constant else current_jet.shape[1]
    v = None
    s_prev = None
    out = []
    for t in range(steps):
        i_t = current_jet if constant else current_jet[:, t]
        v = i_t if v is None else _leak_and_reset_jet(v, s_prev, cfg) + i_t
        x = v[0] - cfg.threshold
        value = spike(x, cfg.surrogate)
        derivs = cfg.surrogate.derivatives(x, max_order) if max_order else []
        s_prev = apply_elementwise(value, derivs, v, plan) if max_order else value[None]
        out.append(s_prev)
    return torch.stack(out, dim=1)


def _leak_and_reset_jet(v: torch.Tensor, s_prev: torch.Tensor, cfg: LIFConfig) -> torch.Tensor:
    if cfg.reset == "none":
        return cfg.beta * v
    if cfg.reset == "zero":
        return cfg.beta * v * (1 - s_prev[0].detach())
    if cfg.detach_reset:
        reset = torch.zeros_like(s_prev)
        reset[0] = s_prev[0].detach()
        return cfg.beta * v - cfg.threshold * reset
    return cfg.beta * v - cfg.threshold * s_prev

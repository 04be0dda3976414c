"""A separable spiking field marched in time: one readout per time slab, continuous across slabs.

    u(x, t) = s_k(x) + (t − t_k) · Σ_{a,b} C_k[a, b] z_x,k(x)[a] z_t,k(t − t_k)[b],   t ∈ [t_k, t_k + L)

The time interval is cut into ``slabs`` equal slabs of length L. Slab k has its own pair of
random LIF networks — one over the space coordinate, one over the time **since the slab began**
(encoded over [0, L]) — and its own readout (projections and core, as
:class:`~spikepde.snn.separable.SeparableSpikingField`'s). ``s_k`` is where slab k starts: the
field at the end of slab k − 1, so u is continuous in t. Each slab's change over its whole
length is a vector ``e_j`` over its space network's raster, so ``s_k(x) = Σ_{j<k} φ_x,j(x) · e_j``:
a point in slab k runs k + 2 networks (the space networks of slabs 0…k and slab k's time
network), and :meth:`TimeSlabField.forward_stats` counts them all.

Why one pair of networks per slab: with the same two networks in every slab, kdv's error grew
four times faster (4 slabs, width 64: 0.63 against 0.14) — each slab's readout is a kernel
interpolation between the quadrature points with the rough kernel of its space raster, and
the same kernel in every slab adds the same interpolation error slab after slab; independent
networks average it out. Whatever value u takes at the first instant (the problem's initial
condition) is the caller's output transform.

Why slabs at all (``docs/methods/lsq.md``, "Time slabs"): a readout solved over the whole time
interval at once is one global system — nothing makes the early times right first, and kdv's
solitons were not carried (0.55–0.59); slab by slab, each readout starts from the previous
slab's end.

Parameters: per slab, ``slab{k}.axis{i}.layers.*`` (its hidden layers),
``slab{k}.axis{i}.projection`` ``[F_i, m_i]``, ``slab{k}.core`` (space coordinates first) and
``slab{k}.end`` ``[F_x]`` (``e_k``, zero until the slab is solved).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .lif import LIFConfig
from .network import SpikeStats
from .separable import RASTER_CHUNK_ELEMENTS, SeparableSpikingField


@dataclass
class TimeSlabField:
    """Per-slab separable spiking fields chained in time (see the module docstring).

    Args:
        lower, upper: the input box, two axes (one space axis and time).
        time_axis: which axis is time (0 or 1).
        slabs: number of equal time slabs.
        widths, T, lif, features: every axis network (as :class:`SeparableSpikingField`).
    """

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    time_axis: int
    slabs: int
    widths: tuple[int, ...] = (128,)
    T: int = 8
    lif: LIFConfig = field(default_factory=LIFConfig)
    features: str = "raster"

    def __post_init__(self):
        if len(self.lower) != 2 or len(self.upper) != 2:
            raise ValueError("TimeSlabField needs two inputs (one space axis and time)")
        if self.time_axis not in (0, 1) or int(self.slabs) < 1:
            raise ValueError(f"time_axis must be 0 or 1 and slabs >= 1 (got {self.time_axis}, {self.slabs})")
        self.slabs = int(self.slabs)
        self.widths = tuple(int(w) for w in self.widths)

    @property
    def in_dim(self) -> int:
        return 2

    @property
    def space_axis(self) -> int:
        return 1 - self.time_axis

    @property
    def slab_length(self) -> float:
        t = self.time_axis
        return (self.upper[t] - self.lower[t]) / self.slabs

    def slab_start(self, k: int) -> float:
        """t_k, where slab k begins."""
        return self.lower[self.time_axis] + k * self.slab_length

    def local_field(self) -> SeparableSpikingField:
        """A slab's networks as a separable field over (space, time since the slab began)."""
        lower, upper = list(self.lower), list(self.upper)
        lower[self.time_axis], upper[self.time_axis] = 0.0, self.slab_length
        return SeparableSpikingField(tuple(lower), tuple(upper), widths=self.widths, T=self.T, lif=self.lif,
                                     features=self.features)

    def init_params(self, generator: torch.Generator, dtype=torch.float64, device="cpu") -> dict[str, torch.Tensor]:
        """Random hidden layers for every slab (the package's initialisation); readouts zero."""
        local = self.local_field()
        params = {}
        for k in range(self.slabs):
            body = local.init_params(generator, dtype=dtype, device=device)
            params.update({f"slab{k}.{name}": v for name, v in body.items()})
            params[f"slab{k}.end"] = torch.zeros(local.n_features, dtype=dtype, device=device)
        return params

    def slab_of(self, t: torch.Tensor) -> torch.Tensor:
        """The slab index of each time (the last slab holds the end point)."""
        k = torch.floor((t - self.lower[self.time_axis]) / self.slab_length)
        return k.clamp(0, self.slabs - 1).to(torch.long)

    def slab_params(self, params: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
        """Slab k's networks and readout as a :class:`SeparableSpikingField` parameter dict."""
        prefix = f"slab{k}."
        return {name[len(prefix):]: v for name, v in params.items() if name.startswith(prefix)}

    def _chunks(self, n: int):
        step = max(1, RASTER_CHUNK_ELEMENTS // self.local_field().n_features)
        return [slice(lo, min(n, lo + step)) for lo in range(0, n, step)]

    def change(self, params, k: int, x: torch.Tensor, counts: list | None = None) -> torch.Tensor:
        """Slab k's change of u over its whole length at the space points ``x``: φ_x,k(x) · e_k.
        Without ``counts`` (no spike statistics asked for) the network runs once per distinct
        coordinate: a grid repeats each x at every time."""
        local, p = self.local_field(), self.slab_params(params, k)
        inverse = None
        if counts is None:
            x, inverse = torch.unique(x, return_inverse=True)
        with torch.no_grad():
            out = torch.cat([local.raster(p, self.space_axis, x[c], counts) @ p["end"]
                             for c in self._chunks(x.shape[0])]) if x.numel() else x.new_zeros(0)
        return out if inverse is None else out[inverse]

    def within(self, params, k: int, X: torch.Tensor, counts: list | None = None) -> torch.Tensor:
        """(t − t_k) · N_k(x, t − t_k): slab k's readout at ``X`` (its times taken from t_k)."""
        local, p = self.local_field(), self.slab_params(params, k)
        s, t = self.space_axis, self.time_axis
        tau = X[:, t] - self.slab_start(k)
        core = p["core"] if s == 0 else p["core"].T               # [m_space, m_time]
        out = []
        with torch.no_grad():
            for c in self._chunks(X.shape[0]):
                zs = local.raster(p, s, X[c, s], counts) @ p[f"axis{s}.projection"]
                zt = local.raster(p, t, tau[c], counts) @ p[f"axis{t}.projection"]
                out.append(tau[c] * ((zs @ core) * zt).sum(1))
        return torch.cat(out) if out else X.new_zeros(0)

    def forward(self, params: dict[str, torch.Tensor], X: torch.Tensor, differentiable: bool = False,
                counts: list | None = None) -> torch.Tensor:
        """u − (the initial value) at scattered points ``[N, 2]``: the changes of the slabs before
        each point's, plus its own slab's readout."""
        k = self.slab_of(X[:, self.time_axis])
        out = X.new_zeros(X.shape[0])
        for j in range(int(k.max()) + 1 if X.shape[0] else 0):
            later, here = k > j, k == j
            if bool(later.any()):
                out[later] += self.change(params, j, X[later, self.space_axis], counts).to(out.dtype)
            if bool(here.any()):
                out[here] += self.within(params, j, X[here], counts).to(out.dtype)
        return out

    __call__ = forward

    def forward_stats(self, params, X) -> tuple[torch.Tensor, SpikeStats]:
        """Output and spike statistics of every network a point runs: the space networks of
        its slab and of every earlier one, and its slab's time network."""
        counts: list[float] = []
        u = self.forward(params, X, counts=counts)
        depth = len(self.widths)
        spikes = [sum(counts[i::depth]) for i in range(depth)]     # per layer, over every run
        k = self.slab_of(X[:, self.time_axis]).to(torch.float64)
        runs = float((k + 2).mean()) if X.shape[0] else 2.0          # networks per point
        m = max(params[f"slab{j}.core"].numel() for j in range(self.slabs))
        fan_out = list(self.widths[1:]) + [int(round(m ** 0.5))]    # the readout's accumulators
        stats = SpikeStats(spikes=spikes, neurons=[int(round(w * runs)) for w in self.widths],
                           samples=X.shape[0], T=self.T, fan_out=fan_out, in_dim=1,
                           readout_macs=float(m))
        return u, stats


class InitialValue:
    """The output transform of a time-slab field: ``u = u₀(x) + N``, u₀ the initial condition's
    value at the first instant (a function of the point with its time set to t₀)."""

    def __init__(self, value_fn, time_axis: int, t0: float):
        self.value_fn, self.time_axis, self.t0 = value_fn, time_axis, float(t0)

    def initial(self, X: torch.Tensor) -> torch.Tensor:
        X0 = X.clone()
        X0[:, self.time_axis] = self.t0
        return self.value_fn(X0)

    def value(self, X: torch.Tensor, N: torch.Tensor) -> torch.Tensor:
        return self.initial(X).to(N.dtype) + N

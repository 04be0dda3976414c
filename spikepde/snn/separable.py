"""A separable spiking field: one LIF network per input axis, a time-resolved Tucker readout.

    u(x_1, …, x_d) = Σ_{a_1…a_d} C[a_1, …, a_d] · Π_i z_i(x_i)[a_i],     z_i(x) = P_iᵀ φ_i(x)

* **Per-axis spiking networks.** Axis i has its own LIF network (:class:`SpikingMLP` body: the
  coordinate, encoded to [−1, 1], as a constant current; ``widths`` LIF layers, T steps). Its
  features φ_i(x) are the **spike raster of every hidden layer at every time step** (0/1 values,
  ``T·Σ widths`` of them, plus a constant): a time-resolved readout, so the timing of a spike
  matters, not only the count.
* **Readout.** A projection P_i of each axis' raster to m_i coordinates z_i, and a core tensor C
  coupling the axes (a Tucker form; rank 1 per term would be the separable product f(x) g(t) of
  SPINN/SepONet). Both are linear maps of spikes, evaluated without any multiplication by a
  spike value — the spikes only select which projection rows are added up.

Why this shape (``shared/research/spiking_field_probe.md``): a rate readout of one network over
(x, t) makes the field piecewise constant with few levels; the same budget of neurons spent per
axis cuts each axis into as many pieces as the raster has distinct rows (about T·width), and the
tensor product of the axes' pieces is what a 2-D field needs. On a tensor-product grid (the weak
form's quadrature grid, the reference grid) each axis network runs on the axis' points only:
``n_1 + … + n_d`` network evaluations instead of ``n_1 · … · n_d``.

Parameters are a flat dict like :class:`SpikingMLP`'s: ``axis{i}.layers.{l}.weight/bias`` (the
hidden layers), ``axis{i}.projection`` ``[F_i, m_i]`` and ``core`` ``[m_1, …, m_d]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .lif import LIFConfig
from .network import SpikeStats, SpikingMLP

#: raster entries formed at once when a readout is evaluated (2²⁴: 128 MiB in float64)
RASTER_CHUNK_ELEMENTS = 2 ** 24


@dataclass
class SeparableSpikingField:
    """Per-axis LIF networks with a time-resolved Tucker readout (see the module docstring).

    Args:
        lower, upper: the input box (one bound per axis; the axes are the problem's inputs).
        widths: hidden LIF widths of every axis network.
        T: time steps; lif: the LIF parameters.
        ranks: m_i, the readout's coordinates per axis (set when the readout is fitted).
        features: ``"raster"`` (every spike at every step) or ``"rate"`` (spike counts).
        trained_readout: initialise the projections at random (a readout trained by gradient
            steps, as bptt does: with both factors of the Tucker form at zero neither would
            get a gradient); otherwise they start at zero, to be fitted in closed form.
    """

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    widths: tuple[int, ...] = (128,)
    T: int = 16
    lif: LIFConfig = field(default_factory=LIFConfig)
    ranks: tuple[int, ...] | None = None
    features: str = "raster"
    trained_readout: bool = False

    def __post_init__(self):
        self.widths = tuple(int(w) for w in self.widths)
        if self.features not in ("raster", "rate"):
            raise ValueError(f"features must be 'raster' or 'rate', got {self.features!r}")
        if len(self.lower) != len(self.upper) or not self.lower:
            raise ValueError("SeparableSpikingField needs one (lower, upper) bound per axis")

    @property
    def in_dim(self) -> int:
        return len(self.lower)

    @property
    def n_features(self) -> int:
        """Features per axis: T·Σ widths spikes and a constant (rate: Σ widths counts)."""
        return (self.T if self.features == "raster" else 1) * sum(self.widths) + 1

    def axis_network(self, i: int) -> SpikingMLP:
        """The LIF body of axis i (its readout parameters are unused)."""
        return SpikingMLP(1, self.widths, T=self.T, lif=self.lif, lower=(self.lower[i],),
                          upper=(self.upper[i],))

    def init_params(self, generator: torch.Generator, dtype=torch.float32, device="cpu") -> dict[str, torch.Tensor]:
        """Random hidden layers of every axis network (the package's LIF initialisation); the
        core is zero, the projections too unless ``trained_readout`` (then N(0, 1/F_i))."""
        params = {}
        for i in range(self.in_dim):
            body = self.axis_network(i).init_params(generator, dtype=dtype, device=device)
            params.update({f"axis{i}.{k}": v for k, v in body.items() if k.startswith("layers.")})
        ranks = self.ranks or (1,) * self.in_dim
        for i, m in enumerate(ranks):
            shape = (self.n_features, m)
            projection = (torch.randn(shape, generator=generator, dtype=dtype) / math.sqrt(shape[0])
                          if self.trained_readout else torch.zeros(shape, dtype=dtype))
            params[f"axis{i}.projection"] = projection.to(device)
        params["core"] = torch.zeros(ranks, dtype=dtype, device=device)
        return params

    def axis_params(self, params: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
        prefix = f"axis{i}."
        return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix + "layers.")}

    # ---------------------------------------------------------------- features
    def raster(self, params: dict[str, torch.Tensor], i: int, x: torch.Tensor,
               counts: list[float] | None = None, differentiable: bool = False) -> torch.Tensor:
        """φ_i(x): the spike raster of every hidden layer of axis i at every step, ``[n, F_i]``
        (time-major within a layer, layers in order, a constant 1 last; ``features="rate"``:
        each neuron's spike count instead). ``counts`` receives the spikes of each layer;
        ``differentiable`` gives every spike its surrogate derivative (same values)."""
        net = self.axis_network(i)
        spikes = net.hidden_spikes(self.axis_params(params, i), x.reshape(-1, 1), differentiable=differentiable)
        if counts is not None:
            counts.extend(float(s.sum()) for s in spikes)
        n = x.shape[0]
        if self.features == "rate":          # spike counts, timing discarded (lsq's regression default)
            parts = [s.sum(0) for s in spikes]
        else:
            parts = [s.permute(1, 0, 2).reshape(n, -1) for s in spikes]
        return torch.cat(parts + [torch.ones(n, 1, dtype=x.dtype, device=x.device)], dim=1)

    def coordinates(self, params, i: int, x: torch.Tensor, counts: list[float] | None = None) -> torch.Tensor:
        """z_i(x) = P_iᵀ φ_i(x), ``[n, m_i]``, in chunks of points: the raster of many points
        is large (10⁴ points × 65 537 features of 1024 × 64 neurons: 5 GB in float64), its
        coordinates are not. ``counts`` receives the spikes of each layer."""
        projection = params[f"axis{i}.projection"]
        chunk = max(1, RASTER_CHUNK_ELEMENTS // self.n_features)
        parts, layer_counts = [], []
        for start in range(0, x.shape[0], chunk):
            found: list[float] = []
            parts.append(self.raster(params, i, x[start:start + chunk], found) @ projection)
            layer_counts = [a + b for a, b in zip(layer_counts, found)] if layer_counts else found
        if counts is not None:
            counts.extend(layer_counts)
        return torch.cat(parts) if parts else x.new_zeros(0, projection.shape[1])

    # ---------------------------------------------------------------- evaluation
    def forward(self, params: dict[str, torch.Tensor], X: torch.Tensor, differentiable: bool = True) -> torch.Tensor:
        """u at scattered points ``X`` ``[N, d]`` → ``[N]`` (spikes are exact Heaviside values).

        When a parameter requires a gradient and ``differentiable`` (bptt), every spike carries
        its surrogate derivative and each axis network runs once per distinct coordinate (on a
        tensor grid, such as the weak form's quadrature grid: once per axis point); otherwise
        no graph is kept and the rasters are formed in chunks (:meth:`coordinates`).
        """
        if differentiable and any(p.requires_grad for p in params.values()):
            return contract_points(params["core"], [self._coordinates_surrogate(params, i, X[:, i])
                                                    for i in range(self.in_dim)])
        with torch.no_grad():
            z = [self.coordinates(params, i, X[:, i]) for i in range(self.in_dim)]
            return contract_points(params["core"], z)

    def _coordinates_surrogate(self, params, i: int, x: torch.Tensor) -> torch.Tensor:
        """z_i(x) with surrogate derivatives, the axis network run on the distinct values of x."""
        values, inverse = torch.unique(x, return_inverse=True)
        z = self.raster(params, i, values, differentiable=True) @ params[f"axis{i}.projection"]
        return z[inverse]

    __call__ = forward

    def on_grid(self, params: dict[str, torch.Tensor], axes: list[torch.Tensor]) -> torch.Tensor:
        """u on the tensor grid of ``axes`` (``indexing="ij"``): each axis network runs once per
        axis point."""
        with torch.no_grad():
            return contract_grid(params["core"], [self.coordinates(params, i, x) for i, x in enumerate(axes)])

    def forward_stats(self, params, X) -> tuple[torch.Tensor, SpikeStats]:
        """Output and spike statistics as if every point ran its d axis networks (the cost of
        scattered points; on a grid the axis networks are shared between points)."""
        counts: list[float] = []
        with torch.no_grad():
            z = [self.coordinates(params, i, X[:, i], counts) for i in range(self.in_dim)]
            u = contract_points(params["core"], z)
        widths = list(self.widths) * self.in_dim
        # one input a field of one variable: projection and core fold into one readout weight
        # per raster feature (u = φᵀ(P·C)), so a spike costs one accumulate and nothing else
        folded = self.in_dim == 1
        fan_out = []
        for i in range(self.in_dim):
            m = 1 if folded else params[f"axis{i}.projection"].shape[1]
            fan_out += list(self.widths[1:]) + [0]
            # every spike of every layer drives the projection's m_i accumulators
            fan_out[-len(self.widths):] = [f + m for f in fan_out[-len(self.widths):]]
        # the first layer of each axis network: one input; the core contraction: Π m_i MACs
        stats = SpikeStats(spikes=counts, neurons=widths, samples=X.shape[0], T=self.T, fan_out=fan_out,
                           in_dim=self.in_dim, readout_macs=0.0 if folded else float(params["core"].numel()))
        return u, stats


def contract_grid(core: torch.Tensor, z: list[torch.Tensor]) -> torch.Tensor:
    """Σ_a C[a_1…a_d] Π_i z_i[n_i, a_i] on the tensor grid of the z_i's rows: ``[n_1, …, n_d]``."""
    out = core
    for zi in z:
        out = torch.tensordot(out, zi, dims=([0], [1]))          # contract m_i, append n_i
    return out


def contract_points(core: torch.Tensor, z: list[torch.Tensor]) -> torch.Tensor:
    """Σ_a C[a_1…a_d] Π_i z_i[n, a_i] for every point n."""
    out = core
    out = torch.einsum("a...,na->n...", out, z[0])
    for zi in z[1:]:
        out = torch.einsum("na...,na->n...", out, zi)
    return out


def tucker_core_size(ranks) -> int:
    return math.prod(ranks)

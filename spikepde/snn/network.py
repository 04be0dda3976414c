"""Functional spiking MLP used as a PDE surrogate (and as a classifier body).

Architecture (``in_dim → widths[0] → … → widths[-1] → out_dim``):

1. **Input encoding**: coordinates are rescaled to [−1, 1] with the problem's box and fed as a
   *constant input current* at every one of the T steps (direct encoding). Since the current is
   constant, the first linear map is computed once per sample, not T times.
2. **Hidden layers**: LIF neurons (:mod:`spikepde.snn.lif`). Layer ℓ ≥ 2 receives
   ``W_ℓ s_{ℓ−1}[t] + b_ℓ``; the linear map runs once on the flattened ``[T·B, n]`` spike
   tensor, only the membrane recurrence loops over t.
3. **Readout (non-spiking)**: the time-average of the last layer's spikes (its firing rates)
   through a linear map, ``u = W_out · (1/T) Σ_t s_L[t] + b_out``. This is the membrane of a
   non-leaky, non-firing integrator read at the end and divided by T. Why this choice: a
   regression output must be real-valued; reading rates keeps every hidden interaction
   spike-based (accumulates only), and the output is a linear function of spike counts, which
   the closed-form ADMM readout also exploits. The price is quantisation: for fixed weights,
   ``u(x)`` is piecewise constant in x with at most T+1 levels per neuron.

Parameters are a flat ``dict[str, Tensor]`` (``layers.{i}.weight``, ``layers.{i}.bias``,
``readout.weight``, ``readout.bias``) so the same pure ``forward(params, X)`` serves every
trainer through ``torch.func`` (jvp over parameters, vmap over perturbation directions).

The derivative-free forward (``differentiable=False``: evaluation, ADMM's true-LIF passes)
runs layer by layer on two ``[T, B, n]`` buffers used in turn (the currents of layer ℓ, then
its spikes, which the next layer's currents are computed from) and keeps them between calls in
the network's :class:`Workspace`. Why: a fresh buffer of this size is page-faulted in on first
touch at every call, which cost more than the arithmetic (width 64, T = 16, 2540 points: 22 ms
a pass with fresh buffers, 9 ms reused; ``benchmarks/engine.py``); reusing them makes the engine
fast in any process, with no allocator setting.
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from .lif import LIFConfig, lif_scan, lif_scan_inplace


@dataclass
class SpikeStats:
    """Spike counts of one forward pass (summed over time and samples).

    Attributes:
        spikes: total spikes per hidden layer.
        neurons: neurons per hidden layer.
        samples: batch size B.
        T: time steps.
        fan_out: for each hidden layer, the number of synapses each of its spikes drives
            (the next layer's width, or the readout size for the last layer).
        in_dim: input dimension (the first layer's real-valued MACs per sample are
            ``in_dim × widths[0]``).
        readout_macs: real-valued multiply-accumulates of the readout per sample beyond the
            spikes' accumulates (a separable field's core contraction; 0 for a rate readout).
    """

    spikes: list[float]
    neurons: list[int]
    samples: int
    T: int
    fan_out: list[int]
    in_dim: int
    readout_macs: float = 0.0

    @property
    def rates(self) -> list[float]:
        """Firing probability per neuron per step, for each hidden layer."""
        return [s / (n * self.samples * self.T) for s, n in zip(self.spikes, self.neurons)]

    @property
    def mean_rate(self) -> float:
        """Firing probability per neuron per step over all hidden neurons."""
        total = sum(n * self.samples * self.T for n in self.neurons)
        return sum(self.spikes) / total


class Workspace:
    """The buffers of one network's derivative-free forward pass, kept between calls.

    A buffer is looked up by name, dtype and device and grows to the largest size asked for
    (smaller requests use a prefix view), as long as everything kept stays under ``max_bytes``
    (default 64 MiB; larger passes allocate afresh and keep nothing). One pass at a time uses
    it: a pass that finds it busy (another thread) allocates its own buffers. A copy or a
    pickle of a network starts with an empty workspace.
    """

    def __init__(self, max_bytes: int = 64 * 2 ** 20):
        self.max_bytes = int(max_bytes)
        self._buffers: dict[tuple, torch.Tensor] = {}
        self._lock = threading.Lock()

    def take(self, name: str, shape: tuple[int, ...], dtype, device) -> torch.Tensor:
        """A contiguous ``shape`` tensor for the buffer ``name`` (contents undefined)."""
        numel = math.prod(shape)
        key = (name, dtype, torch.device(device))
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < numel:
            size = numel * torch.empty((), dtype=dtype).element_size()
            kept = sum(b.numel() * b.element_size() for k, b in self._buffers.items() if k != key)
            if kept + size > self.max_bytes:
                return torch.empty(shape, dtype=dtype, device=device)
            buf = self._buffers[key] = torch.empty(numel, dtype=dtype, device=device)
        return buf[:numel].view(shape)

    @contextmanager
    def claimed(self):
        """``self`` for the duration of one pass, or None when another thread is using it."""
        if not self._lock.acquire(blocking=False):
            yield None
            return
        try:
            yield self
        finally:
            self._lock.release()

    def release(self) -> None:
        """Free every kept buffer."""
        self._buffers.clear()

    @property
    def nbytes(self) -> int:
        """Bytes kept."""
        return sum(b.numel() * b.element_size() for b in self._buffers.values())

    def __getstate__(self):
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state):
        self.__init__(state["max_bytes"])

    def __deepcopy__(self, memo):
        return Workspace(self.max_bytes)


def _fresh(name, shape, dtype, device) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype, device=device)


@dataclass
class SpikingMLP:
    """A feed-forward LIF network with a rate readout, in functional form.

    Args:
        in_dim: number of input coordinates.
        widths: hidden layer widths.
        out_dim: number of outputs (1 for a scalar field; ``forward`` then returns ``[N]``).
        T: number of time steps.
        lif: LIF parameters shared by the hidden layers.
        lower, upper: the input box; inputs are mapped affinely to [−1, 1] (default: identity).
        init_gain: scale of the initial weights relative to ``1/sqrt(fan_in)``.
        readout_gain: scale of the initial readout weights (small: the output starts near 0).
        compile: run the derivative-free forward (``differentiable=False``: evaluation, ADMM's
            true-LIF passes) through ``torch.compile`` (:mod:`spikepde.snn.fast_forward`), falling
            back to eager with a warning where compilation fails. Values agree with eager up to
            float rounding (an occasional float32 spike may flip); default off.
    """

    in_dim: int
    widths: tuple[int, ...] = (64, 64)
    out_dim: int = 1
    T: int = 8
    lif: LIFConfig = field(default_factory=LIFConfig)
    lower: tuple[float, ...] | None = None
    upper: tuple[float, ...] | None = None
    init_gain: float = 1.5
    readout_gain: float = 0.1
    compile: bool = False
    workspace: Workspace = field(default_factory=Workspace, init=False, repr=False, compare=False)

    def __post_init__(self):
        self.widths = tuple(int(w) for w in self.widths)
        if self.T < 1 or not self.widths or min(self.widths) < 1:
            raise ValueError("SpikingMLP needs T >= 1 and at least one hidden layer of width >= 1")

    # ---------------------------------------------------------------- parameters
    def init_params(self, generator: torch.Generator, dtype=torch.float32,
                    device="cpu") -> dict[str, torch.Tensor]:
        """Random initial parameters (uniform, scaled by fan-in; biases put neurons near threshold).

        The first layer sees inputs in [−1, 1]; hidden layers see 0/1 spikes, so their weights
        are scaled up so that a typical neuron receives a current of order θ and fires at a
        moderate rate from the start (a silent network has no surrogate signal to learn from).
        """
        sizes = (self.in_dim,) + self.widths
        params = {}
        theta = self.lif.threshold
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            bound = self.init_gain * math.sqrt(3.0 / n_in) * theta
            params[f"layers.{i}.weight"] = _uniform((n_out, n_in), bound, generator, dtype, device)
            params[f"layers.{i}.bias"] = _uniform((n_out,), 0.5 * theta, generator, dtype, device) + 0.5 * theta
        # a small readout: the untrained surrogate starts near u = 0 (relative error ≈ 1) instead
        # of a random field of order one, so early training moves the error down, not around
        bound = self.readout_gain * math.sqrt(3.0 / self.widths[-1])
        params["readout.weight"] = _uniform((self.out_dim, self.widths[-1]), bound, generator, dtype, device)
        params["readout.bias"] = torch.zeros(self.out_dim, dtype=dtype, device=device)
        return params

    def layer_names(self) -> list[list[str]]:
        """Parameter names grouped by layer (hidden layers, then the readout)."""
        groups = [[f"layers.{i}.weight", f"layers.{i}.bias"] for i in range(len(self.widths))]
        return groups + [["readout.weight", "readout.bias"]]

    # ---------------------------------------------------------------- forward
    def encode(self, X: torch.Tensor) -> torch.Tensor:
        """Map inputs from the box ``[lower, upper]`` to [−1, 1] (identity if no box given)."""
        return encode_box(X, self.lower, self.upper)

    def hidden_spikes(self, params: dict[str, torch.Tensor], X: torch.Tensor,
                      differentiable: bool = True) -> list[torch.Tensor]:
        """Spike trains ``[T, B, n_ℓ]`` of every hidden layer."""
        if not differentiable and not _transformed(X, params):
            return self._hidden_spikes_inplace(params, X)
        return self._hidden_spikes_functional(params, X, differentiable)

    def _hidden_spikes_functional(self, params, X, differentiable: bool = True) -> list[torch.Tensor]:
        """The pure-function pass (composes with ``torch.func`` and ``torch.compile``)."""
        x = self.encode(X)
        current = x @ params["layers.0.weight"].T + params["layers.0.bias"]   # constant over t
        spikes = [lif_scan(current, self.lif, T=self.T, differentiable=differentiable)]
        for i in range(1, len(self.widths)):
            s = spikes[-1]
            flat = s.reshape(-1, s.shape[-1]) @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"]
            spikes.append(lif_scan(flat.reshape(s.shape[0], s.shape[1], -1), self.lif,
                                   differentiable=differentiable))
        return spikes

    def _hidden_spikes_inplace(self, params, X) -> list[torch.Tensor]:
        """:meth:`hidden_spikes` without derivatives: preallocated ``[T, B, n]`` buffers, in-place
        LIF steps (:func:`lif_scan_inplace`). Same roundings as the functional path (matmul,
        then bias), hence bit-identical spikes."""
        with torch.no_grad():
            x = self.encode(X)
            B = X.shape[0]
            current = x @ params["layers.0.weight"].T
            current += params["layers.0.bias"]
            spikes = []
            for i, n in enumerate(self.widths):
                out = torch.empty(self.T, B, n, dtype=X.dtype, device=X.device)
                if i:
                    prev = spikes[-1].view(self.T * B, -1)
                    current = torch.mm(prev, params[f"layers.{i}.weight"].T).view(self.T, B, n)
                    current += params[f"layers.{i}.bias"]
                spikes.append(lif_scan_inplace(current, self.lif, out))
            return spikes

    def readout(self, params: dict[str, torch.Tensor], rates: torch.Tensor) -> torch.Tensor:
        """Linear readout of the last layer's firing rates ``[B, n_L]`` → ``[B]`` or ``[B, out]``."""
        u = rates @ params["readout.weight"].T + params["readout.bias"]
        return u[:, 0] if self.out_dim == 1 else u

    def _rates_inplace(self, params, X, workspace: Workspace | None,
                       spike_counts: list[float] | None = None) -> torch.Tensor:
        """The last layer's firing rates ``[B, n_L]`` without derivatives, layer by layer on two
        ``[T, B, n]`` buffers taken in turn from ``workspace`` (fresh ones without it); the
        result lives in the workspace too. Same operations and roundings as
        :meth:`_hidden_spikes_inplace` (hence the same spikes). ``spike_counts`` receives the
        total spikes of each layer."""
        take = workspace.take if workspace is not None else _fresh
        T, B = self.T, X.shape[0]
        dtype, device = X.dtype, X.device
        with torch.no_grad():
            x = self.encode(X)
            current = take("current0", (B, self.widths[0]), dtype, device)
            torch.mm(x, params["layers.0.weight"].T, out=current)
            current += params["layers.0.bias"]
            spikes = None
            for i, n in enumerate(self.widths):
                if i:
                    current = take("currents", (T, B, n), dtype, device)
                    torch.mm(spikes.view(T * B, -1), params[f"layers.{i}.weight"].T,
                             out=current.view(T * B, n))
                    current += params[f"layers.{i}.bias"]
                spikes = take("spikes", (T, B, n), dtype, device)   # the previous layer's are used up
                lif_scan_inplace(current, self.lif, spikes, state=take("membrane", (B, n), dtype, device))
                if spike_counts is not None:
                    spike_counts.append(float(spikes.sum()))
            rates = take("rates", (B, self.widths[-1]), dtype, device)
            return torch.mean(spikes, 0, out=rates)

    def features(self, params, X, differentiable: bool = True) -> torch.Tensor:
        """Firing rates of the last hidden layer, ``[B, n_L]`` (the readout's input)."""
        if not differentiable and not _transformed(X, params):
            with self.workspace.claimed() as ws:
                return self._rates_inplace(params, X, ws).clone()
        return self.hidden_spikes(params, X, differentiable)[-1].mean(0)

    def forward(self, params: dict[str, torch.Tensor], X: torch.Tensor,
                differentiable: bool = True) -> torch.Tensor:
        """The surrogate's output at ``X`` (``[N, in_dim]``) → ``[N]`` (or ``[N, out_dim]``).

        With ``differentiable=False`` the surrogate is skipped (exact same values, faster), and
        with ``compile=True`` that pass runs compiled.
        """
        if not differentiable and not _transformed(X, params):
            if self.compile:
                from .fast_forward import compiled_forward
                return compiled_forward(self)(params, X)
            with self.workspace.claimed() as ws:
                # blocks of rows_per_block() rows: the [T, rows, width] buffers stay ~64 MB
                return torch.cat([self.readout(params, self._rates_inplace(params, block, ws))
                                  for block in X.split(self.rows_per_block())])
        return self.readout(params, self.features(params, X, differentiable))

    __call__ = forward

    def forward_jet(self, params: dict[str, torch.Tensor], X: torch.Tensor,
                    indices) -> dict[tuple[int, ...], torch.Tensor]:
        """Output and its input derivatives ∂^α u for the multi-indices ``indices``.

        Derivatives are those of the surrogate "shadow" network (every H' replaced by σ'),
        propagated in Taylor mode through every layer and time step — the same numbers as
        nested forward-mode JVPs of :meth:`forward` (``tests/test_jets.py``), several times
        faster. Differentiable with respect to ``params`` in reverse and forward mode.

        Without autograd (reports, the closed-form trainers' rows) the rows go through in blocks
        of :meth:`rows_per_block` ``(1 << 20)``: a jet holds a few ``[T, rows, width]`` arrays per
        multi-index (at once: 0.4 GB for heat1d's 2000 loss points, 1.9 GB for kdv's feature
        rows, 256 × 1, T = 32); every row's jet is its own, so the values are the same.
        """
        rows = self.rows_per_block(1 << 20)
        if torch.is_grad_enabled() or X.shape[0] <= rows:
            return self._forward_jet(params, X, indices)
        parts = [self._forward_jet(params, block, indices) for block in X.split(rows)]
        return {a: torch.cat([p[a] for p in parts]) for a in parts[0]}

    def _forward_jet(self, params, X, indices) -> dict[tuple[int, ...], torch.Tensor]:
        """:meth:`forward_jet` on all rows of X at once."""
        from .jets import closure, faa_di_bruno_plan
        from .lif import lif_scan_jet

        d = self.in_dim
        idx = tuple(closure(indices, d))
        plan = faa_di_bruno_plan(idx)
        order = max(sum(a) for a in idx)
        x = self.encode(X)
        W0 = params["layers.0.weight"]
        scale = self._encode_scale(X)
        current = [x @ W0.T + params["layers.0.bias"]]
        for alpha in idx[1:]:
            if sum(alpha) == 1:   # d(Wx̃+b)/dx_i = W[:, i] · dx̃_i/dx_i; higher orders vanish
                i = alpha.index(1)
                current.append((W0[:, i] * scale[i]).expand_as(current[0]))
            else:
                current.append(torch.zeros_like(current[0]))
        spikes = lif_scan_jet(torch.stack(current), self.lif, plan, order, T=self.T)
        for i in range(1, len(self.widths)):
            J, T, B, n = spikes.shape
            flat = spikes.reshape(-1, n) @ params[f"layers.{i}.weight"].T
            flat = flat.reshape(J, T, B, -1)
            bias = torch.zeros_like(flat[:, :1, :1, :])
            bias[0] = params[f"layers.{i}.bias"]
            spikes = lif_scan_jet(flat + bias, self.lif, plan, order)
        rates = spikes.mean(1)                                    # [J, B, n_L]
        u = rates @ params["readout.weight"].T
        u = torch.cat([u[:1] + params["readout.bias"], u[1:]])
        if self.out_dim == 1:
            u = u[..., 0]
        return {alpha: u[j] for j, alpha in enumerate(idx)}

    def _encode_scale(self, X: torch.Tensor) -> torch.Tensor:
        """dx̃/dx per input axis (2/(upper − lower), or 1 without a box)."""
        if self.lower is None:
            return torch.ones(self.in_dim, dtype=X.dtype, device=X.device)
        lo = torch.as_tensor(self.lower, dtype=X.dtype, device=X.device)
        hi = torch.as_tensor(self.upper, dtype=X.dtype, device=X.device)
        return 2 / (hi - lo)

    def rows_per_block(self, elements: int = 1 << 24) -> int:
        """Rows of a non-differentiable pass whose ``[T, rows, width]`` buffers hold about
        ``elements`` entries (64 MB in float32): evaluation grids go through in such blocks."""
        return max(64, elements // (self.T * max(self.widths)))

    def forward_stats(self, params, X) -> tuple[torch.Tensor, SpikeStats]:
        """Output and spike statistics of one (non-differentiable) forward pass, in blocks of
        :meth:`rows_per_block` rows."""
        counts = [0.0] * len(self.widths)
        outputs = []
        with torch.no_grad(), self.workspace.claimed() as ws:
            for block in X.split(self.rows_per_block()):
                block_counts: list[float] = []
                outputs.append(self.readout(params, self._rates_inplace(params, block, ws, block_counts)))
                counts = [a + b for a, b in zip(counts, block_counts)]
        u = torch.cat(outputs)
        fan_out = list(self.widths[1:]) + [self.out_dim]
        stats = SpikeStats(spikes=counts, neurons=list(self.widths),
                           samples=X.shape[0], T=self.T, fan_out=fan_out, in_dim=self.in_dim)
        return u, stats



def encode_box(X: torch.Tensor, lower, upper) -> torch.Tensor:
    """Map inputs from the box ``[lower, upper]`` to [−1, 1] (identity when ``lower`` is None).

    Every network of the package encodes its coordinates this way (the tanh baseline too), so
    that initial weights see inputs of order one whatever the problem's units."""
    if lower is None:
        return X
    lo = torch.as_tensor(lower, dtype=X.dtype, device=X.device)
    hi = torch.as_tensor(upper, dtype=X.dtype, device=X.device)
    return (2 * X - (lo + hi)) / (hi - lo)


def _transformed(X: torch.Tensor, params: dict[str, torch.Tensor]) -> bool:
    """True inside ``torch.func`` transforms (vmap/jvp/grad), where in-place buffers and compiled
    graphs do not apply; the functional path serves those."""
    wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    if wrapped is None:
        return True
    return wrapped(X) or any(wrapped(p) for p in params.values())


def _uniform(shape, bound, generator, dtype, device) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, dtype=dtype, device="cpu")
    return ((2 * u - 1) * bound).to(device)

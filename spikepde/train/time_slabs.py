r"""``lsq`` marched in time: the readout solved slab by slab, each slab starting where the last ended.

A closed-form readout over the whole time interval is one global system: nothing makes the
early times right before the late ones. On kdv (u_t + u u_x + δ u_xxx = 0, a cosine breaking
into solitons) the single Gauss–Newton solve of :class:`~spikepde.train.closed_form.
ClosedFormTrainer` reached 0.55–0.59, its error growing steadily with t (0.04 at t = 0.1, 1.3 at
t = 1): the solitons were not carried. Time-marching methods make the order explicit, and so
does this one:

* the time interval is cut into ``time_slabs`` equal slabs; the field is a
  :class:`~spikepde.snn.time_slabs.TimeSlabField` — the same two random LIF networks for every
  slab (space, and time since the slab began), one readout per slab;
* slab k is a :class:`ClosedFormTrainer` problem of its own (:class:`SlabReadout`): the weak
  form on the slab (cubic B-splines in x and in the slab's t), the conditions other than the
  initial one as rows, and the output transform ``u = s_k(x) + (t − t_k)·N`` whose start s_k is
  the initial condition (k = 0) or the previous slab's field at t_k — so every slab meets its
  start exactly and u is continuous in t;
* the steps are Gauss–Newton steps as in ``lsq``, spread evenly over the slabs (a slab whose
  line search finds nothing better moves on early).

Measured on kdv (``docs/methods/lsq.md``, "Time slabs"); only a problem with one space axis and
time, first order in time, with its initial value as the only condition at the first instant,
can be marched this way.
"""
from __future__ import annotations

import copy
import math

import torch

from ..errors import ConfigurationError
from ..fields import TrainedField
from ..snn.time_slabs import InitialValue, TimeSlabField
from .base import Trainer, clone_params
from .closed_form import ClosedFormTrainer, lif_config
from .objective import Objective, TrainingPoints
from .weak_form import WeakForm, split_residual

#: slabs of a problem marched by default (:func:`wants_slabs`)
DEFAULT_SLABS = 20


def slab_problem_reason(problem) -> str | None:
    """Why ``problem`` cannot be marched in time slabs (None: it can)."""
    if problem.data_only or problem.time is None:
        return "time slabs need a PDE with a time axis"
    if problem.dim != 2:
        return "time slabs need one space axis and time"
    if problem.excluded:
        return "time slabs do not take excluded regions"
    t = problem.input_names.index(problem.time)
    residual = problem.residuals[0].xreplace(problem.substitutions())
    try:
        terms = split_residual(residual, problem.u, problem.input_symbols)
    except ValueError as exc:
        return str(exc)
    if any(alpha[t] > 1 for _, alpha in terms.linear):
        return "the PDE is of second order in time (a slab starts from u only, not u_t)"
    initial = [c for c in problem.conditions if c.kind == "initial"]
    if len(initial) != 1:
        return "time slabs need exactly one initial condition (the value of u at the first instant)"
    return None


def wants_slabs(problem) -> bool:
    """Whether lsq marches ``problem`` by default: a nonlinear evolution equation that slabs
    can march. Measured (20 slabs against one global Gauss–Newton solve, docs/methods/lsq.md):
    kdv 0.59 → 0.11, allen_cahn 0.15 → 1.3e-2, burgers 2.2e-2 → 1.3e-2 in half the time,
    reaction_diffusion 3.8e-3 → 3.6e-3. A linear problem is one exact solve over the whole
    interval and stays one (20 slabs: heat1d 9.5e-4 → 4.5e-3, advection1d 9.8e-2 → 0.17)."""
    from .closed_form import is_linear
    return slab_problem_reason(problem) is None and not is_linear(problem)


def initial_value_function(compiled):
    """u₀(X): the value the problem's initial condition prescribes at the points X (float64)."""
    cond = next(c for c in compiled.all_conditions if c.kind == "initial")
    zero = (0,) * len(compiled.input_names)

    def value(X: torch.Tensor) -> torch.Tensor:
        X = X.to(compiled.dtype)
        return -cond.residual(X, {zero: torch.zeros(X.shape[0], dtype=X.dtype)}).to(torch.float64)
    return value


class SlabReadout(ClosedFormTrainer):
    """The closed-form readout of one slab ``[t_k, t_k + L]``: ``u = s_k(x) + (t − t_k)·N`` with
    ``s_k = u₀ + start`` (the initial value plus the earlier slabs' changes, ``start(x)``) and N
    the separable readout of the slab's own networks (``hidden``)."""

    def __init__(self, cfg, compiled, objective, generator, *, hidden, initial: InitialValue, start, t0: float):
        self._shared, self._initial, self._start, self._t0 = hidden, initial, start, float(t0)
        self._time = compiled.input_names.index(compiled.problem.time)
        super().__init__(cfg, compiled, objective, generator)

    def _hidden_layers(self, generator) -> dict[str, torch.Tensor]:
        params = {k: v for k, v in self._shared.items() if ".layers." in k}   # the field's slab k networks
        for i in range(self.net.in_dim):    # the readout: fitted in ClosedFormTrainer.__init__
            params[f"axis{i}.projection"] = torch.zeros(self.net.n_features, 1, dtype=torch.float64)
        params["core"] = torch.zeros(1, 1, dtype=torch.float64)
        return params

    def _transform(self, X: torch.Tensor):
        X = X.to(torch.float64)
        change = self._start(X[:, 1 - self._time])     # TimeSlabField.change: once per distinct x
        return self._initial.initial(X) + change, X[:, self._time] - self._t0

    def _solution_fields(self, X, raw, indices):
        return raw                           # the conditions are rows on u itself

    def _smooth_readout(self) -> bool:
        # the smoothest field the rows accept, nonlinear or not: a slab's end is the next one's
        # start, and what the tests do not see in x (112 B-splines read 575 quadrature points at
        # the default) is carried forward and stirred by the nonlinear term (kdv, width 64, 64
        # tests in x, seeds 0 / 1: 0.139 / 0.267 with the coefficient norm, 0.115 / 0.126 with
        # these coordinates; 24 time tests per slab without them blew up to 80)
        return True

    def _satisfied_by_transform(self, cond, X, indices) -> bool:
        return False


class TimeSlabTrainer(Trainer):
    """``lsq`` over ``cfg.time_slabs`` slabs, one :class:`SlabReadout` after another (see the
    module docstring). Built by :meth:`ClosedFormTrainer.build` when ``time_slabs > 1``."""

    name = "lsq"

    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        problem = compiled.problem
        reason = slab_problem_reason(problem)
        if reason is not None:
            raise ConfigurationError(f"lsq --time-slabs {cfg.time_slabs}: {problem.name}: {reason}")
        t = problem.input_names.index(problem.time)
        lower, upper = tuple(compiled.lower.tolist()), tuple(compiled.upper.tolist())
        self.field = TimeSlabField(lower, upper, t, cfg.time_slabs, widths=(cfg.width,) * cfg.depth, T=cfg.T,
                                   lif=lif_config(cfg), features=cfg.features or "raster")
        self.params = self.field.init_params(generator)
        self.initial = InitialValue(initial_value_function(compiled), t, lower[t])
        self.conditions = [c for c in compiled.all_conditions if c.kind != "initial"]
        self.per_slab = max(1, math.ceil(cfg.steps / cfg.time_slabs))
        self.slab, self.in_slab = 0, 0
        self.reader: SlabReadout | None = None
        self.finished: dict[str, float] = {}
        self.newton_steps: list[int] = []
        self.step_sizes: list[list[float]] = []

    # ------------------------------------------------------------ one slab
    def _slab_problem(self, k: int):
        sub = copy.copy(self.compiled)
        t = self.field.time_axis
        sub.lower, sub.upper = self.compiled.lower.clone(), self.compiled.upper.clone()
        sub.lower[t] = self.field.slab_start(k)
        sub.upper[t] = self.field.slab_start(k) + self.field.slab_length
        sub.transform = None                 # the slab's own u = s_k + (t − t_k)·N
        sub.conditions = list(self.conditions)
        return sub

    def _reader(self, k: int) -> SlabReadout:
        sub = self._slab_problem(k)
        cfg = self.cfg
        weak = WeakForm(sub, test_per_axis=cfg.weak_tests, quad_per_interval=cfg.weak_quadrature)
        points = TrainingPoints(self.objective.points.interior,
                                [torch.zeros(0, 2, dtype=sub.dtype) for _ in sub.conditions])
        objective = Objective(sub, points, pde_weight=self.objective.pde_weight, weak=weak)
        objective.scales = dict(self.objective.scales)
        params = self.params

        def start(x):                        # the earlier slabs' changes
            return sum((self.field.change(params, j, x) for j in range(k)), torch.zeros_like(x))
        return SlabReadout(cfg, sub, objective, self.generator, hidden=self.field.slab_params(params, k),
                           initial=self.initial, start=start, t0=self.field.slab_start(k))

    def _store(self, k: int, reader: SlabReadout, params: dict) -> None:
        """Slab k's readout into the field's parameters, and its change over its length (where
        the next slab starts; slabs not solved yet add nothing: u holds the last state)."""
        for i in range(2):
            params[f"slab{k}.axis{i}.projection"] = reader.params[f"axis{i}.projection"].clone()
        params[f"slab{k}.core"] = reader.params["core"].clone()
        s, t = self.field.space_axis, self.field.time_axis
        L = self.field.slab_length
        end = torch.tensor([self.field.slab_start(k) + L], dtype=torch.float64)
        z_end = reader.net.raster(reader.params, t, end) @ reader.params[f"axis{t}.projection"]   # [1, m_t]
        core = reader.params["core"] if s == 0 else reader.params["core"].T
        params[f"slab{k}.end"] = L * (reader.params[f"axis{s}.projection"] @ (core @ z_end[0]))  # [F_x]

    def step(self) -> float:
        """One Gauss–Newton step of the current slab (a linear problem: its one solve); the
        slab is closed after ``ceil(steps / slabs)`` of them or when its line search ends."""
        if self.slab < self.field.slabs:
            if self.reader is None:
                self.reader = self._reader(self.slab)
            self.reader.step()
            self.in_slab += 1
            if self.reader.converged or self.in_slab >= self.per_slab:
                self._close_slab()
        return sum(self.terms().values())

    def _close_slab(self) -> None:
        reader = self.reader
        self._store(self.slab, reader, self.params)
        for name, value in reader.terms().items():
            self.finished[name] = self.finished.get(name, 0.0) + value
        self.newton_steps.append(reader.newton_steps)
        self.step_sizes.append(list(reader.step_sizes))
        self.slab, self.in_slab, self.reader = self.slab + 1, 0, None

    # ------------------------------------------------------------ the contract
    def terms(self) -> dict[str, float]:
        """The objective summed over the slabs solved so far and the one in progress (each
        slab's weak residuals and condition rows, weighted as in the objective)."""
        out = dict(self.finished)
        if self.reader is not None:
            for name, value in self.reader.terms().items():
                out[name] = out.get(name, 0.0) + value
        return out

    def trained_field(self) -> TrainedField:
        params = clone_params(self.params)
        if self.reader is not None:           # the slab in progress, as far as it got
            self._store(self.slab, self.reader, params)
        return TrainedField(self.field, params, tuple(self.compiled.input_names), "spiking", torch.float64,
                            "cpu", transform=self.initial)

    def diagnostics(self) -> dict:
        return {"lsq_time_slabs": self.field.slabs, "lsq_newton_steps": list(self.newton_steps),
                "lsq_step_sizes": [list(s) for s in self.step_sizes]}

    def divergence_hints(self) -> list[str]:
        return [f"a smaller network (--width, now {self.cfg.width}; --T, now {self.cfg.T})",
                f"more slabs (--time-slabs, now {self.cfg.time_slabs})"]

    def state_dict(self) -> dict:
        return {"params": clone_params(self.params), "slab": self.slab, "in_slab": self.in_slab,
                "finished": dict(self.finished), "newton_steps": list(self.newton_steps),
                "step_sizes": [list(s) for s in self.step_sizes],
                "reader": None if self.reader is None else self.reader.state_dict(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.params = {k: v.clone() for k, v in state["params"].items()}
        self.slab, self.in_slab = int(state["slab"]), int(state["in_slab"])
        self.finished = dict(state["finished"])
        self.newton_steps = list(state["newton_steps"])
        self.step_sizes = [list(s) for s in state["step_sizes"]]
        self.reader = None
        if state["reader"] is not None:
            self.reader = self._reader(self.slab)
            self.reader.load_state_dict(state["reader"])
        self.generator.set_state(state["generator"])


__all__ = ["DEFAULT_SLABS", "SlabReadout", "TimeSlabTrainer", "initial_value_function",
           "slab_problem_reason", "wants_slabs"]

"""``spikepde.solve``: train a surrogate for a problem, evaluate it, write the run directory.

    >>> import spikepde
    >>> p = spikepde.load_problem("burgers")
    >>> r = spikepde.solve(p, method="fgrad", steps=200, seed=0, out="runs/b1")
    >>> r.metrics["relative_l2"], r.surrogate([[0.5, 0.25]]), r.paths["error_plot"]

The flow is one-directional: compile the problem → sample the training points → build the
trainer → train (progress bar, periodic atomic checkpoints, NaN guard) → evaluate on the
reference grid → write ``config.json``, ``metrics.json``, ``history.json``, ``checkpoint.pt`` and
the plots. One seed drives initialisation, sampling and perturbation directions, so the same
seed gives the same numbers; ``resume=True`` continues an interrupted run to the same result.
"""
from __future__ import annotations

import dataclasses
import json
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError, DivergenceError, SpikePDEError
from .evaluate import evaluate
from .models import TrainedSurrogate
from .plotting import plot_fields, plot_loss
from .problem.compile import compile_problem
from .problem.spec import load_problem
from .reference import get_reference
from .runs import RunDir, load_checkpoint, read_json, remove_stale_temporaries
from .train.objective import Objective, TrainingPoints
from .train.trainers import TRAINERS

METHODS = tuple(TRAINERS)
#: learning-rate schedules of the Adam phase: constant, or a cosine decay from ``lr`` to
#: ``lr / 20`` over ``steps`` (a function of the step number only, so a resumed run follows it)
LR_SCHEDULES = ("constant", "cosine")


def scheduled_lr(cfg, step: int) -> float:
    """The learning rate of step ``step`` (0-based) under ``cfg.lr_schedule``."""
    if cfg.lr_schedule == "constant" or cfg.steps <= 1:
        return cfg.lr
    floor = cfg.lr / 20
    return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * step / (cfg.steps - 1)))


@dataclass
class SolveConfig:
    """Every setting of a solve (written to ``config.json``; enough to reproduce the run).

    Spiking network: ``width`` × ``depth`` LIF layers, ``T`` steps, leak ``beta``, ``threshold``,
    ``reset``, ``surrogate`` (+ ``surrogate_options``), input derivatives by ``estimator``
    (``surrogate-jvp`` | ``stein`` | ``fd``). Forward gradient: ``perturbation="activity"``
    (default) perturbs the hidden currents point by point (``K`` draws per hidden layer, default
    4, Rademacher, exact readout gradient; :mod:`spikepde.snn.activity`); ``"global"`` /
    ``"layerwise"`` perturb the weights (``K`` directions per step, or per layer; default 8),
    ``directions`` ``rademacher`` | ``gaussian``. Learning rate ``lr`` (default 1e-2 spiking,
    1e-3 ann) with ``lr_schedule`` (default cosine for the spiking methods, constant for ann).
    ANN baseline: ``ann_width`` × ``ann_depth`` tanh, Adam for ``steps`` then ``lbfgs_steps``
    L-BFGS iterations. ADMM: ``admm`` holds :class:`spikepde.train.admm.ADMMConfig` fields
    (penalties ρ, γ, κ, residual balancing, ...). ``hard_constraints`` uses the problem's output
    transform; ``normalize_loss`` divides each loss term by its initial value. ``compile`` runs the
    spiking network's derivative-free forward passes (evaluation, ADMM) under ``torch.compile``
    (:mod:`spikepde.snn.compiled`; eager fallback). ``residual_form="weak"`` trains on the
    integrated-by-parts residual against ``weak_tests`` cubic B-splines per axis (default 32 in
    1-D and 2-D, 10 in 3-D; or a list, one count per axis) with ``weak_quadrature`` midpoint points per spline interval
    (:mod:`spikepde.train.weak_form`; fgrad, bptt, ann) instead of the pointwise residual;
    ``"auto"`` (default) is weak for fgrad/bptt where the weak form applies, strong otherwise.
    ``lr_schedule`` is ``constant`` or ``cosine`` (decay to ``lr/20`` over the Adam steps).
    ``steps=None`` takes the problem's default budget (``budget.steps``; ADMM iterations:
    ``budget.admm_steps``, 20 unless the problem says).
    """

    problem: str = "burgers"
    params: dict = field(default_factory=dict)
    method: str = "fgrad"
    steps: int | None = None
    seed: int = 0
    lr: float | None = None
    interior_points: int | None = None
    width: int = 64
    depth: int = 2
    T: int = 8
    beta: float = 0.9
    threshold: float = 1.0
    reset: str = "subtract"
    surrogate: str = "sigmoid"
    surrogate_options: dict = field(default_factory=dict)
    estimator: str = "surrogate-jvp"
    estimator_options: dict = field(default_factory=dict)
    lr_schedule: str | None = None
    K: int | None = None
    directions: str = "rademacher"
    perturbation: str = "activity"
    ann_width: int = 20
    ann_depth: int = 3
    lbfgs_steps: int = 5000
    dtype: str | None = None
    device: str = "cpu"
    compile: bool = False
    residual_form: str = "auto"
    weak_tests: int | list | None = None
    weak_quadrature: int = 2
    hard_constraints: bool = True
    plots: bool = True
    normalize_loss: bool = False
    track_error: bool = False
    admm: dict = field(default_factory=dict)
    log_every: int = 50
    checkpoint_every: int = 200

    def resolved(self, problem) -> "SolveConfig":
        """A copy with every ``None`` default filled in from the problem and the method."""
        if self.method not in METHODS:
            raise ValueError(f"unknown method '{self.method}'; expected one of {', '.join(METHODS)}")
        c = dataclasses.replace(self)
        c.steps = int(c.steps if c.steps is not None else default_steps(problem, c.method))
        c.lr = float(c.lr if c.lr is not None else {"ann": 1e-3}.get(c.method, 1e-2))
        # ann: DeepXDE's recipe (constant Adam, then L-BFGS); spiking: a cosine decay settles
        # the noisy surrogate / forward-gradient steps at the end of the budget
        c.lr_schedule = c.lr_schedule or ("constant" if c.method == "ann" else "cosine")
        # K counts directions per step (global), per parameter group (layerwise) or noise draws
        # per hidden layer (activity): equal tangent slots for a 2-layer network by default
        c.K = int(c.K if c.K is not None else (4 if c.perturbation == "activity" else 8))
        c.dtype = c.dtype or ("float64" if c.method == "ann" else "float32")
        if c.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got '{c.dtype}'")
        for name in ("steps", "K", "T", "width", "depth", "ann_width", "ann_depth", "log_every",
                     "checkpoint_every"):
            if getattr(c, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(c, name)}")
        if c.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got '{c.lr_schedule}'")
        if c.residual_form not in ("auto", "strong", "weak"):
            raise ValueError(f"residual_form must be 'auto', 'strong' or 'weak', got '{c.residual_form}'")
        if c.residual_form == "weak" and c.method == "admm":
            raise ValueError("residual_form='weak' is for fgrad, bptt and ann; admm has its own weak "
                             "readout (admm={'pde_form': 'weak'})")
        # 32 B-splines per axis in 1-D and 2-D; 10 in 3-D (1000 tests, a 26³ quadrature grid)
        c.weak_tests = c.weak_tests if c.weak_tests is not None else (32 if problem.dim <= 2 else 10)
        tests = [c.weak_tests] if isinstance(c.weak_tests, int) else list(c.weak_tests)
        if not tests or any(not isinstance(n, int) or n < 1 for n in tests):
            raise ValueError(f"weak_tests must be a positive integer or a list of them, got {c.weak_tests}")
        if c.weak_quadrature < 1:
            raise ValueError(f"weak_quadrature must be >= 1, got {c.weak_quadrature}")
        if c.interior_points is not None and c.interior_points < 1:
            raise ValueError(f"interior_points must be >= 1, got {c.interior_points}")
        if c.lbfgs_steps < 0:
            raise ValueError(f"lbfgs_steps must be >= 0, got {c.lbfgs_steps}")
        if not (math.isfinite(c.lr) and c.lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {c.lr}")
        _check_device(c.device)
        return c


def default_steps(problem, method: str) -> int:
    """The problem's default budget for ``method``: ADMM counts iterations (``budget.admm_steps``),
    the gradient methods optimisation steps (``budget.steps``)."""
    return int(problem.budget["admm_steps" if method == "admm" else "steps"])


def _check_device(device: str) -> None:
    """A device this torch build can use, said before any work (torch's own error is a traceback
    from deep inside the problem compiler)."""
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise ValueError(f"device must be 'cpu' or 'cuda' (or 'cuda:N'), got '{device}'") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{device}' asked for, but this torch build ({torch.__version__}) "
                         "sees no CUDA GPU; use --device cpu")
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got '{device}'")


@dataclass
class RunResult:
    """What :func:`solve` returns.

    Attributes:
        metrics: relative L2, max error, wall time, steps, final loss terms, spike rate,
            synaptic ops, energy estimate (see ``metrics.json``).
        surrogate: the trained model, callable on new points ``[N, d]`` → numpy ``[N]``.
        paths: name → path of every file written (empty when ``out`` is None).
        history: the logged loss terms per step.
        config: the resolved configuration.
    """

    metrics: dict
    surrogate: TrainedSurrogate
    paths: dict[str, Path]
    history: dict
    config: SolveConfig
    problem: Any = None
    reference: Any = None
    predicted: Any = None


class _StopRequests:
    """SIGINT/SIGTERM handler that stops training *between* steps.

    A KeyboardInterrupt raised at an arbitrary bytecode could land inside a step after the
    optimizer moved the parameters or after the generator drew directions but before the step
    counter moved on; a checkpoint of that state would resume to a different result. So the
    first signal only records the request and the loop stops at the next step boundary, where
    the state is consistent. A second signal (an impatient user) raises at once, and so does any
    signal while ``immediate`` is set (the L-BFGS phase, which is never checkpointed mid-way).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested: int | None = None
        self.immediate = False
        self.at_boundary = False   # set when check() raised: the training state is consistent
        self._old = {}

    def __enter__(self):
        if _main_thread():   # signal handlers can only be installed from the main thread
            self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, old in self._old.items():
            signal.signal(s, old)
        return False

    def _handle(self, signum, frame):
        if self.immediate or self.requested is not None:
            raise KeyboardInterrupt(f"signal {signum}")
        self.requested = signum

    def check(self) -> None:
        """Raise KeyboardInterrupt if a stop was requested (call at a step boundary)."""
        if self.requested is not None:
            self.at_boundary = True
            raise KeyboardInterrupt(f"signal {self.requested}")


def solve(problem="burgers", method: str = "fgrad", steps: int | None = None, seed: int = 0,
          out: str | Path | None = None, *, resume: bool = False, quiet: bool = False,
          params: dict | None = None, **options) -> RunResult:
    """Train a surrogate for ``problem`` with ``method`` and evaluate it against the reference.

    Args:
        problem: a :class:`~spikepde.problem.problem.Problem`, a catalogue name or a .toml path.
        method: ``"fgrad"`` (spiking, forward gradient, no back-propagation), ``"bptt"``
            (spiking, surrogate-gradient BPTT) or ``"ann"`` (tanh MLP PINN).
        steps: training steps (default: the problem's budget).
        seed: one seed for initialisation, sampling and perturbation directions.
        out: run directory (None: write nothing).
        resume: continue from ``out/checkpoint.pt`` (the config is read from ``out/config.json``).
        quiet: no progress bar.
        params: problem parameter overrides, e.g. ``{"nu": 0.02}``.
        **options: any :class:`SolveConfig` field (``K``, ``T``, ``width``, ``lr``, ...).
    Returns:
        a :class:`RunResult`.
    """
    if resume and out is not None and not Path(out).is_dir():
        raise CheckpointError(f"{out}: no such run directory, nothing to resume")
    run = RunDir(out)
    if resume:
        remove_stale_temporaries(run.path) if run else None   # left by a writer killed mid-write
        cfg, state = _resume_config(run)
        prob = load_problem(cfg.problem, **cfg.params)
    else:
        known = {f.name for f in dataclasses.fields(SolveConfig)}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown solve option(s) {sorted(unknown)}; known: {sorted(known)}")
        prob = load_problem(str(problem)) if isinstance(problem, (str, Path)) else problem
        if params:
            prob = prob.with_params(**params)
        # a catalogue name when the problem came from the catalogue, else its file path
        source = getattr(prob, "source", "") or ""
        where = prob.name if not source or "catalogue" in source or "/problems/" in source else source
        cfg = SolveConfig(problem=where, params=dict(params or {}), method=method, steps=steps,
                          seed=seed, **options)
        state = None
    cfg = cfg.resolved(prob)
    return _run(prob, cfg, run, state, quiet)


def _resume_config(run: RunDir):
    if not run:
        raise CheckpointError("resume needs the run directory (out=...)")
    try:
        raw = read_json(run.file("config.json"))
    except FileNotFoundError:
        raise CheckpointError(f"{run.path}: no config.json, nothing to resume") from None
    except ValueError as exc:   # json.JSONDecodeError, UnicodeDecodeError
        raise CheckpointError(f"{run.file('config.json')}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{run.file('config.json')}: expected a JSON object")
    fields = {f.name for f in dataclasses.fields(SolveConfig)}
    cfg = SolveConfig(**{k: v for k, v in raw.items() if k in fields})
    state = load_checkpoint(run.file("checkpoint.pt"))
    missing = {"trainer", "history", "elapsed", "step"} - set(state) if isinstance(state, dict) else {"all"}
    if missing:
        raise CheckpointError(f"{run.file('checkpoint.pt')}: not a solve checkpoint "
                              f"(missing {', '.join(sorted(missing))})")
    return cfg, state


def _run(problem, cfg: SolveConfig, run: RunDir, state: dict | None, quiet: bool) -> RunResult:
    dtype = getattr(torch, cfg.dtype)
    # ADMM's closed-form readout works on the untransformed output, so it keeps soft conditions
    compiled = compile_problem(problem, dtype=dtype, device=cfg.device,
                               hard_constraints=cfg.hard_constraints and cfg.method != "admm")
    reference = get_reference(problem)   # computed (or read from the cache) before training
    generator = torch.Generator().manual_seed(cfg.seed)
    points = TrainingPoints.sample(compiled, generator, interior=cfg.interior_points)
    if cfg.residual_form == "auto":
        cfg.residual_form = _auto_residual_form(cfg, compiled)
    weak = None
    if cfg.residual_form == "weak":
        from .train.weak_form import WeakForm
        weak = WeakForm(compiled, test_per_axis=cfg.weak_tests, quad_per_interval=cfg.weak_quadrature)
    objective = Objective(compiled, points, weak=weak)
    trainer = TRAINERS[cfg.method](cfg, compiled, objective, generator)
    if cfg.track_error:
        trainer.error_probe = _error_probe(trainer, reference)
    if cfg.normalize_loss:   # initial model only: the same scales on a resume (same seed)
        objective.calibrate(trainer.terms())
    history = {"step": [], "loss": [], "time": []}
    elapsed = 0.0
    start_step = 0
    if state is not None:
        try:
            trainer.load_state_dict(state["trainer"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            # e.g. config.json edited after the checkpoint was written (another width)
            raise CheckpointError(f"{run.file('checkpoint.pt')}: does not match {run.file('config.json')} "
                                  f"({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                                  ) from None
        history = state["history"]
        elapsed = float(state["elapsed"])
        start_step = int(state["step"])
    if run and state is None:
        run.write_json("config.json", dataclasses.asdict(cfg))

    checkpoint = _Checkpointer(run, trainer, history, cfg.method)
    if state is None:
        history["initial_relative_l2"] = evaluate(trainer.surrogate(), reference)[0]["relative_l2"]
        _log(history, 0, trainer, 0.0)   # the loss terms of the initial model (step 0)
        checkpoint(0, 0.0)   # a divergence before the first periodic checkpoint still leaves one
    else:
        checkpoint.last_step = start_step
    with _StopRequests() as stop:
        elapsed, step = _train_loop(trainer, cfg, history, start_step, elapsed, checkpoint, quiet, stop)
    checkpoint(step, elapsed)
    surrogate = trainer.surrogate()
    metrics, predicted = evaluate(surrogate, reference)
    metrics.update(initial_relative_l2=history.get("initial_relative_l2"), wall_time_s=elapsed, steps=step, method=cfg.method, problem=problem.name,
                   final_loss_terms=trainer.terms(), parameters=problem.param_values(),
                   n_params=int(sum(p.numel() for p in trainer.params.values())))
    # trainer-specific diagnostics (e.g. ADMM's primal/dual residuals per iteration)
    convergence = getattr(trainer, "convergence", None)
    if convergence:
        metrics["convergence"] = convergence
    metrics.update(getattr(trainer, "extra_metrics", lambda: {})())
    if cfg.method == "fgrad":
        metrics["forward_passes_per_step"] = _fgrad_passes(cfg, trainer.net)
    paths = _write_outputs(run, metrics, history, reference, predicted, problem, cfg)
    return RunResult(metrics, surrogate, paths, history, cfg, problem, reference, predicted)


class _Checkpointer:
    """Saves the complete training state (trainer parameters, optimizer moments, the one RNG,
    the logged history, the step and the wall time so far) and remembers the last step saved,
    so that error messages can say which checkpoint a user can go back to."""

    def __init__(self, run: RunDir, trainer, history: dict, method: str):
        self.run, self.trainer, self.history, self.method = run, trainer, history, method
        self.last_step: int | None = None

    def __call__(self, step: int, elapsed: float) -> None:
        if self.run:
            self.run.save_checkpoint({"trainer": self.trainer.state_dict(), "history": self.history,
                                      "elapsed": float(elapsed), "step": int(step), "method": self.method})
            self.last_step = int(step)

    def describe(self) -> str:
        if not self.run or self.last_step is None:
            return "no checkpoint was written (out=None)"
        return f"the last good checkpoint (step {self.last_step}) is kept in {self.run.file('checkpoint.pt')}"


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _progress(total, initial, quiet, desc):
    from tqdm.auto import tqdm

    disable = quiet or not sys.stderr.isatty()
    return tqdm(total=total, initial=initial, disable=disable, desc=desc, leave=False)


def _train_loop(trainer, cfg, history, start, elapsed, checkpoint, quiet, stop: _StopRequests):
    """Adam-style steps (then L-BFGS for ``ann``) with logging, checkpoints and a NaN guard.

    On SIGINT/SIGTERM the loop finishes the current step, saves a checkpoint and raises
    KeyboardInterrupt; an interrupt that did not come through ``stop`` (raised inside a step,
    or a second Ctrl-C) may leave a half-done step, so it keeps the last periodic checkpoint.
    """
    step = start
    bar = _progress(cfg.steps, start, quiet, f"{cfg.method}")
    t0 = time.perf_counter() - elapsed
    in_lbfgs = False
    try:
        optimizer = getattr(trainer, "optimizer", None)
        while step < cfg.steps:
            if cfg.lr_schedule != "constant" and optimizer is not None:
                for group in optimizer.param_groups:
                    group["lr"] = scheduled_lr(cfg, step)
            loss = trainer.step()
            step += 1
            if not _finite(loss) or not trainer.params_finite():
                raise DivergenceError(_divergence_message(cfg, step, loss, checkpoint))
            if step % cfg.log_every == 0 or step == cfg.steps:
                _log(history, step, trainer, time.perf_counter() - t0)
                bar.set_postfix(loss=f"{history['loss'][-1]:.3e}")
            bar.update(1)
            if step % cfg.checkpoint_every == 0:
                checkpoint(step, time.perf_counter() - t0)
            stop.check()
        if cfg.method == "ann" and cfg.lbfgs_steps > 0 and not history.get("lbfgs_done"):
            # L-BFGS's own state (curvature pairs) is not checkpointed: an interrupted L-BFGS
            # phase restarts from the parameters at the end of Adam, which reproduces the
            # uninterrupted run exactly. So save that point and never overwrite it mid-phase.
            if checkpoint.last_step != step:
                checkpoint(step, time.perf_counter() - t0)
            stop.check()
            in_lbfgs = stop.immediate = True
            bar.set_description("ann (L-BFGS)")
            loss = trainer.lbfgs_step(cfg.lbfgs_steps)
            if not _finite(loss) or not trainer.params_finite():
                raise DivergenceError(_divergence_message(cfg, step, loss, checkpoint, "L-BFGS"))
            in_lbfgs = stop.immediate = False
            history["lbfgs_done"] = True
            _log(history, step + cfg.lbfgs_steps, trainer, time.perf_counter() - t0)
    except KeyboardInterrupt:
        if stop.at_boundary and not in_lbfgs and checkpoint.last_step != step:
            checkpoint(step, time.perf_counter() - t0)
        raise
    finally:
        bar.close()
    return time.perf_counter() - t0, step


def _auto_residual_form(cfg, compiled) -> str:
    """``weak`` for the spiking gradient trainers wherever the weak form applies, else ``strong``.

    A spiking network's output is piecewise constant in its inputs: its true derivatives vanish
    almost everywhere, and the strong form must use the surrogate network's derivatives, which
    describe a different field (Burgers stalls near 0.47 that way). The weak form needs only
    values. The tanh MLP has exact derivatives (strong form, as DeepXDE); ADMM chooses its own
    PDE rows; problems the weak form cannot express (several residuals, excluded regions,
    coordinate-dependent coefficients of derivatives) keep the strong form.
    """
    if cfg.method not in ("fgrad", "bptt") or not compiled.has_pde:
        return "strong"
    from .train.weak_form import weak_applies
    return "weak" if weak_applies(compiled) is None else "strong"


def _fgrad_passes(cfg, net) -> int:
    """Forward-pass equivalents of one fgrad step: the primal plus one per tangent slot (layer-wise:
    K per parameter group; activity: K per hidden layer, plus the replay pass)."""
    if cfg.perturbation == "layerwise":
        return cfg.K * len(net.layer_names()) + 1
    if cfg.perturbation == "activity":
        return cfg.K * len(net.widths) + 2
    return cfg.K + 1


def _finite(loss: float) -> bool:
    return math.isfinite(loss)


def _divergence_message(cfg, step, loss, checkpoint, phase: str | None = None) -> str:
    """One line: where it diverged, which checkpoint survives, and which settings to change."""
    hints = [f"a smaller learning rate (--lr, now {cfg.lr:g})"]
    if cfg.method == "fgrad":
        hints.append(f"more directions (--K, now {cfg.K})")
    if cfg.method != "ann":
        hints.append(f"a different number of time steps (--T, now {cfg.T})")
    what = f"during {phase} after step {step}" if phase else f"at step {step}"
    return (f"training diverged {what} (loss = {loss}, or a parameter became NaN/Inf); "
            f"{checkpoint.describe()}. Try {', '.join(hints[:-1]) + ' or ' + hints[-1] if len(hints) > 1 else hints[0]}.")


def _error_probe(trainer, reference, stride: int = 7):
    """Relative L2 on every ``stride``-th reference point (cheap enough to log along a run)."""
    import numpy as np

    points = reference.points()[::stride]
    values = reference.flat_values()[::stride]
    keep = np.isfinite(values)
    points, values = points[keep], values[keep]

    def probe() -> float:
        pred = trainer.surrogate().predict(points)
        return float(np.linalg.norm(pred - values) / np.linalg.norm(values))
    return probe


def _log(history, step, trainer, elapsed):
    terms = trainer.terms()
    probe = getattr(trainer, "error_probe", None)
    if probe is not None:   # SolveConfig.track_error: the error along the run (benchmarks)
        history.setdefault("relative_l2", []).append(probe())
    history["step"].append(step)
    history["time"].append(elapsed)
    history["loss"].append(sum(terms.values()))
    for k, v in terms.items():
        history.setdefault(k, []).append(v)


def _write_outputs(run: RunDir, metrics, history, reference, predicted, problem, cfg) -> dict:
    if not run:
        return {}
    paths = {"config": run.file("config.json"), "checkpoint": run.file("checkpoint.pt")}
    paths["metrics"] = run.write_json("metrics.json", metrics)
    paths["history"] = run.write_json("history.json", history)
    if not cfg.plots:   # parameter studies skip the plots: they cost more than a tiny solve
        return paths
    title = f"{problem.name} — {cfg.method}: relative L2 {metrics['relative_l2']:.3g}"
    paths["error_plot"] = plot_fields(reference, predicted, run.file("fields.png"), title=title)
    paths["loss_plot"] = plot_loss(history, run.file("loss.png"), title=f"{problem.name} — {cfg.method}")
    if metrics.get("convergence"):
        conv = dict(metrics["convergence"])
        conv["step"] = conv.pop("iteration", list(range(1, len(next(iter(conv.values()))) + 1)))
        paths["convergence_plot"] = plot_loss(conv, run.file("convergence.png"),
                                              title=f"{problem.name} — {cfg.method}: convergence")
    return paths

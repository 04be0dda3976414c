"""``spikepde.solve``: train a field for a problem, evaluate it, write the run directory.

    >>> import spikepde
    >>> p = spikepde.load_problem("burgers")
    >>> r = spikepde.solve(p, method="fgrad", steps=200, seed=0, out="runs/b1")
    >>> r.metrics["relative_l2"], r.field([[0.5, 0.25]]), r.paths["error_plot"]

The flow is one-directional: compile the problem → sample the training points → build the
method's trainer (looked up in :data:`~spikepde.train.registry.TRAINERS`) → train (progress bar,
periodic atomic checkpoints, NaN guard; :mod:`.loop`) → evaluate on the reference grid → write
``config.json``, ``metrics.json``, ``history.json``, ``checkpoint.pt``, ``field.npz`` (the
prediction, reference and error on the evaluation grid, with its axes) and the plots. One seed
drives initialisation, sampling and perturbation directions, so the same seed gives the same
numbers; ``resume=True`` continues an interrupted run to the same result.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..evaluate import evaluate, grid_without_reference, residual_metrics
from ..fields import TrainedField
from ..plotting import plot_fields, plot_loss
from ..problem.compile import compile_problem
from ..problem.spec import load_problem
from ..reference import get_reference
from ..runs import RunDir, load_checkpoint, read_json, remove_stale_temporaries
from ..train.objective import Objective, TrainingPoints
from ..train.registry import DEFAULT_METHOD, TRAINERS
from .config import SolveConfig, choose_residual_form
from .loop import Checkpointer, Logger, StopRequests, train_loop


@dataclass
class RunResult:
    """What :func:`solve` returns.

    Attributes:
        metrics: relative L2, max error, wall time, steps, final loss terms, spike rate,
            synaptic ops, energy estimate (see ``metrics.json``).
        field: the trained field, callable on new points ``[N, d]`` → numpy ``[N]``
            (``surrogate`` is its older name).
        paths: name → path of every file written (empty when ``out`` is None).
        history: the logged loss terms per step.
        config: the resolved configuration.
        problem, reference, predicted: the problem, its reference solution and the field on the
            reference grid.
    """

    metrics: dict
    field: TrainedField
    paths: dict[str, Path]
    history: dict
    config: SolveConfig
    problem: Any = None
    reference: Any = None
    predicted: Any = None

    def field_arrays(self) -> dict[str, np.ndarray]:
        """The field on the evaluation grid, as written to ``field.npz``: one 1-D array per
        axis (``x``, ``t``, …, space first), ``axis_names``, and ``predicted``, ``reference``
        and ``error`` (predicted − reference) shaped like the grid (``ij`` indexing; NaN outside
        a non-box domain). A problem without a reference has ``predicted`` only."""
        return field_arrays(self.reference, self.predicted)

    @property
    def surrogate(self) -> TrainedField:
        """The trained field (the name used before ``field``; kept for existing scripts)."""
        return self.field


def solve(problem="burgers", method: str = DEFAULT_METHOD, steps: int | None = None, seed: int = 0,
          out: str | Path | None = None, *, resume: bool = False, quiet: bool = False,
          params: dict | None = None, **options) -> RunResult:
    """Train a field for ``problem`` with ``method`` and evaluate it against the reference.

    Args:
        problem: a :class:`~spikepde.problem.problem.Problem`, a catalogue name or a .toml path.
        method: ``"auto"`` (the default: ``"lsq"`` where it accepts the problem, else
            ``"fgrad"``; :func:`~spikepde.train.registry.choose_method`) or a name of
            :data:`~spikepde.train.registry.TRAINERS`: ``"lsq"`` (random separable spiking
            features, readout in closed form / Gauss–Newton), ``"fgrad"`` (spiking, forward
            gradient, no back-propagation), ``"admm"`` (spiking, closed-form ADMM), ``"bptt"``
            (spiking, surrogate-gradient BPTT) or ``"ann"`` (tanh MLP PINN).
        steps: training steps (default: the problem's budget for the method).
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
        # where --resume loads it from: the catalogue name or the file's absolute path (a problem
        # built in memory has no origin; its name is recorded, and resuming it needs the file)
        cfg = SolveConfig(problem=prob.origin or prob.name, params=dict(params or {}), method=method,
                          steps=steps, seed=seed, **options)
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
    trainer_cls = TRAINERS[cfg.method]
    compiled = compile_problem(problem, dtype=getattr(torch, cfg.dtype), device=cfg.device,
                               hard_constraints=cfg.hard_constraints and trainer_cls.uses_output_transform)
    # computed (or read from the cache) before training; without one, the grid only
    reference = get_reference(problem) if problem.has_reference else grid_without_reference(problem)
    generator = torch.Generator().manual_seed(cfg.seed)
    points = TrainingPoints.sample(compiled, generator, interior=cfg.interior_points)
    cfg.residual_form = choose_residual_form(cfg, compiled)
    weak = None
    if cfg.residual_form == "weak":
        from ..train.weak_form import WeakForm
        weak = WeakForm(compiled, test_per_axis=cfg.weak_tests, quad_per_interval=cfg.weak_quadrature)
    objective = Objective(compiled, points, weak=weak)
    trainer = trainer_cls.build(cfg, compiled, objective, generator)
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

    track = cfg.track_error and problem.has_reference
    log = Logger(history, trainer, _error_probe(trainer, reference) if track else None)
    checkpoint = Checkpointer(run, trainer, history, cfg.method)
    if state is None:
        history["initial_relative_l2"] = (evaluate(trainer.trained_field(), reference)[0]["relative_l2"]
                                          if problem.has_reference else None)
        log(0, 0.0)          # the loss terms of the initial model (step 0)
        checkpoint(0, 0.0)   # a divergence before the first periodic checkpoint still leaves one
    else:
        checkpoint.last_step = start_step
    with StopRequests() as stop:
        elapsed, step = train_loop(trainer, cfg, start_step, elapsed, log, checkpoint, quiet, stop)
    checkpoint(step, elapsed)
    field = trainer.trained_field()
    metrics, predicted = evaluate(field, reference)
    metrics.update(initial_relative_l2=history.get("initial_relative_l2"), wall_time_s=elapsed, steps=step,
                   method=cfg.method, problem=problem.name, final_loss_terms=trainer.terms(),
                   parameters=problem.param_values(),
                   n_params=int(sum(p.numel() for p in trainer.params.values())))
    metrics.update(trainer.diagnostics())   # method-specific (ADMM's residuals, fgrad's cost, ...)
    if not problem.has_reference or problem.reference.solver == "auto":   # the equation's own view
        metrics.update(residual_metrics(field, compiled, seed=cfg.seed + 1))
    paths = _write_outputs(run, metrics, history, reference, predicted, problem, cfg)
    return RunResult(metrics, field, paths, history, cfg, problem, reference, predicted)


def field_arrays(reference, predicted) -> dict[str, np.ndarray]:
    """Axes, prediction, reference and error on the reference grid (see
    :meth:`RunResult.field_arrays`)."""
    predicted = np.asarray(predicted, dtype=np.float64).reshape(reference.shape)
    predicted = np.where(reference.mask(), predicted, np.nan)
    known = not reference.meta.get("grid_only")      # no reference: the prediction alone
    data_keys = ("axis_names", "predicted", "reference", "error")
    # a variable named like a data array (a user may call one 'error') keeps its axis apart
    arrays = {(f"axis_{name}" if name in data_keys else name): axis
              for name, axis in reference.axes.items()}
    arrays.update(axis_names=np.array(reference.names), predicted=predicted)
    if known:
        arrays.update(reference=reference.values, error=predicted - reference.values)
    return arrays


def _error_probe(trainer, reference, stride: int = 7):
    """Relative L2 on every ``stride``-th reference point (cheap enough to log along a run)."""
    points = reference.points()[::stride]
    values = reference.flat_values()[::stride]
    keep = np.isfinite(values)
    points, values = points[keep], values[keep]

    def probe() -> float:
        pred = trainer.trained_field().predict(points)
        return float(np.linalg.norm(pred - values) / np.linalg.norm(values))
    return probe


def _write_outputs(run: RunDir, metrics, history, reference, predicted, problem, cfg) -> dict:
    if not run:
        return {}
    paths = {"config": run.file("config.json"), "checkpoint": run.file("checkpoint.pt")}
    paths["metrics"] = run.write_json("metrics.json", metrics)
    paths["history"] = run.write_json("history.json", history)
    paths["field"] = run.write_arrays("field.npz", field_arrays(reference, predicted))
    if not cfg.plots:   # parameter studies skip the plots: they cost more than a tiny solve
        return paths
    title = (f"{problem.name} — {cfg.method}: relative L2 {metrics['relative_l2']:.3g}"
             if problem.has_reference else f"{problem.name} — {cfg.method} (no reference)")
    paths["error_plot"] = plot_fields(reference, predicted, run.file("fields.png"), title=title)
    paths["loss_plot"] = plot_loss(history, run.file("loss.png"), title=f"{problem.name} — {cfg.method}")
    if metrics.get("convergence"):
        conv = dict(metrics["convergence"])
        conv["step"] = conv.pop("iteration", list(range(1, len(next(iter(conv.values()))) + 1)))
        paths["convergence_plot"] = plot_loss(conv, run.file("convergence.png"),
                                              title=f"{problem.name} — {cfg.method}: convergence")
    return paths

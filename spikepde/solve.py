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
from .runs import RunDir, load_checkpoint, read_json
from .train.objective import Objective, TrainingPoints
from .train.trainers import TRAINERS

METHODS = tuple(TRAINERS)


@dataclass
class SolveConfig:
    """Every setting of a solve (written to ``config.json``; enough to reproduce the run).

    Spiking network: ``width`` × ``depth`` LIF layers, ``T`` steps, leak ``beta``, ``threshold``,
    ``reset``, ``surrogate`` (+ ``surrogate_options``), input derivatives by ``estimator``
    (``surrogate-jvp`` | ``stein`` | ``fd``). Forward gradient: ``K`` directions per step (per
    layer when ``perturbation="layerwise"``), ``directions`` ``rademacher`` | ``gaussian``.
    ANN baseline: ``ann_width`` × ``ann_depth`` tanh, Adam for ``steps`` then ``lbfgs_steps``
    L-BFGS iterations. ``steps=None`` takes the problem's default budget.
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
    K: int = 16
    directions: str = "rademacher"
    perturbation: str = "global"
    ann_width: int = 20
    ann_depth: int = 3
    lbfgs_steps: int = 5000
    dtype: str | None = None
    device: str = "cpu"
    log_every: int = 50
    checkpoint_every: int = 200

    def resolved(self, problem) -> "SolveConfig":
        """A copy with every ``None`` default filled in from the problem and the method."""
        if self.method not in METHODS:
            raise ValueError(f"unknown method '{self.method}'; expected one of {', '.join(METHODS)}")
        c = dataclasses.replace(self)
        c.steps = int(c.steps if c.steps is not None else problem.budget.get("steps", 2000))
        c.lr = float(c.lr if c.lr is not None else {"ann": 1e-3}.get(c.method, 2e-3))
        c.dtype = c.dtype or ("float64" if c.method == "ann" else "float32")
        if c.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got '{c.dtype}'")
        for name in ("steps", "K", "T", "width", "depth"):
            if getattr(c, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(c, name)}")
        return c


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


class _Interrupted(Exception):
    pass


def _raise_interrupt(signum, frame):  # turn SIGTERM into the same path as Ctrl-C
    raise KeyboardInterrupt(f"signal {signum}")


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
    run = RunDir(out)
    if resume:
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
    fields = {f.name for f in dataclasses.fields(SolveConfig)}
    cfg = SolveConfig(**{k: v for k, v in raw.items() if k in fields})
    state = load_checkpoint(run.file("checkpoint.pt"))
    return cfg, state


def _run(problem, cfg: SolveConfig, run: RunDir, state: dict | None, quiet: bool) -> RunResult:
    dtype = getattr(torch, cfg.dtype)
    compiled = compile_problem(problem, dtype=dtype, device=cfg.device)
    reference = get_reference(problem)   # computed (or read from the cache) before training
    generator = torch.Generator().manual_seed(cfg.seed)
    points = TrainingPoints.sample(compiled, generator, interior=cfg.interior_points)
    objective = Objective(compiled, points)
    trainer = TRAINERS[cfg.method](cfg, compiled, objective, generator)
    history = {"step": [], "loss": [], "time": []}
    elapsed = 0.0
    start_step = 0
    if state is not None:
        trainer.load_state_dict(state["trainer"])
        history = state["history"]
        elapsed = float(state["elapsed"])
        start_step = int(state["step"])
    if run and state is None:
        run.write_json("config.json", dataclasses.asdict(cfg))

    def checkpoint(step):
        if run:
            run.save_checkpoint({"trainer": trainer.state_dict(), "history": history,
                                 "elapsed": elapsed, "step": step, "method": cfg.method})

    if state is None:
        history["initial_relative_l2"] = evaluate(trainer.surrogate(), reference)[0]["relative_l2"]
        checkpoint(0)   # a divergence before the first periodic checkpoint still leaves one
    old_term = signal.signal(signal.SIGTERM, _raise_interrupt) if _main_thread() else None
    try:
        elapsed, step = _train_loop(trainer, cfg, history, start_step, elapsed, checkpoint, quiet)
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    checkpoint(step)
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
        metrics["forward_passes_per_step"] = cfg.K * (len(trainer.net.layer_names())
                                                      if cfg.perturbation == "layerwise" else 1) + 1
    paths = _write_outputs(run, metrics, history, reference, predicted, problem, cfg)
    return RunResult(metrics, surrogate, paths, history, cfg, problem, reference, predicted)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _progress(total, initial, quiet, desc):
    from tqdm.auto import tqdm

    disable = quiet or not sys.stderr.isatty()
    return tqdm(total=total, initial=initial, disable=disable, desc=desc, leave=False)


def _train_loop(trainer, cfg, history, start, elapsed, checkpoint, quiet):
    """Adam-style steps (then L-BFGS for ``ann``) with logging, checkpoints and a NaN guard."""
    step = start
    bar = _progress(cfg.steps, start, quiet, f"{cfg.method}")
    t0 = time.perf_counter() - elapsed
    try:
        while step < cfg.steps:
            loss = trainer.step()
            step += 1
            if not (loss == loss and abs(loss) != float("inf")) or not trainer.params_finite():
                raise DivergenceError(
                    f"training diverged at step {step} (loss = {loss}); the last good checkpoint "
                    f"was kept. Try a smaller learning rate (now {cfg.lr:g})"
                    + (f", more directions K (now {cfg.K})" if cfg.method == "fgrad" else "")
                    + f" or a different T (now {cfg.T}).")
            if step % cfg.log_every == 0 or step == cfg.steps:
                _log(history, step, trainer, time.perf_counter() - t0)
                bar.set_postfix(loss=f"{history['loss'][-1]:.3e}")
            bar.update(1)
            if step % cfg.checkpoint_every == 0:
                elapsed = time.perf_counter() - t0
                checkpoint(step)
        if cfg.method == "ann" and cfg.lbfgs_steps > 0 and not history.get("lbfgs_done"):
            bar.set_description("ann (L-BFGS)")
            trainer.lbfgs_step(cfg.lbfgs_steps)
            history["lbfgs_done"] = True
            _log(history, step + cfg.lbfgs_steps, trainer, time.perf_counter() - t0)
    except KeyboardInterrupt:
        elapsed = time.perf_counter() - t0
        checkpoint(step)
        raise
    finally:
        bar.close()
    return time.perf_counter() - t0, step


def _log(history, step, trainer, elapsed):
    terms = trainer.terms()
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
    title = f"{problem.name} — {cfg.method}: relative L2 {metrics['relative_l2']:.3g}"
    paths["error_plot"] = plot_fields(reference, predicted, run.file("fields.png"), title=title)
    paths["loss_plot"] = plot_loss(history, run.file("loss.png"), title=f"{problem.name} — {cfg.method}")
    if metrics.get("convergence"):
        conv = dict(metrics["convergence"])
        conv["step"] = conv.pop("iteration", list(range(1, len(next(iter(conv.values()))) + 1)))
        paths["convergence_plot"] = plot_loss(conv, run.file("convergence.png"),
                                              title=f"{problem.name} — {cfg.method}: convergence")
    return paths

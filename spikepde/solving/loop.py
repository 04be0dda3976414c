"""The training loop of a solve: steps, logging, checkpoints, a NaN guard and clean interrupts.

It drives any :class:`~spikepde.train.base.Trainer` through its contract and names no method:
the learning rate follows ``cfg.lr_schedule`` when the trainer has an optimizer, and a trainer
with a ``finishing_phase`` (the tanh baseline's L-BFGS) gets it once after the steps.
"""
from __future__ import annotations

import math
import signal
import sys
import threading
import time
from typing import Callable

from ..errors import DivergenceError
from ..runs import RunDir
from ..train.schedules import cosine_decay


def scheduled_lr(cfg, step: int) -> float:
    """The learning rate of step ``step`` (0-based) under ``cfg.lr_schedule``: constant, or a
    cosine decay from ``lr`` to ``lr/20`` at the last step."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    return cosine_decay(step, cfg.steps - 1, cfg.lr)


class StopRequests:
    """SIGINT/SIGTERM handler that stops training *between* steps.

    A KeyboardInterrupt raised at an arbitrary bytecode could land inside a step after the
    optimizer moved the parameters or after the generator drew directions but before the step
    counter moved on; a checkpoint of that state would resume to a different result. So the
    first signal only records the request and the loop stops at the next step boundary, where
    the state is consistent. A second signal (an impatient user) raises at once, and so does any
    signal while ``immediate`` is set (a finishing phase, which is never checkpointed mid-way).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested: int | None = None
        self.immediate = False
        self.at_boundary = False   # set when check() raised: the training state is consistent
        self._old = {}

    def __enter__(self):
        # signal handlers can only be installed from the main thread
        if threading.current_thread() is threading.main_thread():
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


class Checkpointer:
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


class Logger:
    """Appends the loss terms (and, with an error probe, the relative L2 error) to the history."""

    def __init__(self, history: dict, trainer, error_probe: Callable[[], float] | None = None):
        self.history, self.trainer, self.error_probe = history, trainer, error_probe

    def __call__(self, step: int, elapsed: float) -> None:
        history = self.history
        terms = self.trainer.terms()
        if self.error_probe is not None:   # SolveConfig.track_error: the error along the run
            history.setdefault("relative_l2", []).append(self.error_probe())
        history["step"].append(step)
        history["time"].append(elapsed)
        history["loss"].append(sum(terms.values()))
        for k, v in terms.items():
            history.setdefault(k, []).append(v)


def train_loop(trainer, cfg, start: int, elapsed: float, log: Logger, checkpoint: Checkpointer,
               quiet: bool, stop: StopRequests) -> tuple[float, int]:
    """Steps from ``start`` to ``cfg.steps``, then the trainer's finishing phase if it has one.

    On SIGINT/SIGTERM the loop finishes the current step, saves a checkpoint and raises
    KeyboardInterrupt; an interrupt that did not come through ``stop`` (raised inside a step,
    or a second Ctrl-C) may leave a half-done step, so it keeps the last periodic checkpoint.
    Returns the training wall time and the last step.
    """
    step = start
    bar = _progress(cfg.steps, start, quiet, f"{cfg.method}")
    t0 = time.perf_counter() - elapsed
    in_finish = False
    history = log.history
    finishing = type(trainer).finishing_steps(cfg) if type(trainer).finishing_phase else 0
    try:
        optimizer = trainer.optimizer
        while step < cfg.steps:
            if cfg.lr_schedule != "constant" and optimizer is not None:
                for group in optimizer.param_groups:
                    group["lr"] = scheduled_lr(cfg, step)
            loss = trainer.step()
            step += 1
            if not _finite(loss) or not trainer.params_finite():
                raise DivergenceError(divergence_message(trainer, step, loss, checkpoint))
            if step % cfg.log_every == 0 or step == cfg.steps:
                log(step, time.perf_counter() - t0)
                bar.set_postfix(loss=f"{history['loss'][-1]:.3e}")
            bar.update(1)
            if step % cfg.checkpoint_every == 0:
                checkpoint(step, time.perf_counter() - t0)
            stop.check()
        done_key = _phase_key(trainer.finishing_phase)
        if finishing > 0 and not history.get(done_key):
            # The finishing phase's own state (L-BFGS curvature pairs) is not checkpointed: an
            # interrupted phase restarts from the parameters at the end of the steps, which
            # reproduces the uninterrupted run exactly. So save that point and never overwrite
            # it mid-phase.
            if checkpoint.last_step != step:
                checkpoint(step, time.perf_counter() - t0)
            stop.check()
            in_finish = stop.immediate = True
            bar.set_description(f"{cfg.method} ({trainer.finishing_phase})")
            loss = trainer.finish()
            if not _finite(loss) or not trainer.params_finite():
                raise DivergenceError(divergence_message(trainer, step, loss, checkpoint,
                                                         trainer.finishing_phase))
            in_finish = stop.immediate = False
            history[done_key] = True
            log(step + finishing, time.perf_counter() - t0)
    except KeyboardInterrupt:
        if stop.at_boundary and not in_finish and checkpoint.last_step != step:
            checkpoint(step, time.perf_counter() - t0)
        raise
    finally:
        bar.close()
    return time.perf_counter() - t0, step


def divergence_message(trainer, step, loss, checkpoint: Checkpointer, phase: str | None = None) -> str:
    """One line: where it diverged, which checkpoint survives, and which settings to change."""
    hints = trainer.divergence_hints()
    what = f"during {phase} after step {step}" if phase else f"at step {step}"
    advice = ", ".join(hints[:-1]) + " or " + hints[-1] if len(hints) > 1 else (hints[0] if hints else "")
    return (f"training diverged {what} (loss = {loss}, or a parameter became NaN/Inf); "
            f"{checkpoint.describe()}." + (f" Try {advice}." if advice else ""))


def _phase_key(phase: str | None) -> str:
    """The history entry that marks a finished phase (``"L-BFGS"`` → ``"lbfgs_done"``)."""
    return "".join(c for c in (phase or "finish").lower() if c.isalnum()) + "_done"


def _finite(loss: float) -> bool:
    return math.isfinite(loss)


def _progress(total, initial, quiet, desc):
    from tqdm.auto import tqdm

    disable = quiet or not sys.stderr.isatty()
    return tqdm(total=total, initial=initial, disable=disable, desc=desc, leave=False)

"""The learning-rate schedule shared by every trainer with an optimizer: a cosine decay.

``cosine_decay(step, total, lr)`` falls from ``lr`` at step 0 to ``lr/20`` at step ``total`` and
stays there: a function of the step number only, so a resumed run follows the same schedule.
``spikepde.solve`` evaluates it per optimisation step (``total = steps − 1``: the last step runs
at the floor), the classification trainers per epoch (``total = epochs``).
"""
from __future__ import annotations

import math

#: the schedules of ``SolveConfig.lr_schedule``
LR_SCHEDULES = ("constant", "cosine")


def cosine_decay(step: int, total: int, lr: float) -> float:
    """``lr/20 + (lr − lr/20)·(1 + cos(π·min(step, total)/total))/2``; ``lr`` when ``total < 1``."""
    if total < 1:
        return lr
    floor = lr / 20
    return floor + 0.5 * (lr - floor) * (1 + math.cos(math.pi * min(step, total) / total))

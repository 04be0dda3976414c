"""The points of a study: settings sorted into method/steps/seed, solve options and problem
parameters, and each point's identity (a hash of its settings and of the problem)."""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import random as _random
from pathlib import Path
from typing import Any, Iterable

# keys of a point that are not SolveConfig options or problem parameters
_TOP = ("method", "steps", "seed")


def _solve_option_names() -> set[str]:
    from ..solving import SolveConfig

    return {f.name for f in dataclasses.fields(SolveConfig)} - {"problem", "params", *_TOP}


def _plain(value: Any) -> Any:
    """numpy scalars → Python scalars, so that hashing and JSON see one type per value."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, dict)):
        return value.item()
    return value


def _classify(key: str, problem, options: set[str]) -> tuple[str, str]:
    """(kind, name) of a settings key: kind is 'top', 'option' or 'param'."""
    if key.startswith("params."):
        name = key[len("params."):]
        if name not in problem.parameters:
            raise ValueError(f"'{key}': problem '{problem.name}' has no parameter '{name}' "
                             f"(it has: {', '.join(problem.parameters) or 'none'})")
        return "param", name
    is_param = key in problem.parameters
    is_option = key in options
    if key in _TOP:
        return "top", key
    if is_param and is_option:
        raise ValueError(f"'{key}' is both a parameter of '{problem.name}' and a solve option; "
                         f"write 'params.{key}' for the problem parameter")
    if is_param:
        return "param", key
    if is_option:
        return "option", key
    raise ValueError(f"unknown study key '{key}': not seed/method/steps, not a solve option "
                     f"({', '.join(sorted(options))}) and not a parameter of '{problem.name}' "
                     f"({', '.join(problem.parameters) or 'none'})")


def _grid_points(grid: dict[str, list]) -> list[dict]:
    for key, values in grid.items():
        if isinstance(values, tuple) or not isinstance(values, Iterable) or isinstance(values, str):
            raise ValueError(f"grid['{key}'] must be a list of values for a full grid "
                             "(ranges as tuples are for random=N)")
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(list(grid[k]) for k in keys))]


def _sample(spec, rng: _random.Random, key: str):
    """One random value: a list → uniform choice; (lo, hi) → uniform (integers when both are
    ints, bounds included); (lo, hi, "log") → log-uniform."""
    if isinstance(spec, tuple):
        if len(spec) == 3 and spec[2] == "log":
            lo, hi = float(spec[0]), float(spec[1])
            if lo <= 0 or hi <= 0:
                raise ValueError(f"grid['{key}']: a log range needs positive bounds, got {spec}")
            return math.exp(rng.uniform(math.log(lo), math.log(hi)))
        if len(spec) == 2:
            lo, hi = spec
            if isinstance(lo, int) and isinstance(hi, int):
                return rng.randint(lo, hi)
            return rng.uniform(float(lo), float(hi))
        raise ValueError(f"grid['{key}']: a range is (lo, hi) or (lo, hi, 'log'), got {spec}")
    values = list(spec)
    if not values:
        raise ValueError(f"grid['{key}'] is empty")
    return values[rng.randrange(len(values))]


def _random_points(grid: dict, n: int, seed: int) -> list[dict]:
    rng = _random.Random(seed)
    return [{k: _sample(v, rng, k) for k, v in grid.items()} for _ in range(int(n))]


def _with_seeds(points: list[dict], seeds) -> list[dict]:
    if seeds is None:
        return points
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if any("seed" in p for p in points):
        raise ValueError("give the seeds either as seeds=... or as a 'seed' key, not both")
    # seeds innermost: the rows of one setting sit next to each other in the table
    return [{**p, "seed": s} for p in points for s in seeds]


def _problem_identity(problem) -> str:
    text = json.dumps({"name": problem.name, "spec": problem.spec,
                       "params": problem.param_values()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass
class _Point:
    columns: dict          # what the table shows: the settings, by the keys the user wrote
    task: dict             # what the worker needs
    point_id: str


def _make_points(problem_arg, problem, settings: list[dict], *, method, steps, fixed_options,
                 fixed_params, runs_dir: Path) -> list[_Point]:
    from ..solving import default_steps
    from ..train.registry import choose_method

    options = _solve_option_names()
    identity = _problem_identity(problem)
    # a name or path travels to the workers as text (each loads it itself); a Problem object
    # travels pickled
    if isinstance(problem_arg, (str, Path)):
        ref = str(Path(problem_arg).resolve()) if Path(problem_arg).is_file() else str(problem_arg)
    else:
        ref = problem_arg
    for key in fixed_options:
        kind, _ = _classify(key, problem, options)
        if kind != "option" and key not in _TOP:
            raise TypeError(f"'{key}' is not a solve option; pass problem parameters in the grid "
                            "or as params={...}")
    out, seen = [], set()
    for s in settings:
        merged = {"method": method, "steps": steps, "seed": 0, **fixed_options,
                  **{k: v for k, v in fixed_params.items()}, **s}
        merged = {k: _plain(v) for k, v in merged.items()}
        top = {"method": choose_method(merged.pop("method"), problem), "steps": merged.pop("steps"),
               "seed": merged.pop("seed")}
        if top["steps"] is None:
            # fixed here so that the point id names the budget (ADMM counts iterations)
            top["steps"] = default_steps(problem, top["method"])
        params, opts = {}, {}
        for key, value in merged.items():
            kind, name = ("param", key) if key in fixed_params and key not in s else \
                _classify(key, problem, options)
            (params if kind == "param" else opts)[name] = value
        canonical = {"problem": identity, **top, "params": params, "options": opts}
        digest = hashlib.sha256(json.dumps(canonical, sort_keys=True, default=repr).encode())
        pid = digest.hexdigest()[:16]
        if pid in seen:   # random search can draw one setting twice: run it once
            continue
        seen.add(pid)
        # what varies first, then the per-study defaults and fixed settings
        columns = {"problem": problem.name, **{k: _plain(v) for k, v in s.items()}, **top,
                   **{k: _plain(v) for k, v in {**fixed_params, **fixed_options}.items()
                      if k not in s}}
        task = {"problem": ref, **top, "params": params, "options": opts,
                "run_dir": str((runs_dir / pid).resolve())}
        out.append(_Point(columns, task, pid))
    return out

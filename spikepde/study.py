"""Parameter studies: many :func:`spikepde.solve` runs over a grid, resumable, on any executor.

    >>> import spikepde
    >>> df = spikepde.study("burgers", grid={"nu": [0.005, 0.01], "T": [8, 16]}, seeds=3,
    ...                     steps=200, out="studies/s1")
    >>> spikepde.study.plot_study(df, x="T", y="relative_l2", hue="nu", path="studies/s1/err.png")

Shell: ``spikepde sweep burgers --grid nu=0.005,0.01 --grid T=8,16 --seeds 3 --out studies/s1``.

What a *point* is
    One solve: a problem, a method, a step budget, a seed, problem-parameter overrides and
    :class:`~spikepde.solving.SolveConfig` options. Its identity is ``point_id``, the first 16 hex
    digits of the SHA-256 of the canonical JSON of those settings together with the problem's
    specification and parameter values (so editing the problem file gives new points rather
    than reusing stale results). Grid keys are sorted into the right place by name: ``seed``,
    ``method``, ``steps``, any ``SolveConfig`` field (``T``, ``K``, ``width``, ``lr``, ...), or a
    parameter of the problem (``nu``); ``params.NAME`` forces the problem parameter.

The results table ``out/results.csv``
    One row per finished point, columns in this order: ``point_id``, ``problem``, the settings
    (every grid key, ``method``, ``steps``, ``seed`` and every fixed option), ``status``, the
    scalar metrics of ``metrics.json`` (``relative_l2``, ``max_abs_error``, ``mean_abs_error``,
    ``wall_time_s`` (training time), ``spike_rate``, ``synaptic_ops_per_sample``,
    ``energy_pj_per_sample``, ``n_params``, ...; the final loss terms as ``loss_<term>``), then
    ``error`` (``"Type: message"``, empty when ok), ``point_time_s`` (the whole point in its
    worker: reference, training, evaluation, plots), ``worker`` (``host:pid``) and ``run_dir``
    (``out/runs/<point_id>``, the full run directory of :func:`spikepde.solve`). Floats are
    written with Python's shortest round-trip repr, so reading the file back with
    ``pandas.read_csv(path, float_precision="round_trip")`` gives the same numbers.

    ``status`` is ``ok``; ``failed`` when the solve raised (a bad option, a
    :class:`~spikepde.errors.DivergenceError`, ...) — deterministic, so a rerun skips it unless
    ``retry_failed=True``; or ``lost`` when the executor lost the point (a worker process died,
    the task was cancelled) — a rerun always tries it again.

Atomicity and resume
    The table is rewritten whole after every finished point, to a temporary file that is
    fsync'ed and renamed over ``results.csv`` (:func:`spikepde.runs.atomic_write_text`). A kill at
    any moment leaves the previous complete table or the new one, never a truncated line that a
    rerun would trust. Rewriting costs O(rows) per point, negligible next to a solve for any
    study of up to thousands of points. Only the process that calls :func:`study` writes the
    table (workers return their row), so no locking between workers is needed; two studies must
    not share one ``out`` at the same time. Running the same study again reads the table,
    skips the points already there, and resumes a point whose run directory holds a checkpoint
    from an interrupted solve (``solve(resume=True)``).

Execution
    Default: a local process pool (``spawn`` start method) with one worker per available core,
    each worker limited to one torch/OpenMP/MKL thread so that ``workers × threads = cores``
    (no oversubscription). ``executor`` may be any ``concurrent.futures``-style executor (its
    ``submit`` returns futures), a ``dask.distributed.Client`` (futures collected with Dask's
    ``as_completed``), or ``"serial"`` (one point after the other in this process, with torch's
    threads left as they are). ``scheduler="tcp://host:8786"`` connects a Dask client to a running
    scheduler; ``scheduler="local"`` starts a ``LocalCluster``. On a cluster, ``out`` must be on a
    file system every worker sees (run directories are written by the workers).
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import itertools
import json
import math
import os
import random as _random
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

TABLE = "results.csv"
SETTINGS_FILE = "study.json"
# keys of a point that are not SolveConfig options or problem parameters
_TOP = ("method", "steps", "seed")
# columns written after the metrics, in this order
_TAIL = ("error", "point_time_s", "worker", "run_dir")
# columns that differ between two runs of the same point (timings, places): left out when
# comparing tables for equality
VOLATILE = ("wall_time_s", "point_time_s", "worker", "run_dir")


# --------------------------------------------------------------------------------- points
def _solve_option_names() -> set[str]:
    from .solving import SolveConfig

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
    from .solving import default_steps

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
        top = {"method": merged.pop("method"), "steps": merged.pop("steps"), "seed": merged.pop("seed")}
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


# --------------------------------------------------------------------------------- workers
def _limit_threads(n: int) -> None:
    """One process, ``n`` threads: torch's intra- and inter-op pools and the OpenMP/MKL/BLAS
    environment (read by libraries that start later in the process)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:   # only allowed before the first inter-op task; then it is already set
        pass


def _init_pool_worker() -> None:
    _limit_threads(1)


def _flatten_metrics(metrics: dict) -> dict:
    row = {}
    for key, value in metrics.items():
        value = _plain(value)
        if isinstance(value, bool) or isinstance(value, (int, float, str)):
            row[key] = value
        elif key == "final_loss_terms" and isinstance(value, dict):
            row.update({f"loss_{k}": _plain(v) for k, v in value.items()})
    # already columns of the settings
    for key in ("method", "problem", "steps"):
        row.pop(key, None)
    return row


def run_point(task: dict) -> dict:
    """Run one point of a study (in a worker) and return its table row.

    ``task`` holds ``problem`` (name, path or Problem), ``method``, ``steps``, ``seed``,
    ``params``, ``options``, ``run_dir`` and optionally ``threads`` (torch threads for this
    process; absent: unchanged). Exceptions from the solve are caught and returned as a row with
    ``status="failed"``; the run directory is resumed when it holds a checkpoint.
    """
    from .errors import CheckpointError
    from .solving import solve

    if task.get("threads"):
        _limit_threads(int(task["threads"]))
    t0 = time.perf_counter()
    run_dir = Path(task["run_dir"])
    row: dict[str, Any] = {}
    try:
        result = None
        if (run_dir / "checkpoint.pt").exists() and (run_dir / "config.json").exists():
            try:   # an earlier study was stopped during this point: continue its run
                result = solve(out=run_dir, resume=True, quiet=True)
            except CheckpointError:
                result = None
        if result is None:
            # per-point plots cost more than a tiny solve; a study plots its table instead
            options = {"plots": False, **task["options"]}
            result = solve(task["problem"], method=task["method"], steps=task["steps"],
                           seed=task["seed"], out=run_dir, quiet=True, params=task["params"] or None,
                           **options)
        row["status"] = "ok"
        row.update(_flatten_metrics(result.metrics))
        row["error"] = ""
    except Exception as exc:  # any failure of one point is data, not the end of the study
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["point_time_s"] = time.perf_counter() - t0
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return row


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _is_dask(executor) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


# --------------------------------------------------------------------------------- table
def _read_table(path: Path):
    import pandas as pd

    if not path.exists():
        return pd.DataFrame()
    try:
        # exact float round trip: pandas >= 3 does it by default (and deprecates the option)
        exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
        return pd.read_csv(path, **exact)
    except Exception as exc:  # written atomically, so this is someone else's file
        raise ValueError(f"{path}: cannot read the study table ({exc}); move it away to start "
                         "afresh") from exc


class _Table:
    """The rows of ``results.csv`` by point id; every :meth:`put` rewrites the file atomically."""

    def __init__(self, path: Path, order: list[str] = ()):
        self.path = path
        # this study's points in their order; rows are kept sorted by it (others after them)
        self.order = {pid: i for i, pid in enumerate(order)}
        df = _read_table(path)
        self.rows: dict[str, dict] = {}
        self.settings: list[str] = []
        if len(df):
            for rec in df.to_dict("records"):
                self.rows[str(rec["point_id"])] = rec
            cols = list(df.columns)
            # the file's layout says which columns are settings: those before 'status'
            self.settings = cols[1:cols.index("status")] if "status" in cols else []

    def put(self, row: dict, setting_keys: Iterable[str]) -> None:
        from .runs import atomic_write_text

        self.rows[row["point_id"]] = row
        self.settings += [k for k in setting_keys if k not in self.settings]
        atomic_write_text(self.path, self.frame().to_csv(index=False))

    def frame(self):
        import pandas as pd

        seen: dict[str, None] = {}
        for r in self.rows.values():
            seen.update(dict.fromkeys(r))
        fixed = {"point_id", "status", *self.settings, *_TAIL}
        metrics = [c for c in seen if c not in fixed]
        cols = ["point_id", *[c for c in self.settings if c in seen], "status", *metrics,
                *[c for c in _TAIL if c in seen]]
        last = len(self.order)
        rows = sorted(self.rows.values(), key=lambda r: self.order.get(str(r["point_id"]), last))
        return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------------- study
def study(problem="burgers", grid: dict[str, list] | None = None, *,
          points: list[dict] | None = None, random: int | None = None, random_seed: int = 0,
          seeds: int | list[int] | None = None, steps: int | None = None, method: str = "fgrad",
          out: str | os.PathLike = "studies/s1", executor=None, scheduler: str | None = None,
          workers: int | None = None, quiet: bool = False, retry_failed: bool = False,
          params: dict | None = None, on_point: Callable[[dict], None] | None = None,
          **fixed_options):
    """Run ``solve`` over a set of points and return the results as a ``pandas.DataFrame``.

    Args:
        problem: catalogue name, ``.toml`` path or :class:`~spikepde.problem.problem.Problem`.
        grid: ``{key: [values]}``; the full Cartesian product is run. Keys: ``seed``,
            ``method``, ``steps``, any solve option (``T``, ``K``, ``width``, ``lr``, ...) or a
            problem parameter (``nu``; ``params.nu`` when the name is also an option).
        points: instead of a grid, an explicit list of settings dicts.
        random: instead of the full grid, ``random`` points drawn from ``grid`` with the
            ``random_seed``: a list is sampled uniformly, ``(lo, hi)`` uniformly (integers when
            both bounds are ints), ``(lo, hi, "log")`` log-uniformly. Draws that repeat a
            setting are run once.
        seeds: ``n`` (seeds ``0..n-1``) or a list, crossed with every point (innermost); None:
            seed 0 unless the points set ``seed``.
        steps, method: defaults for every point (the grid may vary them).
        out: study directory: ``results.csv`` (see the module docstring for its columns),
            ``study.json`` (the arguments) and ``runs/<point_id>/`` (one run per point).
        executor: None (local process pool), ``"serial"``, a ``concurrent.futures`` executor
            or a ``dask.distributed.Client``.
        scheduler: a Dask scheduler address (``"tcp://host:8786"``) or ``"local"`` (a
            ``LocalCluster`` with ``workers`` one-thread workers); used when ``executor`` is None.
        workers: processes of the default pool (default: the available cores).
        quiet: no progress bar.
        retry_failed: run points whose earlier status was ``failed`` again.
        params: problem parameters fixed for every point.
        on_point: called in this process with each new row after it is written (a hook for
            monitoring; an exception from it stops the study, as an interrupt would).
        **fixed_options: solve options fixed for every point (``interior_points=512``, ...).
    Returns:
        one row per point of this study, in the order of the points (grid order, seeds
        innermost), read back from ``results.csv``. Points of other studies sharing ``out`` stay
        in the file but are not returned.
    """
    from .problem.spec import load_problem

    if points is not None and random is not None:
        raise ValueError("give either points=... or random=N, not both")
    prob = load_problem(str(problem)) if isinstance(problem, (str, Path)) else problem
    if points is not None:
        if grid is not None:
            raise ValueError("give either grid=... or points=..., not both")
        settings = [dict(p) for p in points]
    elif random is not None:
        if not grid:
            raise ValueError("random=N draws from grid=...; give the grid")
        settings = _random_points(grid, random, random_seed)
    else:
        settings = _grid_points(grid or {})
    settings = _with_seeds(settings, seeds)
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    pts = _make_points(problem, prob, settings, method=method, steps=steps,
                       fixed_options=fixed_options, fixed_params=dict(params or {}),
                       runs_dir=out / "runs")
    from .runs import atomic_write_json

    atomic_write_json(out / SETTINGS_FILE, {
        "problem": str(problem) if isinstance(problem, (str, Path)) else prob.name,
        "grid": {k: list(v) if not isinstance(v, tuple) else v for k, v in (grid or {}).items()},
        "points": points, "random": random, "random_seed": random_seed, "seeds": seeds,
        "steps": steps, "method": method, "params": params, "fixed_options": fixed_options})

    table = _Table(out / TABLE, [p.point_id for p in pts])
    redo = {"lost"} | ({"failed"} if retry_failed else set())
    todo = [p for p in pts if p.point_id not in table.rows
            or str(table.rows[p.point_id].get("status")) in redo]
    _execute(todo, table, len(pts), executor=executor, scheduler=scheduler, workers=workers,
             quiet=quiet, on_point=on_point)
    return _result_frame(out / TABLE, [p.point_id for p in pts])


def _result_frame(path: Path, ids: list[str]):
    df = _read_table(path)
    if not len(df):
        return df
    df["point_id"] = df["point_id"].astype(str)
    order = {pid: i for i, pid in enumerate(ids)}
    df = df[df["point_id"].isin(order)].copy()
    df = df.iloc[sorted(range(len(df)), key=lambda i: order[df["point_id"].iloc[i]])]
    if "error" in df:
        df["error"] = df["error"].astype(object).fillna("")
    return df.reset_index(drop=True)


def _execute(todo: list[_Point], table: _Table, total: int, *, executor, scheduler, workers,
             quiet, on_point) -> None:
    from tqdm.auto import tqdm

    owned = None          # an executor this function created and must shut down
    threads = 1           # torch threads per point: one per worker process or Dask thread
    if not todo:
        return
    if executor is None and scheduler:
        from dask.distributed import Client, LocalCluster

        if scheduler == "local":
            cluster = LocalCluster(n_workers=workers or available_cores(), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            owned = executor = Client(cluster)
        else:
            owned = executor = Client(scheduler)
    elif executor is None:
        import multiprocessing

        n = max(1, min(workers or available_cores(), len(todo)))
        # spawn, not fork: a forked child inherits torch's OpenMP pool of the parent, which can
        # hang; a fresh interpreter per worker also makes the numbers independent of the parent
        owned = executor = cf.ProcessPoolExecutor(
            max_workers=n, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_pool_worker)
    elif executor == "serial":
        executor, threads = None, None
    dask = executor is not None and _is_dask(executor)

    futures = {}
    bar = tqdm(total=total, initial=total - len(todo), disable=quiet, desc="study", unit="point")
    failed = 0
    try:
        for p, row in _results(todo, executor, dask, threads, futures):
            row = {"point_id": p.point_id, **p.columns, **row, "run_dir": p.task["run_dir"]}
            table.put(row, p.columns)
            failed += row["status"] != "ok"
            bar.update(1)
            if failed:
                bar.set_postfix(failed=failed)
            if on_point is not None:
                on_point(row)
    finally:
        bar.close()
        for fut in futures:   # what has not finished is not recorded: a rerun runs it
            fut.cancel()
        if owned is not None:
            if dask:
                cluster = getattr(owned, "cluster", None)
                owned.close()
                if cluster is not None:
                    cluster.close()
            else:
                owned.shutdown(wait=not futures, cancel_futures=True)


def _results(todo, executor, dask, threads, futures):
    """(point, row) as the points finish; ``futures`` holds what is still pending."""
    if executor is None:   # serial: in order, one at a time, each row written before the next
        for p in todo:
            yield p, run_point({**p.task, "threads": threads})
        return
    for p in todo:
        task = {**p.task, "threads": threads}
        # pure=False: Dask would otherwise hash the arguments to name the task
        fut = executor.submit(run_point, task, pure=False) if dask else executor.submit(run_point, task)
        futures[fut] = p
    if dask:
        from dask.distributed import as_completed
    else:
        as_completed = cf.as_completed
    for fut in as_completed(list(futures)):
        p = futures.pop(fut)
        try:
            row = fut.result()
        except Exception as exc:  # the executor lost it (dead worker, cancelled): rerun retries
            row = {"status": "lost", "error": f"{type(exc).__name__}: {exc}"}
        yield p, row


# --------------------------------------------------------------------------------- summary
def summarize(df, metric: str = "relative_l2"):
    """Aggregate a study table over seeds: one row per setting with ``n``, ``ok``, and the mean,
    std, min and max of ``metric`` and the mean training ``wall_time_s`` over the ok rows."""
    import pandas as pd

    keys = _varied_settings(df, exclude=("seed",))
    ok = df[df["status"] == "ok"] if "status" in df else df
    agg = {}
    groups = df.groupby(keys, dropna=False, sort=False) if keys else [((), df)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        gok = ok.loc[ok.index.intersection(g.index)]
        vals = pd.to_numeric(gok[metric], errors="coerce") if metric in gok else pd.Series(dtype=float)
        rec = {"n": len(g), "ok": len(gok),
               f"{metric}_mean": vals.mean(), f"{metric}_std": vals.std(),
               f"{metric}_min": vals.min(), f"{metric}_max": vals.max()}
        if "wall_time_s" in gok:
            rec["wall_time_s_mean"] = pd.to_numeric(gok["wall_time_s"], errors="coerce").mean()
        agg[key] = rec
    out = pd.DataFrame.from_dict(agg, orient="index")
    if keys:
        out.index = pd.MultiIndex.from_tuples(out.index, names=keys) if len(keys) > 1 else \
            pd.Index([k[0] for k in out.index], name=keys[0])
    return out


def _varied_settings(df, exclude=()) -> list[str]:
    """Setting columns (between ``problem`` and ``status``) that take more than one value."""
    cols = list(df.columns)
    if "status" not in cols:
        return []
    settings = cols[1:cols.index("status")]
    return [c for c in settings if c not in exclude and c != "problem"
            and df[c].nunique(dropna=False) > 1]


# --------------------------------------------------------------------------------- plots
def plot_study(df, x: str = "T", y: str = "relative_l2", hue: str | None = None,
               path: str | os.PathLike | None = None, *, value: str | None = None,
               spread: str = "minmax", logy: bool | None = None, ax=None):
    """Plot a study table; returns the matplotlib Figure (saved atomically to ``path`` if given).

    Two forms:

    * ``plot_study(df, x="T", y="relative_l2", hue="nu")`` — the metric ``y`` against the
      parameter ``x``, one line per value of ``hue``: the mean over the rows sharing (x, hue) —
      normally the seeds — as a line, the spread (``spread="minmax"``: min to max;
      ``"std"``: mean ± one standard deviation) as a band, and every row as a faint dot.
    * ``plot_study(df, x="T", y="nu", value="relative_l2")`` — a heatmap of the mean of the
      metric ``value`` over two parameters (x across, y up), each cell annotated.

    Only rows with ``status == "ok"`` are plotted. ``logy`` (default: automatic, when the values
    are positive and span more than a factor 10) puts the metric on a log scale.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    data = df[df["status"] == "ok"] if "status" in df else df
    for col in (x, y if value is None else value, *( [y] if value is not None else []),
                *([hue] if hue else [])):
        if col not in df:
            raise ValueError(f"no column '{col}' in the study table (columns: {', '.join(df.columns)})")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
    else:
        fig = ax.figure
    if value is not None:
        _heatmap(ax, data, x, y, value, logy, np, pd)
    else:
        _lines(ax, data, x, y, hue, spread, logy, np, pd)
    fig.tight_layout()
    if path is not None:
        import io

        from .runs import atomic_write_bytes

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        atomic_write_bytes(path, buf.getvalue())
        plt.close(fig)
    return fig


def _numeric(series, pd):
    as_num = pd.to_numeric(series, errors="coerce")
    return as_num if as_num.notna().all() else None


def _spans_decades(values, np) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return len(v) > 0 and v.min() > 0 and v.max() / v.min() > 10


def _lines(ax, data, x, y, hue, spread, logy, np, pd):
    xs_num = _numeric(data[x], pd)
    groups = data.groupby(hue, sort=True, dropna=False) if hue else [(None, data)]
    cats = sorted(data[x].dropna().unique().tolist(), key=str) if xs_num is None else None
    for name, g in groups:
        xv = _numeric(g[x], pd) if cats is None else g[x].map({c: i for i, c in enumerate(cats)})
        yv = pd.to_numeric(g[y], errors="coerce")
        frame = pd.DataFrame({"x": xv.values, "y": yv.values}).dropna()
        stats = frame.groupby("x")["y"].agg(["mean", "min", "max", "std"]).sort_index()
        label = None if hue is None else f"{hue} = {name:g}" if isinstance(name, float) else f"{hue} = {name}"
        line, = ax.plot(stats.index, stats["mean"], "o-", label=label)
        lo, hi = (stats["min"], stats["max"]) if spread == "minmax" else \
            (stats["mean"] - stats["std"].fillna(0), stats["mean"] + stats["std"].fillna(0))
        ax.fill_between(stats.index, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.plot(frame["x"], frame["y"], ".", color=line.get_color(), alpha=0.35)
    if cats is not None:
        ax.set_xticks(range(len(cats)), [str(c) for c in cats])
    elif _spans_decades(xs_num, np):
        ax.set_xscale("log")
    if logy or (logy is None and _spans_decades(pd.to_numeric(data[y], errors="coerce"), np)):
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    band = "min–max" if spread == "minmax" else "± std"
    n_seeds = data["seed"].nunique() if "seed" in data else 1
    ax.set_title(f"{y} vs {x}: mean, {band} over {n_seeds} seed(s)")
    ax.grid(True, which="both", alpha=0.3)
    if hue:
        ax.legend()


def _heatmap(ax, data, x, y, value, logz, np, pd):
    from matplotlib.colors import LogNorm

    vals = pd.to_numeric(data[value], errors="coerce")
    table = pd.DataFrame({"x": data[x].values, "y": data[y].values, "v": vals.values}) \
        .groupby(["y", "x"])["v"].mean().unstack("x").sort_index().sort_index(axis=1)
    grid = table.to_numpy(dtype=float)
    use_log = logz or (logz is None and _spans_decades(grid, np))
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis",
                   norm=LogNorm() if use_log else None)
    ax.figure.colorbar(im, ax=ax, label=f"{value} (mean over seeds)")
    fmt = (lambda v: f"{v:g}" if isinstance(v, float) else str(v))
    ax.set_xticks(range(len(table.columns)), [fmt(c) for c in table.columns])
    ax.set_yticks(range(len(table.index)), [fmt(c) for c in table.index])
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{value}: mean over seeds")


# --------------------------------------------------------------------------------- CLI
def parse_value(text: str):
    """A command-line value as int, then float, then the text itself (``8`` → 8, ``1e-3`` →
    0.001, ``fgrad`` → "fgrad"; ``true``/``false`` → bool)."""
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_grid(assignments: list[str]) -> dict[str, list]:
    """``["nu=0.005,0.01", "T=8,16"]`` → ``{"nu": [0.005, 0.01], "T": [8, 16]}``."""
    grid: dict[str, list] = {}
    for item in assignments:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise ValueError(f"--grid '{item}': expected NAME=V1,V2,...")
        if name in grid:
            raise ValueError(f"--grid: '{name}' given twice")
        grid[name] = [parse_value(v) for v in values.split(",") if v.strip()]
    return grid


def study_from_cli(args) -> int:
    """``spikepde sweep``: run :func:`study` from parsed arguments and print a summary.

    Uses ``args.problem, grid, seeds, steps, method, out, scheduler, workers, plot, quiet,
    json``. ``--seeds N`` means seeds 0..N-1 (unless the grid has ``seed``). With ``--plot`` it
    writes ``<metric>_vs_<x>.png`` for the first varied key (hue: the second) and, with two or
    more varied keys, ``heatmap_<metric>_<x>_<y>.png`` into ``out``. Prints the table as JSON
    records with ``--json``, else the per-setting summary; returns 0.
    """
    grid = parse_grid(getattr(args, "grid", []) or [])
    fixed = {k: v[0] for k, v in parse_grid(getattr(args, "set", []) or []).items()}
    params = {k: v[0] for k, v in parse_grid(getattr(args, "param", []) or []).items()}
    seeds = getattr(args, "seeds", None)
    if "seed" in grid:
        seeds = None
    df = study(args.problem, grid, seeds=seeds, steps=getattr(args, "steps", None),
               method=getattr(args, "method", None) or "fgrad", out=args.out,
               scheduler=getattr(args, "scheduler", None), workers=getattr(args, "workers", None),
               quiet=getattr(args, "quiet", False) or getattr(args, "json", False),
               params=params or None, **fixed)
    written = []
    if getattr(args, "plot", False) and len(df):
        written = write_plots(df, args.out, keys=[k for k in grid if k != "seed"])
    if getattr(args, "json", False):
        print(df.to_json(orient="records", indent=2))
        return 0
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:.4g}".format):
        print(summarize(df).to_string() if len(df) else "(no points)")
    n_ok = int((df["status"] == "ok").sum()) if len(df) else 0
    print(f"{len(df)} points, {n_ok} ok, {len(df) - n_ok} failed; table: {Path(args.out) / TABLE}")
    for p in written:
        print(f"plot: {p}")
    return 0


def write_plots(df, out, keys: list[str], metric: str = "relative_l2") -> list[Path]:
    """The plots of ``spikepde sweep --plot``: the metric against the first key of ``keys``
    (hue: the second key), and a heatmap over the first two keys. Returns the paths."""
    keys = [k for k in keys if k in df and df[k].nunique() > 1] or \
        _varied_settings(df, exclude=("seed",))
    out = Path(out)
    paths = []
    if not keys or metric not in df:
        return paths
    hue = keys[1] if len(keys) > 1 else None
    paths.append(out / f"{metric}_vs_{keys[0]}.png")
    plot_study(df, x=keys[0], y=metric, hue=hue, path=paths[-1])
    if len(keys) > 1:
        paths.append(out / f"heatmap_{metric}_{keys[0]}_{keys[1]}.png")
        plot_study(df, x=keys[0], y=keys[1], value=metric, path=paths[-1])
    return paths


# ``spikepde.study`` is both this module and, in the package namespace, the function
# :func:`study`. Importing the module (``import spikepde.study``, or the package's lazy wrapper
# on its first call) rebinds the package attribute to the module, so the module itself must be
# callable for ``spikepde.study(...)`` to keep working.
class _CallableModule(type(sys.modules[__name__])):
    def __call__(self, *args, **kwargs):
        return study(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""Running a study: one solve per point in worker processes (a local pool, Dask, or serially),
each row written to the table as its point finishes."""
from __future__ import annotations

import concurrent.futures as cf
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable

from .._runtime import limit_threads
from ..runs import atomic_write_json
from ..train.registry import DEFAULT_METHOD
from .points import _grid_points, _make_points, _Point, _plain, _random_points, _with_seeds
from .table import SETTINGS_FILE, TABLE, _result_frame, _Table


def _init_pool_worker() -> None:
    limit_threads(1)


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
    from ..errors import CheckpointError
    from ..solving import solve

    if task.get("threads"):
        limit_threads(int(task["threads"]))
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


def study(problem="burgers", grid: dict[str, list] | None = None, *,
          points: list[dict] | None = None, random: int | None = None, random_seed: int = 0,
          seeds: int | list[int] | None = None, steps: int | None = None, method: str = DEFAULT_METHOD,
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
    from ..problem.spec import load_problem

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

"""Parameter studies: table, resume after an interruption, failures, determinism, the local
process pool against a real Dask LocalCluster, plots and the ``sweep`` command line.

Every point is a tiny solve (3 BPTT steps of a width-8 network on 64 collocation points of
``poisson1d``): the tests check the bookkeeping, not the numerics.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest

from spikepde import sweep as st
from spikepde.cli import parse_grid
from spikepde.sweep import VOLATILE, execution, plot_study, study
from spikepde.sweep.points import _make_points, _random_points
from spikepde.sweep.table import _read_table

TINY = dict(steps=3, method="bptt", interior_points=64, width=8, quiet=True)


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in VOLATILE if c in df]).reset_index(drop=True)


class CountingExecutor:
    """A thread pool (same process, so monkeypatching and counting work) that counts submits."""

    def __init__(self):
        self.pool = cf.ThreadPoolExecutor(max_workers=1)
        self.submitted = 0

    def submit(self, fn, *args, **kwargs):
        self.submitted += 1
        return self.pool.submit(fn, *args, **kwargs)

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


def test_grid_table_columns_and_run_dirs(tmp_path):
    df = study("poisson1d", {"T": [2]}, seeds=2, out=tmp_path, executor="serial", **TINY)
    assert len(df) == 2
    assert list(df["T"]) == [2, 2] and list(df["seed"]) == [0, 1]
    assert (df["status"] == "ok").all() and (df["error"] == "").all()
    cols = list(df.columns)
    assert cols[:2] == ["point_id", "problem"]
    assert cols.index("status") > cols.index("seed") and cols.index("relative_l2") > cols.index("status")
    for c in ("relative_l2", "max_abs_error", "wall_time_s", "spike_rate", "energy_pj_per_sample",
              "point_time_s", "run_dir"):
        assert c in cols
    assert df["point_id"].is_unique
    for run_dir in df["run_dir"]:
        assert Path(run_dir).parent == (tmp_path / "runs").resolve()
        assert (Path(run_dir) / "metrics.json").exists()
    on_disk = _read_table(tmp_path / "results.csv")
    assert on_disk["relative_l2"].tolist() == df["relative_l2"].tolist()
    assert json.loads((tmp_path / "study.json").read_text())["grid"] == {"T": [2]}


def test_resume_skips_finished_points(tmp_path):
    calls = []

    def stop_after_two(row):
        calls.append(row["point_id"])
        if len(calls) == 1:
            raise KeyboardInterrupt("simulated kill")

    ex = CountingExecutor()
    with pytest.raises(KeyboardInterrupt):
        study("poisson1d", {"T": [2, 4, 6]}, out=tmp_path, executor=ex,
              on_point=stop_after_two, **TINY)
    ex.close()
    first = _read_table(tmp_path / "results.csv")
    assert len(first) == 1 and set(first["point_id"]) == set(calls)

    ex2 = CountingExecutor()
    df = study("poisson1d", {"T": [2, 4, 6]}, out=tmp_path, executor=ex2, **TINY)
    ex2.close()
    assert ex2.submitted == 2                     # the finished point was skipped
    assert len(df) == 3 and (df["status"] == "ok").all() and df["T"].tolist() == [2, 4, 6]
    kept = df.set_index("point_id").loc[first["point_id"], "relative_l2"].tolist()
    assert kept == first["relative_l2"].tolist()  # finished rows are kept as they were

    ex3 = CountingExecutor()                      # a third run has nothing left to do
    again = study("poisson1d", {"T": [2, 4, 6]}, out=tmp_path, executor=ex3, **TINY)
    ex3.close()
    assert ex3.submitted == 0
    pd.testing.assert_frame_equal(again, df)


def test_failed_points_are_recorded_and_the_others_go_on(tmp_path, monkeypatch):
    pts = [{"width": 0}, {"lr": 1e30}, {}]
    df = study("poisson1d", points=pts, out=tmp_path, executor="serial", **TINY)
    assert df["status"].tolist() == ["failed", "failed", "ok"]
    assert df["error"][0].startswith("ValueError") and "width" in df["error"][0]
    assert df["error"][1].startswith("DivergenceError")
    assert math.isnan(df["relative_l2"][0]) and df["relative_l2"][2] > 0

    ran = []
    real = execution.run_point
    monkeypatch.setattr(execution, "run_point", lambda task: ran.append(task) or real(task))
    study("poisson1d", points=pts, out=tmp_path, executor="serial", **TINY)
    assert ran == []                                # failures are deterministic: not retried
    df2 = study("poisson1d", points=pts, out=tmp_path, executor="serial", retry_failed=True, **TINY)
    assert len(ran) == 2 and df2["status"].tolist() == ["failed", "failed", "ok"]


def test_lost_points_are_retried(tmp_path):
    class DeadWorkers:
        def submit(self, fn, *args, **kwargs):
            fut = cf.Future()
            fut.set_exception(RuntimeError("worker died"))
            return fut

    df = study("poisson1d", {"T": [2]}, out=tmp_path, executor=DeadWorkers(), **TINY)
    assert df["status"].tolist() == ["lost"] and "worker died" in df["error"][0]
    df = study("poisson1d", {"T": [2]}, out=tmp_path, executor="serial", **TINY)
    assert df["status"].tolist() == ["ok"]


def test_table_survives_a_crash_while_writing(tmp_path, monkeypatch):
    study("poisson1d", {"T": [2]}, out=tmp_path, executor="serial", **TINY)
    before = (tmp_path / "results.csv").read_bytes()

    def crash(*args):
        raise OSError("disk gone")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError):
        study("poisson1d", {"T": [4]}, out=tmp_path, executor="serial", **TINY)
    assert (tmp_path / "results.csv").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_same_seeds_same_numbers(tmp_path):
    a = study("poisson1d", {"T": [2]}, seeds=[3], out=tmp_path / "a", executor="serial", **TINY)
    b = study("poisson1d", {"T": [2]}, seeds=[3], out=tmp_path / "b", executor="serial", **TINY)
    pd.testing.assert_frame_equal(_comparable(a), _comparable(b))


def test_process_pool_equals_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    grid = {"T": [2, 4]}
    pool = study("poisson1d", grid, seeds=[5], out=tmp_path / "pool", workers=2, **TINY)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dask = study("poisson1d", grid, seeds=[5], out=tmp_path / "dask", executor=client, **TINY)
    assert (pool["status"] == "ok").all() and len(pool) == 2
    pd.testing.assert_frame_equal(_comparable(pool), _comparable(dask))
    # both ran in other processes than this one
    for w in [*pool["worker"], *dask["worker"]]:
        assert w.rsplit(":", 1)[1] != str(os.getpid())


def test_problem_parameters_random_search_and_key_errors(tmp_path):
    grid = {"alpha": [0.05, 0.2], "T": (2, 6), "lr": (1e-3, 1e-1, "log")}
    pts = _random_points(grid, 5, seed=7)
    assert pts == _random_points(grid, 5, seed=7)
    assert all(p["alpha"] in (0.05, 0.2) and 2 <= p["T"] <= 6 and isinstance(p["T"], int)
               and 1e-3 <= p["lr"] <= 1e-1 for p in pts)
    df = study("heat1d", {"alpha": [0.05, 0.2]}, out=tmp_path, executor="serial",
               **{**TINY, "steps": 1})
    assert df["alpha"].tolist() == [0.05, 0.2]
    params = [json.loads((Path(r) / "config.json").read_text())["params"]
              for r in df["run_dir"]]
    assert params == [{"alpha": 0.05}, {"alpha": 0.2}]
    with pytest.raises(ValueError, match="unknown study key 'nuu'"):
        study("burgers", {"nuu": [1]}, out=tmp_path / "x", executor="serial", **TINY)
    with pytest.raises(ValueError, match="not both"):
        study("burgers", {"seed": [1]}, seeds=2, out=tmp_path / "y", executor="serial", **TINY)


def test_parse_grid_values():
    assert parse_grid(["nu=0.005,0.01", "T=8,16", "method=fgrad,bptt", "lr=1e-3"]) == {
        "nu": [0.005, 0.01], "T": [8, 16], "method": ["fgrad", "bptt"], "lr": [0.001]}
    for bad in (["nu"], ["=1"], ["T=1", "T=2"]):
        with pytest.raises(ValueError):
            parse_grid(bad)


def test_plot_study_lines_and_heatmap(tmp_path):
    rows = [{"point_id": f"{i}", "problem": "p", "T": T, "nu": nu, "seed": s, "status": "ok",
             "relative_l2": 0.1 * T * nu + 0.01 * s} for i, (T, nu, s) in
            enumerate((T, nu, s) for T in (4, 8, 16) for nu in (0.01, 0.02) for s in (0, 1))]
    df = pd.DataFrame(rows)
    fig = plot_study(df, x="T", y="relative_l2", hue="nu", path=tmp_path / "lines.png")
    assert (tmp_path / "lines.png").stat().st_size > 1000
    assert len(fig.axes[0].lines) >= 2
    plot_study(df, x="T", y="nu", value="relative_l2", path=tmp_path / "heat.png", spread="std")
    assert (tmp_path / "heat.png").stat().st_size > 1000
    summary = st.summarize(df)
    assert len(summary) == 6 and (summary["ok"] == 2).all()


def test_sweep_command_line(tmp_path, monkeypatch, capsys):
    from spikepde.cli import main

    real = st.study
    monkeypatch.setattr(st, "study", lambda *a, **k: real(
        *a, **{**k, "interior_points": 64, "width": 8, "executor": "serial"}))
    out = tmp_path / "s"
    argv = ["sweep", "poisson1d", "--grid", "T=2,4", "--seeds", "1", "--steps", "2",
            "--method", "bptt", "--out", str(out), "--plot", "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "relative_l2_mean" in text and "2 points, 2 ok" in text
    assert (out / "relative_l2_vs_T.png").exists()
    assert main(argv + ["--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["T"] for r in records] == [2, 4] and [r["seed"] for r in records] == [0, 0]


def test_modules_are_modules_and_verbs_are_functions(tmp_path):
    import importlib
    import types

    import spikepde
    import spikepde.classification as classification
    import spikepde.solving as solving
    import spikepde.sweep as sweep

    for module in (solving, classification, sweep):
        assert isinstance(module, types.ModuleType)
        assert importlib.import_module(module.__name__) is module
    assert spikepde.solve is solving.solve and spikepde.classify is classification.classify
    assert spikepde.study is sweep.study and spikepde.plot_study is sweep.plot_study
    with pytest.raises(ValueError, match="unknown study key"):
        spikepde.study("poisson1d", {"nope": [1]}, out=tmp_path, executor="serial")


def test_points_without_steps_take_each_methods_default_budget(tmp_path):
    from spikepde import load_problem

    problem = load_problem("poisson1d")
    settings = [{"method": "admm"}, {"method": "bptt"}]
    points = _make_points("poisson1d", problem, settings, method="fgrad", steps=None, fixed_options={},
                          fixed_params={}, runs_dir=tmp_path)
    assert [(p.task["method"], p.task["steps"]) for p in points] == [("admm", 20), ("bptt", 2000)]

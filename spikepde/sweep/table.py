"""The results table of a study, ``results.csv``: one row per finished point, rewritten atomically
after every point (see the package docstring for its columns)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..runs import atomic_write_text

TABLE = "results.csv"
SETTINGS_FILE = "study.json"
# columns written after the metrics, in this order
_TAIL = ("error", "point_time_s", "worker", "run_dir")
# columns that differ between two runs of the same point (timings, places): left out when
# comparing tables for equality
VOLATILE = ("wall_time_s", "point_time_s", "worker", "run_dir")


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

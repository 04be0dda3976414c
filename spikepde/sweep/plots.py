"""Summaries and plots of a study table (``matplotlib.figure.Figure``: no pyplot state, no backend
switch)."""
from __future__ import annotations

import os
from pathlib import Path

from ..plotting import new_figure, save_figure


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
    import numpy as np
    import pandas as pd

    data = df[df["status"] == "ok"] if "status" in df else df
    for col in (x, y if value is None else value, *( [y] if value is not None else []),
                *([hue] if hue else [])):
        if col not in df:
            raise ValueError(f"no column '{col}' in the study table (columns: {', '.join(df.columns)})")
    if ax is None:
        fig, ax = new_figure(figsize=(6.4, 4.4), layout="tight")
    else:
        fig = ax.figure
    if value is not None:
        _heatmap(ax, data, x, y, value, logy, np, pd)
    else:
        _lines(ax, data, x, y, hue, spread, logy, np, pd)
    if path is not None:
        save_figure(fig, path)
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

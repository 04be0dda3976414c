"""The reference-solution container and the grid specifications the solvers accept.

A :class:`ReferenceSolution` is a tensor-product grid (one 1-D float64 array per input
variable, space variables first and time last) and the solution values on it, indexed like
``np.meshgrid(*axes, indexing="ij")``.  Points outside a non-box domain (the L-shape) hold NaN;
every metric here ignores them.  Files are plain ``.npz`` archives readable with
``allow_pickle=False``: the metadata travels as a JSON string, never as a pickled object.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

AxisSpec = "int | Mapping[str, Any]"


@dataclass
class ReferenceSolution:
    """Solution values on a tensor-product grid.

    Attributes:
        axes: name -> 1-D float64 coordinates, in input order (space first, time last).
        values: float64 array of shape ``tuple(len(a) for a in axes.values())``, ``ij`` order;
            NaN marks points outside the domain.
        meta: JSON-serialisable facts about how the values were made (solver, parameters,
            resolution, timings).
    """

    axes: dict[str, np.ndarray]
    values: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.axes = {str(k): np.ascontiguousarray(v, dtype=np.float64) for k, v in self.axes.items()}
        self.values = np.ascontiguousarray(self.values, dtype=np.float64)
        for name, a in self.axes.items():
            if a.ndim != 1:
                raise ValueError(f"axis '{name}' must be 1-D, got shape {a.shape}")
        shape = tuple(len(a) for a in self.axes.values())
        if self.values.shape != shape:
            raise ValueError(f"values have shape {self.values.shape}, the axes give {shape}")

    @property
    def names(self) -> list[str]:
        """The axis names in input order."""
        return list(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def points(self) -> np.ndarray:
        """All grid points as an ``[N, d]`` array, rows in the ``ij`` (C) order of ``values``."""
        mesh = np.meshgrid(*self.axes.values(), indexing="ij")
        return np.stack([m.reshape(-1) for m in mesh], axis=1)

    def flat_values(self) -> np.ndarray:
        """The values as an ``[N]`` array matching the rows of :meth:`points`."""
        return self.values.reshape(-1)

    def mask(self) -> np.ndarray:
        """Boolean array (shape of ``values``): True where the reference is defined (finite)."""
        return np.isfinite(self.values)

    def _prediction(self, pred_values: np.ndarray) -> np.ndarray:
        pred = np.asarray(pred_values, dtype=np.float64)
        if pred.size != self.values.size:
            raise ValueError(f"prediction has {pred.size} values, the grid has {self.values.size}")
        return pred.reshape(self.values.shape)

    def relative_l2(self, pred_values: np.ndarray) -> float:
        """``||pred - ref||_2 / ||ref||_2`` over the points where the reference is finite.

        ``pred_values`` may be shaped like ``values`` or flat (``[N]`` or ``[N, 1]``, ``ij``
        order).  A NaN in the prediction where the reference is defined gives NaN: a broken
        prediction must not score well.
        """
        m = self.mask()
        diff = self._prediction(pred_values)[m] - self.values[m]
        return float(np.linalg.norm(diff) / np.linalg.norm(self.values[m]))

    def max_abs_error(self, pred_values: np.ndarray) -> float:
        """``max |pred - ref|`` over the points where the reference is finite (NaN propagates)."""
        m = self.mask()
        diff = self._prediction(pred_values)[m] - self.values[m]
        return float(np.max(np.abs(diff))) if diff.size else 0.0

    # -- files ------------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The archive layout: ``axis_names`` (str array), ``axis_<i>``, ``values``, ``meta``."""
        arrays = {"axis_names": np.array(self.names, dtype=str), "values": self.values,
                  "meta": np.array(json.dumps(self.meta, sort_keys=True, default=_json_default))}
        for i, a in enumerate(self.axes.values()):
            arrays[f"axis_{i}"] = a
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "ReferenceSolution":
        names = [str(n) for n in np.asarray(arrays["axis_names"]).reshape(-1)]
        axes = {n: np.asarray(arrays[f"axis_{i}"]) for i, n in enumerate(names)}
        meta = json.loads(str(np.asarray(arrays["meta"])[()]))
        return cls(axes=axes, values=np.asarray(arrays["values"]), meta=meta)

    def save(self, path: str | Path) -> None:
        """Write an uncompressed ``.npz`` (no pickled objects), atomically (temp file + rename)."""
        import io

        from ..runs import atomic_write_bytes

        buffer = io.BytesIO()
        np.savez(buffer, **self.to_arrays())
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "ReferenceSolution":
        """Read a file written by :meth:`save`; never unpickles."""
        with np.load(path, allow_pickle=False) as data:
            return cls.from_arrays({k: data[k] for k in data.files})


def _json_default(obj: Any) -> Any:
    """Let numpy scalars and arrays through ``json.dumps``."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def make_axis(name: str, spec: "int | Mapping[str, Any] | None", *, n: int, lo: float,
              hi: float, endpoint: bool = True) -> np.ndarray:
    """Build a uniform 1-D axis from a grid entry.

    ``spec`` is ``None`` (use the solver's default), an int (number of points on the default
    interval) or a dict with any of ``n``, ``min``, ``max``, ``endpoint`` overriding the
    defaults ``n``, ``lo``, ``hi``, ``endpoint``.
    """
    if spec is None:
        spec = {}
    elif isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        spec = {"n": int(spec)}
    elif not isinstance(spec, Mapping):
        raise TypeError(f"grid entry for '{name}' must be an int or a dict, got {spec!r}")
    unknown = set(spec) - {"n", "min", "max", "endpoint"}
    if unknown:
        raise ValueError(f"grid entry for '{name}' has unknown keys {sorted(unknown)}")
    count = int(spec.get("n", n))
    if count < 2:
        raise ValueError(f"grid entry for '{name}' needs at least 2 points, got {count}")
    a, b = float(spec.get("min", lo)), float(spec.get("max", hi))
    return np.linspace(a, b, count, endpoint=bool(spec.get("endpoint", endpoint)))


def check_grid_names(grid: Mapping[str, Any] | None, allowed: tuple[str, ...], solver: str) -> dict:
    """Return ``grid`` as a dict after refusing axis names the solver does not have."""
    grid = dict(grid or {})
    unknown = set(grid) - set(allowed)
    if unknown:
        raise ValueError(f"{solver}: unknown grid axes {sorted(unknown)}; expected {list(allowed)}")
    return grid


def resolve_params(params: Mapping[str, float] | None, defaults: Mapping[str, float],
                   solver: str) -> dict[str, float]:
    """Merge ``params`` over ``defaults``; unknown names are an error.

    A silently ignored parameter would give a reference for a different problem than the one
    being scored, so a name the solver does not know raises ``ValueError``.
    """
    params = dict(params or {})
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(f"{solver}: unknown parameters {sorted(unknown)}; expected {sorted(defaults)}")
    return {k: float(params.get(k, v)) for k, v in defaults.items()}

"""The domain box and its excluded boxes: which faces make the boundary, whether the boxes
leave anything, and the evaluation grid of a problem without a reference. Used by the loader
(:mod:`spikepde.problem.loader`) while it checks a file.
"""
from __future__ import annotations

from spikepde.problem.problem import Face, GridAxis


def default_grid(domain, inputs) -> dict[str, GridAxis]:
    """The evaluation grid of a problem without a reference: about 40 000 points, uniform,
    between 21 and 401 per axis."""
    n = min(401, max(21, round(40_000 ** (1 / len(inputs)))))
    return {v: GridAxis(n=n, lo=domain[v][0], hi=domain[v][1], endpoint=True) for v in inputs}


def boundary_faces(domain, excluded, space) -> list[Face]:
    """Every spatial face of the boundary: the outer box's, then each excluded box's faces that
    lie strictly inside the domain box (those on or beyond the outer boundary are not part of
    the boundary of the remaining region)."""
    faces = [Face(v, side) for v in space for side in ("min", "max")]
    for k, box in enumerate(excluded):
        for v, (lo, hi) in box.items():
            d_lo, d_hi = domain[v]
            if d_lo < lo:
                faces.append(Face(v, "min", k))
            if hi < d_hi:
                faces.append(Face(v, "max", k))
    return faces


def covered(domain, excluded, space) -> bool:
    """Whether the excluded boxes cover the whole domain box (checked exactly on the cells
    cut by every box bound: one test point, the cell's centre, per cell)."""
    import numpy as np   # only files with excluded boxes need it

    centres = []
    for v in space:
        cuts = sorted({*domain[v], *(b[v][i] for b in excluded if v in b for i in (0, 1))})
        cuts = np.array([c for c in cuts if domain[v][0] <= c <= domain[v][1]])
        centres.append((cuts[:-1] + cuts[1:]) / 2)
    grids = dict(zip(space, np.meshgrid(*centres, indexing="ij", sparse=True)))
    uncovered = np.ones(tuple(len(c) for c in centres), dtype=bool)
    for box in excluded:
        inside = np.ones_like(uncovered)
        for v, (lo, hi) in box.items():
            inside &= (lo < grids[v]) & (grids[v] < hi)
        uncovered &= ~inside
    return not uncovered.any()

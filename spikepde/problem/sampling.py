"""Uniform sampling of the domain, of boundary faces and of periodic point pairs.

The domain is a box minus excluded boxes. Points are drawn uniformly on a simple superset (the
box, or the union of the nominal face rectangles) and the ones outside the region are rejected;
uniform-then-reject stays uniform on the region. Every random number comes from the
``torch.Generator`` passed in, so the same seed gives the same points.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from spikepde.problem.problem import Face, Problem

#: Rejection rounds before giving up (a region that keeps <1% of candidates is a spec bug).
MAX_ROUNDS = 100


@dataclass(frozen=True)
class FacePatch:
    """A face as a flat rectangle: ``axis`` fixed at ``value``, the others in ``[lo, hi]``."""

    face: Face
    axis: int
    value: float
    lo: torch.Tensor  # [d], with lo[axis] == hi[axis] == value
    hi: torch.Tensor
    measure: float       # area of the rectangle
    free_measure: float  # area of the part that is boundary (excluded boxes removed)


class Geometry:
    """The domain of a problem as tensors, with samplers driven by a torch.Generator."""

    def __init__(self, problem: Problem, dtype: torch.dtype, device: str | torch.device):
        self.names = problem.input_names
        self.dtype, self.device = dtype, torch.device(device)
        as_tensor = lambda values: torch.tensor(values, dtype=torch.float64)  # noqa: E731
        self.lower = as_tensor([problem.domain[n][0] for n in self.names])
        self.upper = as_tensor([problem.domain[n][1] for n in self.names])
        # Open bounds with the outer-boundary sides made inclusive (see Problem.excluded_mask).
        self.open_boxes = [(as_tensor(lo), as_tensor(hi)) for lo, hi in problem.excluded_bounds()]
        self.closed_boxes = [self._closed(box) for box in problem.excluded]

    def _closed(self, box: dict[str, tuple[float, float]]) -> tuple[torch.Tensor, torch.Tensor]:
        lo = torch.full((len(self.names),), -torch.inf, dtype=torch.float64)
        hi = torch.full((len(self.names),), torch.inf, dtype=torch.float64)
        for name, (b_lo, b_hi) in box.items():
            i = self.names.index(name)
            lo[i], hi[i] = b_lo, b_hi
        return lo, hi

    # --------------------------------------------------------------------------- membership
    def outside(self, X: torch.Tensor, own_box: torch.Tensor | None = None) -> torch.Tensor:
        """True for points not in the closed region.

        A point is outside when it lies in an excluded box (open on the inner faces); a point
        on a face of excluded box k also counts as outside when it touches another excluded
        box ``j != own_box`` (a face shared by two adjacent boxes is inside their union).
        """
        out = torch.zeros(X.shape[0], dtype=torch.bool)
        for j, ((lo, hi), (c_lo, c_hi)) in enumerate(zip(self.open_boxes, self.closed_boxes)):
            out |= ((X > lo) & (X < hi)).all(dim=1)
            touches = ((X >= c_lo) & (X <= c_hi)).all(dim=1)
            if own_box is None:
                out |= touches
            else:
                out |= touches & (own_box != j)
        return out

    # --------------------------------------------------------------------------- samplers
    def sample_interior(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` points uniform in the domain (box minus excluded boxes), ``[n, d]``."""
        def draw(m: int):
            u = _uniform(m, len(self.names), generator)
            return self.lower + u * (self.upper - self.lower), None
        return self._finish(_reject(draw, n, self.outside, "the domain interior", len(self.names)))

    def patches(self, faces: tuple[Face, ...], problem: Problem) -> list[FacePatch]:
        """Flat rectangles for ``faces`` (an excluded box's face is clipped to the domain)."""
        result = []
        for face in faces:
            axis = self.names.index(face.variable)
            lo, hi = self.lower.clone(), self.upper.clone()
            if face.box is not None:
                for name, (b_lo, b_hi) in problem.excluded[face.box].items():
                    i = self.names.index(name)
                    lo[i], hi[i] = max(b_lo, lo[i].item()), min(b_hi, hi[i].item())
                bounds = problem.excluded[face.box][face.variable]
            else:
                bounds = problem.domain[face.variable]
            value = bounds[0] if face.side == "min" else bounds[1]
            lo[axis] = hi[axis] = value
            widths = [(hi[i] - lo[i]).item() for i in range(len(self.names)) if i != axis]
            measure = float(torch.tensor(widths, dtype=torch.float64).prod()) if widths else 1.0
            patch = FacePatch(face, axis, value, lo, hi, measure, measure)
            free = self.free_measure(patch) if self.closed_boxes else measure
            result.append(FacePatch(face, axis, value, lo, hi, measure, free))
        return result

    def free_measure(self, patch: FacePatch) -> float:
        """Area of the part of ``patch`` that is domain boundary (excluded parts removed).

        Exact: the patch is cut along every excluded-box bound into cells, each of which is
        wholly kept or wholly removed, and the midpoint of each cell decides.
        """
        axes = [i for i in range(len(self.names)) if i != patch.axis]
        cuts = []
        for i in axes:
            lo, hi = patch.lo[i].item(), patch.hi[i].item()
            inner = {b[k][i].item() for b in self.closed_boxes for k in (0, 1)}
            cuts.append(sorted({lo, hi} | {c for c in inner if lo < c < hi}))
        total = 0.0
        for cell in itertools.product(*[list(zip(c, c[1:])) for c in cuts]):
            mid = patch.lo.clone()
            size = 1.0
            for i, (a, b) in zip(axes, cell):
                mid[i] = (a + b) / 2
                size *= b - a
            own = torch.tensor([-1 if patch.face.box is None else patch.face.box])
            if not self.outside(mid[None], own)[0]:
                total += size
        return total

    def sample_faces(self, patches: list[FacePatch], n: int,
                     generator: torch.Generator) -> torch.Tensor:
        """``n`` points uniform on the union of ``patches`` (by area), ``[n, d]``.

        Each face gets its share of ``n`` in proportion to its boundary area (largest
        remainders, so two end points of a 1-D interval get one point each), and the points
        are shuffled so that any prefix is spread over all faces.
        """
        measures = [p.free_measure for p in patches]
        counts = _apportion(n, measures)
        parts = [self._sample_patch(p, k, generator) for p, k in zip(patches, counts) if k]
        X = torch.cat(parts) if parts else torch.empty(0, len(self.names), dtype=torch.float64)
        order = torch.randperm(X.shape[0], generator=generator, device=generator.device).cpu()
        return self._finish(X[order])

    def _sample_patch(self, patch: FacePatch, n: int, generator: torch.Generator) -> torch.Tensor:
        own = -1 if patch.face.box is None else patch.face.box

        def draw(m: int):
            u = _uniform(m, len(self.names), generator)
            return patch.lo + u * (patch.hi - patch.lo), torch.full((m,), own)
        return _reject(draw, n, self.outside, f"the face {patch.face.name}", len(self.names))

    def face_grid(self, patch: FacePatch, axes: list[torch.Tensor]) -> torch.Tensor:
        """The points of the tensor grid of ``axes`` (one 1-D tensor per input; the patch's
        own axis is replaced by its fixed value) that lie on the patch and on the boundary."""
        coords = [torch.tensor([patch.value], dtype=torch.float64) if i == patch.axis else
                  a.to(torch.float64).cpu() for i, a in enumerate(axes)]
        X = torch.stack(torch.meshgrid(*coords, indexing="ij"), -1).reshape(-1, len(coords))
        X = X[((X >= patch.lo) & (X <= patch.hi)).all(1)]
        if self.closed_boxes:
            own = torch.full((X.shape[0],), -1 if patch.face.box is None else patch.face.box)
            X = X[~self.outside(X, own)]
        return self._finish(X)

    def sample_periodic(self, patch_min: FacePatch, upper_value: float, n: int,
                        generator: torch.Generator) -> torch.Tensor:
        """``n`` points on the min face stacked over their partners on the max face, ``[2n, d]``."""
        def draw(m: int):
            u = _uniform(m, len(self.names), generator)
            low = patch_min.lo + u * (patch_min.hi - patch_min.lo)
            return low, None

        def outside(X, _own):
            high = X.clone()
            high[:, patch_min.axis] = upper_value
            return self.outside(X) | self.outside(high)
        low = _reject(draw, n, outside, f"the periodic faces of {patch_min.face.variable}",
                      len(self.names))
        high = low.clone()
        high[:, patch_min.axis] = upper_value
        return self._finish(torch.cat([low, high]))

    def _finish(self, X: torch.Tensor) -> torch.Tensor:
        return X.to(dtype=self.dtype, device=self.device)


def _uniform(m: int, d: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform [0, 1) numbers in float64 (so face coordinates stay exact), on the CPU when the
    generator is a CPU generator."""
    return torch.rand(m, d, generator=generator, dtype=torch.float64, device=generator.device).cpu()


def _reject(draw, n: int, outside, what: str, d: int) -> torch.Tensor:
    """Draw candidates until ``n`` lie inside; ``draw(m) -> (points, own_box)``."""
    if n < 0:
        raise ValueError(f"number of points must be >= 0, got {n}")
    kept: list[torch.Tensor] = []
    have = 0
    for _ in range(MAX_ROUNDS):
        if have >= n:
            break
        X, own = draw(max(16, 2 * (n - have)))
        X = X[~outside(X, own)]
        kept.append(X)
        have += X.shape[0]
    else:
        if have < n:
            raise RuntimeError(f"could not sample {n} points on {what}: almost every candidate "
                               "falls in an excluded box")
    if not kept:
        return torch.empty(0, d, dtype=torch.float64)
    return torch.cat(kept)[:n]


def _apportion(n: int, weights: list[float]) -> list[int]:
    """Split ``n`` into integer shares proportional to ``weights`` (largest remainders)."""
    total = sum(weights)
    if total <= 0:
        raise RuntimeError("the selected faces have no boundary area inside the domain")
    exact = [n * w / total for w in weights]
    counts = [int(e) for e in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts

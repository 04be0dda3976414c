"""Comparison script: candidate libraries for spikepde's automatic numerical reference solver.

This script is *not* used by the package.  It backs the choice of ``findiff`` (finite-difference
operator matrices + scipy) for the reference solver with numbers, by measuring two alternatives
on problems with known answers:

* **py-pde** (``pde``): cell-centred finite differences on ``CartesianGrid`` with its own
  time steppers;
* **scikit-fem** (``skfem``): finite elements (P1, P2, Q2) for steady problems;
* **findiff**: operator matrices from ``findiff.Diff`` used with scipy (method of lines with
  ``solve_ivp``/Radau, or a sparse direct solve).

Problems (relative L2 error against the closed-form solution at the grid/mesh nodes, and wall
time; timings are single runs — the minimum of two for sub-second cases — under ``nice -n 19``):

1. ``heat1d``:  u_t = 0.1 u_xx on [0, 1] x [0, 1], u(x, 0) = sin(pi x), u = 0 at both ends;
   exact exp(-0.1 pi^2 t) sin(pi x); errors at t = 0.5 and t = 1.  findiff: ``Diff(0, h,
   acc)**2`` for acc = 2..8 (one-sided stencils next to the ends; the largest real part of the
   semi-discrete operator's eigenvalues is reported, and a run is stopped once |u| > 10), and a
   central-only acc = 8 matrix (lower-order central stencils next to the ends, built from
   ``findiff.coefficients``).  py-pde: a ``PDEBase`` subclass with a numpy ``evolution_rate``
   (no expression strings), its built-in ``DiffusionPDE`` (numba) and its ``implicit`` stepper.
2. ``poisson2d``:  -(u_xx + u_yy) = 5 pi^2 sin(pi x) sin(2 pi y) on [0, 1]^2, u = 0 on the
   boundary; exact sin(pi x) sin(2 pi y).  FEM also reports the L2(Ω) error of the field.
3. ``lshape``:  -Δu = 1 on [-1, 1]^2 minus (0, 1]^2, u = 0 on the boundary.  No closed form:
   u(-0.5, -0.5), u(-0.5, 0.5) and max u per refinement, and the relative L2 difference, at the
   nodes of spacing 1/16 (shared by all grids and meshes, so no interpolation), from spikepde's
   own ``poisson_lshape_fd`` solver (5-point FD + Richardson, accurate to about 1e-6), which is
   run in a subprocess with the project's ``.venv`` when that environment exists.

Also reported: library versions, import times (fresh interpreter; whole, and after numpy/scipy)
and for py-pde the first-call time (numba import and compilation of its operators).

Run from the repository root (the libraries live in a separate virtual environment)::

    nice -n 19 /tmp/libvenv/bin/python benchmarks/reference_libraries.py

Prints a Markdown table and writes ``benchmarks/results/reference_libraries.md``.
"""
from __future__ import annotations

import datetime
import importlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.integrate import solve_ivp

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "reference_libraries.md"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"

D_HEAT = 0.1
T_CHECK = (0.5, 1.0)

Row = dict[str, Any]
ROWS: list[Row] = []


def add_row(library: str, problem: str, resolution: str, value: str, seconds: float | None,
            notes: str = "") -> None:
    """Record one table row and echo it, so progress is visible while the script runs."""
    row = {"library": library, "problem": problem, "resolution": resolution, "value": value,
           "time": "" if seconds is None else f"{seconds:.3g}", "notes": notes}
    ROWS.append(row)
    print(" | ".join(str(v) for v in row.values()), flush=True)


def timed(fn: Callable[..., Any], *args: Any, repeat: int = 1) -> tuple[Any, float]:
    """Run ``fn(*args)`` ``repeat`` times; return the last result and the smallest wall time."""
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return out, best


def rel_l2(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(np.linalg.norm(approx - exact) / np.linalg.norm(exact))


def heat_exact(x: np.ndarray, t: float) -> np.ndarray:
    return np.exp(-D_HEAT * np.pi**2 * t) * np.sin(np.pi * x)


def poisson_exact(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sin(np.pi * x) * np.sin(2 * np.pi * y)


def poisson_source(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 5 * np.pi**2 * poisson_exact(x, y)


def fmt_errs(errs: list[float]) -> str:
    return " / ".join(f"{e:.2e}" for e in errs)


# --------------------------------------------------------------------------------------------
# library availability, versions, import times
# --------------------------------------------------------------------------------------------

LIBS = {"findiff": "findiff", "pde": "py-pde", "skfem": "scikit-fem"}


def import_time(module: str) -> tuple[float, float] | None:
    """(whole, own) import time of ``module`` in a fresh interpreter.

    *whole*: ``import module`` first thing (numpy/scipy included if it pulls them);
    *own*: the same after numpy and scipy (sparse, integrate) are already imported.
    """
    out = []
    for pre in ("", "import numpy, scipy, scipy.sparse, scipy.integrate\n"):
        code = pre + f"import time\nt = time.perf_counter(); import {module}\n" \
                     "print(time.perf_counter() - t)"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            return None
        out.append(float(proc.stdout.strip()))
    return out[0], out[1]


def load_libraries() -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """Import what is available; versions and import times of each."""
    modules, versions, imports = {}, {}, {}
    for mod, dist in LIBS.items():
        try:
            modules[mod] = importlib.import_module(mod)
        except ImportError as err:
            print(f"-- {dist} ({mod}) not importable, skipped: {err}")
            continue
        versions[dist] = version(dist)
        imports[dist] = import_time(mod)
    versions["numpy"], versions["scipy"] = np.__version__, scipy.__version__
    try:
        versions["numba"] = version("numba")  # pulled in by py-pde
    except PackageNotFoundError:
        pass
    return modules, versions, imports


# --------------------------------------------------------------------------------------------
# 1. heat1d
# --------------------------------------------------------------------------------------------

def _blow_up(t: float, u: np.ndarray) -> float:
    """Terminal event: stop an unstable semi-discretisation once |u| exceeds 10 (exact: <= 1)."""
    return 10.0 - np.abs(u).max()


_blow_up.terminal = True  # type: ignore[attr-defined]


def _central_reduced(findiff: Any, n: int, acc: int) -> sp.csr_matrix:
    """d^2/dx^2 on n uniform points of [0, 1]: the widest *central* stencil that fits, up to acc."""
    h = 1.0 / (n - 1)
    rows, cols, vals = [], [], []
    for i in range(1, n - 1):
        stencil = findiff.coefficients(deriv=2, acc=min(acc, 2 * min(i, n - 1 - i)))["center"]
        rows += [i] * len(stencil["offsets"])
        cols += list(i + stencil["offsets"])
        vals += list(np.asarray(stencil["coefficients"]) / h**2)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def _radau_mol(a: sp.csc_matrix, u0: np.ndarray) -> Any:
    """u' = a u with Radau and the exact sparse Jacobian, sampled at T_CHECK."""
    return solve_ivp(lambda t, u: a @ u, (0.0, 1.0), u0, method="Radau", t_eval=T_CHECK,
                     rtol=1e-10, atol=1e-12, jac=a, events=_blow_up)


def heat_findiff(findiff: Any) -> None:
    """MOL with findiff's D2 (one-sided stencils at the ends) and a central-only variant."""
    variants = [(f"Diff acc={acc}", acc, None) for acc in (2, 4, 6, 8)]
    variants.append(("central acc=8", 8, "reduced"))
    for label, acc, kind in variants:
        for n in (51, 101, 201):
            x = np.linspace(0.0, 1.0, n)
            if kind is None:
                d2 = (findiff.Diff(0, x[1] - x[0], acc=acc) ** 2).matrix((n,))
            else:
                d2 = _central_reduced(findiff, n, acc)
            a = (D_HEAT * d2[1:-1, 1:-1]).tocsc()  # Dirichlet u = 0: drop boundary unknowns
            max_re = np.linalg.eigvals(a.toarray()).real.max()

            sol, sec = timed(_radau_mol, a, np.sin(np.pi * x[1:-1]), repeat=2)
            note = f"Radau rtol 1e-10 + sparse jac, nfev={sol.nfev}; max Re(eig) {max_re:.3g}"
            if sol.status != 0 or sol.y.shape[1] < len(T_CHECK):
                add_row("findiff", "heat1d", f"N={n} pts, {label}", "FAILED", sec,
                        note + f"; blew up (max abs u > 10) at t={sol.t_events[0][0]:.3g}")
                continue
            errs = []
            for k, t in enumerate(T_CHECK):
                u = np.zeros(n)
                u[1:-1] = sol.y[:, k]
                errs.append(rel_l2(u, heat_exact(x, t)))
            if max_re > 0:
                note += " (unstable modes damped by Radau's large steps)"
            add_row("findiff", "heat1d", f"N={n} pts, {label}", fmt_errs(errs), sec, note)


def heat_pypde(pde: Any) -> None:
    class Heat(pde.PDEBase):
        """u_t = D u_xx with the rate written in numpy (no expression strings)."""

        def __init__(self, diffusivity: float, bc: Any) -> None:
            super().__init__()
            self.diffusivity, self.bc = diffusivity, bc

        def evolution_rate(self, state: Any, t: float = 0) -> Any:
            return self.diffusivity * state.laplace(bc=self.bc)

    bc = {"value": 0.0}

    def run(eq: Any, n: int, solve_kw: dict[str, Any]) -> tuple[list[float], dict]:
        grid = pde.CartesianGrid([[0.0, 1.0]], [n])
        x = grid.axes_coords[0]  # cell centres; the Dirichlet value sits on the cell faces
        store = pde.MemoryStorage()
        _, info = eq.solve(pde.ScalarField(grid, np.sin(np.pi * x)), t_range=1.0,
                           tracker=[store.tracker(interrupts=list(T_CHECK))], ret_info=True,
                           **solve_kw)
        errs = [rel_l2(f.data, heat_exact(x, t)) for t, f in store.items() if t > 0]
        return errs, info["solver"]

    radau = {"solver": "scipy", "method": "Radau", "rtol": 1e-10, "atol": 1e-12}
    eq = Heat(D_HEAT, bc)
    (_, _), first = timed(run, eq, 64, radau)
    for n in (64, 128, 256):
        (errs, info), sec = timed(run, eq, n, radau, repeat=2)
        note = "PDEBase subclass (numpy rate), solver='scipy' Radau rtol 1e-10, FD jac"
        if n == 64:
            note += f"; first call {first:.2f} s (incl. numba import + JIT of laplace)"
        add_row("py-pde", "heat1d", f"{n} cells", fmt_errs(errs), sec,
                note + f", nfev={info['steps']}")

    # built-in class whose rhs is numba-compiled: shows the JIT cost and the compiled speed
    eq_builtin = pde.DiffusionPDE(diffusivity=D_HEAT, bc=bc)
    (_, _), first = timed(run, eq_builtin, 256, radau)
    (errs, _), sec = timed(run, eq_builtin, 256, radau, repeat=2)
    add_row("py-pde", "heat1d", "256 cells", fmt_errs(errs), sec,
            f"built-in DiffusionPDE (numba-compiled rhs), scipy Radau; first call {first:.2f} s "
            "(numba JIT)")

    # its own implicit stepper: backward Euler with fixed-point iteration (needs dt*D*4/h^2 < 1)
    dt = 1e-4
    (errs, _), sec = timed(run, eq, 64, {"solver": "implicit", "dt": dt, "maxerror": 1e-12})
    add_row("py-pde", "heat1d", "64 cells", fmt_errs(errs), sec,
            f"solver='implicit' (backward Euler, 1st order), dt={dt:g}, maxerror 1e-12")


# --------------------------------------------------------------------------------------------
# 2. poisson2d
# --------------------------------------------------------------------------------------------

def _findiff_poisson(findiff: Any, m: int, acc: int) -> float:
    """Solve on the (m+1)^2 grid; relative L2 error at the nodes."""
    g = np.linspace(0.0, 1.0, m + 1)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    lap = findiff.Diff(0, 1.0 / m, acc=acc) ** 2 + findiff.Diff(1, 1.0 / m, acc=acc) ** 2
    inner = np.zeros(xx.shape, bool)
    inner[1:-1, 1:-1] = True
    idx = np.flatnonzero(inner.ravel())
    a_in = (-lap.matrix(xx.shape)).tocsr()[idx][:, idx].tocsc()  # u = 0 on the boundary
    u = np.zeros(xx.size)
    u[idx] = spla.spsolve(a_in, poisson_source(xx, yy).ravel()[idx])
    return rel_l2(u, poisson_exact(xx, yy).ravel())


def poisson_findiff(findiff: Any) -> None:
    for acc in (2, 4, 6):
        for m in (50, 100, 200):
            err, sec = timed(_findiff_poisson, findiff, m, acc, repeat=2 if m < 200 else 1)
            add_row("findiff", "poisson2d", f"m={m} ({m + 1}^2 nodes)", f"{err:.2e}", sec,
                    f"acc={acc} Laplacian, interior rows/cols, spsolve")


def _skfem_poisson(skfem: Any, mesh: Any, element: Any) -> dict:
    """Assemble and solve the manufactured Poisson problem; errors at vertices and in L2(Ω)."""
    from skfem.models.poisson import laplace

    @skfem.LinearForm
    def load(v: Any, w: Any) -> Any:
        return poisson_source(w.x[0], w.x[1]) * v

    @skfem.Functional
    def sq_err(w: Any) -> Any:
        return (w["uh"] - poisson_exact(w.x[0], w.x[1])) ** 2

    t0 = time.perf_counter()
    basis = skfem.Basis(mesh, element)
    a, b = laplace.assemble(basis), load.assemble(basis)
    t1 = time.perf_counter()
    u = skfem.solve(*skfem.condense(a, b, D=basis.get_dofs()))
    t2 = time.perf_counter()
    # ||exact||_L2 on the unit square is 1/2
    err_field = np.sqrt(sq_err.assemble(basis, uh=basis.interpolate(u))) / 0.5
    return {"ndof": basis.N, "assemble": t1 - t0, "solve": t2 - t1, "total": t2 - t0,
            "err_nodes": rel_l2(u[basis.nodal_dofs[0]], poisson_exact(*mesh.p)),
            "err_field": err_field}


def poisson_skfem(skfem: Any) -> None:
    cases = [("P1", skfem.MeshTri, skfem.ElementTriP1, (5, 6, 7, 8)),
             ("P2", skfem.MeshTri, skfem.ElementTriP2, (4, 5, 6, 7)),
             ("Q2", skfem.MeshQuad, skfem.ElementQuad2, (4, 5, 6, 7))]
    for label, mesh_cls, elem_cls, levels in cases:
        for k in levels:
            mesh = mesh_cls().refined(k)  # unit square, h = 2^-k
            r, _ = timed(_skfem_poisson, skfem, mesh, elem_cls(),
                         repeat=2 if k < levels[-1] else 1)
            add_row("scikit-fem", "poisson2d", f"{label}, h=1/{2**k} ({r['ndof']} dofs)",
                    f"{r['err_nodes']:.2e}", r["total"],
                    f"rel L2 at vertices; rel L2(Ω) of the field {r['err_field']:.2e}; "
                    f"assemble {r['assemble']:.2f} s + condense/solve {r['solve']:.2f} s")


# --------------------------------------------------------------------------------------------
# 3. L-shape
# --------------------------------------------------------------------------------------------

LSHAPE_PROBES = ((-0.5, -0.5), (-0.5, 0.5))
#: Comparison lattice: the nodes of spacing 1/16 in the closed L, shared by the 161^2 reference
#: grid (h = 1/80) and every FD grid / FEM mesh below (h = 2^-k, k >= 4).
LATTICE = 16


def _lattice_keys(x: np.ndarray, y: np.ndarray, per_unit: int) -> np.ndarray:
    """Integer (i, j) of points of a lattice with ``per_unit`` nodes per unit length."""
    return np.rint(np.array([x, y]) * per_unit).astype(np.int64)


def _sample(keys: np.ndarray, values: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Values at the points ``want`` (integer keys, same lattice) looked up among ``keys``."""
    index = {(int(i), int(j)): n for n, (i, j) in enumerate(keys.T)}
    return np.array([values[index[(int(i), int(j))]] for i, j in want.T])


def _lattice_points(per_unit: int) -> np.ndarray:
    """Integer keys (on a 1/per_unit lattice) of the 1/LATTICE nodes in the closed L-shape."""
    assert per_unit % LATTICE == 0, per_unit
    g = np.arange(-LATTICE, LATTICE + 1)
    ii, jj = np.meshgrid(g, g, indexing="ij")
    keep = ~((ii > 0) & (jj > 0))
    return np.array([ii[keep], jj[keep]]) * (per_unit // LATTICE)


def lshape_reference() -> tuple[dict[str, np.ndarray] | None, float | None]:
    """spikepde's ``poisson_lshape_fd`` (kappa = 0) on its 161^2 grid, run in the project venv."""
    if not PROJECT_PYTHON.exists():
        print(f"-- {PROJECT_PYTHON} missing: no spikepde reference for the L-shape")
        return None, None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ref.npz"
        code = ("import time, numpy as np\n"
                "from spikepde.reference import solve_reference\n"
                "t = time.perf_counter()\n"
                "r = solve_reference('poisson_lshape_fd', {'kappa': 0.0}, {}, use_cache=False)\n"
                "t = time.perf_counter() - t\n"
                f"np.savez({str(out)!r}, x=r.axes['x'], y=r.axes['y'], u=r.values, t=t)\n")
        proc = subprocess.run(["nice", "-n", "19", str(PROJECT_PYTHON), "-c", code], cwd=ROOT,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"-- spikepde reference failed, skipped:\n{proc.stderr[-2000:]}")
            return None, None
        data = dict(np.load(out))
    return data, float(data["t"])


def _ref_on_lattice(ref: dict[str, np.ndarray]) -> np.ndarray:
    """Reference values at the comparison lattice (reference grid: h = 1/80, ij-indexed)."""
    xx, yy = np.meshgrid(ref["x"], ref["y"], indexing="ij")  # values[i, j] = u(x_i, y_j)
    ok = np.isfinite(ref["u"])
    keys = _lattice_keys(xx[ok], yy[ok], 80)
    return _sample(keys, ref["u"][ok], _lattice_points(80))


def _lattice_note(values: np.ndarray, ref_lattice: np.ndarray | None) -> str:
    if ref_lattice is None:
        return ""
    return f"; rel L2 vs spikepde ref on 1/{LATTICE} lattice {rel_l2(values, ref_lattice):.1e}"


def lshape_skfem(skfem: Any, ref_lattice: np.ndarray | None) -> None:
    """P1/P2 on the refined built-in L mesh; values read at mesh vertices (all probes are)."""
    from skfem.models.poisson import laplace, unit_load

    def run(mesh: Any, element: Any) -> tuple[Any, np.ndarray]:
        basis = skfem.Basis(mesh, element)
        a, b = laplace.assemble(basis), unit_load.assemble(basis)
        return basis, skfem.solve(*skfem.condense(a, b, D=basis.get_dofs()))

    mesh0 = skfem.MeshTri.init_lshaped()
    centroids = mesh0.p[:, mesh0.t].mean(axis=1)
    assert not np.any((centroids[0] > 0) & (centroids[1] > 0)), "removed quadrant is not (+,+)"
    for label, elem_cls, levels in (("P1", skfem.ElementTriP1, (4, 5, 6, 7, 8)),
                                    ("P2", skfem.ElementTriP2, (4, 5, 6, 7))):
        for k in levels:
            (basis, u), sec = timed(run, mesh0.refined(k), elem_cls(),
                                    repeat=2 if k < levels[-1] else 1)
            keys = _lattice_keys(*basis.mesh.p, 2**k)
            vert = u[basis.nodal_dofs[0]]
            at = _sample(keys, vert, np.array(LSHAPE_PROBES).T * 2**k)
            on_lattice = _sample(keys, vert, _lattice_points(2**k))
            add_row("scikit-fem", "lshape", f"{label}, h=1/{2**k}",
                    f"{at[0]:.6f} / {at[1]:.6f} / {u.max():.6f}", sec,
                    f"{basis.N} dofs, max over dofs" + _lattice_note(on_lattice, ref_lattice))


def lshape_findiff(findiff: Any, ref_lattice: np.ndarray | None) -> None:
    """Plain 5-point FD (acc=2), no extrapolation: the building block of spikepde's solver."""
    def run(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g = np.linspace(-1.0, 1.0, 2 * m + 1)
        xx, yy = np.meshgrid(g, g, indexing="ij")
        lap = findiff.Diff(0, 1.0 / m, acc=2) ** 2 + findiff.Diff(1, 1.0 / m, acc=2) ** 2
        inside = ((np.abs(xx) < 1) & (np.abs(yy) < 1)) & ~((xx >= 0) & (yy >= 0))
        idx = np.flatnonzero(inside.ravel())
        a_in = (-lap.matrix(xx.shape)).tocsr()[idx][:, idx].tocsc()
        u = np.zeros(xx.size)
        u[idx] = spla.spsolve(a_in, np.ones(idx.size))  # u = 0 on the boundary nodes
        return xx.ravel(), yy.ravel(), u

    for m in (32, 64, 128, 256):  # cells per unit length, the FEM meshes' spacings
        (xs, ys, u), sec = timed(run, m, repeat=2 if m < 128 else 1)
        keys = _lattice_keys(xs, ys, m)
        at = _sample(keys, u, np.array(LSHAPE_PROBES).T * m)
        on_lattice = _sample(keys, u, _lattice_points(m))
        add_row("findiff", "lshape", f"h=1/{m}", f"{at[0]:.6f} / {at[1]:.6f} / {u.max():.6f}",
                sec, f"5-point, interior nodes, spsolve, {(u > 0).sum()} unknowns"
                + _lattice_note(on_lattice, ref_lattice))


def lshape_reference_row(ref: dict[str, np.ndarray] | None, seconds: float | None) -> None:
    if ref is None:
        return
    xx, yy = np.meshgrid(ref["x"], ref["y"], indexing="ij")
    ok = np.isfinite(ref["u"])
    at = _sample(_lattice_keys(xx[ok], yy[ok], 80), ref["u"][ok], np.array(LSHAPE_PROBES).T * 80)
    add_row("spikepde (findiff-style FD)", "lshape", "161^2 output grid",
            f"{at[0]:.6f} / {at[1]:.6f} / {np.nanmax(ref['u']):.6f}", seconds,
            "poisson_lshape_fd: 5-point + 2 Richardson steps (h=1/160, 1/320, 1/640), ~1e-6 "
            "relative; time of solve_reference in the project venv")


# --------------------------------------------------------------------------------------------

def main() -> None:
    t_start = time.perf_counter()
    modules, versions, imports = load_libraries()
    for dist, sec in imports.items():
        print(f"-- import {dist} (whole, after numpy/scipy): {sec} s")

    if "findiff" in modules:
        heat_findiff(modules["findiff"])
    if "pde" in modules:
        heat_pypde(modules["pde"])
    if "findiff" in modules:
        poisson_findiff(modules["findiff"])
    if "skfem" in modules:
        poisson_skfem(modules["skfem"])

    ref, ref_sec = lshape_reference()
    lshape_reference_row(ref, ref_sec)
    ref_lattice = _ref_on_lattice(ref) if ref is not None else None
    if "findiff" in modules:
        lshape_findiff(modules["findiff"], ref_lattice)
    if "skfem" in modules:
        lshape_skfem(modules["skfem"], ref_lattice)
    total = time.perf_counter() - t_start

    header = [
        "# Reference-solver libraries: accuracy and time against closed-form solutions",
        "",
        ("Generated by `nice -n 19 /tmp/libvenv/bin/python benchmarks/reference_libraries.py` "
         f"on {datetime.date.today().isoformat()}; machine: {platform.machine()}, "
         f"{os.cpu_count()} cores, Python {platform.python_version()}, shared with other work "
         "(times are wall clock under nice 19, single runs or the best of two). "
         f"Whole script: {total:.0f} s."),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        "Import time in a fresh interpreter, whole (incl. numpy/scipy it pulls) / own (numpy and "
        "scipy already imported): "
        + ", ".join(f"{k} {'n/a' if v is None else f'{v[0]:.2f} / {v[1]:.2f} s'}"
                    for k, v in imports.items())
        + ". py-pde imports numba lazily, on the first compiled operator: see its first-call "
        "times.",
        "",
        ("Value column: heat1d — relative L2 at t = 0.5 / t = 1 on the grid points; poisson2d — "
         "relative L2 at the nodes (FEM: vertices); lshape — u(-0.5,-0.5) / u(-0.5,0.5) / max u. "
         "py-pde grids are cell-centred (values at cell centres, Dirichlet data on the faces)."),
        "",
    ]
    cols = ["library", "problem", "resolution", "value", "time", "notes"]
    table = ["| library | problem | resolution | rel L2 or value | time s | notes |",
             "|---|---|---|---|---|---|"]
    table += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in ROWS]
    text = "\n".join(header + table) + "\n"
    print()
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

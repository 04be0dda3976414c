"""Parameter studies (sweeps): many :func:`spikepde.solve` runs over a grid, resumable, on any executor.

The package: :mod:`.points` (what a point is and its identity), :mod:`.table` (the atomic
results table), :mod:`.execution` (workers, executors, :func:`study`), :mod:`.plots`
(:func:`summarize`, :func:`plot_study`). ``spikepde.study`` and ``spikepde.plot_study`` are
the package face's names for :func:`study` and :func:`plot_study`.

    >>> import spikepde
    >>> df = spikepde.study("burgers", grid={"nu": [0.005, 0.01], "T": [8, 16]}, seeds=3,
    ...                     steps=200, out="studies/s1")
    >>> spikepde.plot_study(df, x="T", y="relative_l2", hue="nu", path="studies/s1/err.png")

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
from .execution import available_cores, run_point, study
from .plots import plot_study, summarize, write_plots
from .table import SETTINGS_FILE, TABLE, VOLATILE

__all__ = ["SETTINGS_FILE", "TABLE", "VOLATILE", "available_cores", "plot_study", "run_point", "study",
           "summarize", "write_plots"]

"""The tutorial notebooks run top to bottom, and the committed files carry no outputs.

Each notebook is executed with nbclient in a fresh kernel (the ``python3`` kernel of the
running interpreter) whose working directory and ``$SPIKEPDE_NOTEBOOK_OUT`` are a temporary
folder, so nothing is written into the repository; ``OMP_NUM_THREADS=1`` keeps torch to one
thread. A cell error or a cell running past ``CELL_TIMEOUT`` fails the test.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p.name for p in NB_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 600      # seconds per cell; the notebooks target ~3 minutes in total


def test_the_tutorial_notebooks_exist():
    assert NOTEBOOKS == ["01_quickstart_burgers.ipynb", "02_define_your_own_pde.ipynb",
                         "03_training_methods.ipynb", "04_forward_forward_classification.ipynb",
                         "05_parameter_study.ipynb"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_no_outputs(name):
    nb = json.loads((NB_DIR / name).read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{name} cell {i} has outputs (run tools/strip_notebooks.py)"
            assert cell.get("execution_count") is None, f"{name} cell {i} has an execution count"
    assert nb["cells"][1]["cell_type"] == "code" and "settings" in "".join(nb["cells"][1]["source"]).lower()


def test_notebooks_match_their_generator():
    """notebooks/*.ipynb are exactly what tools/make_notebooks.py writes (edit the generator)."""
    pytest.importorskip("nbformat")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "make_notebooks.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # the kernel is a child process: it inherits this environment
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    monkeypatch.setenv("SPIKEPDE_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.delenv("MPLBACKEND", raising=False)     # the notebooks' own inline backend
    monkeypatch.setenv("SPIKEPDE_CACHE", os.environ.get("SPIKEPDE_CACHE", str(tmp_path / "cache")))
    nb = nbformat.read(NB_DIR / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    t0 = time.perf_counter()
    client.execute()          # raises CellExecutionError naming the cell on any error
    elapsed = time.perf_counter() - t0
    print(f"{name}: {elapsed:.0f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    # every notebook draws figures; none showing up means a backend switch swallowed them
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) >= 2, f"{name}: only {len(images)} figure(s) displayed"
    assert not list((ROOT / "notebooks").glob("*.nbconvert.ipynb"))

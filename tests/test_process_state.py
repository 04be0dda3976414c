"""The library changes no process-wide state: no flush-to-zero flag per step, no matplotlib
backend switch, and its surrogate derivatives stay clear of subnormal numbers by themselves."""
from __future__ import annotations

import matplotlib
import pandas as pd
import pytest
import torch

import spikepde
from spikepde.snn.surrogate import make_surrogate

TINY = dict(interior_points=64, width=8, depth=2, T=4, quiet=True)


@pytest.fixture()
def forbid_process_switches(monkeypatch):
    def refuse(name):
        def call(*args, **kwargs):
            raise AssertionError(f"the library called {name}{args}")
        return call
    monkeypatch.setattr(torch, "set_flush_denormal", refuse("torch.set_flush_denormal"))
    monkeypatch.setattr(torch, "set_num_threads", refuse("torch.set_num_threads"))
    monkeypatch.setattr(matplotlib, "use", refuse("matplotlib.use"))


def test_solve_classify_and_plots_switch_nothing(forbid_process_switches, tmp_path):
    for method in ("fgrad", "bptt", "admm"):
        spikepde.solve("burgers", method=method, steps=2, out=tmp_path / method, **TINY)
    r = spikepde.classify("digits", "ff", epochs=1, hidden=(20, 20), limit=200, out=tmp_path / "c", quiet=True)
    assert r.paths["confusion_plot"].exists()
    df = pd.DataFrame({"T": [4, 8], "relative_l2": [0.5, 0.4], "status": ["ok", "ok"]})
    spikepde.plot_study(df, x="T", path=tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.parametrize("name", ["sigmoid", "gaussian", "atan", "fast_sigmoid"])
def test_surrogate_derivatives_are_never_subnormal(name):
    """Far below threshold a surrogate factor would underflow into float32's subnormal range
    (about ten times slower on x86 CPUs, in every product it enters): it is 0 instead."""
    sur = make_surrogate(name)
    x = torch.linspace(-300.0, 300.0, 200001)
    tiny = torch.finfo(torch.float32).tiny
    for d in sur.derivatives(x, 4):
        nonzero = d[d != 0].abs()
        assert float(nonzero.min()) >= tiny
    # near threshold nothing is cut: the float64 values agree with float32 to rounding
    near = torch.linspace(-1.0, 1.0, 101)
    for a, b in zip(sur.derivatives(near, 2), sur.derivatives(near.double(), 2)):
        torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=1e-6)

"""Write the tutorial notebooks in ``notebooks/`` from the cell sources below (no outputs).

    python tools/make_notebooks.py            # (re)write notebooks/*.ipynb
    python tools/make_notebooks.py --check    # exit 1 if a committed notebook differs

Keeping the notebooks as Python strings here makes them easy to review in a diff and to keep
true to the code: ``tests/test_notebooks.py`` executes every notebook and checks that the
committed files are exactly what this script writes (so outputs are never committed).

Conventions shared by every notebook:

* the first code cell is the **settings** cell: every size that sets the run time lives there,
  small by default (each notebook runs in about three minutes on a 2-core CPU), with a comment
  saying how to scale it up;
* files go to ``$SPIKEPDE_NOTEBOOK_OUT`` (the tests point it at a temporary folder) or else to a
  fresh temporary folder, never into the repository;
* torch uses one thread (``OMP_NUM_THREADS=1``); on a machine of your own, raise it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"

# --------------------------------------------------------------------------------- helpers
PRELUDE = '''\
import os
os.environ.setdefault("OMP_NUM_THREADS", "1")    # one thread: fast on a shared machine
import tempfile
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="IProgress not found")   # tqdm without ipywidgets

import torch
torch.set_num_threads(1)

%matplotlib inline
from IPython.display import Image, display

OUT = Path(os.environ.get("SPIKEPDE_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="spikepde-nb-")) / "{name}"
OUT.mkdir(parents=True, exist_ok=True)
print("files go to", OUT)'''


def md(text: str):
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str):
    return nbformat.v4.new_code_cell(text.strip("\n"))


def settings(name: str, body: str):
    return code(PRELUDE.format(name=name) + "\n\n" + body.strip("\n"))


# --------------------------------------------------------------------------- 01 quickstart
NB01 = [
    md(r"""
# 01 · Quick start: Burgers' equation with a spiking surrogate

We train a **spiking neural network** (leaky integrate-and-fire neurons) to solve the viscous
Burgers equation

$$u_t + u\,u_x - \nu\,u_{xx} = 0,\qquad x\in[-1,1],\ t\in[0,1],\qquad u(x,0) = -\sin\pi x,\quad u(\pm1,t)=0,$$

with $\nu = 0.01/\pi$: a shock forms at $x=0$ around $t\approx 0.3$. The network is trained the
physics-informed way (the loss is a mean squared PDE residual — for the spiking network in its
*weak form*, see below; the initial and boundary conditions are built into the output,
$u = -\sin\pi x + t(1-x^2)\,N(x,t)$ with $N$ the network, so they hold exactly), but **without
back-propagation**: `method="fgrad"` estimates the gradient from forward-mode passes only.

Then we compare with the two back-propagation baselines: the same spiking network trained by
surrogate-gradient BPTT (`bptt`) and a classical tanh-MLP PINN (`ann`).

The first cell holds every setting that controls the run time.
"""),
    settings("01_quickstart", '''
# Small settings: the whole notebook takes about three minutes on a 2-core CPU.
# To scale up, raise STEPS (the catalogue budget for burgers is 2000), WIDTH (64), T (8) and
# INTERIOR (2540); or drop the extra keywords to use the package defaults.
STEPS = 100          # optimisation steps of every method
WIDTH = 32           # LIF neurons per hidden layer (2 hidden layers)
T = 4                # time steps of the spiking network
K = 4                # fgrad: noise draws per hidden layer and step (the default)
LR = 1e-2            # Adam learning rate of the spiking methods (the default; cosine decay to LR/20)
INTERIOR = 256       # collocation points of the tanh-MLP baseline (strong form); the spiking
                     # methods train on the weak form's fixed 70 x 70 quadrature grid instead
LBFGS_STEPS = 100    # L-BFGS iterations after Adam for the tanh-MLP baseline
LSQ_TESTS = 32       # lsq (the default method): B-splines in x per time slab (default 112; 16 along a slab)
SEED = 0'''),
    md(r"""
## The problem

`load_problem` reads `problems/burgers.toml` (a plain TOML file, parsed without executing any
code) into a `Problem` whose residual is a **sympy** expression. `pretty()` prints the equation,
domain, conditions, parameters, reference and the published errors of other methods.
"""),
    code('''
import spikepde

print(spikepde.list_problems())
problem = spikepde.load_problem("burgers")
print(problem.pretty())'''),
    code('''
problem.residuals[0]      # the residual as a sympy expression (ν stays a symbol)'''),
    md(r"""
## The reference solution

Every score is measured against a trusted reference. For Burgers it is the Cole–Hopf
transform: $u = -2\nu\,\partial_x \log\phi$ with $\phi$ solving the heat equation, evaluated by
Gauss–Hermite quadrature. It is computed once and cached (`$SPIKEPDE_CACHE`).
"""),
    code('''
import matplotlib.pyplot as plt

ref = spikepde.get_reference(problem)
x, t = ref.axes["x"], ref.axes["t"]
fig, ax = plt.subplots(figsize=(6, 3))
im = ax.pcolormesh(t, x, ref.values, cmap="RdBu_r", shading="auto")
ax.set(xlabel="t", ylabel="x", title="reference u(x, t)")
fig.colorbar(im, ax=ax)'''),
    md(r"""
## Solve with the forward gradient

**The loss: the weak form.** The spiking network's output is a linear map of spike counts, so
it is piecewise constant in $(x,t)$: its true derivatives are zero almost everywhere, and a
residual built from the network's $u_x$, $u_{xx}$, $u_t$ would have to use the *surrogate*
derivatives, which describe a different field. So `fgrad` and `bptt` train, by default
(`residual_form="auto"`), on the residual integrated against smooth test functions $\psi_k$
(cubic B-splines, 32 per axis, vanishing at the edges of the domain), with every derivative moved
onto $\psi_k$ by parts:

$$g_k = \int (u_t + u\,u_x - \nu\,u_{xx})\,\psi_k
= -\int \Big(u\,\partial_t\psi_k + \tfrac{u^2}{2}\,\partial_x\psi_k + \nu\,u\,\partial_{xx}\psi_k\Big),
\qquad L = \frac1n\sum_k g_k^2 .$$

The integrals are midpoint sums on a fixed $70\times70$ grid, where the network only has to
supply *values* of $u$.

**The gradient: activity perturbation, no backward pass.** For every hidden layer $\ell$ and
each of $K$ draws, a step adds Rademacher noise $U$ (entries $\pm1$, independent for every
training point $b$, time step and neuron) to the layer's input currents
$I_\ell = W_\ell s_{\ell-1} + b_\ell$ and carries it forward as a tangent: one forward-mode pass
gives every point's output tangent $\tilde u_b$. The exact per-point error signal
$e_b = \partial L/\partial u_b$ of the loss is cheap (forward mode too). Because point $b$'s
output depends only on its own noise,

$$d_b = e_b\,\tilde u_b = \delta_b\cdot U_b,\qquad \delta_b = \frac{\partial L}{\partial I_{\ell,b}},
\qquad\text{and}\qquad \hat\delta_b = d_b\,U_b,\qquad \hat G_\ell = \sum_b \hat\delta_b\,s_{\ell-1,b}^\top$$

(summed over the time steps too) are **unbiased**: $\mathbb E[\hat\delta_b] =
\mathbb E[U_bU_b^\top]\,\delta_b = \delta_b$, so $\mathbb E[\hat G_\ell] = \partial L/\partial W_\ell$.
Adam steps on the mean over the $K$ draws. A second pass replays the forward with the same noise
(regenerated from the step's seed) to accumulate $\hat G_\ell$, so memory does not grow with $T$;
the readout is linear in the firing rates and gets its exact gradient $\sum_b e_b\,\bar r_b^\top$.
The spike is an exact Heaviside step; tangents pass through it with a smooth surrogate derivative
(a sigmoid's), so $\hat G$ is unbiased for the same surrogate gradient that BPTT computes.

`K` counts noise draws *per hidden layer* (default 4): here $2K$ tangents ride along in the
forward pass. Every training point contributes its own estimate, so at the same number of
tangents the estimate is far better aligned with the true gradient (about 4× the cosine) than
*weight* perturbation, $\hat g = \frac1K\sum_k(\nabla L\cdot v_k)\,v_k$ with random directions
$v_k$ over all parameters, which is still available as `perturbation="global"` or
`"layerwise"` (`03_training_methods.ipynb` compares them).
"""),
    code('''
r_fgrad = spikepde.solve(problem, method="fgrad", steps=STEPS, seed=SEED, out=OUT / "fgrad",
                         quiet=True, width=WIDTH, T=T, K=K, lr=LR)
print("perturbation:", r_fgrad.config.perturbation, "| PDE loss:", r_fgrad.config.residual_form,
      "| forward-pass equivalents per step:", r_fgrad.metrics["forward_passes_per_step"])
m = r_fgrad.metrics
print(f"relative L2 error {m['relative_l2']:.3f} (at initialisation {m['initial_relative_l2']:.3f})")
print(f"training time {m['wall_time_s']:.1f} s, spike rate {m['spike_rate']:.2f}, "
      f"energy estimate {m['energy_pj_per_sample']:.0f} pJ per evaluation point")
sorted(r_fgrad.paths)'''),
    md(r"""
The run directory holds `config.json` (enough to reproduce the run), `metrics.json`,
`history.json`, `checkpoint.pt`, `field.npz` (the prediction, reference and error on the
evaluation grid, with its axes — the same arrays as `r.field_arrays()`) and two pictures. `fields.png` shows the surrogate, the reference
and the **pointwise error**, so you can see *where* the surrogate is wrong (with this tiny budget:
everywhere near the shock).
"""),
    code('''
from IPython.display import Image, display

display(Image(filename=str(r_fgrad.paths["error_plot"])))
display(Image(filename=str(r_fgrad.paths["loss_plot"])))'''),
    md(r"""
The trained surrogate is a callable on new points `[N, 2]` with columns `(x, t)` (space first,
time last). `plot_fields` draws any prediction on the reference grid.
"""),
    code('''
import numpy as np

print(r_fgrad.surrogate([[0.25, 0.5], [-0.5, 0.9]]))

# the same picture, drawn from the arrays the result carries
spikepde.plotting.plot_fields(r_fgrad.reference, r_fgrad.predicted, OUT / "fgrad_again.png")
print("max |error|:", np.nanmax(np.abs(r_fgrad.predicted - r_fgrad.reference.values)))'''),
    md(r"""
## The default: random spiking features, readout solved in closed form (`lsq`)

`spikepde.solve(problem)` without a method runs `method="auto"`, which picks `lsq` here. Its
field is **separable**: one small LIF network per input (x and t), random and never trained;
the spike raster of every neuron at every time step is a feature, and a readout couples the two
axes. The weak residual is linear in that readout for a linear PDE (one least-squares solve);
Burgers is nonlinear, so each step is a **Gauss–Newton** step — the weak residual linearised at
the current field, the readout re-solved, a line search keeping the loss from rising — and, as
an evolution equation, it is **marched in time**: 20 slabs, each with its own random networks
and readout, solved one after the other, each starting exactly where the previous one ended. No
gradient of any kind is computed. Here `LSQ_TESTS` B-splines in x and 8 along each slab (the
default is 112 × 16, which gives 1.3e-2 in about a minute on 2 cores; one global solve over the
whole interval 2.2e-2 in two).
"""),
    code('''
r_lsq = spikepde.solve(problem, seed=SEED, out=OUT / "lsq", quiet=True, weak_tests=[LSQ_TESTS, 8])
print("method:", r_lsq.config.method, "| time slabs:", r_lsq.metrics["lsq_time_slabs"],
      "| Gauss-Newton steps per slab:", r_lsq.metrics["lsq_newton_steps"])
print(f"relative L2 {r_lsq.metrics['relative_l2']:.2e} in {r_lsq.metrics['wall_time_s']:.0f} s; "
      f"spike rate {r_lsq.metrics['spike_rate']:.2f}")'''),
    md(r"""
## Compare with the back-propagation baselines

* `bptt`: the same spiking network, weak-form loss, quadrature grid and step budget, trained by
  reverse-mode autograd through the surrogate spike derivative (back-propagation through time).
* `ann`: a 3 × 20 tanh multilayer perceptron (the usual PINN), Adam then L-BFGS, in float64; its
  derivatives are exact, so it keeps the strong form (the pointwise residual at `INTERIOR`
  collocation points).
"""),
    code('''
import pandas as pd

r_bptt = spikepde.solve(problem, method="bptt", steps=STEPS, seed=SEED, out=OUT / "bptt",
                        quiet=True, width=WIDTH, T=T, lr=LR)
r_ann = spikepde.solve(problem, method="ann", steps=STEPS, seed=SEED, out=OUT / "ann",
                       quiet=True, interior_points=INTERIOR, lbfgs_steps=LBFGS_STEPS)
rows = {name: r.metrics for name, r in [("lsq", r_lsq), ("fgrad", r_fgrad), ("bptt", r_bptt), ("ann", r_ann)]}
pd.DataFrame(rows).T[["relative_l2", "max_abs_error", "wall_time_s", "n_params", "spike_rate",
                      "energy_pj_per_sample"]]'''),
    code('''
fig, axes = plt.subplots(1, 4, figsize=(16, 3), sharey=True)
for ax, (name, r) in zip(axes, [("lsq", r_lsq), ("fgrad", r_fgrad), ("bptt", r_bptt), ("ann", r_ann)]):
    err = np.abs(r.predicted - r.reference.values)
    im = ax.pcolormesh(t, x, err, cmap="magma", shading="auto")
    ax.set(title=f"{name}: |error|, rel. L2 {r.metrics['relative_l2']:.2f}", xlabel="t")
    fig.colorbar(im, ax=ax)
axes[0].set_ylabel("x")'''),
    md(r"""
## What to expect, and how to scale up

With 100 steps none of the gradient-trained methods resolves the shock; `lsq` gets closest
without any gradient. The point of this notebook is the workflow. The same calls with the package defaults — `steps=None` (the problem's budget, 2000
steps), `width=64`, `T=8`, `K=4` noise draws per hidden layer, the weak form, `lr=1e-2` with a
cosine decay — and the catalogue's 2540 collocation points for `ann` take minutes to tens of
minutes on a CPU; `device="cuda"` moves the spiking methods to a GPU. From the shell:

```bash
spikepde solve burgers                                             # the default: lsq, 20 time slabs
spikepde solve burgers --method fgrad --steps 2000 --out runs/b1   # activity perturbation, K=4, weak form
spikepde solve burgers --method fgrad --perturbation global --K 8 --out runs/b2   # weight perturbation
spikepde solve --resume runs/b1      # continue an interrupted run to the same result
```

Next: `02_define_your_own_pde.ipynb` writes a new problem, `03_training_methods.ipynb` compares
the training methods in detail.
"""),
]

# ----------------------------------------------------------------------- 02 your own PDE
NB02 = [
    md(r"""
# 02 · Define your own PDE

We write a new problem twice — once as a Python dict built from **sympy** expressions, once as a
**problem file** (TOML) — check its closed-form solution symbolically, and solve it. Then a PDE
whose solution nobody knows (section 7): the package computes its reference itself.

The equation: diffusion with linear decay (a cable equation),

$$u_t = D\,u_{xx} - k\,u,\qquad x\in[0,1],\ t\in[0,1],\qquad u(x,0)=\sin\pi x,\quad u(0,t)=u(1,t)=0.$$

Trying $u = a(t)\sin\pi x$ gives $a' = -(D\pi^2 + k)\,a$, so the exact solution is

$$u(x,t) = e^{-(D\pi^2+k)\,t}\,\sin\pi x .$$
"""),
    settings("02_own_pde", '''
# Small settings (about two minutes on a 2-core CPU). To scale up: STEPS=2000, WIDTH=64, T=8
# (K=4 is already the default).
STEPS = 150
WIDTH = 32           # LIF neurons per hidden layer (2 hidden layers)
T = 4                # time steps of the spiking network
K = 4                # fgrad: noise draws per hidden layer and step (activity perturbation)
LR = 1e-2            # the default for the spiking methods (cosine decay to LR/20)
SEED = 0
D_VALUE, K_VALUE = 0.1, 0.5     # diffusivity D and decay rate k'''),
    md(r"""
## 1. The PDE in sympy

The unknown is a sympy function `u(x, t)`; the residual is the expression that must vanish.
"""),
    code('''
import sympy as sp

x, t = sp.symbols("x t", real=True)
D, k = sp.symbols("D k", positive=True)
u = sp.Function("u")(x, t)

residual = sp.diff(u, t) - D * sp.diff(u, x, 2) + k * u
exact = sp.exp(-(D * sp.pi**2 + k) * t) * sp.sin(sp.pi * x)
residual'''),
    md(r"""
## 2. Check the closed form symbolically

Substitute the candidate into the residual, carry out the derivatives and simplify: the result
must be exactly zero. The conditions are checked the same way.
"""),
    code('''
on_exact = residual.subs(u, exact).doit()
print("residual at the closed form:", sp.simplify(on_exact))
print("initial condition u(x,0) - sin(pi x):", sp.simplify(exact.subs(t, 0) - sp.sin(sp.pi * x)))
print("boundary values:", exact.subs(x, 0), ",", sp.simplify(exact.subs(x, 1)))
assert sp.simplify(on_exact) == 0'''),
    md(r"""
For contrast, a *wrong* candidate (decay rate $D\pi^2$ only, forgetting $k$) leaves a nonzero
residual:
"""),
    code('''
wrong = sp.exp(-D * sp.pi**2 * t) * sp.sin(sp.pi * x)
sp.simplify(residual.subs(u, wrong).doit())'''),
    md(r"""
## 3. From sympy to a problem specification

Problem formulas are plain text with Python syntax, and derivatives of the output are written
`u_x`, `u_xx`, `u_t`, … So we replace each sympy `Derivative` by a symbol with that name and
print the expression. The same structure as a problem file is a Python dict, which
`problem_from_dict` validates exactly like a file (unknown fields and unsafe formulas are errors).
"""),
    code('''
def to_formula(expr):
    """sympy expression in u(x, t) -> the text of a problem-file formula."""
    names = {}
    for d in expr.atoms(sp.Derivative):
        letters = "".join(str(var) * n for var, n in d.variable_count)
        names[d] = sp.Symbol(f"u_{letters}")
    return str(expr.xreplace(names).subs(u, sp.Symbol("u")))

residual_text = to_formula(residual)
exact_text = str(exact)
print(residual_text, "|", exact_text)'''),
    code('''
from spikepde.problem.spec import problem_from_dict

spec = {
    "name": "cable1d",
    "title": "1-D diffusion with linear decay (cable equation)",
    "variables": {"space": ["x"], "time": "t"},
    "domain": {"x": [0.0, 1.0], "t": [0.0, 1.0]},
    "parameters": {"D": {"default": D_VALUE, "min": 0.0, "description": "diffusivity"},
                   "k": {"default": K_VALUE, "min": 0.0, "description": "decay rate"}},
    "pde": {"residual": residual_text},
    "conditions": [{"kind": "initial", "value": "sin(pi*x)"},
                   {"kind": "dirichlet", "on": "boundary", "value": "0"}],
    "reference": {"exact": exact_text, "grid": {"x": 101, "t": 101}},
    "budget": {"steps": 2000, "interior_points": 2000},
}
from_dict = problem_from_dict(spec)
print(from_dict.pretty())'''),
    md(r"""
## 4. The same problem as a file

This is what you would save next to your code (or add to `problems/` for the catalogue); see
`docs/problem_format.md` for every field.
"""),
    code('''
toml_text = f"""
name = "cable1d"
title = "1-D diffusion with linear decay (cable equation)"
description = "u_t = D u_xx - k u, u(x, 0) = sin(pi x), u = 0 at both ends."

[variables]
space = ["x"]
time = "t"

[domain]
x = [0.0, 1.0]
t = [0.0, 1.0]

[parameters]
D = {{ default = {D_VALUE}, min = 0.0, description = "diffusivity" }}
k = {{ default = {K_VALUE}, min = 0.0, description = "decay rate" }}

[pde]
residual = "{residual_text}"

[[conditions]]
kind = "initial"
value = "sin(pi*x)"

[[conditions]]
kind = "dirichlet"
on = "boundary"
value = "0"

[reference]
exact = "{exact_text}"
grid = {{ x = 101, t = 101 }}

[budget]
steps = 2000
interior_points = 2000
"""
path = OUT / "cable1d.toml"
path.write_text(toml_text)

import spikepde

problem = spikepde.load_problem(path)
assert problem.residuals == from_dict.residuals
problem.residuals[0]'''),
    md(r"""
The loaded problem is checked symbolically too, this time with the package's own objects: its
residual in terms of `problem.u`, and its closed form `problem.exact`.
"""),
    code('''
check = problem.residuals[0].subs(problem.u, problem.exact).doit()
print("residual of the loaded problem at its closed form:", sp.simplify(check))
assert sp.simplify(check) == 0'''),
    md(r"""
Mistakes are caught when the file is loaded, with the field named — here a misspelt key:
"""),
    code('''
bad = dict(spec, conditions=[{"kind": "initial", "vaule": "sin(pi*x)"}])
try:
    problem_from_dict(bad)
except spikepde.SpecError as err:
    print("SpecError:", err)'''),
    md(r"""
## 5. Solve it

The problem object goes straight into `solve`. Parameters can be changed without editing the
file: `spikepde.load_problem(path, k=1.0)` or `problem.with_params(k=1.0)`.

`fgrad` trains on the **weak form** of the residual by default: every term here is a constant
times a derivative of $u$ or a function of $u$ alone ($k\,u$), so it can be integrated by parts
against B-spline test functions, and the spiking network only supplies values of $u$ on a
quadrature grid (`residual_form="strong"` would use the pointwise residual at the budget's
interior points instead). The initial and boundary conditions are loss terms at their own
points.
"""),
    code('''
r = spikepde.solve(problem, method="fgrad", steps=STEPS, seed=SEED, out=OUT / "cable1d-fgrad",
                   quiet=True, width=WIDTH, T=T, K=K, lr=LR)
print("PDE loss:", r.config.residual_form)
print(f"relative L2 error {r.metrics['relative_l2']:.3f} "
      f"(at initialisation {r.metrics['initial_relative_l2']:.3f}), "
      f"{r.metrics['wall_time_s']:.1f} s")

from IPython.display import Image, display
display(Image(filename=str(r.paths["error_plot"])))'''),
    code('''
import numpy as np
import matplotlib.pyplot as plt

xs = np.linspace(0, 1, 101)
fig, ax = plt.subplots(figsize=(6, 3))
for tt, c in [(0.0, "C0"), (0.5, "C1"), (1.0, "C2")]:
    pts = np.stack([xs, np.full_like(xs, tt)], axis=1)
    ax.plot(xs, problem.exact_numpy(pts), c, label=f"exact, t={tt}")
    ax.plot(xs, r.surrogate(pts), c + "--", label=f"spiking surrogate, t={tt}")
ax.set(xlabel="x", ylabel="u")
ax.legend(fontsize=7)'''),
    md(r"""
## 6. Conditions satisfied exactly: an output transform

Instead of penalising the initial and boundary mismatch, the surrogate can be written as
$u = \text{offset} + \text{factor}\cdot N(x,t)$ with $N$ the network: choose
$\text{offset}=\sin\pi x$ and $\text{factor}=t\,x(1-x)$, and every $N$ satisfies both
conditions. Check it symbolically for an arbitrary function $N$, then add it to the spec
(`[hard_constraint]` in a file; the loader checks it too).
"""),
    code('''
N = sp.Function("N")(x, t)
offset, factor = sp.sin(sp.pi * x), t * x * (1 - x)
transformed = offset + factor * N
print("at t=0:", sp.simplify(transformed.subs(t, 0) - sp.sin(sp.pi * x)),
      "| at x=0:", transformed.subs(x, 0), "| at x=1:", sp.simplify(transformed.subs(x, 1)))

hard = problem_from_dict(dict(spec, hard_constraint={"offset": str(offset), "factor": str(factor),
                                                     "enforces": [0, 1]}))
r_hard = spikepde.solve(hard, method="fgrad", steps=STEPS, seed=SEED, out=OUT / "cable1d-hard",
                        quiet=True, width=WIDTH, T=T, K=K, lr=LR)
print(f"relative L2 error: conditions as loss terms {r.metrics['relative_l2']:.3f}, "
      f"exact by the transform {r_hard.metrics['relative_l2']:.3f}")'''),
    md(r"""
## 7. A PDE nobody has solved

Most equations have no closed form. Leave `[reference]` out: where one of its schemes applies,
the package computes an **automatic reference** from the file's own equation (method of lines in
1-D with time, finite differences with Newton's method for steady 1-D/2-D problems), doubling
its grid until two solutions agree, and reports its own accuracy beside the score. Every run
also reports the **residual metrics** of the trained field (no solution needed).

Nonlinear diffusion $u_t = ((1+u^2)\,u_x)_x$, written out as $u_t - (1+u^2)u_{xx} - 2u\,u_x^2 = 0$:
"""),
    code('''
nonlinear = problem_from_dict({
    "name": "nonlinear_heat", "title": "1-D nonlinear heat equation",
    "variables": {"space": ["x"], "time": "t"},
    "domain": {"x": [0.0, 1.0], "t": [0.0, 0.5]},
    "pde": {"residual": "u_t - (1 + u**2)*u_xx - 2*u*u_x**2"},
    "conditions": [{"kind": "initial", "value": "sin(pi*x)"},
                   {"kind": "dirichlet", "on": "boundary", "value": "0"}],
})
print(nonlinear.pretty().split("Reference")[1].split("Default budget")[0])
auto_ref = spikepde.get_reference(nonlinear)
print({k: auto_ref.meta[k] for k in ("method", "resolution", "error_estimate", "time_s")})'''),
    code('''
r_nl = spikepde.solve(nonlinear, method="fgrad", steps=STEPS // 3, seed=SEED, out=OUT / "nonlinear-fgrad",
                      quiet=True, width=WIDTH, T=T, K=K, lr=LR)
for key in ("relative_l2", "reference_solver", "reference_error_estimate",
            "strong_residual_rms", "condition_rms"):
    print(f"{key:>26}: {r_nl.metrics[key]}")'''),
    md(r"""
Where no scheme applies (here: two space variables *and* time) the file still solves, with
residual metrics only, and `show` says why; writing `solver = "auto"` in such a file is an error
that names the field.
"""),
    code('''
heat_2d = dict(nonlinear.spec, name="heat_2d", variables={"space": ["x", "y"], "time": "t"},
               domain={"x": [0.0, 1.0], "y": [0.0, 1.0], "t": [0.0, 0.5]},
               pde={"residual": "u_t - u_xx - u_yy"},
               conditions=[{"kind": "initial", "value": "sin(pi*x)*sin(pi*y)"},
                           {"kind": "dirichlet", "on": "boundary", "value": "0"}])
print(problem_from_dict(heat_2d).reference.declined)
try:
    problem_from_dict(dict(heat_2d, reference={"solver": "auto", "grid": {"x": 21, "y": 21, "t": 11}}))
except spikepde.SpecError as err:
    print("SpecError:", err)'''),
    md(r"""
## Scaling up

Raise the settings in the first cell (or drop them: `steps=None` takes the problem's budget).
From the shell the file works as is:

```bash
spikepde show path/to/cable1d.toml
spikepde solve path/to/cable1d.toml --param k=1.0 --steps 2000 --out runs/cable
```
"""),
]

# ---------------------------------------------------------------- 03 training methods
NB03 = [
    md(r"""
# 03 · Training methods side by side

One problem, one spiking network, one loss and one step budget; only the way the parameters
are updated changes (`lsq` brings its own network: one LIF layer per input axis of the same
width and `T`):

| method | how the gradient (or update) is obtained | back-propagation? |
|---|---|---|
| `fgrad`, activity (the default) | per-point noise $U$ on every hidden layer's currents, $K$ draws per hidden layer: $\hat\delta_b=d_b U_b$ with $d_b=e_b\tilde u_b$, $\hat G_\ell=\sum_b\hat\delta_b s_{\ell-1,b}^\top$; exact readout gradient | no |
| `fgrad`, global | weight perturbation: $\hat g=\frac1K\sum_k(\nabla L\cdot v_k)v_k$, $v_k$ over all parameters (`perturbation="global"`) | no |
| `fgrad`, layer-wise | the same, with $K$ directions drawn *per layer* (`perturbation="layerwise"`) | no |
| `fgrad`, Gaussian | global weight perturbation with $v_k\sim\mathcal N(0,I)$ instead of Rademacher $\pm1$ | no |
| `admm` | weights, potentials and spikes are variables; closed-form block updates | no |
| `lsq` (the default, `method="auto"`, wherever it applies) | no gradient: random per-axis LIF networks, their spike rasters as features, the readout solved by least squares on the weak-form rows (Gauss–Newton steps for a nonlinear PDE, slab after slab in time for a nonlinear evolution equation) | no |
| `bptt` | exact gradient of the surrogate network, reverse mode through time | yes |
| `bptt`, `network="separable"` | the same, on `lsq`'s network: its per-axis LIF layers and a Tucker readout (`rank` coordinates per input), all trained | yes |

`fgrad` and `bptt` train on the weak form of the residual (the default, `residual_form="auto"`:
integrated by parts against B-splines, so the network only supplies values of $u$; see
`01_quickstart_burgers.ipynb`); ADMM builds its own PDE rows (weak where it applies too). The
initial and boundary conditions are trained as loss terms for every method
(`hard_constraints=False`), because the ADMM trainer always treats them that way.

We record accuracy (relative $L^2$ error against the closed form), training time, the peak
memory of training, the spike rate and the energy estimate of one evaluation (0.9 pJ per
synaptic accumulate, 4.6 pJ per multiply-accumulate, 45 nm).

The problem is `heat1d`, $u_t = \alpha u_{xx}$, small enough for a quick comparison.

Where they live: every method is one room of `spikepde.train` — `fgrad/` (its estimators:
`activity_perturbation`, `weight_perturbation`), `admm/`, `bptt`, `ann` — behind one written
contract (`spikepde.train.base.Trainer`: defaults, step, diagnostics, checkpoint state), and
`lsq` in `closed_form` (its field in `spikepde.snn.separable`; its march in time slabs for a
nonlinear evolution equation in `time_slabs`, with the chained field in `spikepde.snn.time_slabs`).
`spikepde.solve` finds them by name in `spikepde.train.registry.TRAINERS`, and
`spikepde.register_trainer("mine", MyTrainer)` adds a method of your own to `solve`, the
command line and parameter studies.
"""),
    settings("03_methods", '''
# Small settings (about three minutes on a 2-core CPU). To scale up: STEPS=2000,
# INTERIOR=2000, WIDTH=64, T=8, WEAK_TESTS=32, K_VALUES=(2, 32, 128), and several seeds.
PROBLEM = "heat1d"
STEPS = 100
INTERIOR = 256        # collocation points (ADMM; fgrad and bptt use the weak form's quadrature grid)
WIDTH = 32            # LIF neurons per hidden layer (2 hidden layers)
T = 4
K_ACTIVITY = 4        # activity perturbation: noise draws per hidden layer (the default, 8 tangents)
K = 8                 # weight perturbation: directions per step (per layer for layer-wise)
K_VALUES = (2,)       # extra K values of global weight perturbation, for the K comparison
WEAK_TESTS = 16       # fgrad/bptt: B-splines per axis of the weak-form loss (default 32: 4x the points)
LR = 1e-2
SEED = 0'''),
    md(r"""
## Weight versus activity perturbation on a toy network

Before training a spiking network, look at the two estimators on a one-hidden-layer tanh
network $u_b = a^\top\tanh(W x_b)$ fitted to $B=256$ points, $L=\frac1{2B}\sum_b(u_b-y_b)^2$,
estimating $\partial L/\partial W$ ($n=200$ weights). Both need only forward-mode
Jacobian-vector products (`torch.func.jvp`, the $K$ tangents batched by `vmap`), no backward
pass, and both are unbiased; they differ in what is perturbed.

* **Weight perturbation** draws $K$ directions $v_k$ over all $n$ weights:
  $\hat g=\frac1K\sum_k(\nabla L\cdot v_k)\,v_k$. Each direction is one random probe of an
  $n$-dimensional gradient, so the cosine with the true gradient grows only like
  $\sqrt{K/n}$ — which is why layer-wise perturbation (smaller $n$ per draw) helps.
* **Activity perturbation** adds noise $U_b$ to the hidden currents $W x_b$, a different draw for
  every point. One tangent pass gives every output's change $\tilde u_b$; with the exact error
  signal $e_b=\partial L/\partial u_b$, $d_b=e_b\tilde u_b=\delta_b\cdot U_b$ is a directional
  derivative *per point*, $\hat\delta_b=d_b U_b$ is unbiased for $\delta_b=\partial L/\partial(Wx_b)$,
  and $\hat G=\sum_b\hat\delta_b x_b^\top$ averages $B$ independent estimates of a 20-dimensional
  quantity. Same cost per draw (one tangent per hidden layer), much better aligned.
"""),
    code('''
import torch
from torch.func import jacfwd, jvp, vmap

g = torch.Generator().manual_seed(SEED)
B, n_in, n_h = 256, 10, 20                            # points, inputs, hidden neurons
X = torch.randn(B, n_in, generator=g)
y = torch.randn(B, generator=g)
W = torch.randn(n_h, n_in, generator=g) / n_in**0.5   # the n = 200 weights: we estimate ∂L/∂W
a = torch.randn(n_h, generator=g) / n_h**0.5          # readout (kept fixed here)


def outputs(W, noise=0.0):
    """u_b at every point b; ``noise`` [B, n_h] is added to the hidden currents W x_b."""
    return torch.tanh(X @ W.T + noise) @ a


loss = lambda W: 0.5 * (outputs(W) - y).pow(2).mean()
true_grad = jacfwd(loss)(W)       # the exact gradient, for reference (forward mode, 200 tangents)


def draw(*shape, kind="rademacher"):
    v = torch.randn(*shape, generator=g)
    return v.sign() if kind == "rademacher" else v


def weight_perturbation(K, kind="rademacher"):
    V = draw(K, n_h, n_in, kind=kind)                     # K directions over all 200 weights
    d = vmap(lambda v: jvp(loss, (W,), (v,))[1])(V)       # ∇L·v_k: K tangents in one pass
    return (d[:, None, None] * V).mean(0)                 # ĝ = (1/K) Σ_k (∇L·v_k) v_k


def activity_perturbation(K):
    U = draw(K, B, n_h)                                   # a noise vector per draw and point
    zero = torch.zeros(B, n_h)
    u, u_tan = vmap(lambda noise: jvp(lambda A: outputs(W, A), (zero,), (noise,)))(U)
    e = (u[0] - y) / B                                    # e_b = ∂L/∂u_b: exact, from values
    d = e * u_tan                                         # d_b = e_b ũ_b (= δ_b·U_b), per point
    delta_hat = d[..., None] * U                          # δ̂_b = d_b U_b, unbiased for δ_b
    return torch.einsum("kbh,bi->hi", delta_hat, X) / K   # Ĝ = Σ_b δ̂_b x_bᵀ, mean over draws


cosine = lambda est: float(torch.nn.functional.cosine_similarity(est.flatten(), true_grad.flatten(), dim=0))
estimators = {"weight, Rademacher": weight_perturbation,
              "weight, Gaussian": lambda K_: weight_perturbation(K_, "gaussian"),
              "activity, Rademacher": activity_perturbation}
print("cosine(estimate, gradient)   K=1    K=8   K=64  K=512")
for name, estimate in estimators.items():
    print(f"{name:25s}" + "".join(f"{cosine(estimate(K_)):7.2f}" for K_ in (1, 8, 64, 512)))'''),
    md(r"""
In the spiking network, `perturbation="activity"` (the default) puts the noise on every hidden
layer's input currents, independently for every training point, time step and neuron, with $K$
draws *per hidden layer*: a step carries $K\times$(hidden layers) tangents (8 for $K=4$ and two
hidden layers, the same as global weight perturbation with its default $K=8$), plus one replay
pass that regenerates the noise to accumulate $\hat G_\ell=\sum_b\sum_t\hat\delta_b[t]\,s_{\ell-1,b}[t]^\top$
without storing the time steps. The error signals $e_b$ come from the loss in forward mode (for
the weak form, through its test functions), and the readout, linear in the firing rates, gets
its exact gradient. `directions="gaussian"` applies to weight perturbation only.
"""),
    md(r"""
## The runs

Each run goes to a **fresh Python process**, so that its peak memory is its own: the child
imports everything and does a one-step warm-up solve (so one-time allocations are not counted),
resets Linux's resident-set high-water mark (`/proc/self/clear_refs`), solves, and reports how
far `VmHWM` rose above the resident set at the reset (elsewhere: NaN). That covers training and
the final evaluation on the reference grid. Metrics and history come back as JSON. Training
times are wall-clock times: on a busy machine they are noisy.
"""),
    code('''
import json
import subprocess
import sys
import time
import pandas as pd
import spikepde

problem = spikepde.load_problem(PROBLEM)
spikepde.get_reference(problem)           # compute (and cache) the reference once, outside the runs

CHILD = r"""
import json, sys, torch, spikepde
torch.set_num_threads(1)
kw = json.loads(sys.argv[1])
problem = spikepde.load_problem(kw.pop("problem"))
spikepde.get_reference(problem)
spikepde.solve(problem, **{**kw, "steps": 1})      # warm-up, not measured

def status_kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])

try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                      # reset the high-water mark to the current RSS
    base = status_kb("VmRSS")
except OSError:
    base = None
r = spikepde.solve(problem, **kw)
peak = status_kb("VmHWM") if base is not None else None
mem = (peak - base) / 1024 if base is not None else float("nan")
print(json.dumps({"metrics": r.metrics, "history": r.history, "peak_mem_mb": mem},
                 default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
"""


def run_fresh(name, **options):
    """solve(problem, **options) in a child process; returns (metrics, history, peak memory MB).

    ``name`` is only a label here; add ``out=...`` to the options to keep the run directory.
    """
    kw = dict(problem=PROBLEM, **options)
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(kw)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["child failed"])[-1])
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return res["metrics"], res["history"], res["peak_mem_mb"]


common = dict(steps=STEPS, seed=SEED, quiet=True, interior_points=INTERIOR, width=WIDTH, T=T, lr=LR,
              log_every=10, hard_constraints=False)
weak = dict(weak_tests=WEAK_TESTS)     # the weak-form loss of fgrad and bptt (ADMM has its own)
runs = {
    f"fgrad activity K={K_ACTIVITY}": dict(method="fgrad", K=K_ACTIVITY, **weak),   # perturbation="activity"
    f"fgrad global K={K}": dict(method="fgrad", K=K, perturbation="global", **weak),
    f"fgrad layer-wise K={K}": dict(method="fgrad", K=K, perturbation="layerwise", **weak),
    f"fgrad Gaussian K={K}": dict(method="fgrad", K=K, perturbation="global", directions="gaussian", **weak),
    **{f"fgrad global K={k_}": dict(method="fgrad", K=k_, perturbation="global", **weak) for k_ in K_VALUES},
    "admm": dict(method="admm"),
    "lsq": dict(method="lsq", **weak),            # one solve: the later steps change nothing
    "bptt": dict(method="bptt", **weak),
}
histories, rows = {}, []
for name, options in runs.items():
    t0 = time.perf_counter()
    try:
        m, h, mem = run_fresh(name, **common, **options)
    except Exception as err:          # e.g. a method still under development
        print(f"{name}: skipped ({type(err).__name__}: {err})")
        continue
    histories[name] = h
    rows.append({"run": name, "relative_l2": m["relative_l2"], "train_s": m["wall_time_s"],
                 "peak_mem_mb": mem, "spike_rate": m.get("spike_rate"),
                 "energy_pj": m.get("energy_pj_per_sample"),
                 "forward_passes_per_step": m.get("forward_passes_per_step")})
    print(f"{name:24s} rel. L2 {m['relative_l2']:.3f}  {time.perf_counter() - t0:5.1f} s")
table = pd.DataFrame(rows).set_index("run")
table'''),
    md(r"""
At this size the memory column is a few tens of MB at most and partly allocator noise (a run
can even stay below the level the warm-up left); the methods separate as `T`, the width and the
number of points grow (BPTT keeps every time step's activations for the
backward pass, ADMM keeps potentials and spikes of every point as variables, the forward
gradient keeps only the current time step's values and its tangents: K per hidden layer for
activity perturbation, whose replay pass regenerates the noise instead of storing it, K for
global weight perturbation).

`energy_pj` is the estimated energy of one forward evaluation of the trained network at one
point (spike-driven accumulates in the hidden layers, multiply-accumulates where the input is
real-valued). Training energy is not estimated.
"""),
    code('''
import matplotlib.pyplot as plt

cols = [("relative_l2", "relative L2 error"), ("train_s", "training time [s]"),
        ("peak_mem_mb", "peak memory of training [MB]"), ("energy_pj", "energy per evaluation [pJ]")]
fig, axes = plt.subplots(1, len(cols), figsize=(16, 3.6), sharey=True)
for ax, (col, label) in zip(axes, cols):
    ax.barh(table.index, table[col].astype(float), color="tab:blue")
    ax.set_xlabel(label)
axes[0].invert_yaxis()
fig.tight_layout()'''),
    code('''
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, h in histories.items():
    if "step" in h and "loss" in h:
        ax.plot(h["step"], h["loss"], label=name)
ax.set(xlabel="step", ylabel="training loss", yscale="log")
ax.legend(fontsize=7)'''),
    md(r"""
## Reading the table

* `forward_passes_per_step` counts forward-pass equivalents: the primal plus one per tangent.
  Activity perturbation has $K\times$(hidden layers) tangents plus the replay pass
  ($1 + 2K + 1$ here); global weight perturbation $1 + K$. At $K=4$ against $K=8$ the cost is
  about the same, but every training point contributes its own estimate of the hidden layers'
  error signals and the readout's gradient is exact, so the step is much better aligned with
  the true gradient (the toy above; about 4× the cosine on Burgers).
* Larger $K$ lowers the variance of either estimate at a cost linear in $K$.
* Layer-wise weight perturbation draws $K$ directions for each parameter group (the two hidden
  layers and the readout), so it costs about 3× more per step, but each layer's estimate is
  better aligned.
* BPTT has the exact gradient for one backward pass, but stores every time step's activations;
  the forward-gradient methods store none (their memory does not grow with `T`).
* With this tiny budget the errors are far from converged; rerun with the scale-up settings and
  several seeds (see `05_parameter_study.ipynb` for sweeps) before drawing conclusions.
"""),
]

# ------------------------------------------------------------ 04 forward-forward digits
NB04 = [
    md(r"""
# 04 · Forward-Forward classification of handwritten digits

The same LIF engine, now as a classifier trained with **Forward-Forward** (FF): every layer has
its own local loss and is updated from its own input and output only — no gradient travels from
one layer to another, so no activations of earlier layers are kept for a backward pass.

Here each hidden layer's neurons are split into one **group per class**. For an input, the
*goodness* of class $c$ in a layer is the mean squared firing rate of that class's group,
$g_c = \frac{1}{|G_c|}\sum_{j\in G_c} r_j^2$; the layer's loss is the cross-entropy of
$\mathrm{softmax}(\kappa\,g)$ against the label, and the prediction is the class with the
largest goodness. **Class-aware adaptation** watches the validation accuracy per class during
training and gives the hard classes more neurons and a larger loss weight.

Data: scikit-learn's bundled 8 × 8 digits (1797 images, no download). The test split is fixed;
model selection uses a validation split only.
"""),
    settings("04_ff", '''
# Small settings (about two minutes on a 2-core CPU). To scale up: EPOCHS=30 and
# HIDDEN=(200, 200, 200) (the digits defaults: spikepde.classification.DEFAULTS["digits"]), several
# seeds; for MNIST download the IDX files and call classify("mnist", data_dir=...).
EPOCHS = 10
HIDDEN = (100, 100)     # spiking neurons per layer (each split into 10 class groups)
T = 8                   # time steps per image
ADAPT_EVERY = 2         # adaptation schedule in epochs
SEED = 0'''),
    code('''
from spikepde import classify

common = dict(epochs=EPOCHS, seed=SEED, quiet=True, hidden=HIDDEN, T=T,
              adapt_every=ADAPT_EVERY, adapt_warmup=ADAPT_EVERY)
on = classify("digits", method="ff", adaptation=True, out=OUT / "ff_adapt_on", **common)
off = classify("digits", method="ff", adaptation=False, out=OUT / "ff_adapt_off", **common)
for name, r in [("adaptation on", on), ("adaptation off", off)]:
    print(f"{name:15s} test accuracy {r.accuracy:.3f}, per layer "
          f"{[round(a, 3) for a in r.per_layer_accuracy]}, training {r.metrics['train_seconds']:.1f} s")'''),
    code('''
import pandas as pd

keys = ["test_accuracy", "val_accuracy", "best_epoch", "train_seconds", "spike_rate",
        "synaptic_ops_per_sample", "energy_pj_per_sample", "activation_bytes_held_for_update"]
pd.DataFrame({"adaptation on": on.metrics, "adaptation off": off.metrics}).loc[keys]'''),
    md(r"""
With one seed and ten epochs the difference between *on* and *off* is within the seed-to-seed
spread; the per-class view below shows what adaptation acts on. The benchmark script
`benchmarks/classify.py` runs several seeds.

## Per-class accuracy and the confusion matrix

Rows are the true class, columns the prediction; the diagonal holds the correct answers.
"""),
    code('''
import numpy as np
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for ax, (name, r) in zip(axes, [("adaptation on", on), ("adaptation off", off)]):
    conf = np.asarray(r.confusion)
    ax.imshow(conf / conf.sum(1, keepdims=True), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(conf)):
        for j in range(len(conf)):
            if conf[i, j]:
                ax.text(j, i, conf[i, j], ha="center", va="center", fontsize=7)
    ax.set(title=f"{name}: accuracy {r.accuracy:.3f}", xlabel="predicted", ylabel="true",
           xticks=range(10), yticks=range(10))

pd.DataFrame({"on": on.per_class_accuracy, "off": off.per_class_accuracy}).T.round(3)'''),
    md(r"""
How adaptation moved neurons between class groups (first layer) during training:
"""),
    code('''
sizes = on.history.get("group_sizes")
if sizes:
    sizes = np.asarray(sizes)
    first = sizes[:, 0] if sizes.ndim == 3 else sizes      # [epoch, (layer,) class]
    fig, ax = plt.subplots(figsize=(6, 3))
    for c in range(first.shape[-1]):
        ax.plot(on.history["epoch"], first[:, c], label=str(c))
    ax.set(xlabel="epoch", ylabel="neurons in class group (layer 1)")
    ax.legend(ncol=5, fontsize=7)'''),
    md(r"""
## A spike raster

The spike trains of every layer for one test image (true integrate-and-fire forward pass, no
surrogate): each dot is one spike of one neuron at one time step. The run directory also holds
this picture (`raster.png`), the training curves and the confusion matrix.
"""),
    code('''
from IPython.display import Image, display

display(Image(filename=str(on.paths["raster_plot"])))
display(Image(filename=str(on.paths["training_plot"])))'''),
    md(r"""
The network can also be driven directly: `model.layer_spikes(X)` returns the `[T, N, n]`
spike trains of every layer for standardised inputs (the run's `config.json` stores the
training-split mean and standard deviation used to standardise).
"""),
    code('''
import json
import torch
from sklearn.datasets import load_digits

cfg = json.loads(on.paths["config"].read_text())
norm = cfg["normalisation"]
X, y = load_digits(return_X_y=True)
X = torch.tensor((X[:5] - np.array(norm["per_channel_mean"])) / np.array(norm["per_channel_std"]),
                 dtype=torch.float32)
spikes = on.model.layer_spikes(X)
print("spike trains:", [tuple(s.shape) for s in spikes])
print("firing rate per layer:", [round(float(s.float().mean()), 3) for s in spikes])
print("predicted:", on.model.predict(X).argmax(1).tolist(), "true:", y[:5].tolist())'''),
    md(r"""
## Scaling up

`classify("digits", method="ff")` with no options uses the digits defaults (3 × 200 neurons,
30 epochs). `method="bptt"` trains the same network by surrogate-gradient BPTT for comparison,
and the shell command is

```bash
spikepde classify digits --method ff --out runs/ff
spikepde classify mnist --method ff --data-dir data/mnist --device cuda
```
"""),
]

# ---------------------------------------------------------------- 05 parameter study
NB05 = [
    md(r"""
# 05 · A parameter study

`spikepde.study` runs `solve` over a grid of settings and seeds, writes one row per finished
run to `results.csv` (atomically, so an interrupted study resumes where it stopped) and returns
the table as a pandas DataFrame. Grid keys can be solve options (`T`, `K`, `width`, `lr`, …),
problem parameters (`alpha` for `heat1d`), `method`, `steps` or `seed`.

Here: how do the number of LIF time steps `T` and the diffusivity $\alpha$ of the heat equation
affect the error of the forward-gradient solver (`method="fgrad"`: activity perturbation on
the weak-form loss)? Without a method the study runs each point with `method="auto"`, which
picks the closed-form `lsq` for heat1d (one least-squares solve per point).
"""),
    settings("05_study", '''
# Small settings (about two minutes on a 2-core CPU). To scale up: STEPS=2000, FIXED = {} (the
# defaults: width 64, K = 4 noise draws per hidden layer, lr 1e-2 with a cosine decay),
# GRID = {"T": [4, 8, 16], "alpha": [0.05, 0.1, 0.2]}, SEEDS=5, EXECUTOR=None (a process per
# core) or a Dask cluster (below).
PROBLEM = "heat1d"
GRID = {"T": [2, 4], "alpha": [0.05, 0.2]}
SEEDS = 2
STEPS = 40
FIXED = dict(method="fgrad", width=16, K=4, lr=1e-2)   # activity perturbation, weak-form loss (defaults)
EXECUTOR = "serial"   # one run after the other in this process; None = a local process pool
USE_DASK = False      # True: also run the study on a local Dask cluster (needs dask.distributed)'''),
    code('''
from spikepde import plot_study, study, summarize

df = study(PROBLEM, grid=GRID, seeds=SEEDS, steps=STEPS, out=OUT / "study", executor=EXECUTOR,
           quiet=True, **FIXED)
df[["point_id", "T", "alpha", "seed", "status", "relative_l2", "wall_time_s", "spike_rate"]]'''),
    md(r"""
Each row also links to its full run directory (`run_dir`: config, metrics, checkpoint,
pictures). Aggregated over seeds:
"""),
    code('''
summarize(df, "relative_l2")'''),
    md(r"""
## Plots

A line per $\alpha$ (mean over seeds, the band spanning min to max, every seed as a dot), and
a heatmap of the mean error over both parameters.
"""),
    code('''
import matplotlib.pyplot as plt

display(plot_study(df, x="T", y="relative_l2", hue="alpha"))    # a Figure: no pyplot state
display(plot_study(df, x="T", y="alpha", value="relative_l2", path=OUT / "study" / "heatmap.png"))
print("saved", OUT / "study" / "heatmap.png")'''),
    md(r"""
## Resuming

Running the same study again reads `results.csv` and skips every point already done; an
interrupted run resumes from its checkpoint. This call returns at once:
"""),
    code('''
import time

t0 = time.perf_counter()
again = study(PROBLEM, grid=GRID, seeds=SEEDS, steps=STEPS, out=OUT / "study", executor=EXECUTOR,
              quiet=True, **FIXED)
print(f"{len(again)} rows in {time.perf_counter() - t0:.2f} s")

import pandas as pd
pd.read_csv(OUT / "study" / "results.csv").columns.tolist()'''),
    md(r"""
## Running on a Dask cluster

`executor` accepts a `dask.distributed.Client`; or pass `scheduler="tcp://host:8786"` to connect
to a running scheduler (`scheduler="local"` starts a `LocalCluster`). The workers write the run
directories, so `out` must be on a file system every worker can see. On a cluster:

```bash
dask scheduler                          # on one machine (prints tcp://HOST:8786)
dask worker tcp://HOST:8786 --nthreads 1 --nworkers 8   # on each worker machine
```

```python
df = study("heat1d", grid={"T": [4, 8, 16]}, seeds=5, steps=2000,
           scheduler="tcp://HOST:8786", out="/shared/studies/heat")
```

The same from the shell: `spikepde sweep heat1d --grid T=4,8,16 --seeds 5 --out studies/heat`.
The cell below does it on a local two-worker cluster when `USE_DASK = True`.
"""),
    code('''
if USE_DASK:
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, \\
            Client(cluster) as client:
        print(client)
        df_dask = study(PROBLEM, grid=GRID, seeds=SEEDS, steps=STEPS, out=OUT / "study-dask",
                        executor=client, quiet=True, **FIXED)
    print(df_dask[["T", "alpha", "seed", "status", "relative_l2", "worker"]])
else:
    print("USE_DASK is False: skipped (set it in the settings cell)")'''),
]

NOTEBOOKS = {
    "01_quickstart_burgers.ipynb": NB01,
    "02_define_your_own_pde.ipynb": NB02,
    "03_training_methods.ipynb": NB03,
    "04_forward_forward_classification.ipynb": NB04,
    "05_parameter_study.ipynb": NB05,
}


def build(cells) -> nbformat.NotebookNode:
    """A notebook with stable cell ids (so regenerating gives the same bytes) and no outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    nb.cells = []
    for i, cell in enumerate(cells):
        cell = nbformat.from_dict(dict(cell))
        cell["id"] = f"cell-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(cells) -> str:
    return nbformat.writes(build(cells)) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when a file differs")
    args = ap.parse_args(argv)
    stale = []
    NB_DIR.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        path = NB_DIR / name
        text = render(cells)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print("stale notebooks (run python tools/make_notebooks.py):", ", ".join(stale))
        return 1
    print(("stale: " if args.check else "written: ") + (", ".join(stale) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

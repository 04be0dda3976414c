"""Every setting of a solve, in one flat dataclass: the only option list of ``solve``.

:class:`SolveConfig` is what ``config.json`` holds, what ``spikepde.solve(**options)`` accepts,
what a parameter study varies (``grid={"T": [8, 16]}``) and what the command line offers: each
field carries its ``--flag`` description in its metadata (:func:`flag`), and ``spikepde solve``
builds its options from them, so a new field is settable from the shell the moment it exists.
Settings left at ``None`` are filled in by :meth:`SolveConfig.resolved` from the problem and the
method's :meth:`~spikepde.train.base.Trainer.defaults`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..problem.limits import BYTES_PER_TRAINING_POINT, MAX_POINTS, describe_bytes
from ..train.registry import AUTO, DEFAULT_METHOD, TRAINERS, choose_method
from ..train.schedules import LR_SCHEDULES

DTYPES = ("float32", "float64")
RESIDUAL_FORMS = ("auto", "strong", "weak")
#: the spiking networks a solve can ask for (SpikingMLP, SeparableSpikingField)
NETWORKS = ("mlp", "separable")


def flag(help: str, group: str = "training", *, kind: str | None = None, choices=None,
         metavar: str | None = None) -> dict:
    """Field metadata describing the field's command-line option.

    ``kind``: how the value is read (``int``, ``float``, ``str``, ``bool`` for ``--x/--no-x``,
    ``dict`` for repeatable ``NAME=VALUE``, ``counts`` for ``N[,N...]``; default: from the
    field's type). ``choices``: a tuple, or a callable returning one (read when the parser is
    built, so registries can grow)."""
    return {"cli": {"help": help, "group": group, "kind": kind, "choices": choices, "metavar": metavar}}


def _methods():
    return (AUTO,) + tuple(TRAINERS)


def _surrogates():
    from ..snn.surrogate import SURROGATES
    return tuple(SURROGATES)


def _estimators():
    from ..derivatives import ESTIMATORS
    return tuple(name for name, cls in ESTIMATORS.items() if cls.for_spiking)


def _perturbations():
    from ..train.fgrad import PERTURBATIONS
    return PERTURBATIONS


def _directions():
    from ..train.fgrad import DIRECTIONS
    return DIRECTIONS


def _resets():
    from ..snn.lif import RESETS
    return RESETS


@dataclass
class SolveConfig:
    """Every setting of a solve (written to ``config.json``; enough to reproduce the run).

    Spiking network: ``width`` × ``depth`` LIF layers, ``T`` steps, leak ``beta``, ``threshold``,
    ``reset``, ``surrogate`` (+ ``surrogate_options``), input derivatives by ``estimator``
    (``surrogate-jvp`` | ``stein`` | ``fd``). Forward gradient: ``perturbation="activity"``
    (default) perturbs the hidden currents point by point (``K`` draws per hidden layer, default
    4, Rademacher, exact readout gradient; :mod:`spikepde.train.fgrad`); ``"global"`` /
    ``"layerwise"`` perturb the weights (``K`` directions per step, or per layer; default 8),
    ``directions`` ``rademacher`` | ``gaussian``. Learning rate ``lr`` (default 1e-2 spiking,
    1e-3 ann) with ``lr_schedule`` (default cosine for the spiking methods, constant for ann).
    ANN baseline: ``ann_width`` × ``ann_depth`` tanh, Adam for ``steps`` then ``lbfgs_steps``
    L-BFGS iterations. ADMM: ``admm`` holds :class:`spikepde.train.admm.ADMMConfig` fields
    (penalties ρ, γ, κ, residual balancing, ...). ``hard_constraints`` uses the problem's output
    transform; ``normalize_loss`` divides each loss term by its initial value. ``compile`` runs the
    spiking network's derivative-free forward passes (evaluation, ADMM) under ``torch.compile``
    (:mod:`spikepde.snn.fast_forward`; eager fallback). ``residual_form="weak"`` trains on the
    integrated-by-parts residual against ``weak_tests`` cubic B-splines per axis (default 32 in
    1-D and 2-D, 10 in 3-D; or a list, one count per axis) with ``weak_quadrature`` midpoint
    points per spline interval (:mod:`spikepde.train.weak_form`) instead of the pointwise
    residual; ``"auto"`` (default) takes the first form the method accepts that applies
    (fgrad/bptt: weak, then strong; ann and admm: strong). ``lr_schedule`` is ``constant`` or
    ``cosine`` (decay to ``lr/20`` over the Adam steps). ``steps=None`` takes the problem's
    default budget for the method (``budget.steps``; ADMM iterations: ``budget.admm_steps``).
    """

    problem: str = "burgers"
    params: dict = field(default_factory=dict)
    method: str = field(default=DEFAULT_METHOD, metadata=flag(
        "auto (default): lsq where it accepts the problem, else fgrad (the best BP-free spiking "
        "method measured on the catalogue); lsq: random separable spiking features, readout in "
        "closed form (Gauss-Newton for a nonlinear PDE); fgrad: spiking, forward gradient (no "
        "back-propagation); bptt: spiking, surrogate-gradient BPTT; ann: tanh MLP PINN; admm: "
        "spiking, ADMM with closed-form updates", "run",
        choices=_methods))
    steps: int | None = field(default=None, metadata=flag(
        "training steps, or ADMM iterations (default: the problem's budget for the method: steps, "
        "or admm_steps for admm)", "run"))
    seed: int = field(default=0, metadata=flag("seed for init, sampling and directions", "run"))
    lr: float | None = field(default=None, metadata=flag(
        "Adam learning rate (default: the method's, 1e-2 spiking, 1e-3 ann)"))
    interior_points: int | None = field(default=None, metadata=flag(
        "collocation points (default: the problem's budget)"))
    width: int | None = field(default=None, metadata=flag(
        "neurons per hidden layer (default: the method's, 64)", "spiking network"))
    depth: int | None = field(default=None, metadata=flag(
        "hidden LIF layers (default: the method's, 2)", "spiking network"))
    T: int | None = field(default=None, metadata=flag("time steps (default: the method's, 8)", "spiking network"))
    beta: float = field(default=0.9, metadata=flag("membrane leak per time step, in (0, 1]", "spiking network"))
    threshold: float = field(default=1.0, metadata=flag("firing threshold", "spiking network"))
    reset: str = field(default="subtract", metadata=flag(
        "membrane reset after a spike", "spiking network", choices=_resets))
    surrogate: str = field(default="sigmoid", metadata=flag(
        "surrogate derivative of the spike", "spiking network", choices=_surrogates))
    surrogate_options: dict = field(default_factory=dict, metadata=flag(
        "the surrogate's shape parameter (repeatable), e.g. slope=5 (sigmoid), alpha=2 (atan)",
        "spiking network"))
    estimator: str = field(default="surrogate-jvp", metadata=flag(
        "input-derivative estimator for residuals", "spiking network", choices=_estimators))
    estimator_options: dict = field(default_factory=dict, metadata=flag(
        "the estimator's options (repeatable), e.g. sigma=0.02 samples=16 (stein), h=1e-3 (fd)",
        "spiking network"))
    lr_schedule: str | None = field(default=None, metadata=flag(
        "Adam learning rate: constant or cosine decay to lr/20 (default: the method's, cosine for "
        "the spiking methods, constant for ann)", choices=LR_SCHEDULES))
    K: int | None = field(default=None, metadata=flag(
        "fgrad: noise draws per hidden layer (activity, default 4) or directions per step / per "
        "layer (global / layerwise, default 8)"))
    directions: str | None = field(default=None, metadata=flag(
        "fgrad, weight perturbation: distribution of the directions (default rademacher)",
        choices=_directions))
    features: str | None = field(default=None, metadata=flag(
        "lsq: what the readout reads of each axis network: the spike raster of every step "
        "(raster, the default for PDEs) or each neuron's spike count (rate, the default for "
        "regression from scattered samples)",
        choices=("raster", "rate")))
    network: str | None = field(default=None, metadata=flag(
        "the spiking network: mlp (one LIF network over all inputs, rate readout; bptt's default) "
        "or separable (one LIF network per input, a time-resolved Tucker readout over every "
        "spike; lsq's only network, and bptt's with this flag: the same network as lsq's, its "
        "hidden layers and readout trained by surrogate-gradient BPTT)", "spiking network",
        choices=NETWORKS))
    time_slabs: int | None = field(default=None, metadata=flag(
        "lsq: march in this many equal time slabs, each readout solved from the previous slab's "
        "end (default: 20 for a nonlinear equation in one space dimension and time, else 1); "
        "the steps are spread over the slabs and --weak-tests counts per slab",
        "spiking network"))
    rank: int | None = field(default=None, metadata=flag(
        "bptt --network separable: readout coordinates per input of the Tucker readout "
        "(default 32; lsq takes the rank of what its rows see)", "spiking network"))
    perturbation: str | None = field(default=None, metadata=flag(
        "fgrad: per-point noise on the hidden currents with an exact readout gradient (activity, "
        "the default), or weight perturbation of all parameters (global) or of one layer per "
        "direction (layerwise)", choices=_perturbations))
    ann_width: int = field(default=20, metadata=flag("ann: neurons per tanh layer", "tanh network"))
    ann_depth: int = field(default=3, metadata=flag("ann: tanh layers", "tanh network"))
    lbfgs_steps: int = field(default=5000, metadata=flag("ann: L-BFGS iterations after Adam"))
    dtype: str | None = field(default=None, metadata=flag(
        "floating-point precision (default: the method's, float32; ann float64)", choices=DTYPES))
    device: str = field(default="cpu", metadata=flag("cpu or cuda (or cuda:N)"))
    compile: bool = field(default=False, metadata=flag(
        "run the spiking network's derivative-free forward passes (evaluation, admm) under "
        "torch.compile; falls back to eager with a warning"))
    residual_form: str = field(default="auto", metadata=flag(
        "PDE loss: pointwise residual (strong) or integrated by parts against B-spline test "
        "functions (weak: the spiking network only gives values); auto: the method's preferred "
        "form where it applies (weak for fgrad/bptt)", choices=RESIDUAL_FORMS))
    weak_tests: int | list | None = field(default=None, metadata=flag(
        "weak form: B-splines per axis, one number or one per axis in the order of the variables, "
        "e.g. 48,24 (default 32; 10 for three variables; lsq: its own, see docs/methods/lsq.md)", kind="counts", metavar="N[,N...]"))
    weak_quadrature: int | None = field(default=None, metadata=flag(
        "weak form: midpoint quadrature points per B-spline interval and axis (default 2; lsq "
        "on a nonlinear problem 5)", metavar="Q"))
    hard_constraints: bool = field(default=True, metadata=flag(
        "train through the problem's [hard_constraint] output transform (--no-hard-constraints, "
        "or --soft-constraints: the initial/boundary conditions as loss terms instead)"))
    plots: bool = field(default=True, metadata=flag("write fields.png and loss.png", "run directory"))
    normalize_loss: bool = field(default=False, metadata=flag(
        "divide each loss term by its value for the initial model"))
    track_error: bool = field(default=False, metadata=flag(
        "log the relative L2 error on a subset of the reference grid along the run", "run directory"))
    admm: dict = field(default_factory=dict, metadata=flag(
        "admm: an ADMMConfig field (repeatable), e.g. test_per_axis=20 rho=2 (see "
        "spikepde.train.admm.ADMMConfig)"))
    log_every: int = field(default=50, metadata=flag("log the loss terms every N steps", "run directory",
                                                     metavar="N"))
    checkpoint_every: int = field(default=200, metadata=flag(
        "save a checkpoint every N steps; one is also saved on Ctrl-C/SIGTERM, and --resume "
        "continues from it", "run directory", metavar="N"))

    def resolved(self, problem) -> "SolveConfig":
        """A copy with every ``None`` default filled in from the problem and the method."""
        if self.method != AUTO and self.method not in TRAINERS:
            raise ValueError(f"unknown method '{self.method}'; expected auto or one of {', '.join(TRAINERS)}")
        c = dataclasses.replace(self, method=choose_method(self.method, problem))
        trainer = TRAINERS[c.method]
        for name, value in trainer.defaults(c, problem).items():
            if getattr(c, name) is None:
                setattr(c, name, value)
        c.steps = int(c.steps if c.steps is not None else trainer.default_steps(problem, c))
        c.lr = float(c.lr)
        if c.network not in (None, "mlp") and "network" not in trainer.options:
            owners = [name for name in TRAINERS if "network" in TRAINERS[name].options]
            raise ValueError(f"network='{c.network}' is for method {' or '.join(owners)} "
                             f"({c.method} trains the mlp network)")
        # 32 B-splines per axis in 1-D and 2-D; 10 in 3-D (1000 tests, a 26³ quadrature grid)
        c.weak_tests = c.weak_tests if c.weak_tests is not None else (32 if problem.dim <= 2 else 10)
        c.weak_quadrature = int(c.weak_quadrature if c.weak_quadrature is not None else 2)
        _check_common(c)
        _check_residual_form(c, trainer)
        trainer.check(c)
        return c


def default_steps(problem, method: str) -> int:
    """The default budget of ``method`` on ``problem`` (its trainer's
    :meth:`~spikepde.train.base.Trainer.default_steps`: the ``[budget]`` entry of optimisation
    steps, ADMM iterations, ...)."""
    return int(TRAINERS[choose_method(method, problem)].default_steps(problem))


def _check_common(c: SolveConfig) -> None:
    if c.dtype not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got '{c.dtype}'")
    for name in ("steps", "T", "width", "depth", "log_every", "checkpoint_every"):
        if getattr(c, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(c, name)}")
    if c.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got '{c.lr_schedule}'")
    tests = [c.weak_tests] if isinstance(c.weak_tests, int) else list(c.weak_tests)
    if not tests or any(not isinstance(n, int) or n < 1 for n in tests):
        raise ValueError(f"weak_tests must be a positive integer or a list of them, got {c.weak_tests}")
    if c.weak_quadrature < 1:
        raise ValueError(f"weak_quadrature must be >= 1, got {c.weak_quadrature}")
    if c.rank is not None and c.rank < 1:
        raise ValueError(f"rank must be >= 1, got {c.rank}")
    if c.interior_points is not None and not 1 <= c.interior_points <= MAX_POINTS:
        raise ValueError(f"interior_points must lie in [1, {MAX_POINTS}], got {c.interior_points}"
                         + (f" ({describe_bytes(c.interior_points * BYTES_PER_TRAINING_POINT)}"
                            " of training memory)" if c.interior_points > MAX_POINTS else ""))
    if not (math.isfinite(c.lr) and c.lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {c.lr}")
    _check_device(c.device)


def _check_residual_form(c: SolveConfig, trainer) -> None:
    if c.residual_form not in RESIDUAL_FORMS:
        raise ValueError(f"residual_form must be 'auto', 'strong' or 'weak', got '{c.residual_form}'")
    if c.residual_form != "auto" and c.residual_form not in trainer.residual_forms:
        hint = f"; {trainer.residual_form_hint}" if trainer.residual_form_hint else ""
        raise ValueError(f"residual_form='{c.residual_form}' is not available for {c.method} "
                         f"(it takes {', '.join(trainer.residual_forms)}){hint}")


def _check_device(device: str) -> None:
    """A device this torch build can use, said before any work (torch's own error is a traceback
    from deep inside the problem compiler)."""
    import torch   # here, not at the top: the command line builds its options from this module

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise ValueError(f"device must be 'cpu' or 'cuda' (or 'cuda:N'), got '{device}'") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{device}' asked for, but this torch build ({torch.__version__}) "
                         "sees no CUDA GPU; use --device cpu")
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got '{device}'")


def choose_residual_form(cfg: SolveConfig, compiled) -> str:
    """The PDE loss form of a run: ``cfg.residual_form``, or for ``"auto"`` the first form the
    method accepts that applies to the problem.

    A spiking network's output is piecewise constant in its inputs: its true derivatives vanish
    almost everywhere, and the strong form must use the surrogate network's derivatives, which
    describe a different field (Burgers stalls near 0.47 that way). The weak form needs only
    values, so the spiking gradient methods prefer it; the tanh MLP has exact derivatives
    (strong form, as DeepXDE). Problems the weak form cannot express (several residuals,
    coordinate-dependent coefficients of derivatives, products of derivatives) and regression
    problems keep the strong form.
    """
    if cfg.residual_form != "auto":
        return cfg.residual_form
    if not compiled.has_pde:
        return "strong"
    from ..train.weak_form import weak_applies

    for form in TRAINERS[cfg.method].residual_forms:
        if form == "strong" or weak_applies(compiled) is None:
            return form
    return "strong"

"""The ``spikepde`` command line: ``list``, ``show``, ``solve``, ``classify``, ``sweep``.

Every user error (unknown problem, bad spec, bad flag value, missing data file, diverging run)
is printed as one line on stderr with exit code 2; ``--json`` prints machine-readable metrics on
stdout and ``--quiet`` silences progress bars.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXAMPLES = {
    "list": "examples:\n  spikepde list",
    "show": "examples:\n  spikepde show burgers\n  spikepde show allen_cahn --param d=0.002",
    "solve": ("examples:\n"
              "  spikepde solve burgers                      # fgrad, default budget, writes runs/burgers-fgrad-s0\n"
              "  spikepde solve burgers --method fgrad --steps 2000 --seed 0 --out runs/b1\n"
              "  spikepde solve burgers --method bptt --steps 2000 --out runs/b2\n"
              "  spikepde solve burgers --method ann --out runs/b3\n"
              "  spikepde solve allen_cahn --param d=0.002 --steps 50\n"
              "  spikepde solve path/to/my_problem.toml --json\n"
              "  spikepde solve --resume runs/b1             # continue an interrupted run"),
    "classify": ("examples:\n  spikepde classify digits --method ff --epochs 30\n"
                 "  spikepde classify mnist --data-dir ~/data/mnist --method ff"),
    "sweep": ("examples:\n  spikepde sweep burgers --grid nu=0.005,0.01 --grid T=8,16 --seeds 3 "
              "--steps 200 --out studies/s1 --plot"),
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_solve(sub):
    p = sub.add_parser("solve", help="train a surrogate for a problem and evaluate it",
                       description="Train a surrogate (spiking or tanh MLP) for a catalogue problem "
                                   "or a problem file, evaluate it on the reference grid, write a run "
                                   "directory (config, metrics, checkpoint, error-field plots).",
                       epilog=EXAMPLES["solve"], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", nargs="?", help="catalogue name (see 'spikepde list') or a .toml file")
    p.add_argument("--method", default="fgrad", choices=["fgrad", "bptt", "ann", "admm"],
                   help="fgrad: spiking, forward gradient (no back-propagation; default); "
                        "bptt: spiking, surrogate-gradient BPTT; ann: tanh MLP PINN; "
                        "admm: spiking, ADMM with closed-form updates")
    p.add_argument("--steps", type=int, help="training steps, or ADMM iterations (default: the problem's "
                                              "budget: steps, or admm_steps for --method admm)")
    p.add_argument("--seed", type=int, default=0, help="seed for init, sampling and directions (default 0)")
    p.add_argument("--out", help="run directory (default runs/<problem>-<method>-s<seed>)")
    p.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a problem parameter (repeatable), e.g. --param nu=0.02")
    g = p.add_argument_group("spiking network")
    g.add_argument("--width", type=int, help="neurons per hidden layer (default 64)")
    g.add_argument("--depth", type=int, help="hidden LIF layers (default 2)")
    g.add_argument("--T", type=int, help="time steps (default 8)")
    g.add_argument("--surrogate", choices=["sigmoid", "atan", "gaussian", "fast_sigmoid"],
                   help="surrogate derivative of the spike (default sigmoid)")
    g.add_argument("--estimator", choices=["surrogate-jvp", "stein", "fd"],
                   help="input-derivative estimator for residuals (default surrogate-jvp)")
    g = p.add_argument_group("training")
    g.add_argument("--lr", type=float, help="Adam learning rate (default 1e-2 spiking, 1e-3 ann)")
    g.add_argument("--lr-schedule", choices=["constant", "cosine"],
                   help="Adam learning rate: constant or cosine decay to lr/20 (default: cosine for "
                        "the spiking methods, constant for ann)")
    g.add_argument("--K", type=int, help="fgrad: noise draws per hidden layer (activity, default 4) or "
                        "directions per step / per layer (global / layerwise, default 8)")
    g.add_argument("--perturbation", choices=["global", "layerwise", "activity"],
                   help="fgrad: per-point noise on the hidden currents with an exact readout "
                        "gradient (activity, default), or weight perturbation of all parameters "
                        "(global) or of one layer per direction (layerwise)")
    g.add_argument("--directions", choices=["rademacher", "gaussian"], help="fgrad: default rademacher")
    g.add_argument("--lbfgs-steps", type=int, help="ann: L-BFGS iterations after Adam (default 5000)")
    g.add_argument("--interior-points", type=int, help="collocation points (default: the problem's budget)")
    g.add_argument("--residual-form", choices=["auto", "strong", "weak"],
                   help="PDE loss: pointwise residual (strong) or integrated by parts against "
                        "B-spline test functions (weak: the spiking network only gives values); "
                        "auto (default): weak for fgrad/bptt where it applies, else strong")
    g.add_argument("--weak-tests", type=_counts, metavar="N[,N...]",
                   help="weak form: B-splines per axis, one number or one per axis in the order "
                        "of the variables, e.g. 48,24 (default 32; 10 for three variables)")
    g.add_argument("--weak-quadrature", type=int, metavar="Q",
                   help="weak form: midpoint quadrature points per B-spline interval and axis (default 2)")
    g.add_argument("--soft-constraints", action="store_true",
                   help="ignore the problem's [hard_constraint] output transform: train the "
                        "initial/boundary conditions as loss terms instead")
    g.add_argument("--dtype", choices=["float32", "float64"], help="default float32 (ann: float64)")
    g.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    g.add_argument("--compile", action="store_true",
                   help="run the spiking network's derivative-free forward passes (evaluation, "
                        "admm) under torch.compile; falls back to eager with a warning")
    g.add_argument("--admm", action="append", default=[], metavar="NAME=VALUE",
                   help="admm: an ADMMConfig field (repeatable), e.g. --admm test_per_axis=20 "
                        "--admm rho=2 (see spikepde.train.admm.ADMMConfig)")
    g = p.add_argument_group("run directory")
    g.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="save a checkpoint every N steps (default 200); one is also saved on "
                        "Ctrl-C/SIGTERM, and --resume continues from it")
    g.add_argument("--log-every", type=int, metavar="N", help="log the loss terms every N steps (default 50)")
    _add_output_flags(p)


def _counts(text: str):
    """``"32"`` → 32, ``"48,24"`` → [48, 24] (argparse type of --weak-tests)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or a comma-separated list, got '{text}'")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got '{text}'")
    return values[0] if len(values) == 1 else values


def _add_output_flags(p):
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``spikepde`` command (used for ``--help`` and the README)."""
    parser = _Parser(prog="spikepde", description="Spiking neural-network PDE surrogates trained "
                     "without back-propagation.", formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="Run 'spikepde COMMAND --help' for the options and examples of a command.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    p = sub.add_parser("list", help="the problem catalogue, one line per problem",
                       epilog=EXAMPLES["list"], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    p = sub.add_parser("show", help="a problem's equation, domain, conditions, reference and budget",
                       epilog=EXAMPLES["show"], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", help="catalogue name or .toml file")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--ascii", action="store_true", help="ASCII instead of Unicode pretty-printing")
    _add_solve(sub)
    p = sub.add_parser("classify", help="train and evaluate a spiking classifier",
                       epilog=EXAMPLES["classify"], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", nargs="?", default="digits",
                   help="digits (bundled, default), mnist, fashion-mnist, cifar10")
    p.add_argument("--method", default="ff", choices=["ff", "bptt", "admm"])
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="directory holding the data set's standard files")
    p.add_argument("--out", help="run directory")
    p.add_argument("--no-adaptation", action="store_true", help="ff: turn class-aware adaptation off")
    p.add_argument("--device", default="cpu")
    _add_output_flags(p)
    p = sub.add_parser("sweep", help="a parameter study over a grid of settings",
                       epilog=EXAMPLES["sweep"], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", help="catalogue name or .toml file")
    p.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="a varied setting: a problem parameter (nu=...), a solve option (T=, K=, "
                        "width=, lr=, method=...) or seed=; repeat for a full grid")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a fixed solve option for every point, e.g. --set interior_points=512")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a fixed problem parameter for every point")
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per setting (default 1)")
    p.add_argument("--steps", type=int, help="training steps per point (default: the problem's budget)")
    p.add_argument("--method", default="fgrad", help="fgrad (default), bptt, ann or admm")
    p.add_argument("--out", required=True, help="study directory: results.csv, runs/, plots")
    p.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786 ('local' "
                                       "starts a LocalCluster)")
    p.add_argument("--workers", type=int, help="local processes (default: cores)")
    p.add_argument("--plot", action="store_true", help="write metric-vs-parameter and heatmap plots")
    _add_output_flags(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spikepde`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from .allocator import tune_allocator
    from .errors import SpikePDEError

    tune_allocator()          # reuse large tensor buffers instead of page-faulting fresh ones

    try:
        return COMMANDS[args.command](args)
    except (SpikePDEError, ValueError, TypeError, NotImplementedError, OSError) as exc:
        print(f"spikepde {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spikepde {args.command}: {_interrupted(args)}", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (scripts parse stderr line by line)."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or exc.__class__.__name__


def _interrupted(args) -> str:
    """What an interrupt left behind and how to continue (one line)."""
    run_dir = getattr(args, "run_dir", None)
    if args.command != "solve" or run_dir is None:
        return "interrupted"
    from .errors import CheckpointError
    from .runs import load_checkpoint

    try:
        step = load_checkpoint(Path(run_dir) / "checkpoint.pt").get("step", "?")
    except CheckpointError:
        return f"interrupted before the first checkpoint; nothing to resume in {run_dir}"
    return (f"interrupted; checkpoint at step {step} saved in {run_dir} "
            f"(continue with: spikepde solve --resume {run_dir})")


def _admm_options(assignments) -> dict:
    """``["test_per_axis=20", "rho=2.5"]`` → ``{"test_per_axis": 20, "rho": 2.5}``, names checked
    against :class:`spikepde.train.admm.ADMMConfig`; values parsed as int, float, true/false or text."""
    import dataclasses

    from .train.admm import ADMMConfig

    known = {f.name for f in dataclasses.fields(ADMMConfig)}
    options = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--admm expects NAME=VALUE, got '{text}'")
        if name not in known:
            raise ValueError(f"--admm: unknown option '{name}'; known: {', '.join(sorted(known))}")
        value = value.strip()
        for parse in (int, float):
            try:
                options[name] = parse(value)
                break
            except ValueError:
                continue
        else:
            options[name] = {"true": True, "false": False, "none": None}.get(value.lower(), value)
    return options


def _params(assignments):
    from .problem.spec import parse_param_assignments

    return parse_param_assignments(assignments) if assignments else {}


def cmd_list(args) -> int:
    from . import load_problem, list_problems

    rows = []
    for name in list_problems():
        p = load_problem(name)
        eq = "; ".join(str(r) for r in p.display_residuals()) if hasattr(p, "display_residuals") else \
            (p.spec.get("pde", {}).get("residual") or "; ".join(p.spec.get("pde", {}).get("residuals", [])) or "regression")
        rows.append({"name": name, "title": p.title, "equation": eq})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        residual = r["equation"]
        eq = f"{residual} = 0" if residual != "regression" else "regression (no PDE)"
        print(f"{r['name']:<{width}}  {eq:<44}  {r['title']}")
    return 0


def cmd_show(args) -> int:
    from . import load_problem

    print(load_problem(args.problem, **_params(args.param)).pretty(unicode=not args.ascii))
    return 0


SOLVE_OPTIONS = ["width", "depth", "T", "surrogate", "estimator", "lr", "K", "perturbation",
                 "directions", "lbfgs_steps", "interior_points", "dtype", "device", "checkpoint_every",
                 "log_every", "residual_form", "weak_tests", "weak_quadrature", "lr_schedule"]


def cmd_solve(args) -> int:
    from .solve import solve

    if args.resume:
        # the saved config.json is the run's definition; silently ignoring new settings would
        # give a result the user did not ask for
        given = [k for k in ["steps", *SOLVE_OPTIONS] if k != "device" and getattr(args, k) is not None]
        given += ["admm"] if args.admm else []
        if args.problem or args.out or args.param or given:
            extra = ([args.problem] if args.problem else []) + (["--out"] if args.out else []) + \
                (["--param"] if args.param else []) + [f"--{k.replace('_', '-')}" for k in given]
            raise ValueError(f"--resume continues a run with the settings saved in its config.json; "
                             f"drop {' '.join(extra)}")
        args.run_dir = args.resume
        result = solve(out=args.resume, resume=True, quiet=args.quiet)
    else:
        if not args.problem:
            raise ValueError("give a problem (see 'spikepde list') or --resume DIR")
        options = {k: getattr(args, k) for k in SOLVE_OPTIONS if getattr(args, k) is not None}
        if args.soft_constraints:
            options["hard_constraints"] = False
        if args.compile:
            options["compile"] = True
        if args.admm:
            if args.method != "admm":
                raise ValueError(f"--admm options are for --method admm (this run: --method {args.method})")
            options["admm"] = _admm_options(args.admm)
        stem = Path(args.problem).stem
        out = args.out or f"runs/{stem}-{args.method}-s{args.seed}"
        args.run_dir = out
        result = solve(args.problem, method=args.method, steps=args.steps, seed=args.seed, out=out,
                       params=_params(args.param), quiet=args.quiet, **options)
    return _report(result.metrics, result.paths, args)


def _report(metrics, paths, args) -> int:
    if args.json:
        print(json.dumps({"metrics": metrics, "paths": {k: str(v) for k, v in paths.items()}},
                         indent=2, default=str))
        return 0
    keys = ["problem", "method", "relative_l2", "max_abs_error", "accuracy", "wall_time_s", "steps",
            "spike_rate", "synaptic_ops_per_sample", "energy_pj_per_sample"]
    for k in keys:
        if k in metrics:
            v = metrics[k]
            print(f"{k:>24}: {v:.4g}" if isinstance(v, float) else f"{k:>24}: {v}")
    if paths:
        print(f"{'written to':>24}: {Path(next(iter(paths.values()))).parent}")
    return 0


def cmd_classify(args) -> int:
    from .classify import classify

    result = classify(args.dataset, method=args.method, epochs=args.epochs, seed=args.seed,
                      data_dir=args.data_dir, out=args.out, device=args.device, quiet=args.quiet,
                      adaptation=not args.no_adaptation)
    return _report(result.metrics, getattr(result, "paths", {}) or {}, args)


def cmd_sweep(args) -> int:
    from .study import study_from_cli

    return study_from_cli(args)


COMMANDS = {"list": cmd_list, "show": cmd_show, "solve": cmd_solve, "classify": cmd_classify,
            "sweep": cmd_sweep}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

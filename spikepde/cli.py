"""The ``spikepde`` command line: ``list``, ``show``, ``solve``, ``classify``, ``sweep``.

Every user error (unknown problem, bad spec, bad flag value, missing data file, diverging run)
is printed as one line on stderr with exit code 2; ``--json`` prints machine-readable metrics on
stdout and ``--quiet`` silences progress bars.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

EXAMPLES = {
    "list": "examples:\n  spikepde list",
    "show": ("examples:\n  spikepde show burgers\n  spikepde show allen_cahn --param d=0.002\n"
             "  spikepde show poisson1d --methods          # each method's default network and budget"),
    "solve": ("examples:\n"
              "  spikepde solve burgers                      # fgrad, default budget, writes runs/burgers-fgrad-s0\n"
              "  spikepde solve burgers --method fgrad --steps 2000 --seed 0 --out runs/b1\n"
              "  spikepde solve burgers --method bptt --steps 2000 --out runs/b2\n"
              "  spikepde solve burgers --method ann --out runs/b3\n"
              "  spikepde solve heat1d --method lsq           # a linear PDE: one closed-form solve\n"
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
    from .solving.config import SolveConfig

    p = sub.add_parser("solve", help="train a surrogate for a problem and evaluate it",
                       description="Train a surrogate (spiking or tanh MLP) for a catalogue problem "
                                   "or a problem file, evaluate it on the reference grid, write a run "
                                   "directory (config, metrics, checkpoint, error-field plots). Every "
                                   "setting of spikepde.SolveConfig has an option here.",
                       epilog=EXAMPLES["solve"], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", nargs="?", help="catalogue name (see 'spikepde list') or a .toml file")
    p.add_argument("--out", help="run directory (default runs/<problem>-<method>-s<seed>)")
    p.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a problem parameter (repeatable), e.g. --param nu=0.02")
    groups = {"run": p}
    for f in dataclasses.fields(SolveConfig):
        meta = f.metadata.get("cli")
        if meta is None:
            continue
        group = groups.get(meta["group"]) or groups.setdefault(meta["group"], p.add_argument_group(meta["group"]))
        _add_config_flag(group, f, meta)
    groups["training"].add_argument("--soft-constraints", dest="hard_constraints", action="store_false",
                                    default=argparse.SUPPRESS, help="the same as --no-hard-constraints")
    _add_output_flags(p)


def _flag_name(field_name: str) -> str:
    """``lr_schedule`` → ``--lr-schedule`` (``T`` and ``K`` keep their capitals)."""
    return "--" + field_name.replace("_", "-")


def _add_config_flag(group, f, meta) -> None:
    """One ``--flag`` for a SolveConfig field, from the field's type, default and metadata."""
    kind = meta["kind"] or _kind_of(f)
    choices, metavar, help_text = meta["choices"], meta["metavar"], meta["help"]
    if callable(choices):   # a registry's names: read when first needed, not at start-up
        choices, metavar = _LazyChoices(choices), metavar or "NAME"
        help_text += "; one of %(choices)s"
    default = f.default if f.default is not dataclasses.MISSING else None
    if default not in (None, "") and kind not in ("dict",):
        help_text += f" (default {default})" if kind != "bool" else f" (default: {'on' if default else 'off'})"
    kwargs = dict(dest=f.name, default=argparse.SUPPRESS, help=help_text)
    if kind == "bool":
        group.add_argument(_flag_name(f.name), action=argparse.BooleanOptionalAction, **kwargs)
    elif kind == "dict":
        group.add_argument(_flag_name(f.name), action="append", metavar="NAME=VALUE", **kwargs)
    else:
        parse = {"int": int, "float": float, "str": str, "counts": _counts}[kind]
        metavar = metavar or (None if choices else {"int": "N", "float": "X"}.get(kind, "TEXT"))
        group.add_argument(_flag_name(f.name), type=parse, choices=choices, metavar=metavar, **kwargs)


class _LazyChoices(Sequence):
    """An option's allowed values, computed on first use: the names of a registry whose modules
    import torch (surrogates, estimators) are only looked up when the option is given or its
    help is printed, so ``spikepde --help`` and one-line errors stay fast."""

    def __init__(self, names):
        self._names = names
        self._cached = None

    def _values(self) -> tuple:
        if self._cached is None:
            self._cached = tuple(self._names())
        return self._cached

    def __getitem__(self, index):
        return self._values()[index]

    def __len__(self) -> int:
        return len(self._values())


def _kind_of(f) -> str:
    """``int``, ``float``, ``str``, ``bool`` or ``dict`` from a field's annotation."""
    text = str(f.type)
    for kind in ("bool", "dict", "int", "float", "str"):
        if text.split("|")[0].strip() == kind:
            return kind
    raise TypeError(f"SolveConfig.{f.name}: give its command-line kind in flag(kind=...)")


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
    from .train.registry import AUTO, CLASSIFIERS, DEFAULT_METHOD, TRAINERS

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
    p.add_argument("--methods", action="store_true",
                   help="also list what 'spikepde solve NAME --method M' uses by default for each "
                        "method: network, time steps, budget, learning rate (loads torch)")
    _add_solve(sub)
    p = sub.add_parser("classify", help="train and evaluate a spiking classifier",
                       epilog=EXAMPLES["classify"], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", nargs="?", default="digits",
                   help="digits (bundled, default), mnist, fashion-mnist, cifar10")
    p.add_argument("--method", default="ff", choices=tuple(CLASSIFIERS),
                   help="ff: Forward-Forward (layer-local, default); bptt: surrogate-gradient BPTT on "
                        "the same network; admm: closed-form ADMM")
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
    p.add_argument("--method", default=DEFAULT_METHOD, choices=(AUTO,) + tuple(TRAINERS),
                   help=f"the training method of every point (default {DEFAULT_METHOD}: lsq where it "
                        "accepts the problem, else fgrad)")
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
    from ._runtime import tune_allocator
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
    except (MemoryError, RuntimeError) as exc:
        if not _out_of_memory(exc):
            raise            # a bug: its traceback is what a report needs
        print(f"spikepde {args.command}: error: out of memory ({_one_line(exc)[:200]}); lower the "
              "sizes (--interior-points, --width, --T, the problem's budget or reference grid)",
              file=sys.stderr)
        return 2


def _out_of_memory(exc: BaseException) -> bool:
    """An allocation that failed (torch reports it as a RuntimeError)."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "allocate" in text or "out of memory" in text


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


def parse_value(text: str):
    """A command-line value: ``true``/``false`` → bool, ``none`` → None, then int, float, or the
    text itself (``8`` → 8, ``1e-3`` → 0.001, ``fgrad`` → "fgrad")."""
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_assignments(items, flag: str, *, typed: bool = True) -> dict:
    """``["rho=2.5", "balance=true"]`` → ``{"rho": 2.5, "balance": True}`` (values by
    :func:`parse_value`; ``typed=False`` keeps them as text, e.g. problem parameters, which the
    problem parser reads as formulas). Every ``NAME=VALUE`` option of the command line goes
    through here."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ValueError(f"{flag} expects NAME=VALUE, got '{item}'")
        out[name] = parse_value(value) if typed else value
    return out


def cmd_list(args) -> int:
    """One line per catalogue entry, read from the files' text (no formula is parsed: listing
    must not wait for sympy; every entry is validated by the tests)."""
    from .problem.catalogue import catalogue_dir, list_problems, read_spec_file

    rows = []
    for name in list_problems():
        spec = read_spec_file(catalogue_dir() / f"{name}.toml")
        pde = spec.get("pde") or {}
        residual = pde.get("residual") or "; ".join(pde.get("residuals", [])) or "regression"
        rows.append({"name": name, "title": spec.get("title", ""), "equation": residual})
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
    from .problem.catalogue import locate

    locate(args.problem)          # an unknown name is answered before sympy is imported
    from . import load_problem

    problem = load_problem(args.problem, **_params(args.param))
    print(problem.pretty(unicode=not args.ascii))
    if args.methods:
        print("\n" + "\n".join(_method_defaults(problem)))
    return 0


def _method_defaults(problem) -> list[str]:
    """One line per training method: the settings ``solve`` fills in for ``problem``
    (:meth:`~spikepde.train.base.Trainer.defaults`, via ``SolveConfig.resolved``)."""
    from .solving.config import SolveConfig
    from .train.base import GradientTrainer
    from .train.registry import AUTO, TRAINERS, choose_method

    lines = [f"Default settings by method (--method auto picks {choose_method(AUTO, problem)})"]
    for name in TRAINERS:
        try:
            c = SolveConfig(method=name).resolved(problem)
        except ValueError as exc:
            lines.append(f"  {name:<6} not available: {exc}")
            continue
        if TRAINERS[name].network == "tanh":
            net = f"tanh MLP {c.ann_width} x {c.ann_depth}"
        else:
            net = f"{c.network or 'mlp'} LIF {c.width} x {c.depth}, T = {c.T}"
        unit = "iterations" if TRAINERS[name].budget_key != "steps" else "steps"
        step = f", lr {c.lr:g}" if issubclass(TRAINERS[name], GradientTrainer) else ""
        lines.append(f"  {name:<6} {net}, {c.steps} {unit}{step}, {c.dtype}")
    return lines


def cmd_solve(args) -> int:
    from .solving.config import SolveConfig
    from .train.registry import AUTO, choose_method

    config_fields = {f.name: f for f in dataclasses.fields(SolveConfig) if "cli" in f.metadata}
    given = {k: v for k, v in vars(args).items() if k in config_fields}
    if args.resume:
        # the saved config.json is the run's definition; silently ignoring new settings would
        # give a result the user did not ask for
        extra = ([args.problem] if args.problem else []) + (["--out"] if args.out else []) + \
            (["--param"] if args.param else []) + [_flag_name(k) for k in given]
        if extra:
            raise ValueError(f"--resume continues a run with the settings saved in its config.json; "
                             f"drop {' '.join(extra)}")
        args.run_dir = args.resume
        from .solving import solve

        result = solve(out=args.resume, resume=True, quiet=args.quiet)
        return _report(result.metrics, result.paths, args)
    if not args.problem:
        raise ValueError("give a problem (see 'spikepde list') or --resume DIR")
    from .problem.catalogue import locate

    locate(args.problem)          # an unknown name is answered before torch is imported
    options = {k: (parse_assignments(v, _flag_name(k)) if config_fields[k].type == "dict" else v)
               for k, v in given.items()}
    method = options.pop("method", SolveConfig.method)
    if method == AUTO:     # named now: the run directory and the option check need it
        from .problem.spec import load_problem

        method = choose_method(method, load_problem(args.problem))
    _check_method_options(method, options)
    seed = options.get("seed", SolveConfig.seed)
    out = args.out or f"runs/{Path(args.problem).stem}-{method}-s{seed}"
    args.run_dir = out
    from .solving import solve

    result = solve(args.problem, method=method, out=out, params=_params(args.param), quiet=args.quiet,
                   **options)
    return _report(result.metrics, result.paths, args)


def _check_method_options(method: str, options: dict) -> None:
    """A setting that only other methods read is an error, not silently ignored."""
    from .train.registry import TRAINERS

    for name in options:
        owners = [m for m in TRAINERS if name in TRAINERS[m].options]
        if owners and method not in owners:
            raise ValueError(f"{_flag_name(name)} is for --method {' or '.join(owners)} "
                             f"(this run: --method {method})")


def _params(assignments) -> dict:
    """``--param NAME=VALUE`` as text (the problem parses each value as a formula)."""
    return parse_assignments(assignments, "--param", typed=False)


def _report(metrics, paths, args) -> int:
    if args.json:
        print(json.dumps({"metrics": metrics, "paths": {k: str(v) for k, v in paths.items()}},
                         indent=2, default=str))
        return 0
    keys = ["problem", "method", "relative_l2", "max_abs_error", "accuracy", "reference",
            "reference_solver", "reference_resolution", "reference_error_estimate",
            "strong_residual_rms", "weak_residual_rms", "condition_rms", "wall_time_s", "steps",
            "spike_rate", "synaptic_ops_per_sample", "energy_pj_per_sample"]
    for k in keys:
        if k in metrics:
            v = metrics[k]
            if isinstance(v, dict):        # condition_rms: one number per condition
                v = ", ".join(f"{name} {x:.3g}" for name, x in v.items()) or "none measured"
            print(f"{k:>24}: {v:.4g}" if isinstance(v, float) else f"{k:>24}: {v}")
    if paths:
        print(f"{'written to':>24}: {Path(next(iter(paths.values()))).parent}")
    return 0


def cmd_classify(args) -> int:
    from .classification import classify

    result = classify(args.dataset, method=args.method, epochs=args.epochs, seed=args.seed,
                      data_dir=args.data_dir, out=args.out, device=args.device, quiet=args.quiet,
                      adaptation=not args.no_adaptation)
    return _report(result.metrics, result.paths, args)


def parse_grid(assignments: list[str]) -> dict[str, list]:
    """``["nu=0.005,0.01", "T=8,16"]`` → ``{"nu": [0.005, 0.01], "T": [8, 16]}`` (values by
    :func:`parse_value`)."""
    grid: dict[str, list] = {}
    for item in assignments:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise ValueError(f"--grid '{item}': expected NAME=V1,V2,...")
        if name in grid:
            raise ValueError(f"--grid: '{name}' given twice")
        grid[name] = [parse_value(v) for v in values.split(",") if v.strip()]
    return grid


def cmd_sweep(args) -> int:
    """``spikepde sweep``: run :func:`spikepde.study` from parsed arguments and print a summary.

    Uses ``args.problem, grid, seeds, steps, method, out, scheduler, workers, plot, quiet,
    json``. ``--seeds N`` means seeds 0..N-1 (unless the grid has ``seed``). With ``--plot`` it
    writes ``<metric>_vs_<x>.png`` for the first varied key (hue: the second) and, with two or
    more varied keys, ``heatmap_<metric>_<x>_<y>.png`` into ``out``. Prints the table as JSON
    records with ``--json``, else the per-setting summary; returns 0.
    """
    from .sweep import TABLE, study, summarize, write_plots

    grid = parse_grid(args.grid)
    fixed = parse_assignments(args.set, "--set")
    params = parse_assignments(args.param, "--param")
    seeds = None if "seed" in grid else args.seeds
    df = study(args.problem, grid, seeds=seeds, steps=args.steps, method=args.method, out=args.out,
               scheduler=args.scheduler, workers=args.workers, quiet=args.quiet or args.json,
               params=params or None, **fixed)
    written = []
    if args.plot and len(df):
        written = write_plots(df, args.out, keys=[k for k in grid if k != "seed"])
    if args.json:
        print(df.to_json(orient="records", indent=2))
        return 0
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:.4g}".format):
        print(summarize(df).to_string() if len(df) else "(no points)")
    n_ok = int((df["status"] == "ok").sum()) if len(df) else 0
    print(f"{len(df)} points, {n_ok} ok, {len(df) - n_ok} failed; table: {Path(args.out) / TABLE}")
    for p in written:
        print(f"plot: {p}")
    return 0


COMMANDS = {"list": cmd_list, "show": cmd_show, "solve": cmd_solve, "classify": cmd_classify,
            "sweep": cmd_sweep}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

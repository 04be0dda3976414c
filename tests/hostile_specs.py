"""Hostile problem files, one per class of attack on the loader's time and memory.

Each case is a problem file written in a directory: too many of something (variables,
definitions, parameters, conditions, boxes, residuals, literature entries), too large a point
count or reference grid, definitions whose written size doubles at every step, a name no
registry knows, a file too large to read, a residual whose expansion explodes. Shared by
``tests/test_hostile_inputs.py`` (each case through the ``spikepde`` command in a subprocess,
with a timeout) and ``benchmarks/robustness.py`` (the same cases, timed).

Every case but the last class must be refused at load time with exit code 2 and one line on
stderr. The ``solvable`` cases are valid files: they must load, and a solve with a tiny budget
must end (exit 0, or 2 with a one-line error such as a divergence) without a traceback.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Case:
    label: str
    path: Path
    solvable: bool = False       # a valid file: load it, and solve it briefly


def _spec(*, space=("x",), domain=None, parameters="", definitions="",
          residual="u_t - 0.1*u_xx", conditions=None, reference=None, budget="",
          extra="") -> str:
    """A heat-equation file in the catalogue's layout with one part replaced."""
    space_list = ", ".join(f'"{v}"' for v in space)
    domain = domain or "\n".join(f"{v} = [0.0, 1.0]" for v in space) + "\nt = [0.0, 1.0]"
    grid = ", ".join(f"{v} = 11" for v in space)
    conditions = conditions if conditions is not None else (
        '[[conditions]]\nkind = "initial"\nvalue = "sin(pi*x)"\n\n'
        '[[conditions]]\nkind = "dirichlet"\non = "boundary"\nvalue = "0"\n')
    reference = reference or f'[reference]\nexact = "exp(-0.1*pi**2*t)*sin(pi*x)"\ngrid = {{ {grid}, t = 11 }}\n'
    return (f'name = "hostile"\ntitle = "hostile input"\n\n[variables]\nspace = [{space_list}]\n'
            f'time = "t"\n\n[domain]\n{domain}\n\n[parameters]\n{parameters}\n\n'
            f'[definitions]\n{definitions}\n\n[pde]\nresidual = "{residual}"\n\n{conditions}\n'
            f'{reference}\n[budget]\n{budget}\n{extra}')


def _chain(n: int) -> str:
    """Definitions whose written size doubles at every step: d_k = d_{k-1}*(d_{k-1} + 1)."""
    lines = ['d0 = "x + t"'] + [f'd{k} = "d{k - 1}*(d{k - 1} + 1)"' for k in range(1, n + 1)]
    return "\n".join(lines)


def _boxes(n: int, space=("x", "y")) -> str:
    """n small disjoint boxes inside the unit square (or cube), as domain.exclude entries."""
    side = max(2, int(round(n ** (1 / len(space)))) + 1)
    h = 0.4 / side
    boxes = []
    for k in range(n):
        coords, rest = [], k
        for _ in space:
            coords.append(rest % side)
            rest //= side
        bounds = ", ".join(f"{v} = [{(c + 0.3) / side:.6f}, {(c + 0.3) / side + h:.6f}]"
                           for v, c in zip(space, coords))
        boxes.append(f"{{ {bounds} }}")
    return "exclude = [" + ", ".join(boxes) + "]"


def _diagonal_boxes(n: int, space) -> str:
    """n boxes along the diagonal, every bound distinct: (2n + 1)^d cells to check."""
    boxes = [("{ " + ", ".join(f"{v} = [{(k + 0.2) / (n + 1):.6f}, {(k + 0.6) / (n + 1):.6f}]"
                               for v in space) + " }") for k in range(n)]
    return "exclude = [" + ", ".join(boxes) + "]"


def _spec_2d(exclude: str, space=("x", "y")) -> str:
    domain = "\n".join(f"{v} = [0.0, 1.0]" for v in space) + "\nt = [0.0, 1.0]\n" + exclude
    laplacian = " + ".join(f"u_{v}{v}" for v in space)
    grid = ", ".join(f"{v} = 11" for v in space)
    return _spec(space=space, domain=domain, residual=f"u_t - 0.1*({laplacian})",
                 conditions='[[conditions]]\nkind = "initial"\nvalue = "0"\n',
                 reference=f'[reference]\nexact = "0"\ngrid = {{ {grid}, t = 11 }}\n')


def cases(directory: str | Path) -> list[Case]:
    """Write every hostile file into ``directory``; return the cases."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    many = 5000
    texts = {
        "unknown reference solver": _spec(reference='[reference]\nsolver = "no_such_solver"\n'
                                                    'grid = { x = 11, t = 11 }\n'),
        "budget of 10^9 interior points": _spec(budget="interior_points = 1000000000"),
        "condition with 10^12 points": _spec(conditions='[[conditions]]\nkind = "initial"\n'
                                                        'value = "sin(pi*x)"\npoints = 1000000000000\n'),
        "reference grid of 10^12 points": _spec(reference='[reference]\nexact = "x"\n'
                                                          'grid = { x = 1000000, t = 1000000 }\n'),
        "reference grid of 10^400 points": _spec(reference='[reference]\nexact = "x"\n'
                                                           f'grid = {{ x = 1{"0" * 400}, t = 11 }}\n'),
        "60 definitions, each doubling": _spec(definitions=_chain(60), residual="u_t - u_xx - d60"),
        "40 space variables": _spec(space=tuple(f"x{k}" for k in range(40)),
                                    residual="u_t - u_x0x0",
                                    conditions='[[conditions]]\nkind = "initial"\nvalue = "0"\n'),
        "500 excluded boxes": _spec_2d(_boxes(500)),
        "16 excluded boxes in 5 dimensions": _spec_2d(_diagonal_boxes(16, tuple("abcde")),
                                                      tuple("abcde")),
        f"{many} conditions": _spec(conditions="\n".join(
            '[[conditions]]\nkind = "dirichlet"\non = "x_min"\nvalue = "0"\n' for _ in range(many))),
        f"{many} parameters": _spec(parameters="\n".join(f"p{k} = 1.0" for k in range(many))),
        f"{many} definitions": _spec(definitions="\n".join(f'q{k} = "x + {k}"' for k in range(many))),
        f"{many} literature entries": _spec(extra="\n".join(
            '[[literature]]\nmethod = "m"\nrelative_l2 = 0.1\nsource = "s"\n' for _ in range(many))),
        "100 residuals": _spec(residual="u_t", extra="").replace(
            'residual = "u_t"', "residuals = [" + ", ".join(['"u_t - u_xx"'] * 100) + "]"),
        "formula of 10^4 characters": _spec(residual="u_t - u_xx" + " + x" * 2500),
        "TOML nested 10^5 deep": "a = " + "[" * 100_000,
    }
    out = []
    for k, (label, text) in enumerate(texts.items()):
        path = directory / f"hostile_{k:02d}.toml"
        path.write_text(text)
        out.append(Case(label, path))
    big = directory / "hostile_big.toml"          # 3 GB, sparse: no disk used, never read
    with big.open("wb") as handle:
        handle.truncate(3 * 1024 ** 3)
    out.append(Case("3 GB file", big))
    power = directory / "hostile_power.toml"
    power.write_text(_spec(residual="u_t - 0.1*u_xx + 1e-40*(u + x + t + 1)**64"))
    out.append(Case("residual with (u + x + t + 1)**64", power, solvable=True))
    return out


def remove(case_list: list[Case]) -> None:
    """Delete the files (the 3 GB one is sparse, but a copy of it would not be)."""
    for case in case_list:
        if case.path.exists():
            os.remove(case.path)


@dataclass(frozen=True)
class Outcome:
    """What a guarded call ended in: ``ok``, ``spec_error`` (with the error's file, field and
    text), ``exception`` (another type: its name and traceback) or ``hang`` (killed)."""
    kind: str
    file: str | None = None
    field: str | None = None
    text: str = ""
    seconds: float = 0.0


def guarded(call, timeout: float = 10.0) -> Outcome:
    """Run ``call()`` in a forked child process and report how it ended; a child still running
    after ``timeout`` seconds is killed and reported as a hang (an in-process timer cannot stop
    a loop inside a C extension, a child process can always be killed)."""
    import multiprocessing
    import time

    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    start = time.perf_counter()
    child = context.Process(target=_run_child, args=(call, send), daemon=True)
    child.start()
    send.close()
    try:
        outcome = receive.recv() if receive.poll(timeout) else Outcome("hang", text=f"> {timeout} s")
    except EOFError:       # the child died without a word (a crash of the interpreter)
        outcome = Outcome("exception", text=f"child exited with code {child.exitcode}")
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    return Outcome(outcome.kind, outcome.file, outcome.field, outcome.text,
                   time.perf_counter() - start)


def _run_child(call, send) -> None:
    import traceback

    from spikepde.errors import SpecError

    try:
        call()
        outcome = Outcome("ok")
    except SpecError as exc:
        outcome = Outcome("spec_error", exc.file, exc.field, str(exc))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        outcome = Outcome("exception", type(exc).__name__, None, traceback.format_exc()[-3000:])
    send.send(outcome)
    send.close()

"""Package faces whose names are imported on first use (PEP 562).

``import spikepde`` (and so the ``spikepde`` command, whose entry point lives in
``spikepde.cli``) must not pay for torch, sympy, scipy and matplotlib before it knows it needs
them: ``spikepde --help`` would otherwise wait seconds for libraries it never calls. A package
lists its public names and the submodule each comes from; the submodule is imported the first
time the name is looked up, and the value is then kept on the package like a normal import.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps each public name to the
    relative module that defines it (``{"solve": ".solving"}``). A name that is not exported but
    is a submodule (``spikepde.plotting``) is imported as well, as an eager package would have."""
    exports = dict(exports)

    def __getattr__(name: str):
        if name in exports:
            value = getattr(importlib.import_module(exports[name], package), name)
        elif not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}") is not None:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__

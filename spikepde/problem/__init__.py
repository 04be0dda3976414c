"""The symbolic problem layer: safe spec parsing, the sympy Problem, compilation to torch.

Typical use::

    from spikepde.problem import load_problem, compile_problem
    problem = load_problem("burgers", nu=0.02)
    compiled = compile_problem(problem)
    X = compiled.sample_interior(1000, torch.Generator().manual_seed(0))
"""
from spikepde._lazy import lazy_exports

# imported on first use: the loader needs sympy, compilation needs torch
_EXPORTS = {
    "CompiledCondition": ".compile", "CompiledProblem": ".compile", "compile_problem": ".compile",
    "parse_expression": ".expr",
    **dict.fromkeys(["Condition", "Face", "GridAxis", "Parameter", "Problem", "ReferenceSpec"],
                    ".problem"),
    "list_problems": ".spec", "load_problem": ".spec", "problem_from_dict": ".spec",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "CompiledCondition", "CompiledProblem", "Condition", "Face", "GridAxis", "Parameter",
    "Problem", "ReferenceSpec", "compile_problem", "list_problems", "load_problem",
    "parse_expression", "problem_from_dict",
]

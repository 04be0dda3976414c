"""The symbolic problem layer: safe spec parsing, the sympy Problem, compilation to torch.

Typical use::

    from spikepde.problem import load_problem, compile_problem
    problem = load_problem("burgers", nu=0.02)
    compiled = compile_problem(problem)
    X = compiled.sample_interior(1000, torch.Generator().manual_seed(0))
"""
from spikepde.problem.compile import CompiledCondition, CompiledProblem, compile_problem
from spikepde.problem.expr import parse_expression
from spikepde.problem.problem import (Condition, Face, GridAxis, Parameter, Problem,
                                      ReferenceSpec)
from spikepde.problem.spec import list_problems, load_problem, problem_from_dict

__all__ = [
    "CompiledCondition", "CompiledProblem", "Condition", "Face", "GridAxis", "Parameter",
    "Problem", "ReferenceSpec", "compile_problem", "list_problems", "load_problem",
    "parse_expression", "problem_from_dict",
]

"""The spike non-linearity: Heaviside forward, surrogate derivative in every AD mode.

Two implementations with the same values and the same first derivatives:

* :func:`spike` (default, "straight-through" form)::

      s = H(v) + (σ(v) − stop_gradient(σ(v)))

  The bracket is exactly 0 in value, so ``s`` is the hard spike, while *every* derivative of
  ``s`` of *any* order, in reverse or forward mode, is that of the smooth primitive σ. It is a
  plain composition of torch ops, so it nests: a parameter JVP (forward gradient) around input
  JVPs (∂u/∂x, ∂²u/∂x² for a PDE residual) around the network all see consistent surrogate
  derivatives, and ``torch.func.vmap``/``torch.compile`` need no special rules.

* :class:`SpikeFunction`, an ``autograd.Function`` with an explicit ``backward`` and an explicit
  forward-mode ``jvp`` rule (``ṡ = σ'(v) v̇``) and a generated vmap rule. It skips computing σ in
  the primal, so it is cheaper for first-order use, but a nested JVP sees only the first
  derivative (PyTorch does not differentiate a custom ``jvp`` rule again), so residuals with
  second derivatives must use :func:`spike`.

Both are tested against finite differences of the smoothed function ``σ`` (``tests/test_spike.py``).
"""
from __future__ import annotations

import torch

from .surrogate import Sigmoid, Surrogate


def heaviside(v: torch.Tensor) -> torch.Tensor:
    """``H(v) = 1 if v >= 0 else 0`` in the dtype of ``v`` (no derivative information)."""
    return (v >= 0).to(v.dtype)


def spike(v: torch.Tensor, surrogate: Surrogate | None = None) -> torch.Tensor:
    """Hard spike ``H(v)`` whose derivatives of every order are those of ``surrogate``.

    Args:
        v: membrane potential minus threshold, any shape.
        surrogate: the smooth primitive supplying derivatives (default ``Sigmoid(5)``).
    Returns:
        A tensor of 0/1 values, shaped like ``v``.
    """
    surrogate = surrogate or Sigmoid()
    smooth = surrogate.primitive(v)
    return heaviside(v.detach()) + (smooth - smooth.detach())


class SpikeFunction(torch.autograd.Function):
    """Heaviside with a surrogate ``backward`` and a forward-mode ``jvp`` rule.

    Use as ``SpikeFunction.apply(v, surrogate)``. First-order only under nesting (see module
    docstring).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(v, surrogate):
        return heaviside(v)

    @staticmethod
    def setup_context(ctx, inputs, output):
        v, surrogate = inputs
        ctx.surrogate = surrogate
        ctx.save_for_backward(v)
        ctx.save_for_forward(v)

    @staticmethod
    def backward(ctx, grad_out):
        (v,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.derivative(v), None

    @staticmethod
    def jvp(ctx, v_dot, _surrogate_dot):
        (v,) = ctx.saved_tensors
        return ctx.surrogate.derivative(v) * v_dot

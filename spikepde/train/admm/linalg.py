"""Linear algebra of the ADMM blocks: small float64 least squares by Cholesky, the tridiagonal
solver of the membrane step, time shifts, and one-line errors for settings that make a system
singular or too large."""
from __future__ import annotations

import functools

import torch

from ...errors import ConfigurationError, SpikePDEError


def rms(x: torch.Tensor) -> float:
    return float(x.square().mean().sqrt()) if x.numel() else 0.0


def shift(x: torch.Tensor) -> torch.Tensor:
    """x[t−1] with x[−1] = 0 along the time axis 0."""
    return torch.cat([torch.zeros_like(x[:1]), x[:-1]])


def with_ones(a: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, torch.ones_like(a[..., :1])], dim=-1)


def cholesky(M: torch.Tensor, what: str, advice: str) -> torch.Tensor:
    """Cholesky factor of a matrix that should be positive definite; otherwise a one-line
    :class:`~spikepde.errors.ConfigurationError` naming the system and the setting to change
    (instead of a LinAlgError traceback)."""
    if not bool(torch.isfinite(M).all()):
        raise ConfigurationError(f"ADMM: {what} ({M.shape[0]}×{M.shape[1]}) has non-finite entries "
                                 f"(the iterate diverged): {advice}")
    L, info = torch.linalg.cholesky_ex(M)
    if int(info) != 0:
        raise ConfigurationError(f"ADMM: {what} ({M.shape[0]}×{M.shape[1]}) is singular or too "
                                 f"ill-conditioned to factorise (pivot {int(info)}): {advice}")
    return L


def _is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or any(k in text for k in ("can't allocate memory", "not enough memory",
                                                                    "out of memory", "failed to allocate"))


def user_facing_errors(fn):
    """Turn the failures a user can cause by the settings — a singular or ill-conditioned linear
    system (``torch.linalg.LinAlgError``), an allocation that does not fit — into a one-line
    :class:`~spikepde.errors.ConfigurationError` saying what to change (the CLI prints it and
    exits 2). Other errors pass unchanged."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SpikePDEError:
            raise
        except torch.linalg.LinAlgError as exc:
            raise ConfigurationError(f"ADMM: a linear system is singular or too ill-conditioned "
                                     f"({str(exc).splitlines()[0] if str(exc) else 'LinAlgError'}): raise admm "
                                     "ridge or readout_ridge, or lower --width") from exc
        except (MemoryError, RuntimeError) as exc:
            if not _is_out_of_memory(exc):
                raise
            raise ConfigurationError("ADMM ran out of memory: lower --width, --T or the samples (admm "
                                     "quad_per_axis / test_per_axis for the weak form, --interior-points "
                                     "otherwise), or lower admm memory_limit_gb so that the estimate "
                                     "refuses such runs up front") from exc
    return wrapper


def ridge_solve(G: torch.Tensor, R: torch.Tensor, ridge: float, advice: str | None = None) -> torch.Tensor:
    """``R (G + εI)⁻¹`` for a Gram matrix G (ε relative to G's mean diagonal) by Cholesky.

    Solved in float64 whatever the working precision (the matrices are only (n_in+1)²)."""
    dtype = R.dtype
    G, R = G.to(torch.float64), R.to(torch.float64)
    eps = ridge * float(G.diagonal().mean().clamp_min(1e-30))
    L = cholesky(G + eps * torch.eye(G.shape[0], dtype=G.dtype, device=G.device),
                 "the Gram matrix of a weight least squares",
                 advice or f"raise admm ridge (now {ridge:g} of the mean diagonal)")
    return torch.cholesky_solve(R.T, L).T.to(dtype)


def weight_update(E: torch.Tensor, A_in: torch.Tensor, ridge: float, steps: int | None = None) -> torch.Tensor:
    """W minimising ``Σ_{t,b} ‖E[t,b] − W Â[t,b]‖² + ε‖W‖²`` (Â has the bias column).

    E is ``[T, B, n_out]``; A_in is ``[T, B, n_in+1]`` or ``[B, n_in+1]`` (constant over t).
    ``steps=T``: E is ``[B, n_out]``, the same at each of the T steps (and so is A_in).
    """
    dtype = E.dtype
    E, A_in = E.to(torch.float64), A_in.to(torch.float64)
    if steps is not None:
        G = steps * (A_in.T @ A_in)
        R = (steps * E).T @ A_in
    elif A_in.dim() == 2:
        T = E.shape[0]
        G = T * (A_in.T @ A_in)
        R = E.sum(0).T @ A_in
    else:
        a = A_in.reshape(-1, A_in.shape[-1])
        G = a.T @ a
        R = E.reshape(-1, E.shape[-1]).T @ a
    return ridge_solve(G, R, ridge).to(dtype)


def thomas(lower: float, diag: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve the symmetric tridiagonal systems with off-diagonal ``lower`` along axis 0.

    ``diag`` and ``rhs`` are ``[T, ...]``; returns x with ``lower x[t−1] + diag[t] x[t] +
    lower x[t+1] = rhs[t]``. Stable here: the matrix ρDᵀD + γ diag(·) is positive definite.
    """
    T = diag.shape[0]
    c_prime, d_prime = [], []
    for t in range(T):
        if t == 0:
            denom = diag[0]
            c_prime.append(lower / denom)
            d_prime.append(rhs[0] / denom)
        else:
            denom = diag[t] - lower * c_prime[-1]
            c_prime.append(lower / denom)
            d_prime.append((rhs[t] - lower * d_prime[-1]) / denom)
    x = [None] * T
    x[-1] = d_prime[-1]
    for t in range(T - 2, -1, -1):
        x[t] = d_prime[t] - c_prime[t] * x[t + 1]
    return torch.stack(x)


def readout_least_squares(A: torch.Tensor, y: torch.Tensor, ridge: float) -> torch.Tensor:
    """The physics least squares of the readout, ``(AᵀA + εI) w = Aᵀy`` (float64, Cholesky)."""
    A64, y64 = A.to(torch.float64), y.to(torch.float64)
    G = A64.T @ A64
    eps = ridge * float(G.diagonal().mean().clamp_min(1e-30))
    try:
        if not bool(torch.isfinite(G).all()):
            raise torch.linalg.LinAlgError("non-finite entries")
        w = torch.linalg.solve(G + eps * torch.eye(G.shape[0], dtype=G.dtype), A64.T @ y64)
    except torch.linalg.LinAlgError as exc:
            raise ConfigurationError(f"ADMM: the readout's physics least squares ({G.shape[0]}×{G.shape[0]}) "
                                 f"cannot be solved ({str(exc).splitlines()[0]}): raise admm readout_ridge "
                                 f"(now {ridge:g} of the mean diagonal)") from None
    return w.to(A.dtype)

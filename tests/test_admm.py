"""ADMM trainer: each closed-form block is optimal for its sub-problem; no back-propagation."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from spikepde.snn.lif import LIFConfig, lif_scan
from spikepde.train import admm as A

DT = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_lif_states_match_the_engine_scan():
    I = torch.randn(5, 7, generator=_gen(), dtype=DT) * 1.5
    lif = LIFConfig()
    v, s = A.lif_states(I, lif, 6)
    assert torch.equal(s, lif_scan(I, lif, T=6, differentiable=False))
    # the dynamics constraint holds exactly on a forward pass
    D = v - lif.beta * A._shift(v) + lif.threshold * A._shift(s) - I
    assert float(D.abs().max()) < 1e-12


def test_weight_update_satisfies_normal_equations():
    g = _gen(1)
    E = torch.randn(4, 30, 3, generator=g, dtype=DT)
    Ain = A._with_one(torch.randn(4, 30, 5, generator=g, dtype=DT))
    ridge = 1e-3
    W = A.weight_update(E, Ain, ridge)
    a = Ain.reshape(-1, 6)
    G = a.T @ a
    eps = ridge * float(G.diagonal().mean())
    grad = (W @ a.T - E.reshape(-1, 3).T) @ a + eps * W       # ∂/∂W of ½Σ‖E − Wâ‖² + ε/2‖W‖²
    assert float(grad.abs().max()) < 1e-9
    # constant input over t: the same as repeating it T times
    x = A._with_one(torch.randn(30, 5, generator=g, dtype=DT))
    W1 = A.weight_update(E, x, ridge)
    W2 = A.weight_update(E, x.expand(4, 30, 6), ridge)
    assert torch.allclose(W1, W2, atol=1e-10)


def test_thomas_solves_tridiagonal():
    g = _gen(2)
    T, B = 7, 11
    diag = 3 + torch.rand(T, B, generator=g, dtype=DT)
    rhs = torch.randn(T, B, generator=g, dtype=DT)
    x = A.thomas(-0.8, diag, rhs)
    for b in range(B):
        M = torch.diag(diag[:, b]) + torch.diag(torch.full((T - 1,), -0.8, dtype=DT), 1) \
            + torch.diag(torch.full((T - 1,), -0.8, dtype=DT), -1)
        assert torch.allclose(M @ x[:, b], rhs[:, b], atol=1e-10)


def test_potential_update_is_exact_minimiser():
    g = _gen(3)
    T, B = 8, 200
    beta, theta, margin, rho, gamma = 0.9, 1.0, 0.05, 1.0, 10.0
    c = torch.randn(T, B, generator=g, dtype=DT)
    s = (torch.rand(T, B, generator=g, dtype=DT) < 0.4).to(DT)
    v0 = torch.randn(T, B, generator=g, dtype=DT)
    v = A.potential_update(v0, c, s, beta, theta, margin, rho, gamma, iters=50)
    # first-order optimality of the convex C¹ objective
    dyn = v - beta * A._shift(v) - c
    grad = rho * (dyn - beta * torch.cat([dyn[1:], torch.zeros_like(dyn[:1])])) \
        + gamma * A.violation(v, s, theta, margin)
    assert float(grad.abs().max()) < 1e-8
    # and it beats random perturbations
    f = A.potential_objective(v, c, s, beta, theta, margin, rho, gamma)
    for k in range(20):
        dv = 1e-2 * torch.randn(T, B, generator=g, dtype=DT)
        assert bool((A.potential_objective(v + dv, c, s, beta, theta, margin, rho, gamma) >= f - 1e-12).all())


def test_spike_update_picks_brute_force_minimiser():
    theta, margin, rho, gamma, kappa = 1.0, 0.05, 1.3, 7.0, 2.0
    grid = torch.linspace(-1.0, 2.5, 36, dtype=DT)
    v, a, d = torch.meshgrid(grid, grid - 0.5, grid - 1.5, indexing="ij")
    v, a, d = v.flatten(), a.flatten(), d.flatten()
    s = A.spike_update(v, a, d, theta, margin, rho, gamma, kappa)

    def full_cost(sv):  # the terms of the augmented Lagrangian that contain s, written out
        dist = torch.where(sv > 0.5, (theta - v).clamp(min=0), (v - theta + margin).clamp(min=0))
        return 0.5 * gamma * dist ** 2 + 0.5 * kappa * (a - sv) ** 2 + 0.5 * rho * (d + theta * sv) ** 2

    costs = torch.stack([full_cost(torch.zeros_like(v)), full_cost(torch.ones_like(v))])
    assert torch.equal(s, costs.argmin(0).to(DT))


def test_relaxed_and_last_layer_updates_are_stationary():
    g = _gen(4)
    T, B, n, m = 5, 9, 6, 4
    rho, kappa = 1.5, 2.0
    W = torch.randn(m, n + 1, generator=g, dtype=DT)
    E = torch.randn(T, B, m, generator=g, dtype=DT)
    s = (torch.rand(T, B, n, generator=g, dtype=DT) < 0.5).to(DT)
    a = A.relaxed_spike_update(W, E, s, rho, kappa)
    grad = -rho * (E - a @ W[:, :-1].T - W[:, -1]) @ W[:, :-1] + kappa * (a - s)
    assert float(grad.abs().max()) < 1e-9
    Wo = torch.randn(3, n + 1, generator=g, dtype=DT)
    Z = torch.randn(B, 3, generator=g, dtype=DT)
    a = A.last_layer_update(Wo, Z, s, rho, kappa)
    r = Z - a.mean(0) @ Wo[:, :-1].T - Wo[:, -1]
    grad = -(rho / T) * (r @ Wo[:, :-1])[None] + kappa * (a - s)
    assert float(grad.abs().max()) < 1e-9


def test_output_update_is_stationary():
    g = _gen(5)
    Y, m, mu = (torch.randn(7, 3, generator=g, dtype=DT) for _ in range(3))
    z = A.output_update(Y, m, mu, 2.0)
    assert torch.allclose((z - Y) + 2.0 * (z - m + mu), torch.zeros_like(z), atol=1e-12)


def _digits_small():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    return X[:400], y[:400], X[400:600], y[400:600]


def test_tiny_classification_without_backprop(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("back-propagation was called")

    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    monkeypatch.setattr(torch.autograd, "grad", refuse)
    Xtr, ytr, Xva, yva = _digits_small()
    predict, history, extra = A.train_classifier(Xtr, ytr, Xva, yva, hidden=128, T=4,
                                                 iterations=6, quiet=True)
    acc = float((predict(Xva).argmax(1).numpy() == yva).mean())
    assert acc >= 0.7   # chance is 0.1; 400 training images, 6 iterations
    assert history["primal_residual"][-1] < history["primal_residual"][0]
    assert set(history) >= {"iteration", "primal_residual", "dual_residual", "objective",
                            "train_metric", "test_metric"}


def test_tiny_poisson1d_error_falls(monkeypatch):
    import spikepde

    def refuse(*args, **kwargs):
        raise AssertionError("back-propagation was called")

    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    monkeypatch.setattr(torch.autograd, "grad", refuse)
    r = spikepde.solve("poisson1d", method="admm", steps=2, width=96, depth=1, T=8, quiet=True)
    c = r.metrics["convergence"]
    # the initial readout (random weights) is far off; the physics readout brings it down
    assert r.metrics["relative_l2"] < 0.15
    assert min(c["test_metric"]) < 0.15
    assert r.metrics["admm_pde_form"] == "weak"

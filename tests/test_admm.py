"""ADMM trainer: each closed-form block is optimal for its sub-problem; no back-propagation."""
from __future__ import annotations


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
    D = v - lif.beta * A.shift(v) + lif.threshold * A.shift(s) - I
    assert float(D.abs().max()) < 1e-12


def test_weight_update_satisfies_normal_equations():
    g = _gen(1)
    E = torch.randn(4, 30, 3, generator=g, dtype=DT)
    Ain = A.with_ones(torch.randn(4, 30, 5, generator=g, dtype=DT))
    ridge = 1e-3
    W = A.weight_update(E, Ain, ridge)
    a = Ain.reshape(-1, 6)
    G = a.T @ a
    eps = ridge * float(G.diagonal().mean())
    grad = (W @ a.T - E.reshape(-1, 3).T) @ a + eps * W       # ∂/∂W of ½Σ‖E − Wâ‖² + ε/2‖W‖²
    assert float(grad.abs().max()) < 1e-9
    # constant input over t: the same as repeating it T times
    x = A.with_ones(torch.randn(30, 5, generator=g, dtype=DT))
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
    dyn = v - beta * A.shift(v) - c
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
    assert set(history) >= {"iteration", "primal_residual", "dual_residual", "objective",
                            "train_metric", "test_metric"}
    # the staircase step from the forward pass converges (the relaxed default moves away from
    # that feasible start while it learns: its residual rises first)
    _, history, _ = A.train_classifier(Xtr, ytr, Xva, yva, hidden=128, T=4, iterations=6, quiet=True,
                                       admm=A.ADMMConfig())
    assert history["primal_residual"][-1] < history["primal_residual"][0]


def test_tiny_poisson1d_error_falls(monkeypatch):
    import spikepde

    def refuse(*args, **kwargs):
        raise AssertionError("back-propagation was called")

    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    monkeypatch.setattr(torch.autograd, "grad", refuse)
    # the default start (Taylor's): forward pass of the initial weights, readout as initialised,
    # z from the physics term, duals zero; ADMM then reaches the physics least squares
    r = spikepde.solve("poisson1d", method="admm", steps=16, width=96, depth=1, T=8, quiet=True)
    c = r.metrics["convergence"]
    assert r.metrics["admm_pde_form"] == "weak" and r.metrics["admm_output_metric"] == "physics"
    assert c["test_metric"][0] > 0.3                      # far off after the first iteration
    assert r.metrics["relative_l2"] < 0.1
    assert c["primal_residual"][-1] < c["primal_residual"][0] / 100
    # the physics start: the least squares readout of the initial features at once
    r2 = spikepde.solve("poisson1d", method="admm", steps=1, width=96, depth=1, T=8, quiet=True,
                        admm={"pde_start": "physics"})
    assert r2.metrics["relative_l2"] < 0.1


# ------------------------------------------------------------------ exact (v, s) block
def _lif_pattern(z, T, beta=0.9, theta=1.0):
    v = torch.zeros_like(z)
    s = torch.zeros_like(z)
    out = []
    for _ in range(T):
        v = beta * v - theta * s + z
        s = (v >= theta).to(z.dtype)
        out.append(s)
    return torch.stack(out, -1)


@pytest.mark.parametrize("T", [4, 8, 16])
def test_lif_pieces_match_the_forward_pass(T):
    lo, up, P = A.lif_pieces(T, 0.9, 1.0)
    assert torch.equal(up[:-1], lo[1:]) and bool((lo[1:] > lo[:-1]).all())
    assert P[0].sum() == 0 and P[-1].sum() == T
    z = torch.linspace(-0.5, 2.5, 20001, dtype=DT)
    p = torch.searchsorted(lo, z, right=True) - 1
    assert torch.equal(_lif_pattern(z, T), P[p])
    # every pattern on the grid is one of the pieces (none is missed by the sweep)
    assert len({tuple(r) for r in _lif_pattern(z, T).tolist()}) == len(lo)


def test_lif_pieces_margin_keeps_silent_steps_below_threshold():
    T, delta = 8, 0.05
    lo, up, P = A.lif_pieces(T, 0.9, 1.0, margin=delta)
    for p in range(1, len(lo)):
        if up[p] < lo[p]:
            continue          # this spike train cannot keep the margin
        for z in torch.linspace(float(lo[p]), min(float(up[p]), float(lo[p]) + 1), 7, dtype=DT)[1:-1]:
            v, s = A.lif_states(z.reshape(1, 1), LIFConfig(), T)
            assert torch.equal(s[:, 0, 0], P[p])
            assert float(A.violation(v, s, 1.0, delta).abs().max()) == 0.0


@pytest.mark.parametrize("rate", [False, True])
def test_consistent_update_is_the_exact_block_minimiser(rate):
    """The joint (v, s) block beats every current on a fine grid, and its spikes are the
    forward pass of its current."""
    g = _gen(7)
    T, B, n = 8, 3, 4
    rho, kappa = 0.7, 1.3
    pieces = A.lif_pieces(T, 0.9, 1.0)
    m = torch.rand(B, n, generator=g, dtype=DT) * 1.6 - 0.3
    a = torch.rand(B, n, generator=g, dtype=DT) if rate else torch.rand(T, B, n, generator=g, dtype=DT)
    z = A.consistent_update(m, a, pieces, rho, kappa, rate=rate)

    def cost(zv, mv, av):
        s = _lif_pattern(zv, T)
        fit = T * (av - s.mean(-1)) ** 2 if rate else ((av[..., None, :] if av.dim() > 1 else av) - s).square().sum(-1)
        return 0.5 * rho * T * (zv - mv) ** 2 + 0.5 * kappa * fit

    grid = torch.linspace(-1.0, 2.5, 40001, dtype=DT)
    for b in range(B):
        for j in range(n):
            av = a[b, j] if rate else a[:, b, j]
            c_z = cost(z[b, j].reshape(1), m[b, j], av if rate else av[None])
            c_grid = cost(grid, m[b, j], av if rate else av[None])
            assert float(c_z) <= float(c_grid.min()) + 1e-9
    v, s = A.lif_states(z, LIFConfig(), T)
    lo = pieces[0]
    assert torch.equal(s.permute(1, 2, 0), pieces[2][torch.searchsorted(lo, z.contiguous(), right=True) - 1])


def test_consistent_update_window_is_exact():
    g = _gen(8)
    pieces = A.lif_pieces(32, 0.9, 1.0)
    m = (torch.rand(300, 40, generator=g, dtype=DT) * 1.6 - 0.3).float()
    a = torch.rand(300, 40, generator=g, dtype=DT).float()
    for rho, kappa in ((1.0, 1.0), (0.01, 1.0), (100.0, 0.1)):
        assert torch.equal(A.consistent_update(m, a, pieces, rho, kappa, rate=True),
                           A.consistent_update(m, a, pieces, rho, kappa, rate=True, window=10 ** 6))


# ------------------------------------------------------------------ penalties and duals
def _engine(cfg, hidden=16, T=4, seed=0):
    from spikepde.snn.network import SpikingMLP

    Xtr, ytr, _, _ = _digits_small()
    X = torch.as_tensor(Xtr[:120], dtype=DT)
    lif = LIFConfig()
    net = SpikingMLP(X.shape[1], (hidden,), out_dim=10, T=T, lif=lif)
    params = net.init_params(_gen(seed), dtype=DT)
    eng = A.LIFADMM(X, (hidden,), T, lif, 10, params, cfg)
    eng.readout_least_squares()
    Y = torch.nn.functional.one_hot(torch.as_tensor(ytr[:120]), 10).to(DT)
    return eng, A.supervised_output_step(Y)


def test_penalty_schedule_and_dual_rescaling():
    cfg = A.ADMMConfig(warm_start=1, penalty_growth=3.0, penalty_max=9.0)
    eng, step = _engine(cfg)
    rhos = []
    for k in range(5):
        eng.iteration += 1
        rho = eng.rho
        eng.sweep_hidden()
        step(eng)
        lam, mu = eng.Lam[0].clone(), eng.Mu.clone()
        r_dyn = eng.dynamics_residual(0)
        r_out = eng.Z - eng.readout_input() @ eng.W_out.T
        eng.update_duals()
        rhos.append(eng.rho)
        if eng.iteration <= cfg.warm_start:
            assert torch.equal(eng.Lam[0], lam) and eng.rho == rho
            continue
        g = eng.rho / rho
        # the unscaled duals ρλ, ρ_o μ carry over: ρ'λ' = ρ(λ + r)
        assert torch.allclose(eng.rho * eng.Lam[0], rho * (lam + r_dyn), atol=1e-12)
        assert torch.allclose(eng.rho_out * eng.Mu, (eng.rho_out / g) * (mu + r_out), atol=1e-12)
        assert eng.kappa == pytest.approx(cfg.kappa * eng.rho / cfg.rho)
    assert rhos == [1.0, 3.0, 9.0, 9.0, 9.0]       # grows after the warm start, capped


def test_default_run_drives_the_primal_residual_down():
    """The exact block, the dual ascent and the penalty continuation reach feasibility."""
    eng, step = _engine(A.ADMMConfig(), hidden=32, T=4)
    primal = [A.admm_iteration(eng, step)[0] for _ in range(14)]
    assert primal[-1] < primal[0] / 100
    assert eng.last_parts["heaviside"] == 0.0          # (H) holds exactly in the joint block
    # the spikes of the iterate are the true forward pass of its current (v[0] = z)
    v, s = A.lif_states(eng.V[0][0], eng.lif, eng.T)
    assert torch.equal(s, eng.S[0])


def test_residual_summary_matches_the_parts():
    eng, step = _engine(A.ADMMConfig(first_layer="split"))
    A.admm_iteration(eng, step)
    parts = eng.primal_parts()
    summary = eng.residual_summary()
    assert summary["primal"] == pytest.approx(A.rms(torch.cat(list(parts.values()))), rel=1e-10)
    for k, v in parts.items():
        assert summary["parts"][k] == pytest.approx(A.rms(v), rel=1e-10, abs=1e-300)
    assert 0 < summary["relative"] < summary["primal"] * 10


# ------------------------------------------------------------------ PDE output step
def test_quadratic_prox_is_stationary():
    g = _gen(9)
    R = torch.randn(7, 30, generator=g, dtype=DT)
    y = torch.randn(7, generator=g, dtype=DT)
    c = torch.randn(30, generator=g, dtype=DT)
    prox = A.QuadraticProx(R, y)
    for rho in (1e-3, 1.0, 50.0):
        z = prox(c, rho)
        assert float((R.T @ (R @ z - y) + rho * (z - c)).abs().max()) < 1e-9


def test_value_rows_reproduce_the_readout_rows():
    import spikepde
    from spikepde.problem import compile_problem
    from spikepde.snn.network import SpikingMLP
    from spikepde.train.objective import Objective, TrainingPoints

    c = compile_problem(spikepde.load_problem("poisson1d"), dtype=DT, device="cpu", hard_constraints=False)
    obj = Objective(c, TrainingPoints.sample(c, _gen(0), interior=None))
    ro = A.PDEReadout(c, obj, A.ADMMConfig())
    R, y = ro.value_rows()
    net = SpikingMLP(1, (16,), T=8, lif=LIFConfig(), lower=tuple(c.lower.tolist()), upper=tuple(c.upper.tolist()))
    params = net.init_params(_gen(1), dtype=DT)
    Arows, yrows = ro.rows(net, params, params)
    X = torch.cat([ro.Xq.to(DT)] + ro.value_condition_points())
    F = A.with_ones(net.features(params, X, differentiable=False))
    assert torch.allclose(R @ F, Arows, atol=1e-10) and torch.allclose(y, yrows, atol=1e-12)


def test_pde_iterate_is_selected_by_training_loss():
    import spikepde

    r = spikepde.solve("poisson1d", method="admm", steps=3, width=32, depth=1, T=8, quiet=True)
    c = r.metrics["convergence"]
    assert r.metrics["admm_output"] == "prox"
    k = r.metrics["admm_selected_iteration"]
    losses = [r.metrics["admm_selected_train_loss"]] + c["train_metric"]
    assert r.metrics["admm_selected_train_loss"] == min(losses)
    assert k == 0 or c["train_metric"][k - 1] == min(losses)


# ------------------------------------------------------------------ conditions (periodic pairs)
def _readout_setup(name, width=16, T=8, scale=1.0):
    import spikepde
    from spikepde.problem import compile_problem
    from spikepde.snn.network import SpikingMLP
    from spikepde.train.objective import Objective, TrainingPoints

    c = compile_problem(spikepde.load_problem(name), dtype=DT, device="cpu", hard_constraints=False)
    obj = Objective(c, TrainingPoints.sample(c, _gen(0), scale=scale))
    ro = A.PDEReadout(c, obj, A.ADMMConfig())
    net = SpikingMLP(c.problem.dim, (width,), T=T, lif=LIFConfig(), lower=tuple(c.lower.tolist()),
                     upper=tuple(c.upper.tolist()))
    return c, obj, ro, net, net.init_params(_gen(1), dtype=DT)


def test_periodic_condition_map_is_the_paired_difference():
    c, obj, ro, net, params = _readout_setup("kdv")
    cond = next(k for k in c.conditions if k.kind == "periodic")
    Xc = obj.points.conditions[c.conditions.index(cond)]
    n = Xc.shape[0] // 2
    F = {tuple(a): torch.randn(2 * n, generator=_gen(3), dtype=DT) for a in cond.derivatives}
    J, offset = A.condition_linear_map(cond, Xc, F)
    assert len(J) == 3 and float(offset.abs().max()) == 0.0       # u, u_x, u_xx matched
    for k, a in enumerate(cond.derivatives):
        Jk = J[tuple(a)]
        assert Jk.shape == (3 * n, 2 * n)
        block = Jk[k * n:(k + 1) * n]
        assert torch.equal(block, torch.cat([torch.eye(n, dtype=DT), -torch.eye(n, dtype=DT)], 1))
        assert float(torch.cat([Jk[:k * n], Jk[(k + 1) * n:]]).abs().max()) == 0.0
    # an affine map that reproduces the residual
    r = sum(J[a] @ F[a] for a in F) + offset
    assert torch.allclose(r, cond.residual(Xc, F), atol=1e-12)


@pytest.mark.parametrize("name", ["kdv", "burgers"])
def test_condition_rows_reproduce_the_condition_residuals(name):
    """Strong (pinned) path: the condition rows applied to the readout give the condition's
    residual of the network — for periodic pairs (kdv: u, u_x, u_xx differences of the feature
    jets at the paired points) and for Dirichlet rows under Picard (burgers: the condition is
    linearised by Newton, freezing u would drop its rows)."""
    c, obj, ro, net, params_k = _readout_setup(name, scale=0.05)
    assert ro.form == "strong" and ro.mode == "picard"
    Arows, y = ro.rows(net, params_k, params_k)     # linearised at u_k = the network of params_k
    # another readout: the rows must give ITS condition residual (the slope, not only the offset)
    params = dict(params_k, **{"readout.weight": torch.randn(1, 16, generator=_gen(5), dtype=DT),
                               "readout.bias": torch.randn(1, generator=_gen(6), dtype=DT)})
    w = torch.cat([params["readout.weight"][0], params["readout.bias"]])
    r = Arows @ w - y
    start = obj.points.interior.shape[0]
    for cond, Xc in zip(c.conditions, obj.points.conditions):
        idx = [tuple(a) for a in cond.derivatives]
        fields = net.forward_jet(params, Xc, idx) if idx != [(0,) * c.problem.dim] else \
            {idx[0]: net.forward(params, Xc, differentiable=False)}
        res = cond.residual(Xc, {a: fields[a] for a in idx})
        weight = (float(cond.weight) / res.shape[0]) ** 0.5
        assert torch.allclose(r[start:start + res.shape[0]], weight * res, atol=1e-9), cond.name
        assert float(res.abs().max()) > 1e-6          # not trivially zero
        start += res.shape[0]
    assert start == Arows.shape[0]


def test_periodic_value_rows_reproduce_the_readout_rows():
    """Prox path (advection1d: weak form, value-only initial and periodic conditions): the rows
    on values R, applied to the features at the quadrature grid and the condition points (both
    points of each periodic pair), are the readout rows, and R u − y is the weighted residual."""
    c, obj, ro, net, params = _readout_setup("advection1d")
    assert ro.form == "weak" and ro.conditions_are_values()
    R, y = ro.value_rows()
    Arows, yrows = ro.rows(net, params, params)
    X = torch.cat([ro.Xq.to(DT)] + ro.value_condition_points())
    assert R.shape[1] == X.shape[0]
    F = A.with_ones(net.features(params, X, differentiable=False))
    assert torch.allclose(R @ F, Arows, atol=1e-10) and torch.allclose(y, yrows, atol=1e-12)
    u = net.forward(params, X, differentiable=False)
    r = R @ u - y
    start, col = ro.chol.shape[0], ro.Xq.shape[0]
    for cond, Xc in zip(c.conditions, obj.points.conditions):
        uc = u[col:col + Xc.shape[0]]
        res = cond.residual(Xc, {(0, 0): uc})
        assert torch.allclose(r[start:start + res.shape[0]], (float(cond.weight) / res.shape[0]) ** 0.5 * res,
                              atol=1e-10)
        start, col = start + res.shape[0], col + Xc.shape[0]


@pytest.mark.parametrize("name", ["advection1d", "kdv"])
def test_periodic_problems_train(name):
    import spikepde

    r = spikepde.solve(name, method="admm", steps=2, width=8, depth=1, T=4, interior_points=32, quiet=True)
    assert np.isfinite(r.metrics["relative_l2"])
    assert r.metrics["admm_output"] == ("prox" if name == "advection1d" else "pinned")


# ------------------------------------------------------------------ sizes, memory, user-facing errors
def test_weak_sizes_by_dimension():
    cfg = A.ADMMConfig()
    assert A.weak_sizes(1, cfg) == (400, 8 * 403)
    assert A.weak_sizes(2, cfg) == (40, 86)
    assert A.weak_sizes(3, cfg) == (10, 26)          # heat2d (x, y, t): 1000 tests, 17576 points
    assert A.weak_sizes(3, A.ADMMConfig(test_per_axis=6, quad_per_axis=20)) == (6, 20)


def test_memory_limit_refuses_before_allocating():
    import re
    import time

    import spikepde
    from spikepde.errors import ConfigurationError

    t0 = time.perf_counter()
    # the old 3-D default: 40 B-splines per axis, a 64000 × 64000 Gram matrix
    with pytest.raises(ConfigurationError, match="test_per_axis") as info:
        spikepde.solve("heat2d", method="admm", steps=1, quiet=True, plots=False, admm={"test_per_axis": 40})
    assert time.perf_counter() - t0 < 30 and "\n" not in str(info.value)
    # the default heat2d run is estimated well under 2 GB (it measured 1.5 GB above the imports)
    with pytest.raises(ConfigurationError, match="memory_limit_gb") as info:
        spikepde.solve("heat2d", method="admm", steps=1, quiet=True, plots=False, admm={"memory_limit_gb": 0.01})
    gb = float(re.search(r"about ([0-9.]+) GB", str(info.value)).group(1))
    assert 0.5 < gb < 2.0


def test_cli_prints_one_line_for_a_run_that_would_not_fit(tmp_path, capsys):
    from spikepde.cli import main

    code = main(["solve", "heat2d", "--method", "admm", "--width", "20000", "--steps", "1",
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--width (now 20000)" in err, err


def test_singular_systems_are_configuration_errors():
    from spikepde.errors import ConfigurationError

    G = torch.zeros(4, 4, dtype=DT)
    with pytest.raises(ConfigurationError, match="raise admm ridge"):
        A.ridge_solve(G, torch.ones(2, 4, dtype=DT), 0.0)
    with pytest.raises(ConfigurationError, match="readout_ridge"):
        A.readout_least_squares(torch.zeros(5, 3, dtype=DT), torch.ones(5, dtype=DT), 0.0)
    with pytest.raises(ConfigurationError, match="non-finite"):
        A.ridge_solve(torch.full((3, 3), float("nan"), dtype=DT), torch.ones(1, 3, dtype=DT), 1e-8)

    @A.user_facing_errors
    def fails(exc):
        raise exc

    with pytest.raises(ConfigurationError, match="ridge"):
        fails(torch.linalg.LinAlgError("linalg.cholesky: The factorization could not be completed"))
    with pytest.raises(ConfigurationError, match="out of memory"):
        fails(RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"))
    with pytest.raises(RuntimeError, match="unrelated"):
        fails(RuntimeError("unrelated"))       # not a user-facing condition: unchanged


def test_singular_readout_in_a_run_is_one_line():
    import spikepde
    from spikepde.errors import ConfigurationError

    # T = 1: most of the 64 neurons never spike, their rate columns are zero; no ridge at all
    with pytest.raises(ConfigurationError, match="readout_ridge"):
        spikepde.solve("poisson1d", method="admm", steps=1, width=64, depth=2, T=1, interior_points=32,
                       quiet=True, plots=False, admm={"ridge": 0.0, "readout_ridge": 0.0, "pde_start": "physics"})


# ------------------------------------------------------------------ the physics metric H = RᵀR + δI
def _metric_setup(N=40, rows=9, seed=11):
    g = _gen(seed)
    R = torch.randn(rows, N, generator=g, dtype=DT)
    y = torch.randn(rows, generator=g, dtype=DT)
    prox = A.QuadraticProx(R, y)
    return g, R, y, prox, A.PhysicsMetric(prox, 1e-3)


def test_physics_metric_solve_and_prox_are_exact():
    g, R, y, prox, H = _metric_setup()
    Hm = R.T @ R + H.delta * torch.eye(R.shape[1], dtype=DT)
    assert H.delta == pytest.approx(1e-3 * float(torch.linalg.eigvalsh(R @ R.T).max()))
    v = torch.randn(R.shape[1], generator=g, dtype=DT)
    assert torch.allclose(H.apply(v), Hm @ v, atol=1e-12)
    for alpha, beta in ((1.0, 0.3), (2.5, 1e-4)):
        x = H.solve(alpha, beta, v)
        assert torch.allclose((alpha * R.T @ R + beta * torch.eye(R.shape[1], dtype=DT)) @ x, v, atol=1e-8)
    c = torch.randn(R.shape[1], generator=g, dtype=DT)
    for rho in (0.1, 1.0, 30.0):
        z = prox.metric_prox(c, rho, H)
        # stationarity of ½‖Rz − y‖² + ρ/2 (z − c)ᵀH(z − c)
        assert float((R.T @ (R @ z - y) + rho * Hm @ (z - c)).abs().max()) < 1e-8


@pytest.mark.parametrize("with_dual", [False, True])
def test_last_layer_updates_with_rate_dual_are_stationary(with_dual):
    g, R, y, prox, H = _metric_setup(N=12, rows=5)
    Hm = R.T @ R + H.delta * torch.eye(12, dtype=DT)
    T, B, n = 4, 12, 6
    rho, kappa = 1.7, 0.6
    s = (torch.rand(T, B, n, generator=g, dtype=DT) < 0.5).to(DT)
    Wo = torch.randn(1, n + 1, generator=g, dtype=DT)
    Z = torch.randn(B, 1, generator=g, dtype=DT)
    nu = 0.1 * torch.randn(B, n, generator=g, dtype=DT) if with_dual else None
    nu0 = nu if with_dual else torch.zeros(B, n, dtype=DT)
    for metric in (None, H):
        if metric is None:
            a = A.last_layer_update(Wo, Z, s, rho, kappa, nu)
            Hx = lambda x: x                      # noqa: E731
        else:
            a = A.last_layer_update_metric(Wo, Z, s, rho, kappa, H, nu)
            Hx = lambda x: Hm @ x                 # noqa: E731
        a_bar = a.mean(0)
        assert torch.allclose(a - a_bar, s - s.mean(0), atol=1e-12)     # a[t] − ā = s[t] − s̄
        r = Z[:, 0] - a_bar @ Wo[0, :-1] - Wo[0, -1]
        # ∂/∂ā of ρ/2 ‖r‖²_H + κT/2 ‖ā − s̄ + ν‖²
        grad = -rho * Hx(r)[:, None] * Wo[0, :-1][None] + kappa * T * (a_bar - s.mean(0) + nu0)
        assert float(grad.abs().max()) < 1e-9


def test_metric_readout_least_squares_satisfies_normal_equations():
    eng, _ = _engine(A.ADMMConfig(), hidden=8, T=4)
    N = eng.x.shape[0]
    g, R, y, prox, H = _metric_setup(N=N, rows=7)
    eng.W_out = eng.W_out[:1]
    eng.Z, eng.Mu = torch.randn(N, 1, generator=g, dtype=DT), 0.1 * torch.randn(N, 1, generator=g, dtype=DT)
    eng.metric = H
    eng.readout_ridge = 1e-9
    eng.readout_least_squares()
    Ahat = eng.readout_input()
    Hm = R.T @ R + H.delta * torch.eye(N, dtype=DT)
    G = Ahat.T @ Hm @ Ahat
    eps = 1e-9 * float(G.diagonal().mean())
    grad = Ahat.T @ Hm @ (Ahat @ eng.W_out[0] - (eng.Z + eng.Mu)[:, 0]) + eps * eng.W_out[0]
    assert float(grad.abs().max()) < 1e-8 * float(G.diagonal().mean())


def test_rate_dual_ascent_and_rescaling():
    eng, step = _engine(A.ADMMConfig(warm_start=0, rate_dual=True), hidden=8, T=4)
    eng.iteration += 1
    eng.sweep_hidden()
    step(eng)
    nu, r = eng.Nu.clone(), eng.A[-1].mean(0) - eng.S[-1].mean(0)
    assert float(r.abs().max()) > 0
    eng.update_duals()                 # ν ← (ν + r)/τ with κ ← τκ: κν carries over
    assert torch.allclose(eng.kappa * eng.Nu, (eng.kappa / 2.0) * (nu + r), atol=1e-14)


def test_same_seed_same_result():
    import spikepde

    runs = [spikepde.solve("poisson1d", method="admm", steps=3, width=16, depth=1, T=4, quiet=True,
                           plots=False, interior_points=32) for _ in range(2)]
    assert runs[0].metrics["relative_l2"] == runs[1].metrics["relative_l2"]
    assert runs[0].metrics["convergence"]["primal_residual"] == runs[1].metrics["convergence"]["primal_residual"]


def test_the_per_sample_engine_reproduces_the_general_one_with_less_memory(monkeypatch):
    """One hidden layer with the exact block: ConstantCurrentADMM holds z, λ and ā per sample
    instead of [T, B, n] trajectories; the iterates are the same up to float rounding."""
    import spikepde
    from spikepde.train.admm import trainer as admm_trainer
    from spikepde.train.admm.constant_current import ConstantCurrentADMM
    from spikepde.train.admm.engine import LIFADMM

    opts = dict(method="admm", steps=4, width=32, depth=1, T=8, quiet=True, plots=False, seed=3)
    choose = admm_trainer.engine_class
    compact = spikepde.solve("poisson1d", **opts)
    monkeypatch.setattr(admm_trainer, "engine_class", lambda widths, cfg: LIFADMM)
    general = spikepde.solve("poisson1d", **opts)
    a, b = compact.metrics, general.metrics
    assert a["relative_l2"] == pytest.approx(b["relative_l2"], rel=1e-4)
    assert a["admm_selected_iteration"] == b["admm_selected_iteration"]
    flips_a, flips_b = a["admm_diagnostics"]["spike_flips"], b["admm_diagnostics"]["spike_flips"]
    assert sum(abs(x - y) for x, y in zip(flips_a, flips_b)) <= 0.01 * max(1, sum(flips_b))
    # the state the memory check counts: [B, n] arrays instead of [T, B, n] ones
    assert choose((32,), A.ADMMConfig()) is ConstantCurrentADMM
    assert choose((32, 32), A.ADMMConfig()) is LIFADMM
    assert choose((32,), A.ADMMConfig(first_layer="split")) is LIFADMM
    sizes = dict(d=1, form="weak", output="prox", tests_per_axis=400, quad_per_axis=3224,
                 samples=3424, condition_rows=200, condition_points=200, widths=(256,), T=64, itemsize=4)
    full = A.memory_estimate(**sizes)["ADMM state"]
    per_sample = A.memory_estimate(**sizes, per_sample_state=True)["ADMM state"]
    assert per_sample < full / 10


# ------------------------------------------------------------------ the rate-relaxed hidden step
@pytest.mark.parametrize("T", [8, 64])
def test_relaxed_rate_interpolates_the_lif_staircase(T):
    """h̃ is continuous and increasing between its nodes, within half a rate step of the true
    LIF rate everywhere, and equal to the mean of the two rates at every step of the rate."""
    nodes = A.relaxed_rate_nodes(A.lif_pieces(T, 0.9, 1.0))
    z_nodes, r_nodes = nodes
    assert bool((r_nodes[1:] > r_nodes[:-1]).all()) and r_nodes[0] == 0 and r_nodes[-1] == 1
    z = torch.linspace(-1.0, 3.0, 20001, dtype=DT)
    rate = A.lif_states(z[None], LIFConfig(), T)[1].mean(0)[0]
    relaxed = A.relaxed_rate(z, nodes)
    assert float((relaxed - rate).abs().max()) <= 0.5 / T + 1e-9
    assert bool((relaxed[1:] >= relaxed[:-1]).all())
    inner = z_nodes[1:-1]
    eps = 1e-9
    below = A.lif_states((inner - eps)[None], LIFConfig(), T)[1].mean(0)[0]
    above = A.lif_states((inner + eps)[None], LIFConfig(), T)[1].mean(0)[0]
    assert torch.allclose(A.relaxed_rate(inner, nodes), (below + above) / 2, atol=1e-7)
    assert bool((above > below).all())          # a node only where the rate steps


def test_relaxed_current_update_is_the_exact_minimiser():
    """ρ(z − m)² + κ(t − h̃(z))² at the returned z is no larger than its minimum on a fine grid,
    for targets inside and outside [0, 1], and the window gives the full search's answer."""
    g = _gen(11)
    nodes = A.relaxed_rate_nodes(A.lif_pieces(8, 0.9, 1.0))
    m = torch.rand(60, 5, generator=g, dtype=DT) * 2.0 - 0.3
    t = torch.rand(60, 5, generator=g, dtype=DT) * 1.4 - 0.2
    grid = torch.linspace(-6.0, 8.0, 100001, dtype=DT)
    h_grid = A.relaxed_rate(grid, nodes)
    for rho, kappa in ((1.0, 1.0), (0.01, 1.0), (1.0, 100.0)):
        z = A.relaxed_current_update(m, t, nodes, rho, kappa, window=2)
        cost = rho * (z - m) ** 2 + kappa * (t - A.relaxed_rate(z, nodes)) ** 2
        best = (rho * (grid - m[..., None]) ** 2 + kappa * (t[..., None] - h_grid) ** 2).min(-1).values
        assert float((cost - best).max()) <= 1e-12
        assert torch.equal(z, A.relaxed_current_update(m, t, nodes, rho, kappa, window=10 ** 4))


def test_relaxed_hidden_step_needs_the_constant_current_engine():
    with pytest.raises(ValueError, match="hidden_step"):
        _engine(A.ADMMConfig(hidden_step="relaxed"))          # the general engine
    with pytest.raises(ValueError, match="hidden_step must be"):
        X = torch.zeros(4, 3, dtype=DT)
        from spikepde.snn.network import SpikingMLP
        params = SpikingMLP(3, (5,), out_dim=1, T=4).init_params(_gen(0), dtype=DT)
        A.ConstantCurrentADMM(X, (5,), 4, LIFConfig(), 1, params, A.ADMMConfig(hidden_step="smooth"))


def test_relaxed_admm_trains_the_hidden_layer_without_backprop(monkeypatch):
    """A narrow layer (16 LIF) underfits with random weights; the relaxed ADMM step moves the
    hidden layer and beats the same network with its hidden layer frozen (readout least squares
    on the true rates in both) — where the staircase step leaves it where it was."""
    def refuse(*args, **kwargs):
        raise AssertionError("back-propagation was called")

    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    monkeypatch.setattr(torch.autograd, "grad", refuse)
    Xtr, ytr, Xva, yva = _digits_small()

    def train_accuracy(**cfg):
        predict, history, _ = A.train_classifier(Xtr, ytr, Xva, yva, hidden=16, T=8, iterations=25,
                                                 quiet=True, admm=A.ADMMConfig(**cfg))
        return max(history["train_metric"]), history

    frozen, _ = train_accuracy(hidden_updates=False)
    relaxed, history = train_accuracy(**A.CLASSIFIER_ADMM)
    assert relaxed >= frozen + 0.05
    assert max(history["spike_flips"]) > 0

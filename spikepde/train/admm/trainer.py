"""``spikepde solve --method admm``: ADMM behind the trainer contract of :mod:`spikepde.train.base`."""
from __future__ import annotations

import dataclasses

import torch

from ...derivatives import make_estimator
from ...errors import ConfigurationError
from ...fields import SpikingField
from ..base import Trainer
from ..spiking import spiking_network, trained_spiking_field
from .classifier import supervised_output_step, true_rate_readout
from .config import ADMMConfig
from .constant_current import ConstantCurrentADMM, engine_class
from .engine import LIFADMM, admm_iteration
from .linalg import readout_least_squares, user_facing_errors, with_ones
from .pde_rows import PDEReadout, memory_estimate, memory_limit_bytes
from .prox import PhysicsMetric, QuadraticProx


class ADMMTrainer(Trainer):
    """``spikepde solve --method admm``: one :meth:`step` = one ADMM iteration.

    Regression problems (an Objective with a ``data`` term) use the supervised output step
    with the closed form as data. PDE problems in the weak form with value-only conditions
    (``pde_output="prox"``, the default where it applies) run the same ADMM as classification,
    with the physics loss ``ℓ(z) = ½‖R z − y‖²`` on the values z of the network at the
    quadrature grid and the condition points: its output step is :class:`QuadraticProx`, the
    readout a least squares of z + μ, both in the metric H of :class:`PhysicsMetric`; it starts
    from the forward pass of the initial weights with z from the physics term
    (``pde_start="forward"``). Otherwise (``"pinned"``: strong form, Picard, derivative
    conditions) the readout is the physics least squares on the true features and z is pinned
    to its solution. ADMM options come as ``cfg.admm`` (a dict of :class:`ADMMConfig` fields).
    The surrogate returned is the iterate with the lowest training loss of the TRUE network
    (the physics loss ℓ of its output, or the data loss), never chosen by the reference error.
    """

    name = "admm"
    network = "spiking"
    budget_key = "admm_steps"          # iterations: a few dozen closed-form sweeps
    uses_output_transform = False      # the closed-form readout works on the untransformed output
    residual_forms = ("strong",)       # the Objective's form; the readout has its own weak rows
    residual_form_hint = "admm has its own weak readout (admm={'pde_form': 'weak'})"
    options = ("admm",)

    @classmethod
    def defaults(cls, cfg, problem) -> dict:
        # ADMM learns the readout of the spiking features (docs/methods/admm.md): one wide layer
        # with many time steps beats the shared 64 x 2, T = 8 (20 iterations): poisson1d 0.135 ->
        # 256 x 1, T = 64: 5.65e-3; heat1d 0.199 -> T = 32: 3.39e-2; heat2d (three inputs, 26³
        # quadrature points) 0.312 -> T = 16: 0.130 (T = 8: 0.166), where the two-layer
        # general engine held [T, B, n] arrays (peak RSS with plots 2.0 GB -> 1.04 GB)
        out = super().defaults(cfg, problem)
        return {**out, "width": 256, "depth": 1, "T": {1: 64, 2: 32}.get(problem.dim, 16)}

    @classmethod
    def check(cls, cfg) -> None:
        known = {f.name for f in dataclasses.fields(ADMMConfig)}
        unknown = sorted(set(cfg.admm or {}) - known)
        if unknown:
            raise ValueError(f"admm: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")

    @user_facing_errors
    def __init__(self, cfg, compiled, objective, generator):
        super().__init__(cfg, compiled, objective, generator)
        self.admm_cfg = ADMMConfig(**dict(cfg.admm or {}))
        self.net = spiking_network(cfg, compiled)
        lif = self.net.lif
        widths = self.net.widths
        self.regression = not compiled.has_pde
        self.estimator = make_estimator("surrogate-jvp")
        self.readout = None if self.regression else PDEReadout(compiled, objective, self.admm_cfg, setup=False)
        self.output_mode = "data" if self.regression else self._pde_output_mode()
        self._check_memory(widths)          # before any large allocation (weights included)
        init = self.net.init_params(generator, dtype=self.dtype)
        if self.readout is not None:
            self.readout.setup()
        X = objective.points.interior
        if self.output_mode == "prox":
            X = torch.cat([self.readout.Xq.to(X.dtype)] + list(self.readout.value_condition_points()))
            R, y = self.readout.value_rows()
            self.prox = QuadraticProx(R, y)
        self.X = X
        admm_cfg = self.admm_cfg
        self.output_metric = self._output_metric()
        if self.output_metric == "physics" and admm_cfg.output_growth is None:
            # a fixed ρ_o: the output part converges at a fixed ρ_o in H's norm; growing it shrinks
            # the loss's weight and freezes z before the optimum (poisson1d, T = 64: stalled at a
            # relative error of 7.5e-2 after 14 iterations). ρ, γ, κ keep growing: the relaxation
            # a = s has no dual, only κ → ∞ makes the readout read the true rates
            admm_cfg = dataclasses.replace(admm_cfg, output_growth=1.0)
        if admm_cfg.rate_dual is None:
            admm_cfg = dataclasses.replace(admm_cfg, rate_dual=self.output_metric == "physics")
        if self.output_mode == "prox" and self.output_metric == "euclidean":
            # ρ_o relative to the curvature of ℓ (‖RᵀR‖₂; 1 for the ½‖z − Y‖² of classification)
            admm_cfg = dataclasses.replace(admm_cfg, rho_out=admm_cfg.rho_out * self.prox.curvature)
        self.engine = engine_class(widths, admm_cfg)(self.net.encode(X), widths, cfg.T, lif, 1, init,
                                                       admm_cfg)
        if self.output_mode == "prox":
            # the readout's weight decay of the physics least squares
            self.engine.readout_ridge = admm_cfg.readout_ridge
            if self.output_metric == "physics":
                self.engine.metric = PhysicsMetric(self.prox, admm_cfg.metric_floor)
        if self.regression:
            self.Y = compiled.exact(X)[:, None]
            self._output_step = supervised_output_step(self.Y)
            self.engine.Z = self.Y.clone()
            self.engine.readout_least_squares()
        else:
            start = self.admm_cfg.pde_start
            if start not in ("physics", "network", "forward"):
                raise ValueError(f"pde_start must be 'physics', 'network' or 'forward', not {start!r}")
            if self.output_mode == "prox" and start in ("network", "forward"):
                # hidden variables: the forward pass of the initial weights; readout as initialised;
                # duals zero; z = the initial network's output ("network") or the output step from
                # it, the prox of the physics loss (Taylor et al.'s start, "forward")
                self.rows_loss = float("nan")
                self.engine.Z = self.engine.readout_input() @ self.engine.W_out.T
                if start == "forward":
                    self.engine.Z = self._prox(self.engine.Z[:, 0], self.engine.rho_out)[:, None].to(self.engine.Z.dtype)
            else:
                self._physics_readout()       # start from the best readout of the initial features
            self._output_step = self._prox_output_step if self.output_mode == "prox" else self._pde_output_step
        self.params = self._iterate_params()
        gen = torch.Generator().manual_seed(int(cfg.seed) + 1)
        self.X_test = compiled.sample_interior(2000, gen)
        self.u_test = compiled.exact(self.X_test) if compiled.has_exact else None
        # plotted on a log scale by solve(); the other per-iteration diagnostics (residual of
        # each block, spikes that changed, ρ) go to ``self.block_diagnostics`` (metrics "admm_…")
        self.convergence = {k: [] for k in ("iteration", "primal_residual", "primal_residual_relative",
                                            "dual_residual", "objective", "train_metric", "test_metric")}
        self.block_diagnostics = {k: [] for k in ("primal_dynamics", "primal_heaviside", "primal_relaxation",
                                            "primal_output", "spike_flips", "rho")}
        self.train_loss = self._train_loss(self.params)
        self.best = (self.train_loss, 0, {k: v.clone() for k, v in self.params.items()})

    def _check_memory(self, widths) -> None:
        """Refuse, before allocating, a run whose large arrays would exceed the memory limit
        (:func:`memory_estimate`), naming the setting to lower."""
        d = len(self.compiled.input_names)
        ro = self.readout
        form = ro.form if ro is not None else "data"
        K, Mq = (ro.tests_per_axis, ro.quad_per_axis) if ro is not None else (0, 0)
        conds = list(zip(self.compiled.conditions, self.objective.points.conditions))
        cond_points = sum(int(X.shape[0]) for _, X in conds)
        cond_rows = sum(int(X.shape[0]) // 2 * len(c.derivatives) if c.kind == "periodic" else int(X.shape[0])
                        for c, X in conds)
        samples = (Mq ** d + cond_points) if self.output_mode == "prox" else int(self.objective.points.interior.shape[0])
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        parts = memory_estimate(d=d, form=form, output=self.output_mode, tests_per_axis=K, quad_per_axis=Mq,
                                samples=samples, condition_rows=cond_rows, condition_points=cond_points,
                                widths=widths, T=self.cfg.T, itemsize=itemsize,
                                per_sample_state=engine_class(widths, self.admm_cfg) is ConstantCurrentADMM)
        self.memory_estimate = parts
        total, limit = sum(parts.values()), memory_limit_bytes(self.admm_cfg)
        if total <= limit:
            return
        big = max(parts, key=parts.get)
        grid = f"{Mq}^{d} = {Mq ** d} quadrature points" if d > 1 else f"{Mq} quadrature points"
        advice = {
            "weak Gram": f"lower admm test_per_axis (now {K} per axis: {K ** d} test functions)",
            "value rows": f"lower admm test_per_axis (now {K}: {K ** d} test functions) or quad_per_axis "
                          f"(now {grid})",
            "weak rows": f"lower admm quad_per_axis (now {grid}), --width (now {max(widths)}) or --T (now {self.cfg.T})",
            "weights": f"lower --width (now {max(widths)})",
            "ADMM state": (f"lower --width (now {max(widths)}), --T (now {self.cfg.T}) or "
                           + (f"admm quad_per_axis (now {grid}, the samples)" if self.output_mode == "prox"
                              else f"--interior-points (now {samples})")),
        }[big]
        raise ConfigurationError(
            f"ADMM on {self.compiled.problem.name} would need about {total / 2 ** 30:.1f} GB "
            f"({big}: {parts[big] / 2 ** 30:.1f} GB), over the limit of {limit / 2 ** 30:.1f} GB: {advice}, "
            f"or raise admm memory_limit_gb")

    def _pde_output_mode(self) -> str:
        mode = self.admm_cfg.pde_output
        if mode not in ("auto", "prox", "pinned"):
            raise ValueError(f"pde_output must be 'auto', 'prox' or 'pinned', not {mode!r}")
        applies = self.readout.form == "weak" and self.readout.conditions_are_values()
        if mode == "prox" and not applies:
            raise ValueError("pde_output='prox' needs the weak form and conditions on values of u only")
        return ("prox" if applies else "pinned") if mode == "auto" else mode

    # ------------------------------------------------------------ PDE output steps
    def _true_feature_readout(self, params) -> torch.Tensor:
        """``[w; b]`` of the readout by least squares on the TRUE network's features: the physics
        rows (PDEs) or the data (regression)."""
        if self.regression:
            return true_rate_readout(self.net, params, self.X, self.Y, self.admm_cfg.ridge)[0]
        A, y = self.readout.rows(self.net, params, params)
        w = readout_least_squares(A, y, self.admm_cfg.readout_ridge)
        self.rows_loss = float((A @ w - y).square().sum())
        return w

    def _iterate_params(self) -> dict:
        """The network of the current iterate. With the relaxed hidden step its readout is refitted
        on the true rates (the engine's readout reads h̃(z), which the spikes of W x̂ only
        approximate: poisson1d, 256 x 1, T = 64, 20 iterations: 0.106 without the refit,
        5.79e-3 with it)."""
        params = self.engine.params(1)
        if self.admm_cfg.hidden_step == "relaxed":
            w = self._true_feature_readout(params).to(params["readout.weight"].dtype)
            params["readout.weight"], params["readout.bias"] = w[None, :-1].clone(), w[-1:].clone()
        return params

    def _physics_readout(self) -> None:
        """W_o from the physics least squares on the TRUE features; z ← u_k on the points."""
        w = self._true_feature_readout(self.engine.params(1))
        self.engine.W_out = w[None].to(self.engine.W_out.dtype)
        with torch.no_grad():
            feats = self.net.features(self.engine.params(1), self.X, differentiable=False)
        self.engine.Z = with_ones(feats) @ self.engine.W_out.T
        self.engine.Mu = torch.zeros_like(self.engine.Z)

    def _pde_output_step(self, engine: LIFADMM) -> None:
        self._physics_readout()

    def _prox(self, c: torch.Tensor, rho: float) -> torch.Tensor:
        """The prox of ℓ at c in the output penalty's metric (H or Euclidean)."""
        if self.engine.metric is not None:
            return self.prox.metric_prox(c, rho, self.engine.metric)
        return self.prox(c, rho)

    def _prox_output_step(self, engine: LIFADMM) -> None:
        """W_o by least squares of z + μ on [ā; 1] (in H's norm), then z = prox of the physics loss."""
        engine.readout_least_squares()
        m = (engine.readout_input() @ engine.W_out.T)[:, 0]
        z = self._prox(m - engine.Mu[:, 0], engine.rho_out)
        engine.Z = z[:, None].to(engine.Z.dtype)

    def _output_metric(self) -> str:
        m = self.admm_cfg.output_metric
        if m not in ("auto", "physics", "euclidean"):
            raise ValueError(f"output_metric must be 'auto', 'physics' or 'euclidean', not {m!r}")
        if self.output_mode != "prox":
            return "euclidean"
        return "physics" if m == "auto" else m

    def _train_loss(self, params) -> float:
        """The training loss of the TRUE network with these parameters (selection criterion)."""
        with torch.no_grad():
            if self.output_mode == "prox":
                return self.prox.loss(self.net.forward(params, self.X, differentiable=False))
            if self.output_mode == "pinned":
                A, y = self.readout.rows(self.net, params, params)
                w = torch.cat([params["readout.weight"][0], params["readout.bias"]]).to(A.dtype)
                return float((A @ w - y).square().sum())
            u = self.net.forward(params, self.X, differentiable=False)
            return 0.5 * float((u - self.Y[:, 0]).square().sum())

    # ------------------------------------------------------------ trainer protocol
    @user_facing_errors
    def step(self) -> float:
        if self.regression or self.admm_cfg.hidden_updates:
            primal, dual = admm_iteration(self.engine, self._output_step)
        else:
            self.engine.iteration += 1
            self._physics_readout()
            summary = self.engine.residual_summary()
            primal, dual = summary["primal"], 0.0
            self.engine.last_primal_relative, self.engine.last_parts = summary["relative"], summary["parts"]
            self.engine.rho_used = self.engine.rho
        self.params = self._iterate_params()
        self.train_loss = self._train_loss(self.params)
        if self.train_loss < self.best[0]:
            self.best = (self.train_loss, self.engine.iteration, {k: v.clone() for k, v in self.params.items()})
        c = self.convergence
        c["iteration"].append(self.engine.iteration)
        c["primal_residual"].append(primal)
        c["primal_residual_relative"].append(self.engine.last_primal_relative)
        d = self.block_diagnostics
        for k, v in self.engine.last_parts.items():
            d[f"primal_{k}"].append(v)
        d["spike_flips"].append(self.engine.last_flips)
        d["rho"].append(self.engine.rho_used)
        c["dual_residual"].append(dual)
        c["objective"].append(self.prox.loss(self.engine.Z[:, 0]) if self.output_mode == "prox" else self.train_loss)
        c["train_metric"].append(self.train_loss)
        c["test_metric"].append(self._test_error(self.params))
        return self.train_loss

    def _test_error(self, params) -> float:
        if self.u_test is None:
            return float("nan")
        with torch.no_grad():
            u = self.net.forward(params, self.X_test, differentiable=False)
        return float((u - self.u_test).norm() / self.u_test.norm())

    def field(self, params):
        return SpikingField(self.net, params, self.estimator)

    def terms(self) -> dict[str, float]:
        with torch.no_grad():
            return {k: float(v) for k, v in self.objective.terms(self.field(self.params)).items()}

    def trained_field(self):
        """The selected iterate: the lowest training loss of the true network."""
        return trained_spiking_field(self.net, self.best[2], self.compiled, self.dtype, "cpu",
                                     transform=False)

    def divergence_hints(self) -> list[str]:
        return [f"a different number of time steps (--T, now {self.cfg.T})",
                f"a narrower network (--width, now {self.cfg.width})"]

    def state_dict(self) -> dict:
        return {"engine": self.engine.state(), "generator": self.generator.get_state(),
                "convergence": self.convergence, "diagnostics": self.block_diagnostics, "best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.engine.load(state["engine"])
        self.generator.set_state(state["generator"])
        self.convergence = state["convergence"]
        self.block_diagnostics = state["diagnostics"]
        self.best = state["best"]
        self.params = self._iterate_params()
        self.train_loss = self._train_loss(self.params)

    def diagnostics(self) -> dict:
        """The convergence curves (plotted) and the ADMM summary for metrics.json."""
        c = self.convergence
        p, pr = c["primal_residual"], c["primal_residual_relative"]
        out = {"admm_config": dataclasses.asdict(self.admm_cfg),
               "admm_primal_reduction": (p[0] / max(p[-1], 1e-300)) if p else None,
               "admm_primal_reduction_relative": (pr[0] / max(pr[-1], 1e-300)) if pr else None,
               "admm_output": self.output_mode, "admm_output_metric": self.output_metric,
               "admm_selected_iteration": self.best[1],
               "admm_selected_train_loss": self.best[0],
               "admm_final_relative_l2": c["test_metric"][-1] if c["test_metric"] else None,
               "admm_diagnostics": self.block_diagnostics}
        out["convergence"] = c
        if not self.regression:
            out.update(admm_pde_form=self.readout.form, admm_linearisation=self.readout.mode,
                       admm_readout_loss=self.rows_loss)
        return out


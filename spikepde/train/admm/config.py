"""The settings of ADMM training (``--admm NAME=VALUE``; their roles: docs/methods/admm.md)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ADMMConfig:
    """Penalties and options (their roles: docs/methods/admm.md)."""

    rho: float = 1.0            # dynamics constraints (D)
    rho_out: float = 1.0        # output constraint (O)
    gamma: float = 10.0         # Heaviside consistency (H) of the split layers
    kappa: float = 1.0          # relaxed spikes a = s (A)
    margin: float = 0.0         # δ/θ: a silent neuron sits at least δ below threshold (0: the exact Heaviside)
    ridge: float = 1e-8         # ε of the weight least squares, relative to the Gram diagonal (at the initial ρ)
    warm_start: int = 3         # iterations before the duals and the penalties move
    duals: str = "all"          # "all": λ on (D) and μ on (O); "output": μ only (Taylor)
    balance: bool = False       # residual balancing of ρ, ρ_o
    first_layer: str = "exact"  # "exact": joint (v, s) block of the constant-current layer; "split"
    hidden_step: str = "exact"  # one constant-current layer: "exact" (the rate staircase) | "relaxed" (its linear interpolation)
    active_set_iters: int = 8   # semismooth-Newton passes of the v-step (split layers)
    pde_form: str = "auto"      # "weak" | "strong" | "auto"
    linearisation: str = "auto"  # "picard" | "newton" | "auto"
    test_per_axis: int = 0      # weak form: B-splines per axis (0: automatic)
    quad_per_axis: int = 0      # weak form: midpoint points per axis (0: automatic)
    readout_ridge: float = 1e-10
    hidden_updates: bool = True  # run the hidden-layer ADMM sweeps on PDE tasks
    pde_output: str = "auto"     # "prox": physics loss as the output step; "pinned"; "auto"
    pde_start: str = "forward"   # prox: "forward" (Taylor: forward pass, z from the physics term), "physics", "network"
    penalty_growth: float = 2.0  # ρ, ρ_o, γ, κ ← growth·(…) each iteration after the warm start
    output_growth: float | None = None  # growth of ρ_o alone (None: penalty_growth; 1 with the physics metric)
    penalty_max: float = 1e6     # cap of that growth, as a multiple of the initial penalties
    memory_limit_gb: float = 0.0  # refuse runs estimated above this (0: 3/4 of the RAM, at most 8 GB)
    output_metric: str = "auto"  # prox PDEs: "physics" (penalty ‖·‖²_H, H = RᵀR + δI) | "euclidean"; "auto": physics
    metric_floor: float = 1e-6   # δ of H relative to ‖RᵀR‖₂
    rate_dual: bool | None = None  # a dual ν on the last layer's rate ā = s̄ (None: with the physics metric)

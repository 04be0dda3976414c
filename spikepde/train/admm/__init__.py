r"""ADMM training of a LIF network with closed-form block updates (``--method admm``).

No surrogate gradient and no back-propagation: every block is an exact minimiser of its
sub-problem (a least-squares solve, a banded linear solve, a two-branch comparison, or a
comparison of the pieces of the LIF response to a constant current). Seeds: Taylor et al.,
ICML 2016 (arXiv:1605.02026) for the structure; Perin, Bidini, Mazzieri, Rossi,
arXiv:2505.05527 for posing LIF training this way (our own derivation). The derivation, the
defaults and the measurements behind them are in ``docs/methods/admm.md``.

Notation: hidden layers l = 1..L (leak β, threshold θ, reset by subtraction), T steps;
variables W_l (bias as last column), W_o, membranes v_l[t], spikes s_l[t] ∈ {0, 1}, relaxed
spikes a_l[t], outputs z; constraints (D) the LIF dynamics, (H) s = H(v − θ), (A) a = s,
(O) z = W_o [mean_t a_L; 1]; scaled duals λ on (D), μ on (O), ν on the last layer's rate.

Rooms, in the order of one iteration (:func:`admm_iteration`):

* :mod:`.config` — :class:`ADMMConfig`, the penalties ρ, ρ_o, γ, κ and switches;
* :mod:`.engine` — :class:`LIFADMM`, the state and its sweep: weight least squares
  (:mod:`.linalg`), the exact (v, s) block of the constant-current layer (:mod:`.exact_block`),
  the membrane, spike and relaxed-spike blocks of the other layers (:mod:`.blocks`), the
  readout, the duals and the penalty continuation;
* :mod:`.constant_current` — :class:`ConstantCurrentADMM`, the same sweep for one hidden layer
  on constant inputs with its state per sample (z, λ, ā ``[B, n]``; trajectories recomputed in
  blocks), used by the trainer and the classifier wherever it applies; with
  ``hidden_step="relaxed"`` its current step reads the rate staircase's linear interpolation
  h̃ (:func:`relaxed_rate_nodes`), so that the readout's pull moves the hidden layer;
* :mod:`.classifier` — :func:`train_classifier` (one-hot targets, ℓ(z) = ½‖z − Y‖²);
* :mod:`.pde_rows` and :mod:`.prox` — the physics-informed readout rows and the output step
  ``ℓ(z) = ½‖R z − y‖²`` in the metric H = RᵀR + δI;
* :mod:`.trainer` — :class:`ADMMTrainer`, the method behind ``spikepde solve --method admm``.

Evaluation always runs the true LIF forward pass of the learned weights.
"""
from .blocks import (boundary, last_layer_update, last_layer_update_metric, lif_states,
                     output_update, potential_objective, potential_update, relaxed_spike_update,
                     spike_costs, spike_update, violation)
from .classifier import CLASSIFIER_ADMM, supervised_output_step, train_classifier
from .config import ADMMConfig
from .constant_current import ConstantCurrentADMM
from .engine import LIFADMM, admm_iteration
from .exact_block import (consistent_update, lif_pieces, relaxed_current_update, relaxed_rate,
                          relaxed_rate_nodes)
from .linalg import (cholesky, readout_least_squares, ridge_solve, rms, shift, thomas,
                     user_facing_errors, weight_update, with_ones)
from .pde_rows import (PDEReadout, condition_linear_map, linearise, memory_estimate,
                       memory_limit_bytes, weak_sizes)
from .prox import PhysicsMetric, QuadraticProx
from .trainer import ADMMTrainer

__all__ = [
    "ADMMConfig", "CLASSIFIER_ADMM", "ADMMTrainer", "ConstantCurrentADMM", "LIFADMM", "PDEReadout", "PhysicsMetric", "QuadraticProx",
    "admm_iteration", "boundary", "cholesky", "condition_linear_map", "consistent_update",
    "last_layer_update", "last_layer_update_metric", "lif_pieces", "lif_states", "linearise",
    "relaxed_current_update", "relaxed_rate", "relaxed_rate_nodes",
    "memory_estimate", "memory_limit_bytes", "output_update", "potential_objective",
    "potential_update", "readout_least_squares", "relaxed_spike_update", "ridge_solve", "rms",
    "shift", "spike_costs", "spike_update", "supervised_output_step", "thomas", "train_classifier",
    "user_facing_errors", "violation", "weak_sizes", "weight_update", "with_ones",
]

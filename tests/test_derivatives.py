"""Input-derivative estimators recover known derivatives of a smooth function."""

import pytest
import torch

from spikepde.derivatives import make_estimator


def f(X):
    x, t = X[:, 0], X[:, 1]
    return torch.sin(2 * x) * torch.exp(-t) + x ** 3 * t


def exact(X):
    x, t = X[:, 0], X[:, 1]
    return {
        (0, 0): f(X),
        (1, 0): 2 * torch.cos(2 * x) * torch.exp(-t) + 3 * x ** 2 * t,
        (2, 0): -4 * torch.sin(2 * x) * torch.exp(-t) + 6 * x * t,
        (0, 1): -torch.sin(2 * x) * torch.exp(-t) + x ** 3,
        (1, 1): -2 * torch.cos(2 * x) * torch.exp(-t) + 3 * x ** 2,
        (3, 0): -8 * torch.cos(2 * x) * torch.exp(-t) + 6 * t,
    }


X = torch.tensor([[0.1, 0.2], [-0.7, 0.9], [0.5, 0.5], [0.9, 0.0]], dtype=torch.float64)
IDX = [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (3, 0)]


@pytest.mark.parametrize("name,opts,tol", [
    ("surrogate-jvp", {}, 1e-12),
    ("autograd", {}, 1e-12),
    ("fd", {"h": 1e-3}, 1e-4),
])
def test_deterministic_estimators(name, opts, tol):
    est = make_estimator(name, **opts)
    got = est.fields(f, X, IDX)
    ref = exact(X)
    for a in IDX:
        assert torch.allclose(got[a], ref[a], atol=tol * max(1.0, ref[a].abs().max().item())), a


def test_stein_estimator_is_accurate_with_many_samples_and_converges():
    ref = exact(X)
    def err(samples, sigma):
        est = make_estimator("stein", sigma=sigma, samples=samples,
                             generator=torch.Generator().manual_seed(0))
        got = est.fields(f, X, IDX[:5])
        return {a: (got[a] - ref[a]).abs().max().item() for a in IDX[1:5]}
    e = err(200_000, 0.02)
    # smoothing bias is O(σ²); Monte-Carlo error ∝ 1/(sqrt(M) σ^|α|)
    assert e[(1, 0)] < 0.02 and e[(0, 1)] < 0.02
    assert e[(2, 0)] < 0.3 and e[(1, 1)] < 0.3
    small = err(2_000, 0.02)
    assert small[(1, 0)] > e[(1, 0)]  # more samples, less error


def test_stein_is_unbiased_for_the_smoothed_function():
    # For a quadratic, Gaussian smoothing only adds a constant: derivatives up to 2 are exact in mean
    q = lambda X: 3 * X[:, 0] ** 2 - X[:, 0] * X[:, 1] + 2 * X[:, 1]
    est = make_estimator("stein", sigma=0.3, samples=100_000, generator=torch.Generator().manual_seed(3))
    got = est.fields(q, X, [(1, 0), (0, 1), (2, 0), (1, 1)])
    x, t = X[:, 0], X[:, 1]
    # Monte-Carlo standard error with 1e5 pairs is about 0.02 here: allow 5 of them
    assert torch.allclose(got[(1, 0)], 6 * x - t, atol=0.1)
    assert torch.allclose(got[(0, 1)], -x + 2, atol=0.1)
    assert torch.allclose(got[(2, 0)], torch.full_like(x, 6.0), atol=0.2)
    assert torch.allclose(got[(1, 1)], torch.full_like(x, -1.0), atol=0.2)


def test_unknown_estimator():
    with pytest.raises(ValueError, match="surrogate-jvp"):
        make_estimator("magic")

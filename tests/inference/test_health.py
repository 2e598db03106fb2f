"""Sampler health: each problem detected from draws built to have it, and a healthy run clean."""

import numpy as np
import pytest

from inference import fit
from inference.health import diagnose
from models import logistic_regression

NUM_CHAINS, NUM_DRAWS = 2, 400


def _healthy(rng, K=2):
    """Independent draws: R-hat ~ 1, ESS ~ the number of draws, no divergence."""
    samples = {"b": rng.normal(size=(NUM_CHAINS, NUM_DRAWS)),
               "mu": np.array([[-3.0], [3.0]]) + 0.1 * rng.normal(size=(NUM_CHAINS, NUM_DRAWS, K, 1))}
    stats = {"diverging": np.zeros((NUM_CHAINS, NUM_DRAWS), bool), "tree_depth": np.full((NUM_CHAINS, NUM_DRAWS), 3)}
    return samples, stats


def _diagnose(samples, stats, **options):
    return diagnose(samples, stats, free=["b", "mu"], max_tree_depth=10, components=True, **options)


def test_independent_draws_raise_nothing():
    summary, problems = _diagnose(*_healthy(np.random.default_rng(0)))
    assert problems == []
    assert summary["num_divergent"] == 0 and summary["num_max_tree_depth"] == 0
    # 800 independent draws: ESS near 800, far above the floor of 200
    assert min(summary["ess_bulk"].values()) > 500 and min(summary["ess_tail"].values()) > 500
    np.testing.assert_array_equal(summary["chain_permutations"], [[0, 1], [0, 1]])


def test_divergences_and_tree_depth_hits_are_counted():
    samples, stats = _healthy(np.random.default_rng(1))
    stats["diverging"][1, [5, 50, 70]] = True
    stats["tree_depth"][0, :12] = 10
    summary, problems = _diagnose(samples, stats)
    assert summary["num_divergent"] == 3 and summary["num_max_tree_depth"] == 12
    assert any(p.startswith("3 of 800 transitions diverged") for p in problems)
    assert any(p.startswith("12 of 800 transitions hit the maximum tree depth 10") for p in problems)


def test_chains_that_disagree_give_a_high_r_hat():
    samples, stats = _healthy(np.random.default_rng(2))
    samples["b"][1] += 1.0  # the second chain sits one sd away
    summary, problems = _diagnose(samples, stats)
    assert summary["r_hat"]["b"] > 1.1
    assert any(p.startswith("R-hat above 1.01: {'b'") for p in problems)


def test_sticky_chains_give_a_low_ess():
    """An AR(1) chain with coefficient 0.99 has an ESS of about N (1 - 0.99) / (1 + 0.99) ~ 4
    per chain, far under the floor of 100 per chain."""
    rng = np.random.default_rng(3)
    samples, stats = _healthy(rng)
    noise = rng.normal(size=(NUM_CHAINS, NUM_DRAWS))
    sticky = np.zeros_like(noise)
    for t in range(1, NUM_DRAWS):
        sticky[:, t] = 0.99 * sticky[:, t - 1] + noise[:, t]
    samples["b"] = sticky
    summary, problems = _diagnose(samples, stats)
    assert summary["ess_bulk"]["b"] < 50
    assert any(p.startswith("bulk ESS below 200 (100 per chain): {'b'") for p in problems)
    assert any(p.startswith("tail ESS below 200") for p in problems)


def test_a_chain_in_another_label_permutation_is_named():
    samples, stats = _healthy(np.random.default_rng(4))
    samples["mu"][1] = samples["mu"][1, :, ::-1]  # chain 1 labels the components the other way round
    summary, problems = _diagnose(samples, stats)
    np.testing.assert_array_equal(summary["chain_permutations"][1], [1, 0])
    assert any(p.startswith("chain(s) [1] sit in a different label permutation from chain 0") for p in problems)


@pytest.mark.slow
def test_a_healthy_nuts_fit_carries_its_health():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 2))
    y = (rng.uniform(size=200) < 1 / (1 + np.exp(-X @ [1.0, -0.5]))).astype(int)
    result = fit(logistic_regression, {"X": X, "y": y}, "nuts", num_chains=2, num_warmup=500, num_samples=500)
    assert result.info["warnings"] == [], result.info["warnings"]
    assert {"num_divergent", "r_hat", "ess_bulk", "ess_tail", "num_max_tree_depth", "chain_permutations"} <= set(result.info)
    assert result.info["chain_permutations"] is None  # no components

"""The generic removal of prior terms behind ML."""

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.infer.util import log_density
from numpyro.primitives import Messenger

import models
from inference.handlers import is_enumerated, likelihood_only


def test_likelihood_only_keeps_exactly_the_observed_terms():
    sim = models.linear_regression.simulate(jax.random.PRNGKey(0), 30, 2)
    theta = {"a": np.array([0.5, -0.2]), "b": np.array(0.1), "sigma": np.array(0.7)}
    X, y = sim.data["X"], sim.data["y"]
    joint, _ = log_density(models.linear_regression.model, (X, y), {}, theta)
    likelihood, _ = log_density(likelihood_only(models.linear_regression.model), (X, y), {}, theta)
    resid = np.asarray(y) - np.asarray(X) @ theta["a"] - theta["b"]
    expected = np.sum(-0.5 * np.log(2 * np.pi * 0.49) - resid**2 / (2 * 0.49))
    np.testing.assert_allclose(likelihood, expected, rtol=1e-12)
    log_prior = (
        dist.Normal(0, 10).log_prob(theta["a"]).sum() + dist.Normal(0, 10).log_prob(theta["b"])
        + dist.HalfNormal(10).log_prob(theta["sigma"])
    )
    np.testing.assert_allclose(joint - likelihood, log_prior, rtol=1e-12)


def test_likelihood_only_leaves_enumerated_sites_and_supports_alone():
    X = np.random.default_rng(0).normal(size=(10, 2))
    model = likelihood_only(models.gaussian_mixture.model)
    trace = handlers.trace(handlers.seed(model, 0)).get_trace(X, num_components=2)
    assert is_enumerated(trace["z"]) and not isinstance(trace["z"]["fn"], dist.MaskedDistribution)
    for name in ("pi", "mu", "sigma", "corr_chol"):
        site = trace[name]
        assert isinstance(site["fn"], dist.MaskedDistribution), name
        assert float(site["fn"].log_prob(site["value"])) == 0.0
    assert trace["pi"]["fn"].support is dist.constraints.simplex


def test_the_mask_flag_alone_would_not_remove_the_prior():
    # the trap the handler avoids: a handler that only sets a sample message's "mask" flag
    # leaves the prior in the log density, which is read from the site's fn
    class mask_flag(Messenger):
        def process_message(self, msg):
            if msg["type"] == "sample" and not msg["is_observed"]:
                msg["mask"] = False

    def model():
        numpyro.sample("theta", dist.Normal(0.0, 1.0))

    flagged, _ = log_density(mask_flag(model), (), {}, {"theta": 2.0})
    masked, _ = log_density(likelihood_only(model), (), {}, {"theta": 2.0})
    np.testing.assert_allclose(flagged, dist.Normal(0.0, 1.0).log_prob(2.0), rtol=1e-12)
    assert float(masked) == 0.0

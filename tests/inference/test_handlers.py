"""The handlers through which the inference layer reads and rewrites the models."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.infer.util import log_density
from numpyro.primitives import Messenger

import models
from inference._setup import enumerated_sites
from inference.handlers import is_enumerated, likelihood_only, with_deterministic


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


def test_the_layer_reads_sites_from_one_row_not_from_every_row():
    """Which sites are enumerated and what the deterministic sites hold do not depend on the
    number of rows; a trace at every row made the mixture's per-row Cholesky factors (N x D x D,
    9 GB at N = 1e6, D = 32: the EM benchmark ran out of memory), so one row is traced."""
    seen = []

    def model(X):
        seen.append(X.shape[0])
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        numpyro.deterministic("twice", 2 * mu)
        with numpyro.plate("data", X.shape[0]):
            z = numpyro.sample("z", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
            numpyro.sample("X", dist.Normal(mu + z, 1.0), obs=X)

    data = {"X": jnp.arange(1000.0)}
    assert enumerated_sites(model, {"mu": 0.5}, data) == {"z": 2}
    assert with_deterministic(model, {"mu": jnp.asarray(0.5)}, data, jax.random.PRNGKey(0))["twice"] == 1.0
    assert seen == [1, 1]

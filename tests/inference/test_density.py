"""The log joint density with the enumerated label summed out (:func:`inference._density.log_joint`)."""

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.contrib.funsor import enum
from numpyro.contrib.funsor import log_density as funsor_log_density
from scipy.special import logsumexp

import models
from inference._density import label_log_joint, log_joint
from inference.handlers import likelihood_only, observed_rows, scale_data

gc, gm = models.gaussian_classifier, models.gaussian_mixture


def _mixture(covariance_type):
    sim = gm.simulate(jax.random.PRNGKey(1), 40, 2, num_components=3, covariance_type=covariance_type)
    theta = {name: sim.params[name] for name in gm.params(2, num_components=3, covariance_type=covariance_type)}
    return (lambda X: gm.model(X, num_components=3, covariance_type=covariance_type)), {"X": sim.data["X"]}, theta


def _semi_supervised():
    sim = gc.simulate(jax.random.PRNGKey(2), 40, 2, num_classes=3)
    y = np.where(np.arange(40) % 3 == 0, np.asarray(sim.data["y"]), -1)
    data = gc.check_data(np.asarray(sim.data["X"]), y, num_classes=3)
    theta = {name: sim.params[name] for name in ("pi", "mu", "sigma", "corr_chol")}
    return (lambda X, y, labelled: gc.model(X, y, labelled, num_classes=3)), data, theta


CASES = {
    **{f"mixture-{c}": (lambda c=c: _mixture(c)) for c in gm.COVARIANCE_TYPES},
    "semi-supervised classifier": _semi_supervised,
}


@pytest.fixture(params=list(CASES))
def case(request):
    return CASES[request.param]()


@pytest.mark.parametrize("likelihood", [False, True], ids=["joint", "likelihood"])
def test_log_joint_equals_funsors_sum_over_the_label(case, likelihood):
    """funsor's variable elimination is the independent reference; both sum a few float64 terms
    per row and differ in the order of the additions, so they agree to round-off (1e-12)."""
    model, data, theta = case
    model = likelihood_only(model) if likelihood else model
    expected, _ = funsor_log_density(enum(model, first_available_dim=-2), (), data, theta)
    np.testing.assert_allclose(log_joint(model, data, theta), expected, rtol=1e-12)


def test_the_mixtures_log_likelihood_is_sklearns_score():
    """``sum_n log sum_k pi_k N(x_n | mu_k, cov_k)`` of scikit-learn's ``score_samples`` at the
    same parameters (tests/models/test_gaussian_mixture.py builds it), to round-off."""
    model, data, theta = _mixture("full")
    X = np.asarray(data["X"])
    cov = np.asarray(gm._theta(theta, 3, "full")["cov"])
    densities = [np.log(theta["pi"][k]) + dist.MultivariateNormal(theta["mu"][k], cov[k]).log_prob(X) for k in range(3)]
    expected = logsumexp(np.stack(densities), axis=0).sum()
    np.testing.assert_allclose(log_joint(likelihood_only(model), data, theta), expected, rtol=1e-12)


@pytest.mark.parametrize("factor", [2.0, 7.5])
def test_a_minibatch_scale_multiplies_each_rows_sum_over_the_label(case, factor):
    """A subsampled plate's ``N / B`` multiplies ``log sum_k p(x_n, z_n = k)``, row by row, and
    leaves the priors (outside the plate) alone, so that a minibatch's objective is unbiased.
    funsor scaled each term inside the sum over k: at a factor of 2 the mixture's
    log-likelihood came out 2.048 times the unscaled one. One multiplication apart: 1e-12."""
    model, data, theta = case
    likelihood = log_joint(likelihood_only(model), data, theta)
    prior = log_joint(model, data, theta) - likelihood
    scaled = log_joint(scale_data(model, factor=factor), data, theta)
    np.testing.assert_allclose(scaled, prior + factor * likelihood, rtol=1e-12)


def test_padding_rows_add_exactly_nothing(case):
    """The rows that :class:`inference.handlers.observed_rows` masks out (the padding of
    sharded data) add nothing but round-off: their observed terms are 0 and the label's own
    sum to 1 over its values there, so each adds ``log sum_k pi_k``, some 1e-16, against a
    total of some 1e2 (rtol 1e-13)."""
    model, data, theta = case
    padded = {name: np.concatenate([value, value[:5]]) for name, value in data.items()}
    mask = np.arange(len(padded["X"])) < len(data["X"])
    np.testing.assert_allclose(log_joint(observed_rows(model, mask=mask), padded, theta),
                               log_joint(model, data, theta), rtol=1e-13)


def test_a_model_without_an_enumerated_site_is_numpyros_log_density():
    sim = models.linear_regression.simulate(jax.random.PRNGKey(0), 20, 2)
    theta = {name: sim.params[name] for name in ("a", "b", "sigma")}
    expected, _ = numpyro.infer.util.log_density(models.linear_regression.model, (), sim.data, theta)
    assert log_joint(models.linear_regression.model, sim.data, theta) == expected


def _two_labels(X):
    with numpyro.plate("data", X.shape[0]):
        a = numpyro.sample("a", dist.Bernoulli(0.3), infer={"enumerate": "parallel"})
        b = numpyro.sample("b", dist.Bernoulli(0.6), infer={"enumerate": "parallel"})
        numpyro.sample("X", dist.Normal(a + b, 1.0), obs=X)


def _label_outside_the_plate(X):
    z = numpyro.sample("z", dist.Bernoulli(0.3), infer={"enumerate": "parallel"})
    with numpyro.plate("data", X.shape[0]):
        numpyro.sample("X", dist.Normal(z, 1.0), obs=X)


def _differently_scaled(X):
    with numpyro.plate("data", X.shape[0]):
        z = numpyro.sample("z", dist.Bernoulli(0.3), infer={"enumerate": "parallel"})
        with numpyro.handlers.scale(scale=2.0):
            numpyro.sample("X", dist.Normal(z, 1.0), obs=X)


@pytest.mark.parametrize("model, error, match", [
    (_two_labels, NotImplementedError, r"the layer sums out one enumerated site per row; the model enumerates 2: \['a', 'b'\]"),
    (_label_outside_the_plate, NotImplementedError,
     r"the terms that depend on the enumerated site 'z' must lie in its plate \"data\" and no other, one row each; \['z', 'X'\] do not"),
    (_differently_scaled, ValueError,
     r"the terms summed over the enumerated site 'z' must share one scale .*; 'z' and 'X' differ"),
])
def test_a_label_the_layer_cannot_sum_out_is_refused(model, error, match):
    with pytest.raises(error, match=match):
        log_joint(model, {"X": np.zeros(4)}, {})


def test_the_label_table_is_each_rows_log_joint_at_each_value(case):
    """``label_log_joint``, EM's E-step, against NumPyro's own ``log_density`` of each row with the
    label conditioned on each value in turn (the E-step's construction before): the same few
    float64 terms, so equal to round-off (1e-12); its rows' logsumexp is the log-likelihood."""
    model, data, theta = case
    target = likelihood_only(model)
    label = "z" if "y" not in data else "y"
    table = np.asarray(label_log_joint(target, data, theta))
    num_data = len(data["X"])
    expected = np.array([[numpyro.infer.util.log_density(
        numpyro.handlers.condition(target, data={label: np.full(1, k)}), (),
        {name: value[n:n + 1] for name, value in data.items()}, theta)[0] for k in range(3)] for n in range(num_data)])
    assert table.shape == (num_data, 3)
    np.testing.assert_allclose(table, expected, rtol=1e-12)
    np.testing.assert_allclose(logsumexp(table, axis=1).sum(), log_joint(target, data, theta), rtol=1e-12)


def _observed_outside_the_rows(X):
    with numpyro.plate("data", X.shape[0]):
        numpyro.sample("z", dist.Bernoulli(0.3), infer={"enumerate": "parallel"})
    numpyro.sample("total", dist.Normal(0.0, 1.0), obs=X.sum())


def test_two_traced_scales_are_refused_as_such():
    """Nested ``scale_data`` handlers make a product per site: under ``jit`` two tracers, which
    cannot be compared while tracing, so the refusal says that rather than that they differ."""
    model, data, theta = _mixture("full")
    nested = scale_data(scale_data(model, factor=2.0), factor=3.0)
    np.testing.assert_allclose(log_joint(nested, data, theta), log_joint(scale_data(model, factor=6.0), data, theta),
                               rtol=1e-12)  # concrete, equal: accepted
    with pytest.raises(ValueError, match=r"'z' and 'X' carry two traced scales, which cannot be compared"):
        jax.jit(lambda factor: log_joint(scale_data(scale_data(model, factor=factor), factor=3.0), data, theta))(2.0)


def test_the_label_table_refuses_what_is_no_rows_term():
    with pytest.raises(NotImplementedError, match=r"must lie in its plate \"data\" and no other, one row each; \['total'\] do not"):
        label_log_joint(_observed_outside_the_rows, {"X": np.zeros(4)}, {})
    with pytest.raises(ValueError, match=r"label_log_joint needs a model with an enumerated site; this one has none"):
        label_log_joint(models.linear_regression.model, models.linear_regression.simulate(jax.random.PRNGKey(0), 5, 1).data,
                        {"a": np.zeros(1), "b": 0.0, "sigma": 1.0})
    model, data, theta = _mixture("full")
    with pytest.raises(ValueError, match=r"label_log_joint takes unscaled models; site 'z' has a scale"):
        label_log_joint(scale_data(likelihood_only(model), factor=2.0), data, theta)

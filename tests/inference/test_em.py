"""EM: the generic E-step, the mixture's M-step, against scikit-learn's trajectory."""

import warnings

import jax
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

import models
from inference import ConvergenceWarning, fit
from models._gaussian import scale_tril

gm = models.gaussian_mixture
COVARIANCE_TYPES = ["full", "diag", "spherical", "tied"]


@pytest.fixture(scope="module")
def X():
    return np.asarray(gm.simulate(jax.random.PRNGKey(1), 300, 2, num_components=3).data["X"])


def _start(X, covariance_type):
    start = gm.init_values(jax.random.PRNGKey(5), X, num_components=3, covariance_type=covariance_type)
    start["mu"] = start["mu"] + 0.5  # away from the k-means answer, so EM has work to do
    L = np.asarray(scale_tril(start["sigma"], start.get("corr_chol"), 3, 2, covariance_type))
    cov = L @ np.swapaxes(L, -1, -2)
    precisions = {"full": np.linalg.inv(cov), "tied": np.linalg.inv(cov[0]), "diag": 1 / start["sigma"] ** 2,
                  "spherical": 1 / start["sigma"] ** 2}[covariance_type]
    return start, precisions


def _quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_trajectory_equals_scikit_learn(X, covariance_type):
    start, precisions = _start(X, covariance_type)
    ours = _quiet_fit(gm, {"X": X}, "em", num_components=3, covariance_type=covariance_type, init=start,
                      reg_covar=0.0, tol=0.0, max_iter=6)
    for num_iter in range(1, 7):
        reference = GaussianMixture(3, covariance_type=covariance_type, reg_covar=0.0, tol=0.0, max_iter=num_iter,
                                    weights_init=start["pi"], means_init=start["mu"], precisions_init=precisions)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn's own ConvergenceWarning at tol = 0
            reference.fit(X)
        # scikit-learn's lower bound after m iterations is the mean log-likelihood at theta_{m-1}
        np.testing.assert_allclose(-ours.losses[num_iter - 1] / len(X), reference.lower_bound_, rtol=1e-8)
    np.testing.assert_allclose(ours.params["mu"], reference.means_, rtol=1e-8)
    np.testing.assert_allclose(ours.params["pi"], reference.weights_, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_never_decreases(X, covariance_type):
    start, _ = _start(X, covariance_type)
    result = _quiet_fit(gm, {"X": X}, "em", num_components=3, covariance_type=covariance_type, init=start, tol=0.0, max_iter=30)
    # EM's monotonicity (Dempster et al., 1977); float64 round-off of a sum of 300 terms is ~1e-13
    assert np.all(np.diff(-result.losses) >= -1e-10 * np.abs(result.losses).max())


def test_responsibilities_equal_scikit_learn(X):
    result = fit(gm, {"X": X}, "em", num_components=3, tol=1e-10, max_iter=500)
    reference = GaussianMixture(3, reg_covar=1e-6)
    reference.weights_, reference.means_ = result.params["pi"], result.params["mu"]
    reference.covariances_ = result.params["cov"]
    reference.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(result.params["cov"]))
    # the E-step ran at the final parameters: the generic enumeration equals the formula
    np.testing.assert_allclose(result.info["responsibilities"], reference.predict_proba(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(result.info["assignments"], reference.predict(X))
    assert result.converged


def test_em_and_ml_by_lbfgs_reach_the_same_maximum_from_the_same_start(X):
    start, _ = _start(X, "full")
    em = fit(gm, {"X": X}, "em", num_components=3, init=start, reg_covar=0.0, tol=1e-12, max_iter=2000)
    ml = fit(gm, {"X": X}, "ml", num_components=3, init=start)
    # EM's last step changes the mean log-likelihood by < 1e-12; L-BFGS stops at |grad| < 1e-9
    np.testing.assert_allclose(em.losses[-1], ml.losses[-1], rtol=1e-9)


def test_restarts_keep_the_best(X):
    result = fit(gm, {"X": X}, "em", num_components=3, num_restarts=3, seed=4)
    assert len(result.info["restart_objectives"]) == 3
    np.testing.assert_allclose(-result.losses[-1], max(result.info["restart_objectives"]))


def test_em_needs_something_to_enumerate():
    data = models.linear_regression.simulate(jax.random.PRNGKey(0), 20, 1).data
    with pytest.raises(ValueError, match="em needs exactly one enumerated discrete latent site; linear_regression has 0"):
        fit("linear_regression", data, "em")
    labelled = models.gaussian_classifier.simulate(jax.random.PRNGKey(0), 20, 1).data
    with pytest.raises(ValueError, match="gaussian_classifier has 0 with these data .*use method='ml'"):
        fit("gaussian_classifier", labelled, "em")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"objective": "map", "reg_covar": 1e-6}, r"reg_covar applies to the closed-form ML M-step only; got reg_covar = 1e-06 with objective = 'map'"),
        ({"objective": "map", "m_step": "closed"}, r"m_step='closed' needs objective='ml', no parameter fixed by the priors and a model with a closed-form M-step; got objective='map', fixed \[\]"),
        ({"init_method": "k-means"}, r"init_method must be one of \['kmeans', 'random'\]; got 'k-means'"),
        ({"objective": "mle"}, r"objective must be one of \['map', 'ml'\]; got 'mle'"),
        ({"reg_covar": -1.0}, r"reg_covar must be a number >= 0 or None; got -1.0"),
        ({"tol": "small"}, r"tol must be a number >= 0; got 'small'"),
        ({"engine": "fast"}, r"engine must be one of \['auto', 'generic'\]; got 'fast'"),
        ({"chunk_size": 0}, r"chunk_size must be >= 1; got chunk_size = 0"),
    ],
)
def test_em_option_errors_name_the_option(X, options, message):
    with pytest.raises(ValueError, match=message):
        fit(gm, {"X": X}, "em", num_components=3, **options)


def test_numerical_m_step_follows_the_closed_form(X):
    """Generalised EM maximises Q(theta) by L-BFGS from the model's trace; with reg_covar = 0 its
    M-step is the closed form's maximiser, so the trajectories agree to the optimiser's tolerance
    (|grad| < 1e-9 per point gives parameters to ~1e-8; 1e-6 on the log-likelihood leaves room)."""
    start, _ = _start(X, "full")
    options = dict(num_components=3, init=start, tol=0.0, max_iter=5)
    closed = _quiet_fit(gm, {"X": X}, "em", reg_covar=0.0, **options)
    numerical = _quiet_fit(gm, {"X": X}, "em", m_step="numerical", **options)
    assert numerical.method_options["m_step"] == "numerical" and closed.method_options["m_step"] == "closed"
    np.testing.assert_allclose(numerical.losses, closed.losses, rtol=1e-9)
    np.testing.assert_allclose(numerical.params["mu"], closed.params["mu"], atol=1e-6)


@pytest.fixture(scope="module")
def map_em(X):
    """MAP-EM with user priors whose closed-form conditional maxima are known (Dirichlet on pi,
    Normal on mu), from the k-means start."""
    import numpyro.distributions as dist

    priors = {"pi": dist.Dirichlet(np.array([2.0, 3.0, 4.0])), "mu": dist.Normal(0.0, 0.5)}
    return fit(gm, {"X": X}, "em", num_components=3, objective="map", priors=priors, tol=1e-13, max_iter=500), priors


def test_map_em_is_monotone_and_reaches_the_map_estimate(X, map_em):
    em, priors = map_em
    assert em.converged and em.info["objective"] == "log-posterior"
    trace = -em.losses
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace).max())
    start = {k: em.params[k] for k in ("pi", "mu", "sigma", "corr_chol")}
    direct = fit(gm, {"X": X}, "map", num_components=3, priors=priors, init=start)
    # MAP's loss is the negative log joint: the same objective as MAP-EM's trace, at the same point
    np.testing.assert_allclose(-trace[-1], direct.losses[-1], rtol=1e-10)
    np.testing.assert_allclose(direct.params["mu"], em.params["mu"], atol=1e-6)


def test_map_em_fixed_point_satisfies_the_conjugate_closed_forms(X, map_em):
    """At MAP-EM's fixed point the M-step's conjugate parts hold in closed form:
    pi_k = (N_k + alpha_k - 1) / (N + sum alpha - K) (Dirichlet), and, given cov_k,
    mu_k = (N_k cov_k^-1 + s^-2 I)^-1 cov_k^-1 sum_n r_nk x_n (Normal(0, s^2) on mu);
    tol = 1e-13 per point leaves the parameters within ~1e-6 of the fixed point."""
    em, _ = map_em
    resp = em.info["responsibilities"]
    counts, alpha = resp.sum(0), np.array([2.0, 3.0, 4.0])
    np.testing.assert_allclose(em.params["pi"], (counts + alpha - 1) / (len(X) + alpha.sum() - 3), atol=1e-6)
    for k in range(3):
        precision = np.linalg.inv(em.params["cov"][k])
        mu = np.linalg.solve(counts[k] * precision + np.eye(2) / 0.5**2, precision @ (resp[:, k] @ X))
        np.testing.assert_allclose(em.params["mu"][k], mu, atol=1e-6)


def test_random_responsibilities_start(X):
    kmeans = fit(gm, {"X": X}, "em", num_components=3, tol=1e-10, max_iter=1000)
    random = fit(gm, {"X": X}, "em", num_components=3, tol=1e-10, max_iter=1000, init_method="random", num_restarts=3)
    assert random.method_options["init_method"] == "random"
    # three well-separated clusters: both starts find the same maximum (up to the labels' order)
    np.testing.assert_allclose(random.losses[-1], kmeans.losses[-1], rtol=1e-8)
    np.testing.assert_allclose(np.sort(random.params["pi"]), np.sort(kmeans.params["pi"]), atol=1e-6)


def test_relabelling_undoes_a_permutation_of_draws(X):
    from inference import relabel

    em = fit(gm, {"X": X}, "em", num_components=3)
    nuts = fit(gm, {"X": X}, "nuts", num_components=3, num_warmup=150, num_samples=100)
    scrambled = {k: v.copy() for k, v in nuts.samples.items()}
    rng = np.random.default_rng(0)
    for s in range(0, 100, 2):  # every other draw gets a random labelling
        perm = rng.permutation(3)
        for name in gm.component_sites(covariance_type="full"):
            scrambled[name][0, s] = scrambled[name][0, s][perm]
    aligned = relabel(nuts._replace(samples=scrambled), em)
    fixed = relabel(nuts, em)
    for name in gm.component_sites(covariance_type="full"):
        np.testing.assert_array_equal(aligned.samples[name], fixed.samples[name])
    # the clusters are 4 apart with sd ~ 0.1 on the means: aligned draws sit near the EM means
    np.testing.assert_allclose(aligned.params["mu"], em.params["mu"], atol=0.5)
    assert aligned.info["num_relabelled"] >= 25


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_compiled_em_equals_the_model_traced_em(X, covariance_type):
    """The compiled engine (sufficient statistics over chunks, one while_loop) and the generic one
    (E-step traced from the model each iteration) do the same arithmetic up to summation order:
    1e-12 relative on the trace, with chunks of 64 rows so that 300 rows span five chunks."""
    options = dict(num_components=3, covariance_type=covariance_type, tol=0.0, max_iter=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        compiled = fit(gm, {"X": X}, "em", chunk_size=64, **options)
        generic = fit(gm, {"X": X}, "em", engine="generic", **options)
    assert compiled.method_options["engine"] == "compiled" and generic.method_options["engine"] == "generic"
    np.testing.assert_allclose(compiled.losses, generic.losses, rtol=1e-12)
    np.testing.assert_allclose(compiled.params["cov"], generic.params["cov"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(compiled.info["responsibilities"], generic.info["responsibilities"], atol=1e-10)


def test_runs_of_any_max_iter_up_to_1023_share_the_compiled_engine(X):
    """``max_iter`` is an argument of the compiled loop, not a part of its key: a run to 15 and
    a run to 300 iterations compile one program, and stop where their own max_iter says."""
    from inference import em

    options = dict(num_components=3, covariance_type="full", tol=0.0, chunk_size=96)  # a shape no other test compiles
    loop = em.compiled_loop()
    short = _quiet_fit(gm, {"X": X}, "em", max_iter=15, **options)
    programs = loop._cache_size()
    long = _quiet_fit(gm, {"X": X}, "em", max_iter=300, **options)
    assert programs > 0 and loop._cache_size() == programs
    assert (short.num_steps, long.num_steps) == (15, 300) and not short.converged
    # the same iterations up to the 16th evaluation of the objective: the long run continues the short
    np.testing.assert_array_equal(long.losses[:16], short.losses)
    assert len(long.losses) == 301

"""Exact checks of the Gaussian mixture (Example 1.6) against scikit-learn's GaussianMixture."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.contrib.funsor import enum, log_density
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

from inference import ConvergenceWarning, fit
from inference.handlers import likelihood_only
from models import _gaussian
from models import gaussian_mixture as gm
from models._ordered import FirstColumnOrderedTransform, first_column_ordered

COVARIANCE_TYPES = ["full", "diag", "spherical", "tied"]


def _sklearn_covariances(cov, covariance_type):
    cov = np.asarray(cov)
    if covariance_type == "diag":
        return np.diagonal(cov, axis1=1, axis2=2).copy()
    if covariance_type == "spherical":
        return cov[:, 0, 0].copy()
    return cov


def _sklearn_at(theta, covariance_type):
    """A GaussianMixture whose parameters are set to ``theta`` (no fitting)."""
    reference = GaussianMixture(n_components=len(theta["pi"]), covariance_type=covariance_type)
    reference.weights_ = np.asarray(theta["pi"])
    reference.means_ = np.asarray(theta["mu"])
    reference.covariances_ = _sklearn_covariances(theta["cov"], covariance_type)
    reference.precisions_cholesky_ = _compute_precision_cholesky(reference.covariances_, covariance_type)
    return reference


@pytest.fixture(scope="module", params=COVARIANCE_TYPES)
def case(request):
    covariance_type = request.param
    sim = gm.simulate(jax.random.PRNGKey(5), num_data=300, num_features=2, num_components=3, covariance_type=covariance_type)
    return covariance_type, sim


def test_marginal_log_likelihood_equals_score_samples(case):
    covariance_type, sim = case
    X = np.asarray(sim.data["X"])
    expected = _sklearn_at(sim.params, covariance_type).score_samples(X)
    np.testing.assert_allclose(gm.log_likelihood(sim.params, X), expected, rtol=1e-12)
    # and from the NumPyro model itself, z summed out by enumeration, priors masked
    latent = {k: sim.params[k] for k in gm.params(2, num_components=3, covariance_type=covariance_type)}
    model = enum(likelihood_only(gm.model), first_available_dim=-2)
    total, _ = log_density(model, (X,), {"num_components": 3, "covariance_type": covariance_type}, latent)
    np.testing.assert_allclose(total, expected.sum(), rtol=1e-12)


def test_responsibilities_equal_predict_proba(case):
    covariance_type, sim = case
    X = np.asarray(sim.data["X"])
    reference = _sklearn_at(sim.params, covariance_type)
    np.testing.assert_allclose(gm.responsibilities(sim.params, X), reference.predict_proba(X), rtol=1e-9, atol=1e-14)
    np.testing.assert_array_equal(gm.assignments(sim.params, X), reference.predict(X))


def test_closed_forms_over_several_row_blocks_equal_scikit_learn():
    """Over more rows than a block (``_gaussian.ROW_BLOCK``), the closed forms go block by block,
    the last block padded: two blocks and 5 rows, every row against scikit-learn, to the
    tolerances of the one-block tests above (the same arithmetic row by row)."""
    num_data = 2 * _gaussian.ROW_BLOCK + 5
    sim = gm.simulate(jax.random.PRNGKey(6), num_data=num_data, num_features=3, num_components=4)
    X = np.asarray(sim.data["X"])
    reference = _sklearn_at(sim.params, "full")
    np.testing.assert_allclose(gm.log_likelihood(sim.params, X), reference.score_samples(X), rtol=1e-12)
    np.testing.assert_allclose(gm.responsibilities(sim.params, X), reference.predict_proba(X), rtol=1e-9, atol=1e-14)


def test_row_blocks_give_the_whole_computation():
    X = jnp.arange(30.0).reshape(10, 3)

    def f(rows):
        return jnp.stack([rows.sum(1), rows[:, 0] * rows[:, 2]], axis=1)

    for block_rows in (1, 3, 4, 10, 16):  # uneven, even, exactly one block, more than the rows
        np.testing.assert_array_equal(_gaussian.by_row_blocks(f, X, block_rows), f(X))


def _sorted_rows(mu):
    return np.asarray(mu)[np.argsort(np.asarray(mu)[:, 0])]


def test_ml_reaches_scikit_learn_em_optimum(case):
    covariance_type, sim = case
    X = np.asarray(sim.data["X"])
    reference = GaussianMixture(3, covariance_type=covariance_type, reg_covar=0.0, tol=1e-14, max_iter=5000,
                                n_init=3, random_state=0).fit(X)
    result = fit(gm, sim.data, "ml", num_components=3, covariance_type=covariance_type)
    assert result.converged
    # both reach a stationary point of eq. 1.15 to ~1e-9 in the gradient: the maxima agree to
    # far below 1e-8 relative, the parameters to ~1e-6 (EM converges linearly, hence 1e-5)
    np.testing.assert_allclose(-result.losses[-1], reference.score(X) * len(X), rtol=1e-9)
    np.testing.assert_allclose(_sorted_rows(result.params["mu"]), _sorted_rows(reference.means_), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.sort(result.params["pi"]), np.sort(reference.weights_), rtol=1e-5)


@pytest.mark.slow
def test_ordered_mixture_has_increasing_first_coordinate():
    sim = gm.simulate(jax.random.PRNGKey(6), num_data=200, num_features=2, num_components=3)
    result = fit(gm, sim.data, "map", num_components=3, ordered=True)
    assert result.converged
    assert np.all(np.diff(result.params["mu"][:, 0]) > 0)
    unordered = fit(gm, sim.data, "map", num_components=3)
    # the restriction removes relabellings, not solutions: the same optimum up to labels
    np.testing.assert_allclose(result.losses[-1], unordered.losses[-1], rtol=1e-8)


def test_first_column_ordered_transform_round_trip_and_jacobian():
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 3))
    t = FirstColumnOrderedTransform()
    y = t(x)
    assert bool(first_column_ordered(y))
    np.testing.assert_allclose(t.inv(y), x, rtol=1e-12)
    jac = jax.jacfwd(lambda v: t(v.reshape(4, 3)).ravel())(x.ravel())
    np.testing.assert_allclose(t.log_abs_det_jacobian(x, y), jnp.linalg.slogdet(jac)[1], rtol=1e-12)


def test_simulate_keeps_true_assignments_apart_from_data():
    sim = gm.simulate(jax.random.PRNGKey(0), num_data=10)
    assert set(sim.data) == {"X"} and sim.params["z"].shape == (10,)


@pytest.mark.parametrize("closed_form", [True, False], ids=["closed-form", "search"])
def test_one_component_is_the_sample_gaussian(closed_form):
    X = np.asarray(gm.simulate(jax.random.PRNGKey(7), num_data=80).data["X"])
    result = fit(gm, {"X": X}, "ml", num_components=1, closed_form=closed_form)
    assert result.converged and result.info["closed_form"] == closed_form
    # K = 1: ML is the sample mean and the covariance divided by N (the search: to its ~1e-8)
    rtol = 1e-12 if closed_form else 1e-6
    np.testing.assert_allclose(result.params["mu"][0], X.mean(0), rtol=rtol)
    np.testing.assert_allclose(result.params["cov"][0], np.cov(X.T, bias=True), rtol=rtol)
    np.testing.assert_allclose(result.params["pi"], [1.0])


def test_ordered_mu_lives_in_the_ordered_domain_with_the_unordered_prior_density():
    from numpyro import handlers
    from numpyro.infer.util import log_density

    X = np.asarray(gm.simulate(jax.random.PRNGKey(8), num_data=50).data["X"])
    trace = handlers.trace(handlers.seed(gm.model, 0)).get_trace(X, ordered=True)
    assert trace["mu"]["fn"].support is first_column_ordered
    theta = {k: v for k, v in gm.simulate(jax.random.PRNGKey(0), 5).params.items() if k in ("pi", "sigma", "corr_chol")}
    theta["mu"] = np.array([[-1.0, 0.5], [2.0, -0.3]])
    kwargs = {"num_components": 2}
    ordered, _ = log_density(enum(gm.model, first_available_dim=-2), (X,), {**kwargs, "ordered": True}, theta)
    plain, _ = log_density(enum(gm.model, first_available_dim=-2), (X,), kwargs, theta)
    # the restriction changes the support, not the density on it
    np.testing.assert_allclose(ordered, plain, rtol=1e-12)


def test_ordered_fit_stays_ordered_from_a_start_that_pulls_components_across():
    sim = gm.simulate(jax.random.PRNGKey(6), num_data=200, num_features=2, num_components=2)
    # the components' first coordinates start nearly equal, each on the "wrong" side's cluster
    # in the second coordinate: unordered, they would cross over
    start = {"mu": np.array([[-0.01, 0.0], [0.01, 0.0]])}
    with warnings.catch_warnings():  # the merged start may end at a flat point; ordering is the point here
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit(gm, sim.data, "map", num_components=2, ordered=True, init=start)
    assert np.all(np.diff(result.params["mu"][:, 0]) > 0)


def test_an_unordered_start_for_an_ordered_mixture_is_named():
    X = np.zeros((10, 2)) + np.arange(10)[:, None]
    with pytest.raises(ValueError, match=r"init\['mu'\] must lie in"):
        fit(gm, {"X": X}, "ml", ordered=True, init={"mu": np.array([[1.0, 0.0], [0.0, 0.0]])})


def test_fitted_functions_check_X():
    theta = gm.simulate(jax.random.PRNGKey(0), 5).params
    with pytest.raises(ValueError, match=r"X must have 2 feature\(s\), as the parameters do; got shape \(4, 3\)"):
        gm.responsibilities(theta, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"X must be finite"):
        gm.log_likelihood(theta, np.full((4, 2), np.nan))


def test_kmeans_finds_well_separated_groups_from_any_key_form_and_compiles_nothing():
    """Lloyd's k-means (``models._gaussian.kmeans``, the start of EM and of the optimisers) on
    three groups far apart (the simulation's defaults: means on a circle of radius 4), whose 300
    points it splits into the groups themselves, up to their order. The
    same bits as a raw or a typed key give the same seeds; NumPy draws them, so no JAX program
    compiles (JAX's draws, op by op, compiled one each: 0.29 s of a first fit)."""
    from jax import monitoring

    from models import _gaussian

    sim = gm.simulate(jax.random.PRNGKey(3), 300, 2, num_components=3)
    X, truth = np.asarray(sim.data["X"]), np.asarray(sim.params["z"])
    events = []

    def listen(event, duration, **kwargs):
        events.append(event)

    key = jax.random.PRNGKey(5)
    jax.clear_caches()  # so that draws by JAX would compile here, whatever ran before in this process
    monitoring.register_event_duration_secs_listener(listen)
    try:
        raw = _gaussian.kmeans(key, X, 3)
    finally:
        monitoring.unregister_event_duration_listener(listen)
    assert not [e for e in events if e.startswith("/jax/core/compile")]
    pairs = {(int(a), int(b)) for a, b in zip(raw, truth)}
    assert len(pairs) == 3 and len({a for a, _ in pairs}) == 3  # a bijection between labels and groups
    np.testing.assert_array_equal(_gaussian.kmeans(jax.random.wrap_key_data(jax.random.PRNGKey(5)), X, 3), raw)
    np.testing.assert_array_equal(_gaussian.kmeans(jax.random.PRNGKey(5), X, 3), raw)

r"""The Gaussian mixture with enumerated cluster assignments (Example 1.6, eq. 1.15-1.18).

Generative process for K = ``num_components`` clusters in D dimensions::

    pi ~ Dirichlet(1, ..., 1),  mu_k ~ N(0, 10^2 I),  sigma ~ LogNormal(0, 2^2),  corr_chol ~ LKJ(2)
    z_n | pi ~ Categorical(pi)                                  (z_nk = 1 iff x_n in C_k, eq. 1.16)
    x_n | z_n = k ~ N(mu_k, cov_k)

``z`` is marked for parallel enumeration: NumPyro sums it out, so SVI and NUTS see the marginal
likelihood ``l(theta) = sum_n log sum_k pi_k N(x_n | mu_k, cov_k)`` (eq. 1.15) and never sample
it. ``covariance_type`` is one of scikit-learn's ``full``, ``diag``, ``spherical``, ``tied``
(see :mod:`models._gaussian` for the shapes of ``sigma``, ``corr_chol`` and ``cov``).

``ordered=True`` keeps the stated prior on ``mu`` but restricts it to components with increasing
first coordinate, ``mu[0, 0] < ... < mu[K-1, 0]`` (Stan's ``ordered``), which removes the K!
relabellings of the posterior (label switching).

The responsibilities ``gamma_nk = p(z_n = k | x_n)`` (eq. 1.18) follow from Bayes' rule.

The likelihood is unbounded (Example 1.6): a component on one point with ``cov_k -> 0`` sends it
to infinity. :func:`mle_problem` recognises a fit that has collapsed so (ML and ML-EM report it);
the priors keep the posterior, hence MAP, bounded.

Shapes: ``X`` (N, D); ``pi`` (K,), ``mu`` (K, D), ``cov`` (K, D, D) or (D, D) when tied;
``responsibilities`` (N, K); ``assignments`` (N,).
"""

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions import constraints

from . import _gaussian
from ._checks import (
    as_features,
    check_array,
    check_bool,
    check_choice,
    check_covariance,
    check_features,
    check_gaussian_theta,
    check_int,
    check_key,
    check_probabilities,
    check_X,
)
from ._ordered import FirstColumnOrdered, first_column_ordered
from ._priors import Fixed, resolve_priors
from ._types import Simulation

OPTIONS = {"num_components": 2, "covariance_type": "full", "ordered": False}
HAS_TARGET = False
COVARIANCE_TYPES = _gaussian.COVARIANCE_TYPES


def params(num_features, *, num_components=2, covariance_type="full", ordered=False):
    """``{name: Param}`` for ``pi``, ``mu``, ``sigma`` and (full, tied) ``corr_chol``.

    With ``ordered``, ``mu`` lives in :data:`models._ordered.first_column_ordered` and takes a
    real prior, which :func:`model` restricts to that domain.
    """
    mu_domain = first_column_ordered if ordered else constraints.real
    return _gaussian.params(num_components, num_features, covariance_type, mu_domain)


def check_data(X, *, num_components=2, covariance_type="full", ordered=False):
    """Validated ``{"X": (N, D) float64}`` (a mixture has no target)."""
    check_choice("covariance_type", covariance_type, COVARIANCE_TYPES)
    check_bool("ordered", ordered)
    X = check_X(X)
    num_data = X.shape[0]
    if check_int("num_components", num_components, minimum=1) > num_data:
        raise ValueError(
            f"Expected num_data >= num_components but got num_components = {num_components}, "
            f"num_data = {num_data}"
        )
    return {"X": X}


def model(X, *, priors=None, num_components=2, covariance_type="full", ordered=False):
    """z ~ Categorical(pi) (enumerated), x | z = k ~ N(mu_k, cov_k) for each row of ``X``."""
    X = as_features(X)
    spec = params(X.shape[1], num_components=num_components, covariance_type=covariance_type, ordered=ordered)
    resolved = resolve_priors(priors, spec)
    if ordered and not isinstance(resolved["mu"], Fixed):  # a fixed mu was checked to be ordered
        resolved["mu"] = FirstColumnOrdered(resolved["mu"].to_event(len(resolved["mu"].batch_shape)))
    _gaussian.generative_model(
        X, None, resolved=resolved, label_site="z", covariance_type=covariance_type, enumerate_label=True
    )


def responsibilities(theta, X):
    """``gamma_nk = p(z_n = k | x_n, theta)`` (eq. 1.18), shape (N, K), from ``pi, mu, cov``."""
    theta = check_gaussian_theta(theta)
    X = check_features(X, np.shape(theta["mu"])[-1])
    return jax.jit(_gaussian.posterior_probs)(X, theta["pi"], theta["mu"], theta["cov"])


def assignments(theta, X):
    """Hard assignments ``argmax_k gamma_nk``, shape (N,)."""
    return jnp.argmax(responsibilities(theta, X), axis=-1)


def log_likelihood(theta, X):
    """Pointwise marginal log-likelihood ``log sum_k pi_k N(x_n | mu_k, cov_k)``, shape (N,)."""
    theta = check_gaussian_theta(theta)
    X = check_features(X, np.shape(theta["mu"])[-1])
    return jax.jit(_gaussian.marginal_log_density)(X, theta["pi"], theta["mu"], theta["cov"])


COLLAPSE_FLOOR = 1e-5  # smallest covariance eigenvalue, relative to the data's average variance


def _collapse_floor(X):
    return COLLAPSE_FLOOR * max(float(np.var(X, axis=0).mean()), np.finfo(np.float64).tiny)


def mle_problem(theta, X, y=None, *, resp=None, num_components=2, covariance_type="full", ordered=False):
    """Why ``theta`` is no ML estimate but a collapse (Example 1.6), or None.

    The likelihood (eq. 1.15) has no maximum: with ``mu_k = x_n`` and ``cov_k -> 0`` it grows
    without bound. A fit has fallen into this when a component keeps fewer effective points
    ``n_k = sum_n gamma_nk`` than its covariance needs (D + 1 for full, 2 for diag and
    spherical, whose variances are per component), or when its covariance's smallest
    eigenvalue is below ``COLLAPSE_FLOOR`` times the data's average variance (the
    determinant's floor; the only test for tied, whose covariance is pooled). Judged at a fit:
    the data alone cannot tell, so ``theta=None`` gives None, as does a non-finite ``theta``
    (an optimiser's failure, which it reports itself).

    ``resp``: the responsibilities ``gamma`` (N, K) at ``theta`` when the caller has them (EM
    has, for its ``info``), rather than computed again: 1.4 to 2.0 s at N = 1e6, D = 32, K = 16.
    """
    if theta is None:
        return None
    X = np.asarray(X, dtype=np.float64)
    cov = np.asarray(theta["cov"] if "cov" in theta else _theta(theta, num_components, covariance_type)["cov"])
    if not (np.all(np.isfinite(cov)) and np.all(np.isfinite(theta["mu"])) and np.all(np.isfinite(theta["pi"]))):
        return None
    D = X.shape[1]
    floor = _collapse_floor(X)
    smallest = np.linalg.eigvalsh(cov.reshape(-1, D, D)).min(axis=1)
    needed = {"full": D + 1, "diag": 2, "spherical": 2, "tied": 0}[covariance_type]
    if covariance_type == "tied":
        if smallest[0] >= floor:
            return None
        which = f"the shared covariance: smallest eigenvalue {smallest[0]:.3g}"
    else:
        if resp is None:
            resp = jax.jit(_gaussian.posterior_probs)(X, theta["pi"], theta["mu"], cov)
        elif np.shape(resp) != (len(X), num_components):
            raise ValueError(f"resp must be the responsibilities at theta, of shape (N, K) = {(len(X), num_components)}; "
                             f"got shape {np.shape(resp)}")
        counts = np.asarray(resp).sum(axis=0)
        degenerate = [k for k in range(num_components) if counts[k] < needed or smallest[k] < floor]
        if not degenerate:
            return None
        which = "; ".join(f"component {k}: n_k = {counts[k]:.3g}, smallest covariance eigenvalue {smallest[k]:.3g}"
                          for k in degenerate)
    counts_needed = "" if covariance_type == "tied" else f"n_k >= {needed} and "
    return (
        f"the ML estimate does not exist: the fit has collapsed ({which}; a covariance needs {counts_needed}"
        f"eigenvalues above {floor:.3g}, {COLLAPSE_FLOOR:g} of the data's average variance). The likelihood "
        "(eq. 1.15) grows without bound as a component shrinks onto a point (Example 1.6). Use MAP, whose priors "
        "keep every covariance proper, fewer components, or EM's reg_covar as a guard"
    )


def closed_form_ml(data, *, num_components=2, covariance_type="full", ordered=False):
    """The ML estimate for ``num_components = 1``, one Gaussian: the mean and the covariance
    divided by N (of ``covariance_type``); the estimate that ``inference.fit(..., "ml")`` takes
    instead of searching for it. None for K > 1, where there is no closed form and EM or an
    optimiser searches, and where that covariance is singular or nearly so (N <= D, a constant
    feature, collinear features: an eigenvalue below ``COLLAPSE_FLOOR`` of the average variance,
    where its Cholesky factor may not exist in float64): the search then reports the collapse
    (:func:`mle_problem`), as without a closed form."""
    if num_components > 1:
        return None
    X = data["X"]
    theta = _gaussian.weighted_estimates(X, np.ones((len(X), 1)), covariance_type)
    if not np.linalg.eigvalsh(theta["cov"].reshape(-1, X.shape[1], X.shape[1])).min() >= _collapse_floor(X):
        return None
    return {"pi": theta["pi"], "mu": theta["mu"], **_gaussian.scales_from_cov(theta["cov"], covariance_type)}


def component_sites(*, num_components=2, covariance_type="full", ordered=False):
    """The sites with one entry per component along their first axis: what a relabelling permutes."""
    if covariance_type == "tied":
        return ("pi", "mu")
    return ("pi", "mu", "sigma", "corr_chol", "cov") if covariance_type == "full" else ("pi", "mu", "sigma", "cov")


def m_step(X, resp, *, num_components=2, covariance_type="full", ordered=False, reg_covar=0.0):
    """The M-step of EM: weighted ML of ``pi, mu, cov`` (Bishop, 2006, eq. 9.24-9.26), with
    ``reg_covar`` on the diagonal as in scikit-learn; returns the model's parameters (``pi``,
    ``mu``, ``sigma`` and ``corr_chol``). With ``ordered``, components are sorted by ``mu[:, 0]``."""
    theta = _gaussian.m_step(X, resp, covariance_type, reg_covar)
    return _sorted(theta, covariance_type) if ordered else theta


def _theta(params, num_components, covariance_type):
    """``pi, mu, cov`` from the model's parameters; traceable."""
    D = params["mu"].shape[-1]
    L = _gaussian.scale_tril(params["sigma"], params.get("corr_chol"), num_components, D, covariance_type)
    cov = L @ jnp.swapaxes(L, -1, -2)
    return {"pi": params["pi"], "mu": params["mu"], "cov": cov[0] if covariance_type == "tied" else cov}


def em_statistics(rows, weights, params, *, num_components=2, covariance_type="full", ordered=False):
    """EM's additive sufficient statistics of a block of rows (``weights`` 0 marks padding) at the
    model's parameters: the E-step for fast, sharded and streamed EM
    (:func:`models._gaussian.em_statistics`); traceable."""
    return _gaussian.em_statistics(rows, weights, _theta(params, num_components, covariance_type), covariance_type)


def em_update(stats, params, *, reg_covar=0.0, num_components=2, covariance_type="full", ordered=False):
    """The M-step from the statistics summed over all rows, taken at ``params``; returns the
    model's next parameters (``pi, mu, sigma[, corr_chol]``), sorted by ``mu[:, 0]`` when
    ``ordered``; traceable."""
    new = _gaussian.em_update(stats, _theta(params, num_components, covariance_type), covariance_type, reg_covar)
    if ordered:
        order = jnp.argsort(new["mu"][:, 0])
        new = {k: v if k == "cov" and covariance_type == "tied" else v[order] for k, v in new.items()}
    return {"pi": new["pi"], "mu": new["mu"], **_gaussian.scales_from_cov(new["cov"], covariance_type)}


def _sorted(theta, covariance_type):
    """The components in increasing order of ``mu[:, 0]``."""
    order = np.argsort(theta["mu"][:, 0])
    per_component = component_sites(covariance_type=covariance_type)
    return {k: v[order] if k in per_component else v for k, v in theta.items()}


def init_values(rng_key, X, y=None, *, num_components=2, covariance_type="full", ordered=False):
    """A start for optimisers, as scikit-learn's default: fit each k-means cluster by ML
    (:func:`models._gaussian.kmeans_start`)."""
    theta = _gaussian.kmeans_start(rng_key, X, num_components, covariance_type)
    if not ordered:
        return theta
    theta = _sorted(theta, covariance_type)
    # strictly increasing, or the start lies outside the ordered support
    mu = theta["mu"].copy()
    mu[:, 0] += np.arange(num_components) * 1e-6 * (1.0 + np.abs(mu[:, 0]).max())
    return {**theta, "mu": mu}


def simulate(rng_key, num_data=500, num_features=2, *, num_components=2, covariance_type="full", pi=None, mu=None, cov=None):
    """Draw assignments and points at known parameters; returns ``Simulation(data, params)``.

    ``params`` holds the true assignments ``z`` beside ``pi, mu, cov, sigma``. Defaults: equal
    ``pi``; means on a circle of radius 4 in the first two coordinates (4 apart on a line when
    D = 1), so that the components are well separated; unit covariances (with correlation 0.3
    between neighbouring features for full and tied).
    """
    check_key("rng_key", rng_key)
    num_data = check_int("num_data", num_data, minimum=1)
    D = check_int("num_features", num_features, minimum=1)
    K = check_int("num_components", num_components, minimum=1)
    check_choice("covariance_type", covariance_type, COVARIANCE_TYPES)
    # the parameters in NumPy: op by op in JAX, each operation compiled a program
    pi = np.full(K, 1.0 / K) if pi is None else np.asarray(check_probabilities("pi", check_array("pi", pi, (K,))))
    mu = _gaussian.spread_means(K, D, 4.0) if mu is None else np.asarray(check_array("mu", mu, (K, D)))
    if cov is None:
        full = np.eye(D) + 0.3 * (np.eye(D, k=1) + np.eye(D, k=-1))
        cov = full if covariance_type in ("full", "tied") else np.eye(D)
        cov = cov if covariance_type == "tied" else np.broadcast_to(cov, (K, D, D))
    else:
        cov = check_covariance("cov", check_array("cov", cov, (D, D) if covariance_type == "tied" else (K, D, D)))
    cov = np.asarray(cov, dtype=np.float64)
    z, X = _gaussian.sample(rng_key, num_data, pi, mu, cov)
    truth = {"pi": pi, "mu": mu, "cov": cov, **_gaussian.scales_from_cov(cov, covariance_type)}
    return Simulation({"X": X}, {**truth, "z": z})

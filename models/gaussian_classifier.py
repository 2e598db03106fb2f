r"""The Gaussian class-conditional (generative) classifier: LDA and QDA (Example 1.1).

Generative process (eq. 1.3), for C >= 2 classes in D dimensions::

    pi ~ Dirichlet(1, ..., 1),  mu_c ~ N(0, 10^2 I),  sigma ~ LogNormal(0, 2^2),  corr_chol ~ LKJ(2)
    y_n | pi ~ Categorical(pi)
    x_n | y_n = c ~ N(mu_c, cov_c),   cov_c = diag(sigma_c) corr_chol_c corr_chol_c^T diag(sigma_c)

With ``shared_covariance=True`` one covariance serves every class (LDA), otherwise each class
has its own (QDA). The classifier is Bayes' rule (eq. 1.4)::

    p(y = c | x) = pi_c N(x | mu_c, cov_c) / sum_k pi_k N(x | mu_k, cov_k)

and with a shared covariance its log-odds are linear in x: it is a logistic regression
(Exercise 1.1, :func:`logistic_parameters`).

Labels may be missing, marked ``y = -1`` (semi-supervised learning). :func:`check_data` then adds
the mask ``labelled``, and the model enumerates the missing labels as the mixture enumerates its
assignments: an unlabelled row contributes ``log sum_c pi_c N(x | mu_c, cov_c)``, a labelled one
``log pi_y N(x | mu_y, cov_y)``. With no label at all it is the Gaussian mixture
(:mod:`models.gaussian_mixture`, ``covariance_type`` full, or tied when shared).

Shapes: ``X`` (N, D), ``y`` (N,) in {0, ..., C-1} (or -1: missing), ``labelled`` (N,) bool; ``pi`` (C,), ``mu`` (C, D); ``sigma`` (C, D)
or (D,) when shared; ``corr_chol`` (C, D, D) or (D, D), absent when D = 1; ``cov``
(deterministic) (C, D, D) or (D, D).
"""

import jax
import jax.numpy as jnp
import numpy as np

from . import _gaussian
from ._checks import (
    as_features,
    check_array,
    check_bool,
    check_covariance,
    check_features,
    check_gaussian_theta,
    check_int,
    check_key,
    check_labels,
    check_probabilities,
    check_X,
)
from ._priors import resolve_priors
from ._types import Simulation

OPTIONS = {"num_classes": 2, "shared_covariance": False}
MISSING = -1  # the label of a row whose class is not given
HAS_TARGET = True


def _covariance_type(shared_covariance):
    return "tied" if shared_covariance else "full"


def params(num_features, *, num_classes=2, shared_covariance=False):
    """``{name: Param}`` for ``pi``, ``mu``, ``sigma`` and ``corr_chol``."""
    return _gaussian.params(num_classes, num_features, _covariance_type(shared_covariance))


def check_data(X, y, *, num_classes=2, shared_covariance=False):
    """Validated ``{"X": (N, D) float64, "y": (N,) int64}``.

    ``y = -1`` marks a missing label; then the data also get ``"labelled": y >= 0``, which
    switches the model to enumerating the missing labels. With every label given, every class
    must have a point.
    """
    check_int("num_classes", num_classes, minimum=2)
    check_bool("shared_covariance", shared_covariance)
    X = check_X(X)
    y = check_labels(y, X.shape[0], num_classes, missing=MISSING)
    if np.all(y != MISSING):
        return {"X": X, "y": y}
    return {"X": X, "y": y, "labelled": y != MISSING}


def model(X, y=None, labelled=None, *, priors=None, num_classes=2, shared_covariance=False):
    """y ~ Categorical(pi), x | y = c ~ N(mu_c, cov_c) for each row of ``X`` (eq. 1.3).

    With the mask ``labelled``, the labels of the other rows are summed out (their ``y`` is
    ignored); see the module docstring.
    """
    X = as_features(X)
    covariance_type = _covariance_type(shared_covariance)
    resolved = resolve_priors(priors, _gaussian.params(num_classes, X.shape[1], covariance_type))
    _gaussian.generative_model(
        X, y, resolved=resolved, label_site="y", covariance_type=covariance_type, enumerate_label=False,
        labelled=labelled,
    )


def predict_log_proba(theta, X):
    """``log p(y = c | x)`` by Bayes' rule in log space (eq. 1.4), shape (N, C); finite where
    ``predict_proba`` underflows to 0 (a confident QDA far from a class)."""
    theta = check_gaussian_theta(theta)
    X = check_features(X, np.shape(theta["mu"])[-1])
    # a shared covariance as one per class: LDA and QDA then share one compiled program per shape of X
    cov = np.broadcast_to(theta["cov"], (*np.shape(theta["mu"]), np.shape(theta["mu"])[-1]))
    return jax.nn.log_softmax(jax.jit(_gaussian.log_joint)(X, theta["pi"], theta["mu"], cov), axis=-1)


def predict_proba(theta, X):
    """``p(y = c | x)`` by Bayes' rule in log space (eq. 1.4), shape (N, C)."""
    return jnp.exp(predict_log_proba(theta, X))


def mle(X, y, *, num_classes=2, shared_covariance=False, reg_covar=0.0):
    """Closed-form ML: class frequencies, class means, covariances divided by N_c (pooled if shared).

    ``reg_covar`` > 0 adds ``reg_covar * I`` to every covariance, as scikit-learn's mixtures do:
    a regularised estimate that exists for every data set (a class with at most D points, a
    feature constant within a class), where the ML estimate itself may not.

    Returns ``pi, mu, cov`` and the ``sigma``, ``corr_chol`` they imply.
    """
    data = check_data(X, y, num_classes=num_classes, shared_covariance=shared_covariance)
    if isinstance(reg_covar, bool) or not isinstance(reg_covar, (int, float)) or not reg_covar >= 0:
        raise ValueError(f"reg_covar must be a number >= 0; got {reg_covar!r}")
    if "labelled" in data:
        raise ValueError(
            f"mle needs every label; y has {int((~data['labelled']).sum())} missing (-1). With missing labels "
            "the ML estimate has no closed form: use inference.fit(..., method='em') or method='ml'"
        )
    covariance_type = _covariance_type(shared_covariance)
    one_hot = np.eye(num_classes)[data["y"]]
    theta = _gaussian.weighted_estimates(data["X"], one_hot, covariance_type, reg_covar)
    if reg_covar == 0:
        problem = mle_problem(None, data["X"], data["y"], num_classes=num_classes, shared_covariance=shared_covariance)
        if problem:
            raise ValueError(problem)
    return {**theta, **_gaussian.scales_from_cov(theta["cov"], covariance_type)}


def closed_form_ml(data, *, num_classes=2, shared_covariance=False):
    """:func:`mle` of data that :func:`check_data` has validated, or None when labels are missing
    (then the likelihood is a mixture's, with no closed form): the estimate that
    ``inference.fit(..., "ml")`` takes instead of searching for it."""
    if "labelled" in data:
        return None
    return mle(data["X"], data["y"], num_classes=num_classes, shared_covariance=shared_covariance)


def mle_problem(theta, X, y, *, num_classes=2, shared_covariance=False):
    """Why the ML estimate does not exist for these data, or None.

    The ML covariance of a class is its scatter divided by N_c; it is singular (and the
    likelihood unbounded) when the class has at most D points or a feature constant within it.
    Judged from the data alone, so ``theta`` is not used. With missing labels there is no such
    certificate: the likelihood is then a mixture's, unbounded at a component collapsed on
    one unlabelled point, and the optimiser's own checks (a singular Hessian) report it.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if np.any(y == MISSING):
        return None
    one_hot = np.eye(num_classes)[y]
    covariance_type = _covariance_type(shared_covariance)
    covs = _gaussian.weighted_estimates(X, one_hot, covariance_type)["cov"]
    for c, cov in enumerate(covs[None] if shared_covariance else covs):
        if np.linalg.matrix_rank(cov) < cov.shape[0]:
            which = "the pooled covariance" if shared_covariance else f"the covariance of class {c}"
            return (
                f"the ML estimate does not exist: {which} is singular (a class with at most D = {X.shape[1]} "
                f"points, or a feature constant within a class); points per class: "
                f"{np.bincount(y, minlength=num_classes).tolist()}. MAP keeps it proper through the priors, "
                "and models.gaussian_classifier.mle(X, y, reg_covar=1e-6) through a ridge"
            )
    return None


def init_values(rng_key, X, y, *, num_classes=2, shared_covariance=False):
    """A start for optimisers.

    With every label given: equal class weights, every class at the overall mean and spread.
    With labels missing: each class fitted to its labelled rows (with a ridge), or, when a class
    has none, each k-means cluster of all rows fitted by ML, as for the mixture.
    """
    covariance_type = _covariance_type(shared_covariance)
    y = np.asarray(y)
    if np.all(y != MISSING):
        return _gaussian.broad_start(X, num_classes, covariance_type)
    if np.all(np.isin(np.arange(num_classes), y)):
        return _gaussian.hard_start(X, y, num_classes, covariance_type)
    return _gaussian.kmeans_start(rng_key, X, num_classes, covariance_type)


def m_step(X, resp, *, num_classes=2, shared_covariance=False, reg_covar=0.0):
    """The M-step of EM with missing labels: weighted ML of ``pi, mu, cov`` from the
    responsibilities ``resp`` (N, C), which are one-hot on the labelled rows."""
    return _gaussian.m_step(X, resp, _covariance_type(shared_covariance), reg_covar)


def logistic_parameters(theta):
    """Exercise 1.1: the logistic-regression parameters a shared-covariance classifier implies.

    With ``cov`` shared, ``log pi_c N(x | mu_c, cov) = a_c^T x + b_c + (terms common to every c)``
    where ``a_c = cov^{-1} mu_c`` and ``b_c = -mu_c^T cov^{-1} mu_c / 2 + log pi_c``. Hence
    ``p(y | x) = softmax(a x + b)``; for two classes, ``p(y = 1 | x) = sigmoid(a^T x + b)`` with
    ``a = a_1 - a_0`` and ``b = b_1 - b_0``, the parameters of :mod:`models.logistic_regression`.

    Returns
    -------
    dict
        ``{"a": (D,), "b": ()}`` for C = 2, ``{"a": (C, D), "b": (C,)}`` (softmax form) for C > 2.
    """
    theta = check_gaussian_theta(theta)
    cov = jnp.asarray(theta["cov"])
    if cov.ndim != 2:
        raise ValueError(f"theta['cov'] must be one shared (D, D) covariance; got shape {cov.shape}")
    mu = jnp.asarray(theta["mu"])
    chol = jnp.linalg.cholesky(cov)
    a = jnp.linalg.solve(chol.T, jnp.linalg.solve(chol, mu.T)).T  # cov^{-1} mu_c, Cholesky solves
    b = -0.5 * jnp.sum(a * mu, axis=-1) + jnp.log(jnp.asarray(theta["pi"]))
    if mu.shape[0] == 2:
        return {"a": a[1] - a[0], "b": b[1] - b[0]}
    return {"a": a, "b": b}


def simulate(rng_key, num_data=300, num_features=2, *, num_classes=2, shared_covariance=False, pi=None, mu=None, cov=None):
    """Draw labels and class-conditional Gaussians at known parameters.

    Defaults: equal ``pi``; class means on a circle of radius 3 in the first two coordinates
    (3 apart on a line when D = 1);
    covariances with unit scale and correlation +-0.4 between neighbouring features
    (one shared covariance when ``shared_covariance``). Returns ``Simulation(data, params)``.
    """
    check_key("rng_key", rng_key)
    num_data = check_int("num_data", num_data, minimum=1)
    C = check_int("num_classes", num_classes, minimum=2)
    D = check_int("num_features", num_features, minimum=1)
    check_bool("shared_covariance", shared_covariance)
    # the parameters in NumPy: op by op in JAX, each operation compiled a program
    pi = np.full(C, 1.0 / C) if pi is None else np.asarray(check_probabilities("pi", check_array("pi", pi, (C,))))
    mu = _gaussian.spread_means(C, D, 3.0) if mu is None else np.asarray(check_array("mu", mu, (C, D)))
    if cov is None:
        rho = 0.4 * np.where(np.arange(C) % 2 == 0, 1.0, -1.0)
        ladder = np.eye(D, k=1) + np.eye(D, k=-1)
        cov = np.eye(D) + rho[:, None, None] * ladder
        cov = cov[0] if shared_covariance else cov
    else:
        cov = check_covariance("cov", check_array("cov", cov, (D, D) if shared_covariance else (C, D, D)))
    cov = np.asarray(cov, dtype=np.float64)
    y, X = _gaussian.sample(rng_key, num_data, pi, mu, cov)
    truth = {"pi": pi, "mu": mu, "cov": cov, **_gaussian.scales_from_cov(cov, _covariance_type(shared_covariance))}
    return Simulation({"X": X, "y": y}, truth)

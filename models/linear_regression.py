r"""Gaussian linear regression (Example 1.4, eq. 1.10-1.11; Remark 1.6).

Generative process, generalised from the notes' scalar ``a`` to D features and an intercept::

    a ~ N(0, 10^2) elementwise,  b ~ N(0, 10^2),  sigma ~ HalfNormal(10)
    y_n | x_n ~ N(a^T x_n + b, sigma^2),   n = 1, ..., N

The log-likelihood (eq. 1.11) is ``sum_n -1/2 log(2 pi sigma^2) - (y_n - a^T x_n - b)^2 / (2 sigma^2)``;
maximising it over (a, b) is least squares (Remark 1.6), and over sigma gives sigma^2 = RSS / N.

Shapes: ``X`` (N, D) (a 1-D ``X`` is one feature), ``y`` (N,), ``a`` (D,), ``b`` (), ``sigma`` ().
With ``fit_intercept=False`` there is no ``b``.
"""

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import random
from numpyro.distributions import constraints

from ._checks import (
    as_features,
    check_array,
    check_bool,
    check_int,
    check_key,
    check_targets,
    check_X,
)
from ._priors import Param, resolve_priors, sample_params
from ._types import Simulation

OPTIONS = {"fit_intercept": True}
HAS_TARGET = True


def params(num_features, *, fit_intercept=True):
    """``{name: Param}``: shape, domain and default prior of ``a``, ``b``, ``sigma``."""
    spec = {"a": Param((num_features,), constraints.real, lambda: dist.Normal(0.0, 10.0))}
    if fit_intercept:
        spec["b"] = Param((), constraints.real, lambda: dist.Normal(0.0, 10.0))
    spec["sigma"] = Param((), constraints.positive, lambda: dist.HalfNormal(10.0))
    return spec


def check_data(X, y, *, fit_intercept=True):
    """Validated ``{"X": (N, D), "y": (N,)}`` in float64; raises ``ValueError``/``TypeError``."""
    check_bool("fit_intercept", fit_intercept)
    X = check_X(X)
    return {"X": X, "y": check_targets(y, X.shape[0])}


def model(X, y=None, *, priors=None, fit_intercept=True):
    """Y | x ~ N(a^T x + b, sigma^2) for each row of ``X`` (eq. 1.10)."""
    X = as_features(X)
    theta = sample_params(resolve_priors(priors, params(X.shape[1], fit_intercept=fit_intercept)))
    mean = X @ theta["a"] + theta.get("b", 0.0)
    with numpyro.plate("data", X.shape[0]):
        numpyro.sample("y", dist.Normal(mean, theta["sigma"]), obs=y)


def _least_squares(X, y, fit_intercept):
    """The design matrix, the least-squares coefficients, and whether they fit ``y`` exactly."""
    design = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    # columns scaled to unit norm: lstsq's round-off is then relative to columns of one size,
    # whatever the scales of the features and of the intercept
    norms = np.linalg.norm(design, axis=0)
    norms[norms == 0] = 1.0
    scaled, *_ = np.linalg.lstsq(design / norms, y, rcond=None)
    coef = scaled / norms
    residual = y - design @ coef
    # lstsq is backward stable: an exact fit leaves a residual at round-off, a few eps times
    # |scaled design| |scaled coef| + |y|; 100 eps still counts a noise 1e-12 of that size as real
    scale = np.sqrt(design.shape[1]) * np.linalg.norm(scaled) + np.linalg.norm(y)
    exact = np.linalg.norm(residual) <= 100 * np.finfo(np.float64).eps * scale
    return design, coef, residual, exact


def _exact_fit_reason(num_data, num_coefficients):
    return (
        f"the ML estimate does not exist: least squares fits y exactly (residual sum of squares 0 with "
        f"N = {num_data} row(s) and {num_coefficients} coefficient(s)), so the likelihood grows without bound "
        "as sigma -> 0. A prior on sigma that vanishes at 0 (priors={'sigma': dist.LogNormal(0, 1)}) keeps MAP "
        "and NUTS proper"
    )


def mle(X, y, *, fit_intercept=True):
    """Closed-form ML: least squares for (a, b), sigma^2 = RSS / N (Remark 1.6).

    Raises ``ValueError`` when least squares fits ``y`` exactly: sigma^2 = 0 is outside the
    domain, and no ML estimate exists.
    """
    data = check_data(X, y, fit_intercept=fit_intercept)
    theta = closed_form_ml(data, fit_intercept=fit_intercept)
    if theta is None:
        raise ValueError(_exact_fit_reason(len(data["y"]), data["X"].shape[1] + fit_intercept))
    return theta


def closed_form_ml(data, *, fit_intercept=True):
    """:func:`mle` of data that :func:`check_data` has validated, or None where least squares
    fits y exactly and no ML estimate exists (the search then reports it, :func:`mle_problem`):
    the estimate that ``inference.fit(..., "ml")`` takes instead of searching for it."""
    X, y = data["X"], data["y"]
    _, coef, residual, exact = _least_squares(X, y, fit_intercept)
    if exact:
        return None
    out = {"a": coef[: X.shape[1]]}
    if fit_intercept:
        out["b"] = coef[-1]
    out["sigma"] = np.sqrt(np.sum(residual**2) / len(y))
    return out


def mle_problem(theta, X, y, *, fit_intercept=True):
    """Why the ML estimate ``theta`` does not exist, or None.

    When least squares fits ``y`` exactly (N at most the number of coefficients, a constant
    ``y``, or ``y`` an exact linear function of ``X``), the likelihood grows without bound as
    sigma -> 0. Judged after the fit only (``theta`` None: no problem yet), because a sigma that
    the priors fix at a value keeps the likelihood bounded: the problem is an exact fit together
    with a fitted sigma driven to 0 (below 1e-6 of y's root mean square).
    """
    if theta is None:
        return None
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    design, _, _, exact = _least_squares(X, y, fit_intercept)
    level = np.sqrt(np.mean(y**2))
    if exact and float(theta["sigma"]) <= 1e-6 * level:
        return _exact_fit_reason(len(y), design.shape[1])
    return None


def init_values(rng_key, X, y, *, fit_intercept=True):
    """A start for optimisers on the data's scale: no slope, the mean level, the spread of y."""
    level = np.mean(y) if fit_intercept else 0.0
    out = {"a": np.zeros(X.shape[1]), "b": level}
    if not fit_intercept:
        del out["b"]
    out["sigma"] = max(np.sqrt(np.mean((y - level) ** 2)), 1e-6)
    return out


def simulate(rng_key, num_data=100, num_features=1, *, a=None, b=0.5, sigma=0.5, fit_intercept=True):
    """Draw ``X ~ N(0, I)`` and ``y`` from the model at known parameters.

    Returns
    -------
    Simulation
        ``data = {"X": (N, D), "y": (N,)}`` and ``params = {"a", "b", "sigma"}``; ``a`` defaults
        to ``linspace(1, -1, D)``.
    """
    check_key("rng_key", rng_key)
    num_data = check_int("num_data", num_data, minimum=1)
    num_features = check_int("num_features", num_features, minimum=1)
    check_bool("fit_intercept", fit_intercept)
    a = jnp.linspace(1.0, -1.0, num_features) if a is None else jnp.asarray(check_array("a", a, (num_features,)))
    b = float(check_array("b", b, ())) if fit_intercept else 0.0
    sigma = float(check_array("sigma", sigma, (), positive=True))
    key_x, key_y = random.split(rng_key)
    X = random.normal(key_x, (num_data, num_features))
    y = X @ a + b + sigma * random.normal(key_y, (num_data,))
    truth = {"a": a, "b": jnp.asarray(b), "sigma": jnp.asarray(sigma)}
    if not fit_intercept:
        del truth["b"]
    return Simulation({"X": X, "y": y}, truth)

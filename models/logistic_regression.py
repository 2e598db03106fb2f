r"""Logistic regression (Example 1.5, eq. 1.12-1.14; eq. 1.2 of Example 1.1).

Generative process for labels given inputs, with a feature map ``phi``::

    a ~ N(0, 10^2) elementwise,  b ~ N(0, 10^2)
    s(x) = a^T phi(x) + b
    y_n | x_n ~ Bernoulli(sigmoid(s(x_n))),   n = 1, ..., N      (eq. 1.12)

``phi`` is the identity (``degree=1``) or every monomial of the features of total degree
1, ..., ``degree`` (a polynomial feature map, scikit-learn's ``PolynomialFeatures`` without the
constant column). The log-likelihood (eq. 1.14) is
``sum_n y_n log sigmoid(s_n) + (1 - y_n) log(1 - sigmoid(s_n))``: minus N times the binary
cross-entropy, the notes' "does this expression seem familiar?". It is evaluated from logits
(``Bernoulli(logits=s)``) so that it stays finite for large |s|, as
``log1p(exp(-|s|)) - y s + max(s, 0)`` negated.

Shapes: ``X`` (N, D), ``y`` (N,) in {0, 1}, ``a`` (F,) with F the number of features after
``phi`` (F = D for the identity), ``b`` ().
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import random
from jax.nn import sigmoid
from numpyro.distributions import constraints
from numpyro.distributions.util import validate_sample

from ._checks import (
    as_features,
    check_array,
    check_bool,
    check_int,
    check_key,
    check_labels,
    check_theta,
    check_X,
)
from ._priors import Param, resolve_priors, sample_params
from ._types import Simulation

OPTIONS = {"fit_intercept": True, "degree": 1}
HAS_TARGET = True


MAX_MAPPED_FEATURES = 10_000  # beyond it phi would take minutes to build and a fit hours


def _monomials(num_features, degree):
    num_mapped_features(num_features, degree)  # the cap, before anything is enumerated
    return [
        combo
        for d in range(1, degree + 1)
        for combo in itertools.combinations_with_replacement(range(num_features), d)
    ]


def num_mapped_features(num_features, degree=1):
    """F, the length of ``phi(x)`` for D = ``num_features``: C(D + degree, degree) - 1, at most
    ``MAX_MAPPED_FEATURES``."""
    num_features = check_int("num_features", num_features, minimum=1)
    degree = check_int("degree", degree, minimum=1)
    # counted, not enumerated: degree = 10**4 with 5 features has 8e17 monomials. C(D + degree,
    # min(D, degree)) is quick while the smaller is small, and beyond 64 it exceeds C(128, 64) > 1e37
    smaller = min(num_features, degree)
    F = math.comb(num_features + degree, smaller) - 1 if smaller <= 64 else None
    if F is None or F > MAX_MAPPED_FEATURES:
        count = "more than 1e37" if F is None else str(F) if F < 10**15 else f"{float(F):.3g}"
        raise ValueError(
            f"degree must keep the number of monomials at most {MAX_MAPPED_FEATURES}; got degree = {degree} with "
            f"{num_features} feature(s), which gives C({num_features} + {degree}, {degree}) - 1 = {count}"
        )
    return F


def feature_map(X, degree=1):
    """``phi(X)``: the monomials of total degree 1..``degree``, shape (N, F), in scikit-learn's order."""
    X = as_features(X)
    num_mapped_features(X.shape[1], degree)
    if degree == 1:
        return X
    return jnp.stack([jnp.prod(X[:, list(combo)], axis=1) for combo in _monomials(X.shape[1], degree)], axis=1)


def params(num_features, *, fit_intercept=True, degree=1):
    """``{name: Param}`` for ``a`` (over the mapped features) and ``b``."""
    F = num_mapped_features(num_features, degree)
    spec = {"a": Param((F,), constraints.real, lambda: dist.Normal(0.0, 10.0))}
    if fit_intercept:
        spec["b"] = Param((), constraints.real, lambda: dist.Normal(0.0, 10.0))
    return spec


def check_data(X, y, *, fit_intercept=True, degree=1):
    """Validated ``{"X": (N, D) float64, "y": (N,) int64 in {0, 1}}`` with both labels present
    (with one label only, the ML estimate runs off to infinity)."""
    check_bool("fit_intercept", fit_intercept)
    check_int("degree", degree, minimum=1)
    X = check_X(X)
    num_mapped_features(X.shape[1], degree)
    return {"X": X, "y": check_labels(y, X.shape[0], 2)}


def logits(theta, X, *, degree=1):
    """``s(x) = a^T phi(x) + b`` for each row of ``X``, shape (N,)."""
    return feature_map(X, degree) @ jax.device_put(theta["a"]) + theta.get("b", 0.0)


class FiniteLogitsBernoulli(dist.BernoulliLogits):
    """NumPyro's ``Bernoulli(logits=s)`` with its log-density for finite logits only.

    NumPyro's ``log_prob`` guards against infinite logits with a double ``where`` on every row,
    which takes 43 % of the log joint's gradient at N = 1e4 (``benchmarks/README.md``, NUTS),
    and NUTS evaluates that gradient some 10^4 times a fit. Here the logits are finite: ``X``
    is validated finite and the parameters are finite on their domain (a trajectory that
    diverges to infinity gives NaN, which NUTS counts as a divergence and the optimisers
    refuse). The value is NumPyro's, bit for bit, for every finite logit.
    """

    @validate_sample
    def log_prob(self, value):
        s = self.logits
        return -(jnp.clip(s, 0) + jnp.log1p(jnp.exp(-jnp.abs(s))) - s * value)


def model(X, y=None, *, priors=None, fit_intercept=True, degree=1):
    """y | x ~ Bernoulli(sigmoid(a^T phi(x) + b)) for each row of ``X`` (eq. 1.12)."""
    X = as_features(X)
    spec = params(X.shape[1], fit_intercept=fit_intercept, degree=degree)
    theta = sample_params(resolve_priors(priors, spec))
    with numpyro.plate("data", X.shape[0]):
        numpyro.sample("y", FiniteLogitsBernoulli(logits=logits(theta, X, degree=degree)), obs=y)


def predict_proba(theta, X, *, degree=1):
    """``p(y = 1 | x) = sigmoid(s(x))`` for each row of ``X``, shape (N,)."""
    theta = check_theta(theta, {"a": ("F",), "b": ()}, optional=("b",))
    X = as_features(X) if isinstance(X, jax.core.Tracer) else check_X(X)
    if num_mapped_features(X.shape[1], degree) != np.shape(theta["a"])[-1]:
        raise ValueError(
            f"X must have features whose map phi (degree {degree}) has {np.shape(theta['a'])[-1]} entries, "
            f"as theta['a'] does; got shape {np.shape(X)}"
        )
    return sigmoid(logits(theta, jax.device_put(X), degree=degree))


def observed_information(theta, X, y=None, *, weights=None, fit_intercept=True, degree=1):
    r"""The observed information, minus the Hessian of the log-likelihood (eq. 1.14) over ``(a, b)``.

    With ``z = (phi(x), 1)`` and ``s = a^T phi(x) + b``, the log-likelihood's gradient is
    ``sum_n (y_n - sigmoid(s_n)) z_n``, so its Hessian is ``-sum_n w_n z_n z_n^T`` with
    ``w_n = sigmoid(s_n) sigmoid(-s_n)``, free of ``y``: ``Z^T diag(w) Z``, one product over the
    rows. (Automatic differentiation forms the same matrix column by column, at two products and
    several passes over N x (F + 1) arrays: this takes about half its time at N = 1e5, D = 50.)
    ``sigmoid(s) sigmoid(-s)`` rather than ``p (1 - p)`` keeps full relative precision in both
    tails. ``weights`` (N,), optional, multiply the rows' terms (0 for rows that are padding).

    Traceable. Returns the (F [+ 1], F [+ 1]) matrix over ``a`` then ``b``, the order of
    ``jax.flatten_util.ravel_pytree(theta)``.
    """
    Z = feature_map(X, degree)
    s = logits(theta, X, degree=degree)
    w = sigmoid(s) * sigmoid(-s)
    if weights is not None:
        w = w * weights
    weighted = Z * w[:, None]
    information = weighted.T @ Z
    if not fit_intercept:
        return information
    # the intercept's row and column from the sums: no (N, F + 1) copy of Z with a column of ones
    cross = jnp.sum(weighted, axis=0)
    return jnp.block([[information, cross[:, None]], [cross[None, :], jnp.sum(w)[None, None]]])


SEPARATION_LOGIT = 15.0  # |s| at which a fit is checked for separation: p within 3e-7 of 0 or 1


def _design(X, degree, fit_intercept):
    Z = np.asarray(feature_map(X, degree), dtype=np.float64)
    return np.concatenate([Z, np.ones((len(Z), 1))], axis=1) if fit_intercept else Z


def feature_names(num_features, degree=1):
    """The names of the entries of ``phi(x)``: ``x0, x1, ...`` and products such as ``x0^2``,
    ``x0*x1``, in the order of ``a``."""
    def name(combo):
        return "*".join(f"x{j}" if combo.count(j) == 1 else f"x{j}^{combo.count(j)}" for j in sorted(set(combo)))

    return [name(combo) for combo in _monomials(num_features, degree)]


def separation(X, y, *, fit_intercept=True, degree=1):
    """A direction that separates the classes, or None (Albert & Anderson, 1984).

    With ``z = (phi(x), 1)`` and ``t_n = +1`` for ``y_n = 1``, ``-1`` otherwise, the ML estimate
    exists if and only if no ``w != 0`` has ``t_n w^T z_n >= 0`` for every n: along such a ``w``
    the likelihood (eq. 1.13) rises for ever. Two linear programs (HiGHS) decide it, on columns
    scaled to a maximum of 1:

    - the sparsest such direction, ``min |w|_1`` subject to ``t_n w^T z_n >= 0`` and
      ``sum_n t_n w^T z_n = 1`` (infeasible: no separation); its support names the features;
    - whether it is complete (every point strictly on its side): ``max m`` subject to
      ``t_n w^T z_n >= m``, ``|w_j| <= 1``, ``m <= 1``, positive; otherwise quasi-complete.

    Returns
    -------
    dict or None
        ``{"direction": w (F [+ 1],) in the units of ``phi(x)``, scaled to a largest entry of 1,
        "features": names with w_j != 0 ("intercept" included),
        "complete": bool, "num_on_boundary": points with t_n w^T z_n = 0}``.
    """
    from scipy.optimize import linprog

    Z = _design(X, degree, fit_intercept)
    scale = np.abs(Z).max(axis=0)
    scale[scale == 0] = 1.0
    A = np.where(np.asarray(y) == 1, 1.0, -1.0)[:, None] * (Z / scale)
    num_data, F = A.shape
    # w = w_plus - w_minus, both >= 0
    sparse = linprog(np.ones(2 * F), A_ub=-np.hstack([A, -A]), b_ub=np.zeros(num_data),
                     A_eq=np.hstack([A.sum(0), -A.sum(0)])[None], b_eq=[1.0], bounds=(0, None), method="highs")
    if sparse.status != 0:
        return None
    w = sparse.x[:F] - sparse.x[F:]
    w[np.abs(w) < 1e-9 * np.abs(w).max()] = 0.0
    margin = linprog(np.r_[np.zeros(F), -1.0], A_ub=np.hstack([-A, np.ones((num_data, 1))]), b_ub=np.zeros(num_data),
                     bounds=[(-1, 1)] * F + [(None, 1)], method="highs")
    names = feature_names(np.shape(X)[1], degree) + (["intercept"] if fit_intercept else [])
    signed = A @ w
    direction = w / scale
    return {
        "direction": direction / np.abs(direction).max(),
        "features": [names[j] for j in np.flatnonzero(w)],
        "complete": bool(margin.status == 0 and -margin.fun > 1e-9),
        "num_on_boundary": int(np.sum(signed <= 1e-9 * np.abs(signed).max())),
    }


def mle_problem(theta, X, y, *, fit_intercept=True, degree=1):
    """Why the ML estimate does not exist, or None: the classes are separated.

    Checked at a fit (``theta=None`` gives None): when it has put a point at ``|s| > 15`` or is
    not finite, as a fit drifting along a separating direction does, :func:`separation` decides,
    so data without separation never pay for the linear programs.
    """
    if theta is None:
        return None
    # NumPy: logits() would first copy X to a JAX array, most of the cost of this check at large N
    features = np.asarray(X, dtype=np.float64) if degree == 1 else np.asarray(feature_map(X, degree))
    s = features @ np.asarray(theta["a"]) + np.asarray(theta.get("b", 0.0))
    if np.all(np.isfinite(s)) and np.abs(s).max() <= SEPARATION_LOGIT:
        return None
    found = separation(X, y, fit_intercept=fit_intercept, degree=degree)
    if found is None:
        return None
    how = ("perfectly separated: a^T phi(x) + b can put every point strictly on its own side" if found["complete"]
           else f"quasi-perfectly separated: a^T phi(x) + b can put every point on its own side, "
                f"{found['num_on_boundary']} of them on the boundary")
    terms = " + ".join(f"{w:.3g}" + ("" if name == "intercept" else f" {name}")
                       for w, name in zip(found["direction"][found["direction"] != 0], found["features"]))
    return (
        f"the ML estimate does not exist: the classes are {how}, so scaling a up along the separating "
        f"direction keeps raising the likelihood. Separating feature(s): {', '.join(found['features'])} "
        f"(direction {terms}). Use MAP or a Bayesian fit, whose priors keep a finite"
    )


def init_values(rng_key, X, y, *, fit_intercept=True, degree=1):
    """A start for optimisers: no slope and the intercept of the base rate."""
    out = {"a": np.zeros(num_mapped_features(X.shape[1], degree))}
    if fit_intercept:
        rate = np.clip(np.mean(y), 0.01, 0.99)
        out["b"] = np.log(rate / (1.0 - rate))
    return out


def simulate(rng_key, num_data=200, num_features=2, *, a=None, b=-0.5, fit_intercept=True, degree=1):
    """Draw ``X ~ N(0, I)`` and labels from the model at known parameters.

    ``a`` defaults to ``linspace(2, -2, F)``; returns ``Simulation(data, params)``.
    """
    check_key("rng_key", rng_key)
    num_data = check_int("num_data", num_data, minimum=1)
    F = num_mapped_features(num_features, degree)
    check_bool("fit_intercept", fit_intercept)
    a = jnp.linspace(2.0, -2.0, F) if a is None else jnp.asarray(check_array("a", a, (F,)))
    truth = {"a": a, "b": jnp.asarray(float(check_array("b", b, ())))} if fit_intercept else {"a": a}
    key_x, key_y = random.split(rng_key)
    X = random.normal(key_x, (num_data, num_features))
    y = random.bernoulli(key_y, predict_proba(truth, X, degree=degree)).astype(jnp.int32)
    return Simulation({"X": X, "y": y}, truth)

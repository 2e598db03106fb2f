r"""Pushforward distributions (section 1.3) and a pushforward model trained by likelihood (1.4).

If X ~ P_X and T is measurable, T(X) has the law T#P_X (Definition 1.1):

(i) finite pmfs: ``(T#P)({t}) = sum_{x : T(x) = t} P({x})`` (Example 1.2, eq. 1.6), computed
    exactly by :func:`discrete_pushforward`;
(ii) C^1 diffeomorphisms T of R^d: ``p_Y(y) = p_X(T^{-1}(y)) |det grad T^{-1}(y)|`` (Theorem 1.1,
    eq. 1.5), the NumPyro distribution :class:`Pushforward` (T a NumPyro ``Transform``, or any
    pair of functions wrapped by :class:`Diffeomorphism`, whose Jacobian comes from autodiff);
(iii) maps whose preimages are a finite union of monotone branches g_i = (T restricted)^{-1}:
    ``p_Y(y) = sum_i p_X(g_i(y)) |det grad g_i(y)|`` (eq. 1.6 with densities),
    :class:`BranchPushforward`; :func:`square_of_standard_normal` is Example 1.3, chi-square(1);
(iv) :func:`model`, a learnable monotone map applied to N(0, 1), fitted by likelihood like every
    other lecture model::

        loc ~ N(0, 10^2),  scale ~ LogNormal(0, 2^2),  skewness ~ N(0, 2^2),  tailweight ~ LogNormal(0, 1)
        x_nd = loc_d + scale_d * sinh((arcsinh(eps_nd) + skewness_d) * tailweight_d),  eps_nd ~ N(0, 1)

    (the sinh-arcsinh family of Jones & Pewsey, 2009, in TensorFlow Probability's convention:
    ``tailweight > 1`` fattens the tails, ``skewness > 0`` skews to the right).

Shapes for (iv): ``X`` (N, D), each column with its own map; ``loc``, ``scale``, ``skewness``,
``tailweight`` (D,).
"""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import random
from jax.scipy.special import logsumexp
from numpyro.distributions import constraints
from numpyro.distributions.transforms import (
    AffineTransform,
    ComposeTransform,
    Transform,
)

from ._checks import as_features, check_array, check_int, check_key, check_X
from ._priors import Param, resolve_priors, sample_params
from ._types import Simulation

OPTIONS = {}
HAS_TARGET = False


# (i) ---------------------------------------------------------------------------------------
def discrete_pushforward(pmf, T):
    """The exact pushforward of a finite pmf through any map (Example 1.2).

    Parameters
    ----------
    pmf : dict
        ``{x: P(X = x)}``; probabilities may be floats or ``fractions.Fraction`` (kept exact).
    T : callable or dict
        The map; a dict is read as ``T(x) = T[x]``.

    Returns
    -------
    dict
        ``{t: P(T(X) = t)}`` in the order the values t are first reached.
    """
    if not isinstance(pmf, dict) or not pmf:
        raise TypeError(f"pmf must be a non-empty dict {{value: probability}}; got {type(pmf).__name__}")
    probs = list(pmf.values())
    if any(not isinstance(p, (int, float, Fraction, np.number)) or not p >= 0 for p in probs):
        raise ValueError(f"pmf must map values to probabilities >= 0; got {probs}")
    if abs(float(sum(probs)) - 1.0) > 1e-9:
        raise ValueError(f"pmf must sum to one; got a total of {float(sum(probs))!r}")
    apply = T.__getitem__ if isinstance(T, dict) else T
    if not callable(apply):
        raise TypeError(f"T must be callable or a dict; got {type(T).__name__}")
    out = {}
    for x, p in pmf.items():
        try:
            t = apply(x)
        except KeyError as err:
            raise ValueError(f"T must be defined on every value of the pmf; T[{x!r}] is missing") from err
        except Exception as err:  # the user's map fails on a value of the pmf: say which
            raise ValueError(f"T must be defined on every value of the pmf; T({x!r}) raised "
                             f"{type(err).__name__}: {err}") from err
        try:
            out[t] = out.get(t, 0) + p
        except TypeError as err:
            raise TypeError(f"T must return hashable values (they key the result); T({x!r}) = {t!r}") from err
    return out


# (ii) --------------------------------------------------------------------------------------
def log_abs_det_jacobian(f, x, event_dim):
    """``log |det grad f(x)|`` by automatic differentiation, per event of ``x``.

    ``event_dim=0``: f acts elementwise and the result has the shape of ``x``;
    ``event_dim=1``: f maps R^d to R^d and the result has the shape ``x.shape[:-1]``.
    """
    if isinstance(event_dim, bool) or event_dim not in (0, 1):
        raise ValueError(f"event_dim must be 0 or 1; got {event_dim!r}")
    if event_dim == 0:
        _, slope = jax.jvp(f, (x,), (jnp.ones_like(x),))
        return jnp.log(jnp.abs(slope))
    flat = x.reshape(-1, x.shape[-1])
    _, logdet = jnp.linalg.slogdet(jax.vmap(jax.jacfwd(f))(flat))
    return logdet.reshape(x.shape[:-1])


class Diffeomorphism(Transform):
    """A C^1 diffeomorphism given as two functions, ``forward`` T and ``inverse`` T^{-1}.

    ``event_dim`` 0 means T acts elementwise on R; 1 means T maps R^d to R^d. The Jacobian
    term comes from automatic differentiation of ``forward``.
    """

    def __init__(self, forward, inverse, *, event_dim=0, domain=None, codomain=None):
        if event_dim not in (0, 1):
            raise ValueError(f"event_dim must be 0 or 1; got {event_dim!r}")
        real = constraints.real if event_dim == 0 else constraints.real_vector
        self.forward, self.inverse, self._event_dim = forward, inverse, event_dim
        self._domain = real if domain is None else domain
        self._codomain = real if codomain is None else codomain

    @property
    def domain(self):
        return self._domain

    @property
    def codomain(self):
        return self._codomain

    def __call__(self, x):
        return self.forward(x)

    def _inverse(self, y):
        return self.inverse(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return log_abs_det_jacobian(self.forward, x, self._event_dim)

    def tree_flatten(self):
        return (), ((), {"forward": self.forward, "inverse": self.inverse, "_event_dim": self._event_dim,
                         "_domain": self._domain, "_codomain": self._codomain})


class Pushforward(dist.TransformedDistribution):
    """T#P_X for a C^1 diffeomorphism T (Theorem 1.1).

    ``log_prob(y) = base.log_prob(T^{-1}(y)) + log |det grad T^{-1}(y)|`` (eq. 1.5), computed as
    ``base.log_prob(x) - log |det grad T(x)|`` at ``x = T^{-1}(y)``; ``sample`` is ``T(base.sample())``.
    ``transform`` is a NumPyro ``Transform``, a :class:`Diffeomorphism` or a list of them (composed
    left to right).
    """

    def __init__(self, base, transform, *, validate_args=None):
        transforms = list(transform) if isinstance(transform, (list, tuple)) else [transform]
        if not isinstance(base, dist.Distribution):
            raise TypeError(f"base must be a NumPyro distribution; got {type(base).__name__}")
        for t in transforms:
            if not isinstance(t, Transform):
                raise TypeError(f"transform must be a NumPyro Transform or a Diffeomorphism; got {type(t).__name__}")
        super().__init__(base, transforms, validate_args=validate_args)


# (iii) -------------------------------------------------------------------------------------
class BranchPushforward(dist.Distribution):
    """T#P_X for a map whose preimages are a finite union of monotone branches (eq. 1.6).

    ``branches`` are the inverses g_i of T on the pieces where it is monotone, so that
    ``T^{-1}({y}) = {g_1(y), ..., g_m(y)}`` for y in ``support``. Then
    ``p_Y(y) = sum_i p_X(g_i(y)) |det grad g_i(y)|``, evaluated with ``logsumexp``.
    ``event_dim`` is that of ``base`` (0: scalars, 1: vectors).
    """

    def __init__(self, base, forward, branches, support, *, validate_args=None):
        if not isinstance(base, dist.Distribution):
            raise TypeError(f"base must be a NumPyro distribution; got {type(base).__name__}")
        if not branches:
            raise ValueError("branches must list at least one inverse branch; got none")
        self.base, self.forward, self.branches = base, forward, list(branches)
        self._support = support
        super().__init__(base.batch_shape, base.event_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False)
    def support(self):
        return self._support

    def sample(self, key, sample_shape=()):
        return self.forward(self.base.sample(key, sample_shape))

    def log_prob(self, value):
        event_dim = len(self.event_shape)
        inside = self._support(value)
        # the branches are evaluated at a point of the support, then the result masked: no NaN
        # leaks from a branch (sqrt of a negative number) outside the support
        safe = jnp.where(jnp.expand_dims(inside, tuple(range(-event_dim, 0))) if event_dim else inside, value,
                         self._support.feasible_like(value))
        terms = [self.base.log_prob(g(safe)) + log_abs_det_jacobian(g, safe, event_dim) for g in self.branches]
        return jnp.where(inside, logsumexp(jnp.stack(terms), axis=0), -jnp.inf)

    def tree_flatten(self):
        return (self.base,), (self.forward, tuple(self.branches), self._support)

    @classmethod
    def tree_unflatten(cls, aux_data, params):
        forward, branches, support = aux_data
        return cls(params[0], forward, list(branches), support)


def square_of_standard_normal():
    """Example 1.3: Y = X^2 with X ~ N(0, 1); branches sqrt(y) and -sqrt(y); Y ~ chi-square(1)."""
    return BranchPushforward(
        dist.Normal(0.0, 1.0), jnp.square, [jnp.sqrt, lambda y: -jnp.sqrt(y)], constraints.positive
    )


# (iv) --------------------------------------------------------------------------------------
def _log_cosh(w):
    w = jnp.abs(w)
    return w + jnp.log1p(jnp.exp(-2.0 * w)) - jnp.log(2.0)


class SinhArcsinhTransform(Transform):
    """``y = sinh((arcsinh(x) + skewness) * tailweight)``, elementwise, increasing."""

    domain = constraints.real
    codomain = constraints.real

    def __init__(self, skewness, tailweight):
        self.skewness, self.tailweight = skewness, tailweight

    def __call__(self, x):
        return jnp.sinh((jnp.arcsinh(x) + self.skewness) * self.tailweight)

    def _inverse(self, y):
        return jnp.sinh(jnp.arcsinh(y) / self.tailweight - self.skewness)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        w = (jnp.arcsinh(x) + self.skewness) * self.tailweight
        return _log_cosh(w) + jnp.log(self.tailweight) - 0.5 * jnp.log1p(x**2)

    def tree_flatten(self):
        return (self.skewness, self.tailweight), (("skewness", "tailweight"), {})


def sinh_arcsinh_map(theta):
    """The map of :func:`model`: sinh-arcsinh then affine, as a NumPyro transform."""
    return ComposeTransform(
        [SinhArcsinhTransform(theta["skewness"], theta["tailweight"]), AffineTransform(theta["loc"], theta["scale"])]
    )


def params(num_features):
    """``{name: Param}`` for ``loc``, ``scale``, ``skewness``, ``tailweight``, each (D,)."""
    D = num_features
    return {
        "loc": Param((D,), constraints.real, lambda: dist.Normal(0.0, 10.0)),
        "scale": Param((D,), constraints.positive, lambda: dist.LogNormal(0.0, 2.0)),
        "skewness": Param((D,), constraints.real, lambda: dist.Normal(0.0, 2.0)),
        "tailweight": Param((D,), constraints.positive, lambda: dist.LogNormal(0.0, 1.0)),
    }


def check_data(X):
    """Validated ``{"X": (N, D) float64}`` (the model has no target)."""
    return {"X": check_X(X)}


def model(X, *, priors=None):
    """x_n = T_theta(eps_n), eps_n ~ N(0, I): the pushforward of N(0, I) through the map (iv)."""
    X = as_features(X)
    theta = sample_params(resolve_priors(priors, params(X.shape[1])))
    base = dist.Normal(jnp.zeros(X.shape[1]), 1.0).to_event(1)
    with numpyro.plate("data", X.shape[0]):
        numpyro.sample("X", Pushforward(base, sinh_arcsinh_map(theta)), obs=X)


def mle_problem(theta, X, y=None):
    """Why the ML estimate does not exist for these data, or None.

    A column with a single value (one row, or a constant feature) is fitted ever better by a map
    that shrinks N(0, 1) onto that value: its likelihood grows without bound as ``scale`` -> 0,
    or as ``tailweight`` -> 0 with ``scale`` held. Judged from the data alone, before the fit
    (``theta`` is not used); only priors fixing both ``scale`` and ``tailweight`` would bound it.
    """
    X = np.asarray(X, dtype=np.float64)
    constant = np.flatnonzero(np.all(X == X[:1], axis=0)).tolist()
    if constant:
        return (
            f"the ML estimate does not exist: column(s) {constant} of X hold a single value (N = {len(X)} row(s)), "
            "so the likelihood grows without bound as scale -> 0 there. MAP and NUTS keep scale away from 0 "
            "through its LogNormal prior"
        )
    return None


def init_values(rng_key, X, y=None):
    """A start for optimisers: the map that matches each column's median and spread."""
    q25, median, q75 = np.percentile(X, [25, 50, 75], axis=0)
    spread = np.maximum((q75 - q25) / 1.349, 1e-6 * (1.0 + np.abs(median)))  # the IQR of N(0, 1) is 1.349
    D = X.shape[1]
    return {"loc": median, "scale": spread, "skewness": np.zeros(D), "tailweight": np.ones(D)}


def simulate(rng_key, num_data=500, num_features=1, *, loc=1.0, scale=2.0, skewness=0.8, tailweight=1.3):
    """Draw ``X`` from the model at known (broadcast) parameters; returns ``Simulation(data, params)``."""
    check_key("rng_key", rng_key)
    D = check_int("num_features", num_features, minimum=1)
    num_data = check_int("num_data", num_data, minimum=1)
    given = {"loc": loc, "scale": scale, "skewness": skewness, "tailweight": tailweight}
    theta = {k: jnp.asarray(check_array(k, v, (D,), positive=k in ("scale", "tailweight"))) for k, v in given.items()}
    X = sinh_arcsinh_map(theta)(random.normal(rng_key, (num_data, D)))
    return Simulation({"X": X}, theta)

"""Parameters with stated, replaceable priors.

Every continuous parameter of a lecture model is described by a :class:`Param`: its shape,
its domain (a NumPyro constraint) and its default prior. A user replaces a default per
parameter with any NumPyro distribution whose support lies in the domain (broadcast to the
parameter's shape) or with the string ``"flat"``, the improper uniform density over the
domain. A number or an array instead fixes the parameter at that value (a point mass: the
parameter is known, as sigma in the conjugate regression): it is then recorded as a
deterministic site and nothing infers it. :func:`check_priors` checks such a replacement in
plain Python, before anything is traced; :func:`resolve_priors` also fills in the defaults,
and :func:`sample_params` draws the parameters at NumPyro sample sites named after them.
"""

import numbers
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

FLAT = "flat"

# Constraints whose values are all real numbers between two bounds (possibly infinite). A prior
# with such a support fits a real parameter, and a positive one when its lower bound is >= 0.
_BOUNDED = (
    type(constraints.real),
    type(constraints.positive),
    constraints._GreaterThan,
    constraints._LessThan,
    constraints._Interval,
)


class Param(NamedTuple):
    """A model parameter: ``shape``, ``domain`` (a NumPyro constraint) and its ``default`` prior.

    ``default`` is a function of no argument so that building the specification stays cheap.
    ``prior_domain``, when given, is where a user's prior must live instead of ``domain``: the
    model itself then maps that prior onto ``domain`` (the ordered mixture restricts a real prior
    on ``mu`` to ordered components).
    """

    shape: tuple
    domain: constraints.Constraint
    default: Callable[[], dist.Distribution]
    prior_domain: constraints.Constraint | None = None


class Fixed(NamedTuple):
    """A parameter held at a known ``value`` (already of the parameter's shape)."""

    value: np.ndarray


def is_fixed(prior):
    """A prior given as a number or an array: the parameter's known value."""
    return isinstance(prior, (numbers.Real, np.ndarray, jax.Array)) and not isinstance(prior, bool)


def fixed_names(priors):
    """The names of the parameters that ``priors`` fix at a value."""
    return sorted(name for name, prior in (priors or {}).items() if is_fixed(prior))


def _fixed(name, value, param):
    value = np.asarray(value, dtype=np.float64)
    try:
        value = np.broadcast_to(value, param.shape).copy()
    except ValueError as err:
        raise ValueError(
            f"priors[{name!r}] fixes {name!r}, so it must broadcast to its shape {tuple(param.shape)}; "
            f"got an array of shape {value.shape}"
        ) from err
    if not np.all(np.isfinite(value)) or not np.all(np.asarray(param.domain(value))):
        raise ValueError(f"priors[{name!r}] fixes {name!r}, so it must lie in {param.domain}; got {value.tolist()}")
    return Fixed(value)


def _lower_bound(support):
    if isinstance(support, constraints._LessThan) or support is constraints.real:
        return -float("inf")
    return float(support.lower_bound)


def _support_within(support, domain):
    if support == domain:
        return True
    if support.event_dim != domain.event_dim or support.is_discrete:
        return False
    if not isinstance(support, _BOUNDED):
        return False
    if domain is constraints.real:
        return True
    if domain is constraints.positive:
        try:
            return _lower_bound(support) >= 0.0
        except TypeError:  # a bound held in an array: we cannot decide it statically
            return False
    return False


def _elementwise_support(prior, domain):
    """The support of ``prior`` per ``domain`` event: a vector prior (``MultivariateNormal``,
    ``Normal(...).to_event(1)``) on a real parameter is real elementwise."""
    support, extra = prior.support, prior.event_dim - domain.event_dim
    if extra > 0 and isinstance(support, constraints.independent) and support.reinterpreted_batch_ndims == extra:
        return support.base_constraint
    return support


def _resolve_one(name, prior, param):
    if is_fixed(prior):
        return _fixed(name, prior, param)
    domain = param.domain if param.prior_domain is None else param.prior_domain
    if isinstance(prior, str):
        if prior != FLAT:
            raise ValueError(
                f"priors[{name!r}] must be a NumPyro distribution or the string 'flat'; "
                f"got the string {prior!r}"
            )
        split = len(param.shape) - domain.event_dim
        return dist.ImproperUniform(domain, param.shape[:split], param.shape[split:])
    if not isinstance(prior, dist.Distribution):
        raise TypeError(
            f"priors[{name!r}] must be a NumPyro distribution, the string 'flat' or a fixed value (a number "
            f"or an array); got {type(prior).__name__}"
        )
    if prior.event_dim < domain.event_dim or not _support_within(_elementwise_support(prior, domain), domain):
        raise ValueError(
            f"priors[{name!r}] must have support within {domain} (the domain of "
            f"{name!r}); got {type(prior).__name__} with support {prior.support}"
        )
    split = len(param.shape) - prior.event_dim
    if split < 0 or tuple(prior.event_shape) != tuple(param.shape[split:]):
        raise ValueError(
            f"priors[{name!r}] must have an event shape that ends the shape {tuple(param.shape)} of "
            f"{name!r}; got {type(prior).__name__} with event shape {tuple(prior.event_shape)}"
        )
    try:
        return prior.expand(param.shape[:split])
    except ValueError as err:
        raise ValueError(
            f"priors[{name!r}] must broadcast to the shape {tuple(param.shape)} of {name!r}; "
            f"got {type(prior).__name__} with batch shape {tuple(prior.batch_shape)}"
        ) from err


def check_priors(priors, params):
    """Check user priors against the parameter specification, in plain Python.

    The defaults are not built: a model builds them inside its trace, where that is free, while
    built outside one each JAX operation of a constructor compiles a program of its own (twelve
    for ``LKJCholesky``, five for ``Dirichlet(jnp.ones(K))`` on a cold start).

    Parameters
    ----------
    priors : dict or None
        ``{name: distribution, "flat" or a fixed value}`` for any subset of ``params``.
    params : dict
        ``{name: Param}``, the model's parameters.

    Returns
    -------
    dict
        ``{name: distribution}`` whose batch and event shapes together make ``param.shape``, or
        ``{name: Fixed}``, for the parameters named in ``priors``.
    """
    if priors is None:
        priors = {}
    if not isinstance(priors, dict):
        raise TypeError(f"priors must be a dict {{name: prior}} or None; got {type(priors).__name__}")
    unknown = sorted(set(priors) - set(params))
    if unknown:
        raise ValueError(
            f"priors names parameters that do not exist: {unknown}; "
            f"the parameters are {list(params)}"
        )
    return {name: _resolve_one(name, prior, params[name]) for name, prior in priors.items()}


def resolve_priors(priors, params):
    """:func:`check_priors`, with the default prior of every parameter ``priors`` leaves out:
    ``{name: distribution or Fixed}`` for every parameter, in the order of ``params``."""
    given = check_priors(priors, params)
    return {
        name: given[name] if name in given else _resolve_one(name, param.default(), param)
        for name, param in params.items()
    }


def sample_params(resolved, names=None):
    """Sample each parameter at a site named after it, the whole parameter as one event; a
    fixed parameter is recorded at a deterministic site of that name."""
    names = resolved if names is None else names
    return {name: _sample(name, resolved[name]) for name in names}


def _sample(name, prior):
    if isinstance(prior, Fixed):
        return numpyro.deterministic(name, jnp.asarray(prior.value))
    return numpyro.sample(name, prior.to_event(len(prior.batch_shape)))

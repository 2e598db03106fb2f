"""What every method does before it starts: its keys, validated starting values, tolerances, the ELBO."""

from functools import partial

import jax
import numpy as np
from jax import random
from numpyro import handlers

from models._checks import check_values
from models._priors import fixed_names

from ._compiled import unvalidated
from .handlers import is_enumerated


@partial(jax.jit, static_argnums=1)
def _split(seed, num):
    return tuple(random.split(random.PRNGKey(seed), num))


def fit_keys(seed, num=2):
    """``random.split(random.PRNGKey(seed), num)`` as a tuple of ``num`` keys: the same bits,
    from one compiled program. Op by op, the seed's conversion, the key, the split and the
    unpacking into keys are four programs, each compiled on its first use: 0.13 to 0.14 s of a
    fresh process, against 0.09 to 0.11 s for this one (2 cores, 2026-12-01). ``seed`` is checked by ``fit``
    (0 to 2**63 - 1); as an int64 it gives the same key as the Python int, with float64 or without.
    """
    return _split(np.int64(seed), num)


def free_params(module, data, model_options, priors):
    """The model's parameters ``{name: Param}`` less those that ``priors`` fix at a value."""
    fixed = fixed_names(priors)
    spec = module.params(data["X"].shape[1], **model_options)
    return {name: param for name, param in spec.items() if name not in fixed}


def check_init(init, spec, fixed=()):
    """Starting values under the parameters' names, each of the right shape and in its domain."""
    if init is None:
        return {}
    if not isinstance(init, dict):
        raise TypeError(f"init must be a dict {{name: value}} or None; got {type(init).__name__}")
    if set(init) & set(fixed):
        raise ValueError(f"init gives values for parameters that the priors fix: {sorted(set(init) & set(fixed))}")
    unknown = sorted(set(init) - set(spec))
    if unknown:
        raise ValueError(f"init names parameters that do not exist: {unknown}; the parameters are {list(spec)}")
    out = {}
    for name, value in init.items():
        value = check_values(f"init[{name!r}]", value)
        if value.shape != spec[name].shape:
            raise ValueError(f"init[{name!r}] must have shape {spec[name].shape}; got shape {value.shape}")
        if not np.all(np.asarray(spec[name].domain(value))):
            raise ValueError(f"init[{name!r}] must lie in {spec[name].domain}; got {value.tolist()}")
        out[name] = value
    return out


def starting_values(module, rng_key, data, model_options, init, priors):
    """The model's ``init_values`` overridden by the user's ``init`` (checked), in float64,
    for the parameters that ``priors`` leave free."""
    spec = free_params(module, data, model_options, priors)
    given = check_init(init, spec, fixed_names(priors))
    if set(spec) <= set(given):  # the user's start is complete: skip the model's (k-means for a mixture)
        return given
    start = {**module.init_values(rng_key, data["X"], data.get("y"), **model_options), **given}
    return {name: np.asarray(value, dtype=np.float64) for name, value in start.items() if name in spec}


def closed_form_start(module, data, model_options, priors):
    """The model's ML estimate in closed form (its hook ``closed_form_ml``), as float64 values of
    its parameters, or None where it offers none for these data (missing labels, a mixture of
    K > 1) or the priors fix a parameter, which the closed form would estimate."""
    hook = getattr(module, "closed_form_ml", None)
    if hook is None or fixed_names(priors):
        return None
    theta = hook(data, **model_options)
    if theta is None:
        return None
    return {name: np.asarray(theta[name], dtype=np.float64) for name in module.params(data["X"].shape[1], **model_options)}


def enumerated_sites(model, values, data):
    """``{name: number of values}`` of the model's sites marked for enumeration.

    Read from one abstract trace (``jax.eval_shape``) at the parameter ``values`` and the first
    row of the data: which sites are enumerated, and over how many values, does not depend on
    the number of rows, and a trace at all of them made the model's per-row arrays (one
    Cholesky factor per row for the mixture: 2.7 GB at N = 3e5, D = 32, even under
    ``eval_shape``).
    """
    found = {}

    def trace(values, data):
        sites = handlers.trace(handlers.seed(handlers.substitute(model, data=values), 0)).get_trace(**data)
        found.update({name: site["fn"].enumerate_support(expand=False).shape[0]
                      for name, site in sites.items() if is_enumerated(site)})

    jax.eval_shape(unvalidated(trace), values, {name: value[:1] for name, value in data.items()})
    return found


def tolerances(gtol, ftol, optimizer):
    """The optimisers' default ``gtol`` and ``ftol`` for the float precision in use."""
    x64 = jax.config.jax_enable_x64
    # Adam, a first-order method with a fixed step, reaches a looser gradient test in practice
    default = {("lbfgs", True): 1e-9, ("lbfgs", False): 1e-5, ("adam", True): 1e-4, ("adam", False): 1e-3}
    gtol = default[optimizer, x64] if gtol is None else gtol
    # a stall is declared only when the objective moves by no more than its last bit
    ftol = float(np.finfo(np.float64 if x64 else np.float32).eps) if ftol is None else ftol
    return gtol, ftol

"""Information criteria of a point estimate, for choosing between models (say the mixture's K).

``AIC = -2 l(theta) + 2 p`` (Akaike, 1974) and ``BIC = -2 l(theta) + p log N`` (Schwarz, 1978),
where ``l`` is the marginal log-likelihood at the estimate (discrete latents summed out) and
``p`` the number of free parameters: the dimension of the unconstrained space the parameters
live in (``K - 1`` for a simplex, ``D (D - 1) / 2`` for a correlation factor), read from the
model's trace. Lower is better. For the mixture they equal scikit-learn's ``aic`` and ``bic``.
"""

from functools import partial

import jax.numpy as jnp
import numpy as np

from ._setup import free_params
from .arviz import pointwise_log_likelihood
from .handlers import parameter_transforms
from .result import check_fit


def num_free_params(fit):
    """The number of free scalar parameters of ``fit``'s model (unconstrained dimensions)."""
    check_fit("fit", fit)
    names = free_params(fit.model, fit.data, fit.options, fit.priors)
    model = partial(fit.model.model, priors=fit.priors, **fit.options)
    values = {name: jnp.asarray(fit.params[name]) for name in names}
    data = {name: jnp.asarray(value) for name, value in fit.data.items()}
    transforms = parameter_transforms(model, values, data)
    return int(sum(np.prod(transforms[name].inverse_shape(np.shape(values[name]))) for name in names))


def information_criteria(fit):
    """``{"log_likelihood", "num_params", "aic", "bic"}`` at ``fit.params`` (a point estimate)."""
    check_fit("fit", fit)
    names = free_params(fit.model, fit.data, fit.options, fit.priors)
    model = partial(fit.model.model, priors=fit.priors, **fit.options)
    draws = {name: jnp.asarray(fit.params[name])[None] for name in names}
    data = {name: jnp.asarray(value) for name, value in fit.data.items()}
    log_likelihood = float(np.sum(pointwise_log_likelihood(model, draws, data)))
    num_params, num_data = num_free_params(fit), fit.data["X"].shape[0]
    return {
        "log_likelihood": log_likelihood,
        "num_params": num_params,
        "aic": -2 * log_likelihood + 2 * num_params,
        "bic": -2 * log_likelihood + num_params * np.log(num_data),
    }

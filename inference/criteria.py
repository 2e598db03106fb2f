"""Information criteria of a point estimate, for choosing between models (say the mixture's K).

``AIC = -2 l(theta) + 2 p`` (Akaike, 1974) and ``BIC = -2 l(theta) + p log N`` (Schwarz, 1978),
where ``l`` is the marginal log-likelihood at the estimate (discrete latents summed out) and
``p`` the number of free parameters: the dimension of the unconstrained space the parameters
live in (``K - 1`` for a simplex, ``D (D - 1) / 2`` for a correlation factor), read from the
model's trace. Lower is better. For the mixture they equal scikit-learn's ``aic`` and ``bic``.
"""

from functools import partial

import jax
import numpy as np

from ._compiled import unvalidated
from ._setup import free_params
from .arviz import pointwise_log_likelihood
from .handlers import parameter_transforms
from .result import check_fit


def num_free_params(fit):
    """The number of free scalar parameters of ``fit``'s model (unconstrained dimensions)."""
    check_fit("fit", fit)
    names = free_params(fit.model, fit.data, fit.options, fit.priors)
    model = partial(fit.model.model, priors=fit.priors, **fit.options)
    values = {name: np.asarray(fit.params[name]) for name in names}
    sizes = []

    def count(values, data):  # the transforms read from an abstract trace: nothing runs or compiles
        transforms = parameter_transforms(model, values, data)
        sizes.extend(int(np.prod(transforms[name].inverse_shape(np.shape(values[name])))) for name in names)

    # the first row only: which transforms the parameters take does not depend on the rows
    jax.eval_shape(unvalidated(count), values, {name: np.asarray(value)[:1] for name, value in fit.data.items()})
    return sum(sizes)


def information_criteria(fit, *, log_likelihood=None):
    """``{"log_likelihood", "num_params", "aic", "bic"}`` at ``fit.params`` (a point estimate).

    ``log_likelihood``: ``l(fit.params)`` when the caller has it already, say the last value of
    the objective trace of an ML or ML-EM fit just made (``-fit.losses[-1]``, the same to
    round-off: 6e-15 relative for the mixture on iris, K = 2, ..., 5), which saves compiling the
    model's pointwise log-likelihood for the fit's shapes (0.12 to 0.17 s each). Computed from
    the model when None: a fit whose ``params`` were replaced afterwards keeps its old trace.
    """
    check_fit("fit", fit)
    if log_likelihood is None:
        names = free_params(fit.model, fit.data, fit.options, fit.priors)
        model = partial(fit.model.model, priors=fit.priors, **fit.options)
        # device_put, not jnp.asarray, which compiles a program per array to copy it
        draws = jax.device_put({name: np.asarray(fit.params[name])[None] for name in names})
        data = jax.device_put(fit.data)
        log_likelihood = float(np.sum(pointwise_log_likelihood(model, draws, data)))
    num_params, num_data = num_free_params(fit), fit.data["X"].shape[0]
    return {
        "log_likelihood": log_likelihood,
        "num_params": num_params,
        "aic": -2 * log_likelihood + 2 * num_params,
        "bic": -2 * log_likelihood + num_params * np.log(num_data),
    }

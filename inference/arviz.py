"""The one bridge from a :class:`inference.Fit` to ArviZ's ``InferenceData``.

Every method's result converts the same way: posterior draws (a point estimate is one chain of
one draw, the method recorded in ``attrs``), ``sample_stats`` when the method has them,
``observed_data``, and a ``log_likelihood`` group with the pointwise *marginal* log-likelihood
of each data row, discrete latents summed out (``log_likelihood=False`` leaves it out).
``az.from_numpyro`` cannot give the latter for the mixture (numpyro issue 744); here it is
computed from the model itself: each row's log density under
:class:`inference.handlers.likelihood_only` with enumeration, vmapped over rows and draws.
"""

import warnings
from functools import partial

import jax
import numpy as np
import numpyro
from numpyro import handlers
from numpyro.infer import Predictive

from models._checks import check_bool, check_int

from ._collection import paused_collection
from ._compiled import compiled_for_model
from ._density import log_joint
from .handlers import likelihood_only, uncondition
from .result import check_fit


def import_arviz():
    """The ``arviz`` module, imported on first use.

    ArviZ brings xarray, pandas, SciPy and matplotlib with it: ``import inference, models``
    took 5.8 s with ArviZ imported at the top and takes 3.5 s now (2-core machine, 2026-12-02),
    so that a fit which never converts to InferenceData never pays for it. The scripts still
    do, as they write every fit to netCDF. One place for the import also keeps its warning
    filter in one place: ArviZ 0.23 announces its 1.0 refactor on import (a ``FutureWarning``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz

    return arviz


def pointwise_log_likelihood(model, draws, data):
    """``log p(row_n | theta_s)`` with discrete latents summed out, shape (num_draws, num_data).

    ``model`` is the NumPyro model with its options bound; ``draws`` maps each parameter to an
    array with one leading draw dimension; ``data`` maps each data name to an array of rows.
    Compiled once per model binding (the layer's ``partial(module.model, priors=..., **options)``)
    and shapes, not once per call: a scan over many fits of one model compiles it once.
    """
    return compiled_for_model("pointwise_log_likelihood", model, _pointwise)(draws, data)


def _pointwise(model, draws, data):
    target = likelihood_only(model)

    def one(row, theta):
        return log_joint(target, {name: value[None] for name, value in row.items()}, theta)

    return jax.vmap(jax.vmap(one, in_axes=(0, None)), in_axes=(None, 0))(data, draws)


def posterior_predictive(model, draws, data, rng_key):
    """A replicate of every observed site per parameter draw, shape (num_draws, ...), drawn by
    the generative process (the classifier replicates pairs (y, X), the mixture X)."""
    first = jax.tree.map(lambda value: value[0], draws)
    trace = handlers.trace(handlers.seed(handlers.substitute(model, data=first), rng_key)).get_trace(**data)
    observed = [name for name, site in trace.items() if site["type"] == "sample" and site["is_observed"]]
    predictive = Predictive(uncondition(model), posterior_samples=draws, return_sites=observed)
    return predictive(rng_key, **data)


@paused_collection()  # it traces the pointwise log-likelihood, as fit traces its method (_collection)
def to_inference_data(fit, *, predictive=False, log_likelihood=True, seed=0):
    """``az.InferenceData`` for any :class:`inference.Fit`; see the module docstring.

    With ``predictive``, a ``posterior_predictive`` group holds one replicate of the observed
    data per posterior draw (for the models with a target, ``y`` given the same ``X``).

    ``log_likelihood=False`` leaves the ``log_likelihood`` group out, as ``az.from_numpyro``'s
    argument of that name and PyMC's default do. It is one float64 per draw and row: 160 MB for
    2 x 1000 draws of 10 000 rows, 32 GB for 4000 draws of 1e6 rows, where the draws themselves
    take kilobytes; and it is nearly all of the conversion's time: for NUTS on logistic
    regression (N = 1e4, D = 20, 2 x 1000 draws), 0.33 to 0.92 s in a fresh process with it,
    0.01 s without. ``az.loo`` and ``az.waic`` need it; the posterior's summaries do not.
    """
    check_fit("fit", fit)
    check_bool("predictive", predictive)
    check_bool("log_likelihood", log_likelihood)
    check_int("seed", seed, minimum=0, maximum=2**63 - 1)  # what jax.random.PRNGKey takes, as in fit
    module = fit.model
    names = list(module.params(fit.data["X"].shape[1], **fit.options))
    if fit.samples is None:  # a point estimate: one chain of one draw
        posterior = {name: np.asarray(value)[None, None] for name, value in fit.params.items()}
    else:
        posterior = {name: np.asarray(value) for name, value in fit.samples.items()}
    num_chains, num_draws = next(iter(posterior.values())).shape[:2]
    pointwise = replicates = None
    if log_likelihood or predictive:  # both evaluate the model on the device
        # device_put, not jnp.asarray or jnp.reshape, which compile a program per array to copy it
        latent = jax.device_put({name: posterior[name].reshape(num_chains * num_draws, *posterior[name].shape[2:])
                                 for name in names})
        model = partial(module.model, priors=fit.priors, **fit.options)
        data = jax.device_put(fit.data)
    if log_likelihood:
        observed = "y" if "y" in fit.data else "X"
        pointwise = {observed: np.asarray(pointwise_log_likelihood(model, latent, data)).reshape(num_chains, num_draws, -1)}
    if predictive:
        sampled = posterior_predictive(model, latent, data, jax.random.PRNGKey(seed))
        replicates = {name: np.asarray(value).reshape(num_chains, num_draws, *value.shape[1:]) for name, value in sampled.items()}
    az = import_arviz()
    attrs = {
        "method": fit.method,
        "model": fit.model_name,
        "seed": fit.seed,
        "options": repr(fit.options),
        "method_options": repr({k: v for k, v in fit.method_options.items() if k != "init"}),
        "x64": int(jax.config.jax_enable_x64),
        "versions": repr({"jax": jax.__version__, "numpyro": numpyro.__version__, "arviz": az.__version__}),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        idata = az.from_dict(
            posterior=posterior,
            posterior_predictive=replicates,
            sample_stats=fit.sample_stats,
            log_likelihood=pointwise,
            observed_data={name: np.asarray(value) for name, value in fit.data.items()},
        )
    for group in idata.groups():  # from_dict keeps its attrs argument in no group
        getattr(idata, group).attrs.update(attrs)
    return idata

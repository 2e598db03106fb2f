"""Variational inference: SVI with a Gaussian guide in the unconstrained space.

``guide="mean_field"`` is NumPyro's ``AutoNormal`` (independent Gaussians); ``"full_rank"`` is
``AutoMultivariateNormal`` (one Gaussian with a dense covariance). The ELBO (Blei et al., 2017)
is maximised by Adam; discrete latents marked for enumeration are summed out by
``TraceEnum_ELBO``. The step size decays from ``learning_rate`` to a hundredth of it along a
cosine. ``losses`` is the negative ELBO per step; ``samples`` are draws from the
fitted guide pushed through the constraints, one chain.

The negative ELBO is a noisy objective, so ``converged`` is a plateau test: the mean over the
last tenth of the steps must not be below the mean over the tenth before by more than two of
its standard errors.
"""

from functools import partial

import jax
import numpy as np
import optax
from jax import random
from numpyro.infer import SVI
from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
from numpyro.infer.initialization import init_to_value

from ._setup import elbo_for, starting_values
from .handlers import hide_enumerated, with_deterministic
from .result import Fit, fit_context

OPTIONS = {
    "guide": "mean_field",
    "num_steps": 5000,
    "learning_rate": 1e-2,
    "num_particles": 1,
    "num_samples": 1000,
    "progress_bar": False,
    "init": None,
}
GUIDES = {"mean_field": AutoNormal, "full_rank": AutoMultivariateNormal}


def _plateau(losses):
    tenth = max(len(losses) // 10, 2)
    last, before = losses[-tenth:], losses[-2 * tenth : -tenth]
    if len(before) < 2:
        return False
    return bool(before.mean() - last.mean() <= 2 * last.std(ddof=1) / np.sqrt(len(last)))


def run(module, data, *, priors, seed, model_options, guide, num_steps, learning_rate, num_particles, num_samples,
        progress_bar, init):
    """Fit the guide; ``params`` are the guide's medians, ``samples`` its draws."""
    key_init, key_svi, key_draw = random.split(random.PRNGKey(seed), 3)
    start = starting_values(module, key_init, data, model_options, init, priors)
    model = partial(module.model, priors=priors, **model_options)
    elbo = elbo_for(model, start, data, num_particles)
    auto = GUIDES[guide](hide_enumerated(model), init_loc_fn=init_to_value(values=start))
    # the step decays to 1/100 of learning_rate: a constant step leaves the guide jittering by
    # the gradient noise of the one-sample ELBO, several tenths of a posterior sd on logistic data
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.01)
    svi = SVI(model, auto, optax.adam(schedule), elbo)
    result = svi.run(key_svi, num_steps, progress_bar=progress_bar, **data)
    latent = auto.sample_posterior(key_draw, result.params, sample_shape=(num_samples,))
    draws = jax.vmap(lambda draw: with_deterministic(model, draw, data, key_draw))(latent)
    losses = np.asarray(result.losses)
    return Fit(
        method="vi",
        params={name: np.asarray(value) for name, value in with_deterministic(model, auto.median(result.params), data, key_draw).items()},
        losses=losses,
        converged=bool(np.all(np.isfinite(losses))) and _plateau(losses),
        num_steps=num_steps,
        **fit_context(module, data, priors, seed, model_options),
        method_options=dict(guide=guide, num_steps=num_steps, learning_rate=learning_rate,
                            num_particles=num_particles, num_samples=num_samples, progress_bar=progress_bar, init=init),
        info={"final_elbo": float(-losses[-max(len(losses) // 10, 1):].mean())},
        samples={name: np.asarray(value)[None] for name, value in draws.items()},
    )

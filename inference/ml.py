"""Maximum likelihood (Definition 1.3, eq. 1.8): ``theta_ML = argmax_theta log p(data | theta)``.

The prior terms of the model are removed generically (:class:`inference.handlers.likelihood_only`),
enumerated discrete latents are summed out, and the negative log-likelihood is minimised by
L-BFGS over the unconstrained coordinates (:mod:`inference._point`), or taken in closed form
where the model offers one. No prior, no regularisation.
"""

from ._point import OPTIONS as POINT_OPTIONS
from ._point import point_estimate

__all__ = ["OPTIONS", "run"]

# closed_form: take the model's closed-form estimate where it offers one (_point's docstring)
OPTIONS = {**POINT_OPTIONS, "closed_form": True}


def run(module, data, *, priors, seed, model_options, **options):
    """Fit by ML; ``options`` are those of :data:`OPTIONS` (optimizer, max_iter, gtol, ftol, learning_rate, init,
    closed_form)."""
    return point_estimate("ml", module, data, priors=priors, seed=seed, model_options=model_options, likelihood=True, **options)

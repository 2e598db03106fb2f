"""The log joint density and the ELBO, with the sites' terms added in the order the model makes them.

NumPyro's ``Trace_ELBO`` and ``TraceEnum_ELBO`` add the sites' terms in the order of a Python
``set`` of site names, and that order changes with the interpreter's hash seed
(``PYTHONHASHSEED``, random by default). The same fit, traced in two processes, then adds in
two orders and differs in its last bits: MAP of the classifier on iris stopped after 126, 128
or 130 L-BFGS steps under three hash seeds. And JAX's persistent compilation cache, keyed on the
program's text, never found a program that another process had compiled. Here the terms are
added in the order of the model's trace, so a fit compiles to the same program and gives the
same bits in every process.

:func:`log_joint` is ``log p(data, theta)``: the objective of ML (with the priors masked out,
:class:`inference.handlers.likelihood_only`) and MAP. :class:`OrderedELBO` is the
reparameterised ELBO of VI. Discrete latents marked for enumeration are summed out by funsor
in both.
"""

import jax
import jax.numpy as jnp
from jax import random
from numpyro.handlers import replay, seed
from numpyro.infer.elbo import ELBO
from numpyro.infer.util import log_density

# the lecture models have one plate ("data"); enumeration takes the dimension left of it
MAX_PLATE_NESTING = 1


def log_joint(model, data, values, *, enumerated):
    """``log p(data, values)`` under ``model`` (its handlers applied), with the enumerated
    discrete latents summed out when ``enumerated``; ``model`` takes the data as keywords."""
    if enumerated:  # funsor, 0.12 s to import, only for the models that enumerate
        from numpyro.contrib.funsor import enum
        from numpyro.contrib.funsor import log_density as enum_log_density

        return enum_log_density(enum(model, first_available_dim=-MAX_PLATE_NESTING - 1), (), data, values)[0]
    return log_density(model, (), data, values)[0]


class OrderedELBO(ELBO):
    """``E_q[log p(data, z) - log q(z)]`` by ``num_particles`` reparameterised draws from the guide.

    As ``Trace_ELBO`` (``TraceEnum_ELBO`` when ``enumerated``) for guides whose sites are all
    continuous and reparameterised (NumPyro's ``AutoNormal`` and ``AutoMultivariateNormal``),
    with the same draws for the same key, but summed in the order of the traces.
    """

    can_infer_discrete = True

    def __init__(self, num_particles=1, *, enumerated=False):
        super().__init__(num_particles=num_particles)
        self.enumerated = enumerated

    def loss_with_mutable_state(self, rng_key, param_map, model, guide, *args, **kwargs):
        if args:
            raise TypeError("OrderedELBO takes the model's data as keyword arguments only")

        def particle(key):
            model_seed, guide_seed = random.split(key)
            guide_log, guide_trace = log_density(seed(guide, guide_seed), (), kwargs, param_map)
            model_log = log_joint(replay(seed(model, model_seed), guide_trace), kwargs, param_map,
                                  enumerated=self.enumerated)
            return model_log - guide_log

        if self.num_particles == 1:
            return {"loss": -particle(rng_key), "mutable_state": None}
        elbos = jax.vmap(particle)(random.split(rng_key, self.num_particles))
        return {"loss": -jnp.mean(elbos), "mutable_state": None}

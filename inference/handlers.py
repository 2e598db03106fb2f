"""Effect handlers through which the inference layer reads and rewrites any lecture model."""

import jax.numpy as jnp
from numpyro import handlers
from numpyro.distributions import MaskedDistribution
from numpyro.distributions.transforms import biject_to
from numpyro.primitives import Messenger


def is_enumerated(site):
    """A discrete latent site that NumPyro sums out rather than samples."""
    return site.get("type") == "sample" and site.get("infer", {}).get("enumerate") == "parallel"


def is_parameter(site):
    """A latent sample site that is not enumerated: a parameter with a prior."""
    return site["type"] == "sample" and not site["is_observed"] and not is_enumerated(site)


class likelihood_only(Messenger):
    """Drop the prior terms of a model's log density, keeping the likelihood (for ML).

    Every parameter site's distribution is replaced by the same distribution masked out, so it
    still has its support (the optimiser's transforms come from it) but adds nothing to the log
    density. Observed sites and enumerated discrete sites are left alone. Setting a sample
    message's ``mask`` flag is not enough: the log density is read from ``fn``.
    """

    def process_message(self, msg):
        if is_parameter(msg):
            msg["fn"] = msg["fn"].mask(False)


def _parameter_sites(model, params, data):
    trace = handlers.trace(handlers.seed(handlers.substitute(model, data=params), 0)).get_trace(**data)
    return {name: site for name, site in trace.items() if is_parameter(site)}


def log_prior(model, params, data):
    """``log p(theta)``: the summed log densities of the parameter sites at ``params``."""
    sites = _parameter_sites(model, params, data)
    return sum((jnp.sum(site["fn"].log_prob(site["value"])) for site in sites.values()), jnp.zeros(()))


def parameter_transforms(model, params, data):
    """``{name: bijection from the reals onto the parameter's support}``, from the model's trace."""
    return {name: biject_to(site["fn"].support) for name, site in _parameter_sites(model, params, data).items()}


def constrain(transforms, unconstrained):
    """The parameters' values ``theta = T(u)`` from their unconstrained coordinates ``u``, by the
    bijections of :func:`parameter_transforms`."""
    return {name: transforms[name](value) for name, value in unconstrained.items()}


def unconstrain(transforms, values):
    """The unconstrained coordinates ``u = T^{-1}(theta)`` of the parameters' values."""
    return {name: transforms[name].inv(value) for name, value in values.items()}


def with_deterministic(model, latent, data, rng_key):
    """The latent values plus every deterministic site the model computes from them.

    The lecture models' deterministic sites are functions of the parameters alone (``cov``, and
    the parameters that priors fix), so the model is traced at the first row of the data only: a
    trace at every row would make the model's per-row arrays (one Cholesky factor per row for
    the classifier and the mixture, 2.5 GB at N = 3e5, D = 32), even compiled.
    """
    first = {name: value[:1] for name, value in data.items()}
    trace = handlers.trace(handlers.seed(handlers.substitute(model, data=latent), rng_key)).get_trace(**first)
    return {**latent, **{name: site["value"] for name, site in trace.items() if site["type"] == "deterministic"}}


def hide_enumerated(model):
    """The model with its enumerated sites hidden, for autoguides, which cannot handle them."""
    return handlers.block(model, hide_fn=is_enumerated)


class scale_data(Messenger):
    """Multiply the log density of every site in the plate named ``"data"`` by ``factor``.

    With a minibatch of B of the N rows, ``factor = N / B`` makes the minibatch log-likelihood
    an unbiased estimate of the full one, while the priors (outside the plate) count once.
    """

    def __init__(self, fn=None, factor=1.0):
        self.factor = factor
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] == "sample" and any(frame.name == "data" for frame in msg["cond_indep_stack"]):
            msg["scale"] = self.factor if msg.get("scale") is None else self.factor * msg["scale"]


class _RowsMasked(MaskedDistribution):
    """NumPyro's masked law, scoring the value as it comes.

    ``MaskedDistribution`` first puts a feasible value on the masked rows, broadcast to the
    batch shape: with a label enumerated, (K, N) copies of the rows, on each of which the
    mixture's law scores all K components. The padding rows repeat a real row, so their
    log-density and its gradient are finite, and ``where`` gives them exactly 0.
    """

    def log_prob(self, value):
        return jnp.where(self._mask, self.base_dist.log_prob(value), 0.0)


class observed_rows(Messenger):
    """Score the observed sites of the plate ``"data"`` only on the rows where ``mask`` is True.

    The padding rows (:func:`inference._sharding.sharded_data`: data sharded over devices, and
    ML's and MAP's rows padded to a block; copies of the first row) then add exactly 0, and
    when a discrete latent is summed out ``log sum_k pi_k``, 0 to round-off: the latent's own
    terms sum to 1 over its values. (A 0 scale would do without enumeration.)
    """

    def __init__(self, fn=None, mask=None):
        self.mask = mask
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] == "sample" and msg["is_observed"] and any(f.name == "data" for f in msg["cond_indep_stack"]):
            msg["fn"] = _RowsMasked(msg["fn"], self.mask)


class uncondition(Messenger):
    """Sample the observed sites instead of scoring the data: posterior predictive draws.

    The data's shapes still come from the arguments; enumerated latents are then sampled too,
    as the generative process says.
    """

    def process_message(self, msg):
        if msg["type"] == "sample" and msg["is_observed"]:
            msg["is_observed"], msg["value"] = False, None

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
reparameterised ELBO of VI. A discrete latent marked for enumeration is summed out in both:
the lecture models have at most one, a label per row (the mixture's ``z``, the semi-supervised
classifier's ``y``), and its sum is a ``logsumexp`` per row, done here rather than by funsor.

funsor's ``log_density`` multiplies each term by its site's scale before it sums the label
out, so a minibatch's ``N / B`` (:class:`inference.handlers.scale_data`) scaled ``log pi_k +
log N(x_n | k)`` inside the ``logsumexp``: at a scale of 2 the mixture's log-likelihood on
iris came out 2.048 times the unscaled one, and minibatch ML, MAP and VI of the mixture
followed a biased objective. Here the scale multiplies each row's sum, ``s log sum_k p(x_n,
z_n = k | theta)``, as a subsampled plate means.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import random
from numpyro import handlers
from numpyro.handlers import replay, seed
from numpyro.infer.elbo import ELBO
from numpyro.infer.util import log_density
from numpyro.primitives import Messenger

from .handlers import is_enumerated, is_parameter

# the lecture models have one plate ("data"); enumeration takes the dimension left of it
MAX_PLATE_NESTING = 1


class _all_values(Messenger):
    """Give each enumerated site every value of its support at once, along the dimension left
    of the plates: ``(K, 1)`` for a label in the plate ``"data"``."""

    def process_message(self, msg):
        if is_enumerated(msg) and msg["value"] is None:
            support = msg["fn"].enumerate_support(expand=False)
            if support.ndim > MAX_PLATE_NESTING + 1:
                raise NotImplementedError(
                    f"site {msg['name']!r} is enumerated inside {support.ndim - 1} plates; the layer's models "
                    f"have at most {MAX_PLATE_NESTING}")
            msg["value"] = jnp.reshape(support, support.shape[:1] + (1,) * MAX_PLATE_NESTING)


def _site_log_prob(site):
    if site["intermediates"]:
        return site["fn"].log_prob(site["value"], site["intermediates"])
    return site["fn"].log_prob(site["value"])


def _plates(site):
    return {frame.name for frame in site["cond_indep_stack"]}


def _common_scale(sites, label):
    """The one scale of the sites whose terms are summed over ``label``'s values."""
    scale = sites[0]["scale"]
    for site in sites[1:]:
        other = site["scale"]
        if other is scale:
            continue
        traced = isinstance(other, jax.core.Tracer) or isinstance(scale, jax.core.Tracer)
        if traced or other is None or scale is None or not np.array_equal(other, scale):
            why = ("carry two traced scales, which cannot be compared while tracing (apply one scale)" if traced
                   else f"differ ({scale} and {other})")
            raise ValueError(
                f"the terms summed over the enumerated site {label!r} must share one scale (a plate's "
                f"subsampling, inference.handlers.scale_data); {sites[0]['name']!r} and {site['name']!r} {why}")
    return scale


def _label_trace(model, data, values):
    """The model's trace at ``values`` with its enumerated site, one at most, at all its values
    (:class:`_all_values`); returns ``(trace, the enumerated site or None)``."""
    trace = handlers.trace(_all_values(handlers.substitute(model, data=values))).get_trace(**data)
    labels = [name for name, site in trace.items() if is_enumerated(site)]
    if len(labels) > 1:
        raise NotImplementedError(
            f"the layer sums out one enumerated site per row; the model enumerates {len(labels)}: {labels}")
    return trace, trace[labels[0]] if labels else None


def _check_rows(label, dependent):
    """The terms that depend on ``label`` (those with its values' dimension) must be one row's
    each, in its plate ``"data"`` and no other."""
    outside = [site["name"] for site in dependent if _plates(site) != _plates(label) or "data" not in _plates(site)]
    if outside:
        raise NotImplementedError(
            f"the terms that depend on the enumerated site {label['name']!r} must lie in its plate \"data\" and no "
            f"other, one row each; {outside} do not")


def log_joint(model, data, values):
    """``log p(data, values)`` under ``model`` (its handlers applied), with an enumerated discrete
    latent summed out; ``model`` takes the data as keywords.

    The enumerated site (one at most, in the plate ``"data"``) takes all its K values at once
    (shape ``(K, 1)``), so the terms that depend on it come out with shape ``(K, N)``; their sum
    is reduced by ``logsumexp`` over the K values, row by row, then multiplied by the plate's
    scale. Every other term is added as ``numpyro.infer.util.log_density`` adds it, in the
    order of the model's trace.
    """
    trace, label = _label_trace(model, data, values)
    total, summed, terms = jnp.zeros(()), [], []
    for site in trace.values():
        if site["type"] != "sample":
            continue
        log_prob = _site_log_prob(site)
        if jnp.ndim(log_prob) > MAX_PLATE_NESTING:  # the label's values' dimension: it depends on the label
            summed.append(site)
            terms.append(log_prob)
        else:
            total = total + jnp.sum(log_prob if site["scale"] is None else site["scale"] * log_prob)
    if not summed:
        return total
    _check_rows(label, summed)
    scale = _common_scale(summed, label["name"])
    per_row = jax.nn.logsumexp(sum(terms[1:], terms[0]), axis=0)
    return total + jnp.sum(per_row if scale is None else scale * per_row)


def label_log_joint(model, data, values):
    """``log p(row_n, z_n = k | values)`` for every row and every value k of the model's one
    enumerated site, shape (N, K): the terms of the plate ``"data"``, those that do not depend on
    the label the same for each k. The parameters' terms (outside the plate) are left out; an
    observed site outside the plate, no row's, is refused, and so is a scaled site (a scale
    belongs to a row's sum over k, which this table has not taken). EM's E-step, on
    :class:`inference.handlers.likelihood_only` models."""
    trace, label = _label_trace(model, data, values)
    if label is None:
        raise ValueError("label_log_joint needs a model with an enumerated site; this one has none")
    rows, dependent = [], []
    for site in trace.values():
        if site["type"] != "sample" or is_parameter(site):
            continue
        if site["scale"] is not None:
            raise ValueError(f"label_log_joint takes unscaled models; site {site['name']!r} has a scale")
        log_prob = _site_log_prob(site)
        if jnp.ndim(log_prob) > MAX_PLATE_NESTING or "data" not in _plates(site):
            dependent.append(site)  # checked to lie in the rows' plate
        rows.append(log_prob)
    _check_rows(label, dependent)
    return jnp.transpose(sum(rows[1:], rows[0]))


class OrderedELBO(ELBO):
    """``E_q[log p(data, z) - log q(z)]`` by ``num_particles`` reparameterised draws from the guide.

    As ``Trace_ELBO`` (``TraceEnum_ELBO`` for a model with an enumerated label, which
    :func:`log_joint` sums out) for guides whose sites are all continuous and reparameterised
    (NumPyro's ``AutoNormal`` and ``AutoMultivariateNormal``), with the same draws for the same
    key, but summed in the order of the traces.
    """

    can_infer_discrete = True

    def loss_with_mutable_state(self, rng_key, param_map, model, guide, *args, **kwargs):
        if args:
            raise TypeError("OrderedELBO takes the model's data as keyword arguments only")

        def particle(key):
            model_seed, guide_seed = random.split(key)
            guide_log, guide_trace = log_density(seed(guide, guide_seed), (), kwargs, param_map)
            model_log = log_joint(replay(seed(model, model_seed), guide_trace), kwargs, param_map)
            return model_log - guide_log

        if self.num_particles == 1:
            return {"loss": -particle(rng_key), "mutable_state": None}
        elbos = jax.vmap(particle)(random.split(rng_key, self.num_particles))
        return {"loss": -jnp.mean(elbos), "mutable_state": None}

"""Effect handlers through which the inference layer reads and rewrites any lecture model."""

from numpyro import handlers
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


def hide_enumerated(model):
    """The model with its enumerated sites hidden, for autoguides, which cannot handle them."""
    return handlers.block(model, hide_fn=is_enumerated)

"""One compiled program per method, model, options and priors, with the data as its arguments.

Each method traces its whole fit (set-up, optimisation or sampling, draws) into one function of
``(rng_key, start, data)``. :func:`compiled` jits it once per key and keeps the last
``MAX_PROGRAMS`` (16): a second fit of new data of the same shape, as in simulation-based calibration
or a bootstrap, compiles nothing, and a long session does not accumulate programs (JAX would
otherwise keep one per fit, each holding its own memory maps). The pointwise log-likelihood of
a fit's InferenceData (:func:`compiled_for_model`) takes its places among them too.
"""

import sys
from collections import OrderedDict
from functools import partial

import jax
import numpy as np

from .xla import compiler_options

# Each compiled program holds its machine code in memory maps, up to ~900 of them (the
# classifier's VI), and Linux allows a process 65 530 (vm.max_map_count): with 64 programs kept,
# a long test session ran out, and XLA aborted mid-compilation. 16 keep ~15 000 at most.
MAX_PROGRAMS = 16
_PROGRAMS = OrderedDict()


def freeze(value):
    """A hashable key for options and priors (distributions by class and parameter bytes)."""
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    leaves, treedef = jax.tree.flatten(value)
    return (str(treedef), tuple((np.asarray(x).tobytes(), np.shape(x), str(np.asarray(x).dtype)) for x in leaves))


def compiled(method, module, model_options, priors, options, function):
    """``jax.jit(function)``, the same object for the same method, model, options and priors.

    ``function`` is built afresh by the caller each time (a ``partial``: cheap) and is jitted only
    when the key is new; ``options`` are the method's static settings. XLA compiles it with the
    method's :func:`inference.xla.compiler_options`.
    """
    xla_options = compiler_options(method)
    key = (method, module.__name__, freeze(model_options), freeze(priors), freeze(xla_options), freeze(options))
    program = _PROGRAMS.get(key)
    if program is None:
        program = _PROGRAMS[key] = jax.jit(function, compiler_options=xla_options or None)
        while len(_PROGRAMS) > MAX_PROGRAMS:
            _PROGRAMS.popitem(last=False)
    else:
        _PROGRAMS.move_to_end(key)
    return program


def compiled_for_model(method, model, function):
    """:func:`compiled` for ``function(model, ...)`` with ``model`` bound as the layer binds it,
    ``partial(module.model, priors=..., **options)`` with ``module`` a model module: the same
    program for equal bindings. Any other model (a function of the caller's own, which a name
    cannot identify: two closures share theirs) is jitted afresh, uncached."""
    module = sys.modules.get(getattr(getattr(model, "func", None), "__module__", None))
    if not (isinstance(model, partial) and not model.args and model.func is getattr(module, "model", None)):
        return jax.jit(partial(function, model))
    options = dict(model.keywords)
    priors = options.pop("priors", None)
    return compiled(method, module, options, priors, {}, partial(function, model))

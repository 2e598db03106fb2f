"""One compiled program per method, model, options and priors, with the data as its arguments.

Each method traces its whole fit (set-up, optimisation or sampling, draws) into one function of
``(rng_key, start, data)``. :func:`compiled` jits it once per key and keeps the last
``MAX_PROGRAMS`` (16): a second fit of new data of the same shape, as in simulation-based calibration
or a bootstrap, compiles nothing, and a long session does not accumulate programs (JAX would
otherwise keep one per fit, each holding its own memory maps). The pointwise log-likelihood of
a fit's InferenceData (:func:`compiled_for_model`) takes its places among them too.

The programs are traced with NumPyro's validation off (:func:`unvalidated`). NumPyro 0.22
validates by default: every ``log_prob`` then masks its rows with ``where(value in support,
log_prob, -inf)``, at every evaluation. Here that check was made once, before tracing: ``fit``
validates the data with the model's ``check_data`` (finite features, labels in range), and the
parameters reach the model through the transforms onto their supports. The mask only cost
time: 32 % of the log joint's value and gradient for logistic regression (N = 1e4, D = 20: 82
against 56 us), which NUTS evaluates some 3e4 times per fit (``benchmarks/README.md``). The
values are the same: the mask is true on every row.
"""

import sys
from collections import OrderedDict
from functools import partial, wraps

import jax
import numpy as np
from numpyro.distributions.distribution import validation_enabled

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


def unvalidated(function):
    """``function`` with NumPyro's validation off while it runs (and so while ``jax.jit``
    traces it): the distributions it builds do not mask their log-densities to their supports.
    For data that the model's ``check_data`` has validated only; see the module docstring.

    Also for the abstract traces (``jax.eval_shape``) that read the model's sites: validated,
    each distribution checks its arguments under ``jax.ensure_compile_time_eval``, which runs
    the check on the trace's constants (the priors' hyperparameters) eagerly, one compiled
    program per operation (26 in the mixture script)."""
    @wraps(function)
    def traced(*args, **kwargs):
        with validation_enabled(False):
            return function(*args, **kwargs)

    return traced


def compiled(method, module, model_options, priors, options, function):
    """``jax.jit(function)``, the same object for the same method, model, options and priors.

    ``function`` is built afresh by the caller each time (a ``partial``: cheap) and is jitted only
    when the key is new; ``options`` are the method's static settings. It is traced
    :func:`unvalidated`, for data that ``fit`` has checked, and XLA compiles it with the method's
    :func:`inference.xla.compiler_options`.
    """
    xla_options = compiler_options(method)
    key = (method, module.__name__, freeze(model_options), freeze(priors), freeze(xla_options), freeze(options))
    return _kept(key, lambda: jax.jit(unvalidated(function), compiler_options=xla_options or None))


def compiled_function(method, function, static_argnames):
    """``jax.jit(function, static_argnames=...)`` for a module-level ``function`` that takes its
    model's functions as static arguments (EM's loop), with ``method``'s XLA options as they stand
    at this call: :func:`inference.xla.compile_faster` may come after the import, and a jit at
    import time would keep the options of then. Kept among the programs: one jitted object per
    function, names and options."""
    if not isinstance(static_argnames, tuple):
        raise TypeError(f"static_argnames must be a tuple of names; got {type(static_argnames).__name__} "
                        f"{static_argnames!r}")
    xla_options = compiler_options(method)
    key = (method, function.__module__, function.__qualname__, static_argnames, freeze(xla_options))
    return _kept(key, lambda: jax.jit(function, static_argnames=static_argnames, compiler_options=xla_options or None))


def _kept(key, make):
    """The program kept under ``key``, made by ``make()`` when there is none; the last
    :data:`MAX_PROGRAMS` used are kept."""
    program = _PROGRAMS.get(key)
    if program is None:
        program = _PROGRAMS[key] = make()
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

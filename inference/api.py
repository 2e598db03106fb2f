"""``fit(model, data, method)``: one call for every lecture model and every inference method."""

import math
import numbers
import types

import models
from models._checks import check_bool, check_choice, check_int
from models._priors import check_priors

from . import em, laplace, nuts, vi
from . import map as map_method
from . import ml as ml_method
from ._collection import paused_collection
from ._point import OPTIMIZERS

METHODS = {"ml": ml_method, "map": map_method, "em": em, "nuts": nuts, "vi": vi, "laplace": laplace}


def _resolve_model(model):
    if isinstance(model, str):
        if model not in models.MODELS:
            raise ValueError(f"model must be one of {sorted(models.MODELS)} or one of their modules; got {model!r}")
        return models.MODELS[model]
    if isinstance(model, types.ModuleType) and model in models.MODELS.values():
        return model
    raise TypeError(f"model must be a module of models/ or its name {sorted(models.MODELS)}; got {model!r}")


def _split_options(module, runner, method, options):
    unknown = sorted(set(options) - set(module.OPTIONS) - set(runner.OPTIONS))
    if unknown:
        name = module.__name__.rsplit(".", 1)[-1]
        raise ValueError(
            f"unknown option(s) {unknown}; {name} takes {sorted(module.OPTIONS)} "
            f"and method {method!r} takes {sorted(runner.OPTIONS)}"
        )
    model_options = {k: options.get(k, v) for k, v in module.OPTIONS.items()}
    method_options = {k: options.get(k, v) for k, v in runner.OPTIONS.items()}
    return model_options, method_options


def _check_method_options(options):
    if "chain_method" in options:
        check_choice("chain_method", options["chain_method"], ("sequential", "parallel", "vectorized"))
    if "guide" in options:
        check_choice("guide", options["guide"], tuple(vi.GUIDES))
    for name, choices in (("init_method", em.INIT_METHODS), ("objective", em.OBJECTIVES), ("m_step", em.M_STEPS),
                          ("engine", em.ENGINES)):
        if name in options:
            check_choice(name, options[name], choices)
    for name in ("num_warmup", "num_samples", "num_chains", "max_tree_depth", "num_steps", "num_particles", "num_restarts", "chunk_size"):
        if name in options:
            check_int(name, options[name], minimum=0 if name == "num_warmup" else 1)
    if "optimizer" in options:
        check_choice("optimizer", options["optimizer"], OPTIMIZERS)
    if "max_iter" in options:
        check_int("max_iter", options["max_iter"], minimum=1)
    if options.get("devices") is not None:
        check_int("devices", options["devices"], minimum=1)
    if options.get("batch_size") is not None:
        check_int("batch_size", options["batch_size"], minimum=1)
    # numbers must be finite: NaN fails no comparison, so a NaN tol or reg_covar used to pass (and
    # a NaN reg_covar gave NaN covariances); learning_rate None reached optax (VI) as a raw error
    for name in ("gtol", "ftol"):
        _check_real(name, options.get(name), "a positive number or None", lambda v: v > 0, allow_none=True)
    if "learning_rate" in options:
        _check_real("learning_rate", options["learning_rate"], "a positive number", lambda v: v > 0)
    if "tol" in options:
        _check_real("tol", options["tol"], "a number >= 0", lambda v: v >= 0)
    _check_real("reg_covar", options.get("reg_covar"), "a number >= 0 or None", lambda v: v >= 0, allow_none=True)
    if "target_accept_prob" in options:
        _check_real("target_accept_prob", options["target_accept_prob"], "a number in (0, 1)", lambda v: 0 < v < 1)
    for name in ("dense_mass", "progress_bar", "hessian", "closed_form"):
        if name in options:
            check_bool(name, options[name])


def _check_real(name, value, expected, valid, *, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not _finite(value) or not valid(value):
        raise ValueError(f"{name} must be {expected}; got {value!r}")


def _finite(value):
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond float64
        return False


def _check_data(module, data):
    name = module.__name__.rsplit(".", 1)[-1]
    if not isinstance(data, dict):
        raise TypeError(f"data must be a dict with key 'X'{' and y' if module.HAS_TARGET else ''}; got {type(data).__name__}")
    expected = {"X", "y"} if module.HAS_TARGET else {"X"}
    unknown = sorted(set(data) - expected)
    if unknown:
        raise ValueError(f"data has unknown key(s) {unknown}; {name} uses {sorted(expected)}")
    if "X" not in data:
        raise ValueError(f"data must have key 'X'; got keys {sorted(data)}")
    if module.HAS_TARGET and data.get("y") is None:
        raise ValueError(f"data must have key 'y' for {name}, which models y given X; got keys {sorted(data)}")
    return data


def fit(model, data, method, *, priors=None, seed=0, **options):
    """Fit a lecture model to data with the named inference method.

    Parameters
    ----------
    model : module or str
        A module of :mod:`models` or its name (``"linear_regression"``, ...).
    data : dict
        ``{"X": (num_data, num_features)}`` plus ``"y": (num_data,)`` where the model has a target.
    method : str
        A key of :data:`METHODS` (``"ml"``, ``"map"``).
    priors : dict, optional
        ``{parameter: NumPyro distribution or "flat"}`` replacing the model's stated defaults.
    seed : int, default 0
        Seeds everything random (initialisation included).
    **options
        The model's options (its ``OPTIONS``) and the method's options (``METHODS[method].OPTIONS``)
        by name; any other name is an error.

    Returns
    -------
    Fit
    """
    module = _resolve_model(model)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}; got {method!r}")
    runner = METHODS[method]
    model_options, method_options = _split_options(module, runner, method, options)
    check_int("seed", seed, minimum=0, maximum=2**63 - 1)  # what jax.random.PRNGKey takes
    _check_method_options(options)
    data = module.check_data(**_check_data(module, data), **model_options)
    check_priors(priors, module.params(data["X"].shape[1], **model_options))
    with paused_collection():  # the trace lives until compiled: collecting then frees nothing (_collection)
        return runner.run(module, data, priors=priors, seed=seed, model_options=model_options, **method_options)

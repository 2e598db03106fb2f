"""The lecture models of week 1, one NumPyro model per module (see each module's docstring).

Every model module offers the same face to the inference layer:

- ``model(X, y=None, *, priors=None, **options)``: the NumPyro model (``y`` only where the model
  has a target, ``HAS_TARGET``);
- ``OPTIONS``: the model's options and their defaults;
- ``params(num_features, **options)``: ``{name: Param(shape, domain, default prior)}``;
- ``check_data(X, y, **options)`` (``check_data(X, **options)`` without a target): validated
  data, raising ``ValueError``/``TypeError``;
- ``init_values(rng_key, X, y, **options)``: a sensible start for optimisers (``y`` is None
  without a target);
- ``simulate(rng_key, ...)``: data and the true parameters;
- optionally, closed forms such as ``mle(X, y, **options)``;
  ``closed_form_ml(data, **options)``: the ML estimate in closed form for validated data, or
  None where there is none (missing labels, K > 1, no ML estimate), which ML then takes
  instead of searching (``closed_form=True``); and
  ``mle_problem(params, X, y, **options)``: why the ML estimate does not exist for these data,
  or None. ML calls it before fitting with ``params=None`` (a reason is a ``ValueError``) and
  after, with the estimate (a reason marks the fit not converged, with an ``IllPosedWarning``);
  ML-EM calls it at its end (the mixture's collapse, held by ``reg_covar``), with the
  responsibilities it has computed (``resp=``) where the model offers them in closed form,
  ``responsibilities(params, X)``;
  ``observed_information(theta, X, y, *, weights=None, **options)``: minus the Hessian of the
  log-likelihood over the flattened parameters, traceable, which ML then takes for its
  second-order check and standard errors instead of automatic differentiation's where every
  free parameter is real.
"""

from . import (
    _lapack,  # noqa: F401  (first: CPU lowerings that cannot deadlock, before any tracing)
    _corr_cholesky,  # noqa: F401  (NumPyro's bijection onto correlation factors, without scatters)
    gaussian_classifier,
    gaussian_mixture,
    linear_regression,
    logistic_regression,
    pushforward,
)
from ._priors import FLAT, Param
from ._types import Simulation

MODELS = {
    module.__name__.rsplit(".", 1)[-1]: module
    for module in (linear_regression, logistic_regression, gaussian_classifier, gaussian_mixture, pushforward)
}

__all__ = ["FLAT", "MODELS", "Param", "Simulation", *MODELS]

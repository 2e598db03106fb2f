"""The swappable inference layer: ``fit(model, data, method=...)`` for every lecture model.

Methods live in :data:`METHODS`, one module each with the same face (``OPTIONS`` and
``run(module, data, *, priors, seed, model_options, **options) -> Fit``). They know a model
only through its NumPyro trace and the hooks its module offers (``init_values``, closed forms).
"""

from ._point import ConvergenceWarning, IllPosedWarning
from ._setup import free_params
from .api import METHODS, fit
from .relabel import relabel
from .result import Fit, scalar_params

__all__ = ["METHODS", "ConvergenceWarning", "Fit", "IllPosedWarning", "fit", "free_params", "relabel", "scalar_params"]

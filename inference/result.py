"""``Fit``: the one result type of every inference method."""

import importlib
import numbers
from typing import NamedTuple

import numpy as np


def _unpickled_fit(fields):
    return Fit(**{**fields, "model": importlib.import_module(fields["model"])})


class Fit(NamedTuple):
    """What ``fit`` returns, whatever the method.

    Attributes
    ----------
    method : str
        The method's name in :data:`inference.METHODS`.
    params : dict
        Point estimate (constrained) under the notes' names, deterministic sites included.
    losses : numpy.ndarray
        The objective trace: what the method minimised, one value per step, starting at the
        initial point (negative log-likelihood for ``"ml"``, negative log joint for ``"map"``).
    converged : bool
    num_steps : int
    model : module
        The model module of :mod:`models`.
    options : dict
        The model's options, defaults filled in.
    data : dict
        The validated data (``"X"`` and, where the model has one, ``"y"``): the fit's own copy,
        which no later change to the caller's arrays reaches (a memory-mapped ``X`` as it is).
    priors : dict or None
        The user's priors (None: the model's stated defaults).
    seed : int
    method_options : dict
        The method's options, defaults filled in.
    info : dict
        Method-specific diagnostics (for optimisers: ``status``, ``grad_norm`` and the
        Hessian's ``min_eigenvalue`` in the unconstrained space, per data point).
    samples : dict or None
        Draws of every parameter (deterministic sites included), shaped (chain, draw, ...), for
        methods that draw; None for point estimates, whose ``params`` are the result.
    sample_stats : dict or None
        Per-draw sampler statistics (NUTS: ``diverging``, ``tree_depth``, ...), (chain, draw).
    stderr : dict or None
        ML only: standard errors from the observed Fisher information, shaped like ``params``.
    covariance : numpy.ndarray or None
        ML only: the asymptotic covariance of all the scalars of ``params``, in the order of
        :func:`scalar_params`.
    """

    method: str
    params: dict
    losses: np.ndarray
    converged: bool
    num_steps: int
    model: object
    options: dict
    data: dict
    priors: dict | None
    seed: int
    method_options: dict
    info: dict
    samples: dict | None = None
    sample_stats: dict | None = None
    stderr: dict | None = None
    covariance: np.ndarray | None = None

    @property
    def model_name(self):
        return self.model.__name__.rsplit(".", 1)[-1]

    def __reduce__(self):
        """Pickled with its model module by name (a module does not pickle), say for another process."""
        fields = self._asdict()
        fields["model"] = self.model.__name__
        return _unpickled_fit, (fields,)

    def wald_intervals(self, level=0.95):
        """``{name: (lower, upper)}``: ML estimate -+ z * stderr, z the normal quantile of ``level``."""
        if self.stderr is None:
            raise ValueError(f"wald_intervals needs standard errors, which method {self.method!r} did not give")
        if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < float(level) < 1:
            raise ValueError(f"level must be a number in (0, 1); got {type(level).__name__} {level!r}")
        from statistics import NormalDist

        z = NormalDist().inv_cdf(0.5 + float(level) / 2)
        return {name: (self.params[name] - z * sd, self.params[name] + z * sd) for name, sd in self.stderr.items()}

    @property
    def idata(self):
        """The ArviZ ``InferenceData`` of this fit (built anew at each access)."""
        return self.to_idata()

    def to_idata(self, *, predictive=False, log_likelihood=True, seed=0):
        """The ArviZ ``InferenceData``; ``predictive=True`` adds posterior predictive draws,
        ``log_likelihood=False`` leaves out the pointwise log-likelihood (one value per draw and
        data row: see :func:`inference.arviz.to_inference_data`)."""
        from .arviz import to_inference_data

        return to_inference_data(self, predictive=predictive, log_likelihood=log_likelihood, seed=seed)


def scalar_params(params):
    """``{"mu[1,0]": value, ...}``: every scalar of a params dict, for tables."""
    out = {}
    for name, value in params.items():
        value = np.asarray(value)
        if value.ndim == 0:
            out[name] = float(value)
            continue
        for index in np.ndindex(value.shape):
            out[f"{name}[{','.join(map(str, index))}]"] = float(value[index])
    return out


def fit_context(module, data, priors, seed, model_options, *, owned=False):
    """The fields every method's :class:`Fit` shares: what was fitted, to what, and how seeded.

    The validated data may be the caller's own arrays (``check_data`` copies only to convert),
    so the fit keeps a copy, which no later change to them reaches; a memory-mapped ``X`` (data
    beyond memory) stays as it is, unread. ``owned``: the arrays are the method's own buffers
    already (the rows it padded, :func:`inference._sharding.sharded_data`), kept as they are.
    """
    if not owned:
        data = {name: value if name == "X" and isinstance(value, np.memmap) else np.array(value)
                for name, value in data.items()}
    return {"model": module, "options": dict(model_options), "data": data, "priors": priors, "seed": seed}


def check_fit(name, value):
    """``value`` if it is a :class:`Fit`, else a ``TypeError`` naming the argument ``name``."""
    if not isinstance(value, Fit):
        raise TypeError(f"{name} must be an inference.Fit, as fit(...) returns; got {type(value).__name__} {value!r:.80}")
    return value

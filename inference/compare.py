"""``compare(fits)``: the posterior beside the maximum-likelihood estimate, one row per scalar.

The fits are of one model on one data set, by any methods. Columns, where the method is there:

==========  ===============================================================================
``truth``   the simulated value, when ``truth`` is given
``ml``      the ML estimate, and ``ml_se`` its standard error (observed information)
``map``     the MAP estimate; ``em`` the EM estimate
``nuts_*``  posterior ``mean``, ``sd``, ``hdi_3%`` and ``hdi_97%`` (94 % HDI), ``r_hat``, ``ess_bulk``
``vi_*``    the variational posterior's ``mean`` and ``sd``; likewise ``laplace_*``
==========  ===============================================================================

Mixture components are first aligned to one reference (the EM estimate when there is one, else
ML, MAP, or the first fit): the likelihood does not care about their order, so the same
component has different labels in different fits (label switching). ``corr_chol`` is left out:
``cov`` holds the same information in the notes' parametrisation.
"""

import warnings

import numpy as np

from models._checks import check_values

from .arviz import import_arviz
from .relabel import relabel
from .result import check_fit, scalar_params

HDI_PROB = 0.94
POINT_METHODS = ("ml", "map", "em")
LEFT_OUT = ("corr_chol",)


def _as_dict(fits):
    if isinstance(fits, dict):
        items = [(name, check_fit(f"fits[{name!r}]", fit)) for name, fit in fits.items()]
    elif isinstance(fits, (list, tuple)):
        items = [(check_fit(f"fits[{i}]", fit).method, fit) for i, fit in enumerate(fits)]
    else:
        raise TypeError(f"fits must be a dict {{name: Fit}} or a list of Fit; got {type(fits).__name__}")
    if not items:
        raise ValueError("fits must hold at least one Fit; got none")
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        raise ValueError(f"fits must have distinct names (one fit per method in a list); got {names}")
    first = items[0][1]
    for name, fit in items:
        same = fit.model is first.model and fit.options == first.options and fit.data["X"].shape == first.data["X"].shape
        if not same:
            raise ValueError(
                f"fits must be of one model on one data set; fits[{name!r}] is {fit.model_name} {fit.options} on "
                f"X of shape {fit.data['X'].shape}, the first is {first.model_name} {first.options} on {first.data['X'].shape}"
            )
    return dict(items)


def _check_truth(truth):
    """``truth`` as ``{name: finite float64 array}``, or None."""
    if truth is None:
        return None
    if not isinstance(truth, dict):
        raise TypeError(
            f"truth must be a dict {{name: array}} of the true parameters (a simulation's params); "
            f"got {type(truth).__name__} {truth!r:.80}"
        )
    return {name: check_values(f"truth[{name!r}]", value) for name, value in truth.items()}


def _reference(fits):
    for method in ("em", "ml", "map"):
        for fit in fits.values():
            if fit.method == method:
                return fit
    return next(iter(fits.values()))


def _scalars(values):
    return {name: value for name, value in scalar_params(values).items() if name.split("[")[0] not in LEFT_OUT}


def _draw_columns(prefix, samples, with_diagnostics):
    """Mean, sd (and for NUTS the HDI, R-hat and bulk ESS) of every scalar, from draws."""
    kept = {name: np.asarray(value) for name, value in samples.items() if name not in LEFT_OUT}
    columns = {
        f"{prefix}_mean": _scalars({k: v.mean(axis=(0, 1)) for k, v in kept.items()}),
        f"{prefix}_sd": _scalars({k: v.std(axis=(0, 1), ddof=1) for k, v in kept.items()}),
    }
    if with_diagnostics:
        az = import_arviz()
        dataset = az.convert_to_dataset(kept)
        hdi = az.hdi(dataset, hdi_prob=HDI_PROB)
        low, high = f"{100 * (1 - HDI_PROB) / 2:g}%", f"{100 * (1 + HDI_PROB) / 2:g}%"
        columns[f"{prefix}_hdi_{low}"] = _scalars({k: hdi[k].sel(hdi="lower").values for k in kept})
        columns[f"{prefix}_hdi_{high}"] = _scalars({k: hdi[k].sel(hdi="higher").values for k in kept})
        with warnings.catch_warnings():  # constant entries (a fixed value) have no R-hat
            warnings.simplefilter("ignore", RuntimeWarning)
            r_hat, ess = az.rhat(dataset), az.ess(dataset, method="bulk")
        columns[f"{prefix}_r_hat"] = _scalars({k: r_hat[k].values for k in kept})
        columns[f"{prefix}_ess_bulk"] = _scalars({k: ess[k].values for k in kept})
    return columns


def align(fits, *, truth=None, reference=None):
    """``(fits, truth)`` with a mixture's components in the order of ``reference`` (by default
    the EM, else ML, MAP, first fit); other models' fits come back as they are."""
    fits = _as_dict(fits)
    truth = _check_truth(truth)
    first = next(iter(fits.values()))
    if hasattr(first.model, "component_sites"):
        reference = _reference(fits) if reference is None else reference
        fits = {name: relabel(fit, reference) for name, fit in fits.items()}
        if truth is not None:
            truth = relabel(first._replace(params=dict(truth), samples=None, info={}), reference).params
    return fits, truth


def compare(fits, *, truth=None, reference=None):
    """One table of every scalar parameter by method; see the module docstring.

    Parameters
    ----------
    fits : dict or list
        ``{name: Fit}`` or a list of fits (named by their methods), of one model on one data set.
    truth : dict, optional
        The true parameters (a simulation's ``params``), in the notes' names.
    reference : dict or Fit, optional
        What mixture components are aligned to; by default the EM (else ML, MAP, first) fit.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter (``mu[1,0]``), one column per quantity and method, NaN where a
        method does not give it.
    """
    fits, truth = align(fits, truth=truth, reference=reference)
    first = next(iter(fits.values()))
    columns = {}
    if truth is not None:
        columns["truth"] = _scalars({k: v for k, v in truth.items() if k in first.params})
    for name, fit in fits.items():
        if fit.samples is None:
            columns[name] = _scalars(fit.params)
            if fit.stderr is not None:
                columns[f"{name}_se"] = _scalars(fit.stderr)
        else:
            columns.update(_draw_columns(name, fit.samples, with_diagnostics=fit.method == "nuts"))
    spec = first.model.params(first.data["X"].shape[1], **first.options)
    ordered = {**{k: first.params[k] for k in spec if k in first.params}, **first.params}  # the notes' order
    rows = list(_scalars(ordered))
    import pandas as pd  # here, not at the top: 0.2 s of every import of the layer (2026-12-04)

    return pd.DataFrame({column: [values.get(row, np.nan) for row in rows] for column, values in columns.items()},
                        index=pd.Index(rows, name="parameter"))

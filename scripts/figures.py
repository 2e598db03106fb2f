"""Figures of the lecture models, each one PNG drawn from :class:`inference.Fit` results.

- :func:`posterior_densities`: draws (NUTS, VI, Laplace) beside point estimates (ML, MAP, EM),
  one panel per scalar parameter (section 1.4); :func:`trace_plot`, :func:`rank_plot`: ArviZ's
  MCMC diagnostics (Hoffman & Gelman, 2014);
- :func:`regression_band`: the regression line with 94 % bands (Example 1.4);
- :func:`decision_boundaries`: ``p(y = 1 | x) = 1/2`` for LDA, QDA and logistic regression
  (Examples 1.1 and 1.5, Exercise 1.1);
- :func:`mixture_ellipses`, :func:`em_initialisations`: a mixture's components, responsibilities
  (eq. 1.18) and EM's log-likelihood trace (eq. 1.15), from a good and a bad start (Example 1.6;
  Bishop, 2006, section 9.2).

Each function saves its figure at ``path`` (parents created), closes it and returns ``path``;
nothing is shown (Agg backend).
"""

import warnings
from functools import partial
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from numpyro.distributions import constraints  # noqa: E402

from inference import free_params, scalar_params  # noqa: E402
from inference.arviz import import_arviz  # noqa: E402
from models import (  # noqa: E402
    gaussian_classifier,
    gaussian_mixture,
    linear_regression,
    logistic_regression,
)

Z_94 = 1.8808  # the standard normal's 97 % quantile: a central 94 % band, ArviZ's default mass
DPI = 100
NUM_NOISE = 20  # noise draws per parameter draw for the predictive band's quantiles


def _save(fig, path):
    """Write ``fig`` as a PNG at ``path`` (parents created), close it, return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _free_params(fit):
    """The model's ``{name: Param}`` less the parameters the fit's priors fix (constants)."""
    return free_params(fit.model, fit.data, fit.options, fit.priors)


def panel_names(fit, max_params=12):
    """The scalar parameters :func:`posterior_densities` draws, named as :func:`scalar_params`.

    Deterministic sites (``cov``) are left out, and so are the entries of a correlation
    Cholesky factor on and above its diagonal: its first row is ``(1, 0, ...)``, its upper
    triangle zero and each diagonal entry fixed by the unit norm of its row, so the strictly
    lower triangle holds all its free values. At most ``max_params`` names, in the model's order.
    """
    names = []
    for name, param in _free_params(fit).items():
        for index in np.ndindex(param.shape):
            if param.domain is constraints.corr_cholesky and index[-2] <= index[-1]:
                continue
            names.append(f"{name}[{','.join(map(str, index))}]" if index else name)
    return names[:max_params]


def _scalar_draws(samples):
    """``{"mu[1,0]": draws}`` with chains and draws flattened, named as :func:`scalar_params`."""
    out = {}
    for name, value in samples.items():
        value = np.asarray(value)
        flat = value.reshape(-1, *value.shape[2:])
        for index in np.ndindex(value.shape[2:]):
            out[f"{name}[{','.join(map(str, index))}]" if index else name] = flat[(slice(None), *index)]
    return out


def posterior_densities(fits, path, *, truth=None, max_params=12):
    """One panel per scalar parameter: histograms of draws, lines at point estimates and truth.

    Parameters
    ----------
    fits : dict
        ``{label: Fit}`` of one model on one data set. Fits with ``samples`` (NUTS, VI, Laplace)
        give a density histogram of their draws, the others (ML, MAP, EM) a dashed line at
        ``params``. Mixture draws should be relabelled first (:func:`inference.relabel`).
    path : str or Path
    truth : dict, optional
        True parameters (say ``simulate(...).params``), drawn as black lines.
    max_params : int, default 12
        At most this many panels (:func:`panel_names`).

    Returns
    -------
    Path
    """
    if not fits:
        raise ValueError("fits must be a non-empty dict {label: Fit}; got an empty one")
    names = panel_names(next(iter(fits.values())), max_params)
    num_cols = min(4, len(names))
    num_rows = -(-len(names) // num_cols)
    fig, axes = plt.subplots(num_rows, num_cols, figsize=(3 * num_cols, 2.4 * num_rows + 0.6), layout="constrained",
                             squeeze=False)
    for ax in axes.ravel()[len(names):]:
        fig.delaxes(ax)
    truth = scalar_params(truth) if truth is not None else {}
    for colour, (label, fit) in enumerate(fits.items()):
        values = _scalar_draws(fit.samples) if fit.samples is not None else scalar_params(fit.params)
        for ax, name in zip(axes.ravel(), names):
            if fit.samples is not None:
                ax.hist(values[name], bins=30, density=True, histtype="step", color=f"C{colour}", label=label)
            else:
                ax.axvline(values[name], color=f"C{colour}", linestyle="--", label=label)
    for ax, name in zip(axes.ravel(), names):
        if name in truth:
            ax.axvline(truth[name], color="k", linewidth=1.5, label="truth")
        ax.set_title(name, fontsize=10)
        ax.set_yticks([])
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=len(fits) + 1)
    return _save(fig, path)


def _arviz_figure(name, fit, path):
    if fit.samples is None:
        raise ValueError(f"fit must have draws (nuts, vi, laplace); got a point estimate from method {fit.method!r}")
    # corr_chol is left out: its constant entries (first row, upper triangle) break the plots
    names = [name for name in _free_params(fit) if name != "corr_chol"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)  # ArviZ 0.23 on matplotlib 3.11
        axes = getattr(import_arviz(), name)(fit.idata, var_names=names)
    fig = np.ravel(axes)[0].figure
    fig.set_layout_engine("constrained")  # ArviZ's default layout lets titles overlap tick labels
    return _save(fig, path)


def trace_plot(fit, path):
    """ArviZ's trace plot (densities and traces by chain) of a sampling fit's free parameters."""
    return _arviz_figure("plot_trace", fit, path)


def rank_plot(fit, path):
    """ArviZ's rank plot (Vehtari et al., 2021): flat histograms when chains mix."""
    return _arviz_figure("plot_rank", fit, path)


def regression_band(fit, path, *, feature=0, num_grid=100):
    """Linear regression: ``y`` against ``X[:, feature]``, the mean line and 94 % bands.

    Along ``X[:, feature]``, the other features held at their means, the line is
    ``a^T x + b`` at the posterior mean; a sampling fit adds the central 94 % band of the mean
    over the draws and of a new observation ``y* ~ N(a^T x + b, sigma^2)`` (posterior
    predictive, ``NUM_NOISE`` noise draws per parameter draw); a point fit only has the latter,
    ``a^T x + b -+ 1.88 sigma``. The points also scatter with the features held fixed here.
    """
    if fit.model is not linear_regression:
        raise ValueError(f"regression_band needs a linear_regression fit; got {fit.model_name}")
    X, y = fit.data["X"], fit.data["y"]
    if not 0 <= feature < X.shape[1]:
        raise ValueError(f"feature must be in [0, {X.shape[1]}); got {feature}")
    grid = np.linspace(X[:, feature].min(), X[:, feature].max(), num_grid)
    design = np.tile(X.mean(0), (num_grid, 1))
    design[:, feature] = grid
    draws = fit.samples if fit.samples is not None else {k: np.asarray(v)[None, None] for k, v in fit.params.items()}
    a = np.asarray(draws["a"]).reshape(-1, X.shape[1])  # (S, D), S = 1 for a point fit
    b = np.asarray(draws["b"]).reshape(-1) if "b" in draws else 0.0
    sigma = np.asarray(draws["sigma"]).reshape(-1)
    mean = design @ a.T + b  # (G, S)
    fig, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
    ax.scatter(X[:, feature], y, s=12, color="0.4", alpha=0.6, label="data")
    ax.plot(grid, mean.mean(1), color="C0", label="mean line")
    if fit.samples is not None:
        # the same noise at every grid point (common random numbers) keeps the band's edges smooth
        noise = np.random.default_rng(0).standard_normal((len(sigma), NUM_NOISE))
        new = (mean[:, :, None] + (sigma[:, None] * noise)[None]).reshape(num_grid, -1)
        ax.fill_between(grid, *np.percentile(mean, [3, 97], axis=1), color="C0", alpha=0.4, label="94 % mean")
        ax.fill_between(grid, *np.percentile(new, [3, 97], axis=1), color="C0", alpha=0.15, label="94 % new y")
    else:
        ax.fill_between(grid, mean[:, 0] - Z_94 * sigma, mean[:, 0] + Z_94 * sigma, color="C0", alpha=0.15, label="94 % new y")
    ax.set(xlabel=f"X[:, {feature}]", ylabel="y", title=f"linear regression, {fit.method}")
    ax.legend()
    return _save(fig, path)


def _positive_class_proba(theta, X):
    return np.asarray(gaussian_classifier.predict_proba(theta, X))[:, 1]


def classifier_predictors(fits):
    """``{label: predict_fn}`` with ``predict_fn(X) = p(y = 1 | x)``, shape (N,), for each fit.

    ``fits`` maps labels to binary ``gaussian_classifier`` or ``logistic_regression`` fits;
    each predicts with its ``params`` (for a sampling fit, the posterior mean plugged in).
    """
    out = {}
    for label, fit in fits.items():
        if fit.model is gaussian_classifier:
            if fit.options["num_classes"] != 2:
                raise ValueError(f"fits[{label!r}] must be a binary classifier; got num_classes = {fit.options['num_classes']}")
            out[label] = partial(_positive_class_proba, fit.params)
        elif fit.model is logistic_regression:
            out[label] = partial(logistic_regression.predict_proba, fit.params, degree=fit.options["degree"])
        else:
            raise ValueError(f"fits[{label!r}] must fit gaussian_classifier or logistic_regression; got {fit.model_name}")
    return out


def decision_boundaries(classifiers, X, y, path, *, num_grid=200):
    """Binary data in 2-D coloured by class and each classifier's ``p(y = 1 | x) = 1/2`` contour.

    ``classifiers`` maps labels to functions of a (G, 2) array returning ``p(y = 1 | x)``, shape
    (G,) (:func:`classifier_predictors`). A shared covariance (LDA) and logistic regression give
    straight boundaries, separate covariances (QDA) a quadratic one.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (num_data, 2); got shape {X.shape}")
    pad = 0.1 * np.ptp(X, axis=0)
    axis0, axis1 = (np.linspace(lo, hi, num_grid) for lo, hi in zip(X.min(0) - pad, X.max(0) + pad))
    grid0, grid1 = np.meshgrid(axis0, axis1)
    grid = np.column_stack([grid0.ravel(), grid1.ravel()])
    fig, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
    for i, value in enumerate(np.unique(y)):
        ax.scatter(*X[y == value].T, s=12, alpha=0.5, color=("tab:blue", "tab:orange", "tab:gray")[i % 3], label=f"y = {value}")
    handles = ax.get_legend_handles_labels()[0]
    for i, (label, predict) in enumerate(classifiers.items()):
        colour = ("k", "tab:green", "tab:purple", "tab:red", "tab:brown")[i % 5]
        proba = np.asarray(predict(grid)).reshape(grid0.shape)
        ax.contour(grid0, grid1, proba, levels=[0.5], colors=colour, linewidths=1.5)
        handles.append(Line2D([], [], color=colour, label=label))  # contours make no legend entry
    ax.set(xlabel="x[0]", ylabel="x[1]", title="decision boundaries p(y = 1 | x) = 0.5")
    ax.legend(handles=handles)
    return _save(fig, path)


def _draw_mixture(ax, fit):
    """Points (first two features) mixed from the component colours by responsibility, and
    each component's 1- and 2-sd ellipses from the eigenvectors of its 2x2 covariance block."""
    X, theta = fit.data["X"], fit.params
    if X.shape[1] < 2:
        raise ValueError(f"mixture figures need at least 2 features; got X of shape {X.shape}")
    num_components = np.shape(theta["mu"])[0]
    few = num_components <= 10
    colours = plt.get_cmap("tab10" if few else "turbo")(np.arange(10) if few else np.linspace(0, 1, num_components))
    colours = colours[:num_components, :3]
    resp = np.asarray(gaussian_mixture.responsibilities(theta, X))
    ax.scatter(X[:, 0], X[:, 1], s=12, c=np.clip(resp @ colours, 0, 1), alpha=0.7)
    cov = np.broadcast_to(theta["cov"], (num_components, *np.shape(theta["cov"])[-2:]))  # a tied cov serves all
    for k in range(num_components):
        variances, vectors = np.linalg.eigh(cov[k, :2, :2])  # ascending: the last is the major axis
        angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
        for num_sd, style in ((1, "-"), (2, "--")):
            width, height = 2 * num_sd * np.sqrt(variances[::-1])
            ax.add_patch(Ellipse(theta["mu"][k, :2], width, height, angle=angle, fill=False, edgecolor=colours[k],
                                 linestyle=style, linewidth=1.5))
        ax.plot(*theta["mu"][k, :2], marker="x", color=colours[k], markersize=8, markeredgewidth=2)
    ax.set(xlabel="x[0]", ylabel="x[1]")


def _draw_trace(ax, fit):
    """EM's objective (``-losses``) against the iteration, the start being iteration 0."""
    ax.plot(-np.asarray(fit.losses), marker=".")
    ax.set(xlabel="iteration", ylabel=fit.info.get("objective", "log-likelihood"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", useOffset=False)


def mixture_ellipses(fit, path):
    """A Gaussian mixture fit's components over the data; for EM, its log-likelihood trace too.

    Uses ``fit.params`` (for a sampling fit the posterior means, which need relabelled draws).
    """
    if fit.model is not gaussian_mixture:
        raise ValueError(f"mixture_ellipses needs a gaussian_mixture fit; got {fit.model_name}")
    num_panels = 2 if fit.method == "em" else 1
    fig, axes = plt.subplots(1, num_panels, figsize=(5 * num_panels, 4.5), layout="constrained", squeeze=False)
    _draw_mixture(axes[0, 0], fit)
    axes[0, 0].set_title(f"gaussian mixture, {fit.method}")
    if fit.method == "em":
        _draw_trace(axes[0, 1], fit)
    return _save(fig, path)


def em_initialisations(good, bad, path):
    """Two EM runs on the same mixture data side by side: components (top) and the objective
    (log-likelihood) traces on one y scale (bottom), titled with each final value.

    EM climbs to the nearest local maximum of eq. 1.15, so a bad start may end lower.
    """
    for name, fit in (("good", good), ("bad", bad)):
        if fit.method != "em" or fit.model is not gaussian_mixture:
            raise ValueError(f"{name} must be an em fit of gaussian_mixture; got {fit.method} on {fit.model_name}")
    if not np.array_equal(good.data["X"], bad.data["X"]):
        raise ValueError("good and bad must be fits of the same data X")
    fig, axes = plt.subplots(2, 2, figsize=(10, 8), layout="constrained")
    axes[1, 1].sharey(axes[1, 0])
    for column, (name, fit) in enumerate((("good start", good), ("bad start", bad))):
        _draw_mixture(axes[0, column], fit)
        _draw_trace(axes[1, column], fit)
        axes[0, column].set_title(f"{name}: final {fit.info['objective']} {-fit.losses[-1]:.2f}")
    return _save(fig, path)

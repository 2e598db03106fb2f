"""The figures of scripts/figures.py: each PNG is written, of the figure's size, not blank, and
holds what it should (panels, bands, boundaries, ellipses), read from the figure's artists."""

import sys
from pathlib import Path

import jax
import matplotlib.image
import numpy as np
import pytest
from matplotlib.contour import ContourSet
from matplotlib.patches import Ellipse

from inference import fit
from models import (
    gaussian_classifier,
    gaussian_mixture,
    linear_regression,
    logistic_regression,
)

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
try:
    import figures  # noqa: E402  (scripts/figures.py)
finally:
    sys.path.remove(str(SCRIPTS))

NUTS = {"num_warmup": 100, "num_samples": 100, "num_chains": 2}


@pytest.fixture(scope="module")
def regression():
    """A linear regression on 150 simulated rows, 2 features, by ML and by NUTS."""
    sim = linear_regression.simulate(jax.random.PRNGKey(0), 150, 2)
    data = {k: np.asarray(v) for k, v in sim.data.items()}
    fits = {"ml": fit(linear_regression, data, "ml"), "nuts": fit(linear_regression, data, "nuts", **NUTS)}
    return fits, {k: np.asarray(v) for k, v in sim.params.items()}


@pytest.fixture(scope="module")
def mixture_data():
    sim = gaussian_mixture.simulate(jax.random.PRNGKey(0), 150, 2, num_components=3)
    return {"X": np.asarray(sim.data["X"])}, np.asarray(sim.params["mu"])


@pytest.fixture(scope="module")
def em_runs(mixture_data):
    """EM from k-means (good) and from two means inside one cluster and the third between the
    other two (bad): a local maximum where one component covers two clusters."""
    data, mu = mixture_data
    bad_mu = np.array([mu[0] - [0.0, 0.3], mu[0] + [0.0, 0.3], (mu[1] + mu[2]) / 2])
    init = {"pi": np.full(3, 1 / 3), "mu": bad_mu, "sigma": np.ones((3, 2)), "corr_chol": np.tile(np.eye(2), (3, 1, 1))}
    good = fit(gaussian_mixture, data, "em", num_components=3)
    bad = fit(gaussian_mixture, data, "em", num_components=3, init=init, max_iter=300)
    return good, bad


@pytest.fixture
def saved(monkeypatch):
    """Every figure the module saves, kept for inspection after it is written and closed."""
    kept, save = [], figures._save

    def keep(fig, path):
        kept.append(fig)
        return save(fig, path)

    monkeypatch.setattr(figures, "_save", keep)
    return kept


def check_png(path, fig):
    """The PNG exists, has the figure's pixel size and more than a handful of colours."""
    image = matplotlib.image.imread(path)
    width, height = np.round(fig.get_size_inches() * figures.DPI).astype(int)
    assert image.shape[:2] == (height, width)
    assert len(np.unique(image[..., :3].reshape(-1, 3), axis=0)) > 10


def test_panel_names_leave_out_cov_and_the_constant_entries_of_corr_chol(em_runs):
    names = figures.panel_names(em_runs[0], max_params=100)
    # K = 3, D = 2: pi 3, mu 6, sigma 6, and one free entry (below the diagonal) per corr_chol
    assert len(names) == 18 and not any(name.startswith("cov") for name in names)
    assert [name for name in names if name.startswith("corr_chol")] == ["corr_chol[0,1,0]", "corr_chol[1,1,0]", "corr_chol[2,1,0]"]
    assert figures.panel_names(em_runs[0]) == names[:12]


def test_posterior_densities_draws_one_panel_per_parameter_and_a_legend(regression, saved, tmp_path):
    fits, truth = regression
    path = figures.posterior_densities(fits, tmp_path / "sub" / "densities.png", truth=truth)
    [fig] = saved
    check_png(path, fig)
    assert [ax.get_title() for ax in fig.axes] == ["a[0]", "a[1]", "b", "sigma"]
    assert [text.get_text() for text in fig.legends[0].get_texts()] == [*fits, "truth"]


@pytest.mark.parametrize(("plot", "titles"), [
    ("trace_plot", ["a", "a", "b", "b", "sigma", "sigma"]),  # density and trace per parameter
    ("rank_plot", ["a\n0", "a\n1", "b", "sigma"]),  # one panel per scalar
])
def test_arviz_plots_show_the_free_parameters_of_a_nuts_fit(regression, saved, tmp_path, plot, titles):
    path = getattr(figures, plot)(regression[0]["nuts"], tmp_path / f"{plot}.png")
    [fig] = saved
    check_png(path, fig)
    assert [ax.get_title() for ax in fig.axes] == titles


def test_arviz_plots_reject_a_point_estimate(regression, tmp_path):
    with pytest.raises(ValueError, match="fit must have draws .* from method 'ml'"):
        figures.trace_plot(regression[0]["ml"], tmp_path / "trace.png")


@pytest.mark.parametrize(("method", "num_bands"), [("nuts", 2), ("ml", 1)])
def test_regression_band_has_a_mean_band_only_for_draws(regression, saved, tmp_path, method, num_bands):
    path = figures.regression_band(regression[0][method], tmp_path / "band.png", feature=1)
    [fig] = saved
    check_png(path, fig)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert sum("94 %" in label for label in labels) == num_bands


def test_regression_band_rejects_other_models_and_features(regression, em_runs, tmp_path):
    with pytest.raises(ValueError, match="needs a linear_regression fit; got gaussian_mixture"):
        figures.regression_band(em_runs[0], tmp_path / "band.png")
    with pytest.raises(ValueError, match=r"feature must be in \[0, 2\); got 2"):
        figures.regression_band(regression[0]["ml"], tmp_path / "band.png", feature=2)


def _straightness(contour):
    """The smaller singular value of the centred boundary points over the larger: 0 on a line."""
    points = np.concatenate(contour.allsegs[0])
    singular = np.linalg.svd(points - points.mean(0), compute_uv=False)
    return singular[1] / singular[0]


@pytest.fixture(scope="module")
def classifiers():
    """LDA, QDA and logistic regression by ML on 200 simulated rows in 2-D."""
    # means closer than simulate's default, so that the classes overlap and logistic ML exists
    sim = gaussian_classifier.simulate(jax.random.PRNGKey(1), 200, 2, mu=np.array([[-1.0, 0.0], [1.0, 0.5]]))
    data = {k: np.asarray(v) for k, v in sim.data.items()}
    fits = {
        "LDA": fit(gaussian_classifier, data, "ml", shared_covariance=True),
        "QDA": fit(gaussian_classifier, data, "ml"),
        "logistic": fit(logistic_regression, data, "ml"),
    }
    return fits, data


def test_decision_boundaries_are_straight_for_lda_and_logistic_and_curved_for_qda(classifiers, saved, tmp_path):
    fits, data = classifiers
    predictors = figures.classifier_predictors(fits)
    proba = predictors["QDA"](data["X"])
    np.testing.assert_allclose(proba, gaussian_classifier.predict_proba(fits["QDA"].params, data["X"])[:, 1])
    path = figures.decision_boundaries(predictors, data["X"], data["y"], tmp_path / "boundaries.png")
    [fig] = saved
    check_png(path, fig)
    contours = dict(zip(fits, [c for c in fig.axes[0].collections if isinstance(c, ContourSet)]))
    # a 0.5 contour is linearly interpolated on a 200 x 200 grid of the sigmoid, which bends it
    # off a line by O(spacing^2): observed 8e-7 for LDA and logistic, 0.28 for QDA
    assert _straightness(contours["LDA"]) < 1e-4 and _straightness(contours["logistic"]) < 1e-4
    assert _straightness(contours["QDA"]) > 1e-2
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["y = 0", "y = 1", *fits]


def test_decision_boundaries_reject_bad_input(classifiers, regression, tmp_path):
    three = classifiers[0]["QDA"]._replace(options={"num_classes": 3, "shared_covariance": False})
    with pytest.raises(ValueError, match=r"fits\['qda'\] must be a binary classifier; got num_classes = 3"):
        figures.classifier_predictors({"qda": three})
    with pytest.raises(ValueError, match=r"fits\['ols'\] must fit gaussian_classifier or logistic_regression; got linear_regression"):
        figures.classifier_predictors({"ols": regression[0]["ml"]})
    with pytest.raises(ValueError, match=r"X must have shape \(num_data, 2\); got shape \(4, 3\)"):
        figures.decision_boundaries({}, np.zeros((4, 3)), np.zeros(4), tmp_path / "b.png")


@pytest.mark.parametrize(("covariance_type", "method", "num_panels"), [("full", "em", 2), ("tied", "em", 2), ("full", "map", 1)])
def test_mixture_ellipses_draw_two_ellipses_per_component(mixture_data, saved, tmp_path, covariance_type, method, num_panels):
    result = fit(gaussian_mixture, mixture_data[0], "em", num_components=3, covariance_type=covariance_type)
    # only the method's name decides the layout: an EM estimate stands in for a MAP one, whose
    # fit would cost ~15 s of compilation
    result = result._replace(method=method)
    path = figures.mixture_ellipses(result, tmp_path / "mixture.png")
    [fig] = saved
    check_png(path, fig)
    assert len(fig.axes) == num_panels
    ellipses = [p for p in fig.axes[0].patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 2 * 3
    # the 2-sd ellipse is the 1-sd one scaled by two, centred on the component's mean; the 1-sd
    # one's semi-axes are the square roots of the covariance's eigenvalues (product: sqrt det)
    np.testing.assert_allclose(ellipses[1].width, 2 * ellipses[0].width)
    np.testing.assert_allclose(ellipses[0].center, result.params["mu"][0])
    cov = np.broadcast_to(result.params["cov"], (3, 2, 2))
    np.testing.assert_allclose([(e.width * e.height / 4) ** 2 for e in ellipses[::2]], np.linalg.det(cov))
    if method == "em":
        np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), -result.losses)


def test_em_initialisations_show_a_bad_start_ending_lower(em_runs, saved, tmp_path):
    good, bad = em_runs
    assert -good.losses[-1] > -bad.losses[-1] + 10  # observed: -579.5 vs -631.9
    path = figures.em_initialisations(good, bad, tmp_path / "em.png")
    [fig] = saved
    check_png(path, fig)
    top_left, _, bottom_left, bottom_right = fig.axes
    assert bottom_left.get_ylim() == bottom_right.get_ylim()
    low, high = bottom_right.get_ylim()
    assert low <= min(-good.losses.max(), -bad.losses.max()) and high >= max(-good.losses.min(), -bad.losses.min())
    assert top_left.get_title() == f"good start: final log-likelihood {-good.losses[-1]:.2f}"


def test_em_initialisations_reject_other_methods(em_runs, regression, tmp_path):
    with pytest.raises(ValueError, match="bad must be an em fit of gaussian_mixture; got ml on linear_regression"):
        figures.em_initialisations(em_runs[0], regression[0]["ml"], tmp_path / "em.png")
    other = em_runs[1]._replace(data={"X": em_runs[1].data["X"][:-1]})
    with pytest.raises(ValueError, match="good and bad must be fits of the same data X"):
        figures.em_initialisations(em_runs[0], other, tmp_path / "em.png")

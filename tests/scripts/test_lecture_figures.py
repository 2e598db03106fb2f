"""The lecture figures (Examples 1.2 and 1.3, section 1.2): their numbers and their images."""

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from scipy import stats

from inference import fit
from models import gaussian_classifier, logistic_regression

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
try:
    import lecture_figures as lf
finally:
    sys.path.remove(str(SCRIPTS))

TINY_SIZES = (20, 200)


def _assert_image(path):
    image = mpimg.imread(path)
    assert image.ndim == 3 and min(image.shape[:2]) > 100
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 1  # not a blank canvas


def test_example_1_2_pushforward_is_the_notes_hand_computation():
    source, target = lf.example_1_2_pmfs()
    assert source == {1: Fraction(1, 5), 2: Fraction(1, 2), 3: Fraction(3, 10)}
    # Example 1.2 by hand: T^{-1}({a}) = {1}, T^{-1}({b}) = {2, 3}, so 0.2 and 0.5 + 0.3 = 0.8
    assert target == {"a": Fraction(1, 5), "b": Fraction(4, 5)}
    assert sum(target.values()) == 1


def test_example_1_2_writes_a_figure(tmp_path):
    path = tmp_path / "new" / "dir" / "fig_1_1.png"
    assert lf.example_1_2(str(path)) == str(path)
    _assert_image(path)


@pytest.mark.slow
def test_example_1_3_histogram_agrees_with_chi_square_one():
    num_samples, edges = 10000, lf.EXAMPLE_1_3_EDGES
    x, y = lf.example_1_3_draws(num_samples=num_samples, seed=0)
    np.testing.assert_allclose(y, x**2, rtol=1e-12)
    counts, density = lf.density_histogram(y, edges)
    widths = np.diff(edges)
    np.testing.assert_allclose(density, counts / (num_samples * widths), rtol=1e-12)
    # each bin count is Binomial(num_samples, p_k) with p_k the chi2(1) mass of the bin (exact,
    # not the pdf at the midpoint, which is far off near the pole at 0); the density estimate
    # count / (num_samples * width) has standard error sqrt(p_k (1 - p_k) / num_samples) / width,
    # and 4 of them leave a chance of about 25 * 6e-5 that any of the 25 bins fails by chance
    p = np.diff(stats.chi2(1).cdf(edges))
    stderr = np.sqrt(p * (1 - p) / num_samples) / widths
    assert np.all(np.abs(density - p / widths) < 4 * stderr)


def test_example_1_3_writes_a_figure(tmp_path):
    path = tmp_path / "fig_1_2.png"
    assert lf.example_1_3(str(path), num_samples=2000, seed=1) == str(path)
    _assert_image(path)


@pytest.fixture(scope="module")
def curves(tmp_path_factory):
    path = tmp_path_factory.mktemp("curves") / "sub" / "gen_vs_disc.png"
    return lf.generative_vs_discriminative(str(path), train_sizes=TINY_SIZES, num_repeats=2, seed=0)


def test_learning_curves_table_and_figure(curves):
    path, table = curves
    _assert_image(path)
    assert set(table) == {"LDA", "QDA", "logistic regression"}
    for row in table.values():
        assert row["train_size"] == list(TINY_SIZES)
        assert len(row["log_loss"]) == len(row["accuracy"]) == len(TINY_SIZES)
        assert np.all(np.isfinite(row["log_loss"])) and np.all(np.array(row["log_loss"]) > 0)
        assert np.all((np.array(row["accuracy"]) >= 0) & (np.array(row["accuracy"]) <= 1))


@pytest.mark.slow
def test_learning_curves_reach_good_accuracy(curves):
    _, table = curves
    # with the default settings all three reach 0.90-0.92 at 160-320 training points; a held-out
    # accuracy on 169 rows has binomial standard error sqrt(0.9 * 0.1 / 169) = 0.023, so 0.8 is
    # more than 4 standard errors below even before averaging over training sets
    for name, row in table.items():
        assert row["accuracy"][-1] > 0.8, name


def _small_training_set(num_per_class=10):
    data, _ = lf.datasets.breast_cancer()
    rows = np.concatenate([np.flatnonzero(data["y"] == c)[:num_per_class] for c in (0, 1)])
    return data["X"][rows], data["y"][rows], data["X"][-50:]


@pytest.mark.parametrize("name", ["LDA", "QDA"])
def test_gaussian_learners_log_proba_equals_the_model_predict_proba(name):
    X, y, X_test = _small_training_set()
    theta = gaussian_classifier.mle(X, y, shared_covariance=name == "LDA")
    expected = np.asarray(gaussian_classifier.predict_proba(theta, X_test))
    np.testing.assert_allclose(np.exp(lf.LEARNERS[name](X, y, X_test)), expected, rtol=1e-6, atol=1e-300)


def test_logistic_learner_log_proba_equals_the_model_predict_proba():
    X, y, X_test = _small_training_set()
    theta = fit("logistic_regression", {"X": X, "y": y}, "map").params
    expected = np.asarray(logistic_regression.predict_proba(theta, X_test))
    np.testing.assert_allclose(np.exp(lf.LEARNERS["logistic regression"](X, y, X_test))[:, 1], expected, rtol=1e-6)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"train_sizes": (6, 40)}, r"give every class at least D \+ 1 = 4 points; got 6, with points per class \[2, 4\]"),
        ({"train_sizes": (40, 401)}, r"train_sizes must lie in \[1, 400\]"),
        ({"num_repeats": 0}, "num_repeats must be an integer >= 1; got 0"),
    ],
)
def test_learning_curves_reject_bad_settings(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        lf.generative_vs_discriminative(str(tmp_path / "x.png"), **options)
    assert not (tmp_path / "x.png").exists()


def test_script_runs_with_tiny_settings(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "lecture_figures.py"), "--out-dir", str(tmp_path), "--num-samples", "500",
         "--num-repeats", "1", "--train-sizes", "20"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert done.returncode == 0, done.stderr
    for name in ("fig_1_1_example_1_2.png", "fig_1_2_example_1_3.png", "generative_vs_discriminative.png"):
        _assert_image(tmp_path / name)
    assert "logistic regression" in done.stdout

"""Real data sets shipped inside the dependencies, prepared for the lecture models.

Each loader returns ``(data, description)`` with ``data`` ready for ``inference.fit``. Features
(and regression targets) are standardised, so that the models' stated default priors are
weakly informative on them; iris for clustering is also dequantised (:func:`iris_unlabelled`);
the description says so.
"""

import numpy as np
from sklearn import datasets as sk


def _standardise(values):
    values = np.asarray(values, dtype=np.float64)
    return (values - values.mean(0)) / values.std(0)


def diabetes():
    """Regression: disease progression on the 10 baseline variables (442 patients)."""
    raw = sk.load_diabetes()
    return {"X": _standardise(raw.data), "y": _standardise(raw.target)}, "diabetes (scikit-learn), 10 features and target standardised"


def breast_cancer(features=("mean radius", "mean texture", "mean smoothness")):
    """Binary classification: malignant (0) vs benign (1) tumours on a few standardised features."""
    raw = sk.load_breast_cancer()
    columns = [list(raw.feature_names).index(name) for name in features]
    return {"X": _standardise(raw.data[:, columns]), "y": raw.target.astype(np.int64)}, (
        f"breast cancer (scikit-learn), features {', '.join(features)} standardised"
    )


def iris():
    """Three species on four standardised measurements (150 flowers)."""
    raw = sk.load_iris()
    return {"X": _standardise(raw.data), "y": raw.target.astype(np.int64)}, "iris (scikit-learn), 4 features standardised"


def wine():
    """Three cultivars on 13 standardised chemical measurements (178 wines)."""
    raw = sk.load_wine()
    return {"X": _standardise(raw.data), "y": raw.target.astype(np.int64)}, "wine (scikit-learn), 13 features standardised"


# iris is measured to the millimetre: its 150 flowers take only 22 to 43 distinct values per
# measurement (petal width 0.2 cm 29 times), and one flower is listed twice
IRIS_RESOLUTION = 0.1  # cm


def dequantise(values, resolution, seed=0):
    """``values + u`` with ``u ~ U(-resolution / 2, resolution / 2)`` drawn from ``seed``: data
    rounded to ``resolution`` made fit for a continuous density, which then finds no ties to
    collapse onto (uniform dequantisation, Theis, van den Oord & Bethge, 2016)."""
    values = np.asarray(values, dtype=np.float64)
    return values + np.random.default_rng(seed).uniform(-resolution / 2, resolution / 2, values.shape)


def iris_unlabelled():
    """Iris without its labels, for clustering; dequantised (:func:`dequantise`), then standardised.

    The mixture's likelihood is unbounded on any data (a component on one point, Example 1.6), and
    ties make the collapse far stronger: a component on m tied values of one coordinate raises the
    likelihood as sigma^-m, which the LogNormal(0, 2^2) prior on sigma does not tame (the posterior
    in t = log sigma goes as exp(-m t - t^2 / 8), largest at t = -4 m: a narrow spike, for m = 4
    at sigma near 1e-7). Measured on 2026-12-01 (2 chains x (500 + 500) draws): NUTS with K = 4
    put a component of about four flowers on the four sepal lengths of 7.7 cm, with that
    coordinate's sigma near 0, and both chains took about 1000 leapfrog steps per draw, the
    maximum tree depth (35 s). On the dequantised data the empty fourth component is sampled in
    15 steps per draw (4 s, compilation included).

    The noise is drawn from a fixed seed, not the script's ``--seed``, so every run fits the same
    data (as far as NumPy keeps its ``Generator.uniform`` stream, which NEP 19 does not promise
    across versions). The labelled ``iris`` of the classifier is left as measured: a class's
    covariance is fitted to all its 50 flowers, and no coordinate takes one value in all of them.
    """
    raw = sk.load_iris()
    X = _standardise(dequantise(raw.data, IRIS_RESOLUTION))
    return {"X": X}, (f"iris (scikit-learn), labels removed, dequantised (U(-{IRIS_RESOLUTION / 2:g}, "
                      f"{IRIS_RESOLUTION / 2:g}) cm noise), 4 features standardised")


def tumour_area():
    """A skewed positive variable: the mean area of breast-cancer nuclei, standardised."""
    raw = sk.load_breast_cancer()
    area = raw.data[:, list(raw.feature_names).index("mean area")]
    return {"X": _standardise(area)[:, None]}, "breast cancer (scikit-learn), mean area standardised"


DATASETS = {
    "diabetes": diabetes,
    "breast_cancer": breast_cancer,
    "iris": iris,
    "wine": wine,
    "iris_unlabelled": iris_unlabelled,
    "tumour_area": tumour_area,
}

"""Real data sets shipped inside the dependencies, prepared for the lecture models.

Each loader returns ``(data, description)`` with ``data`` ready for ``inference.fit``. Features
(and regression targets) are standardised, so that the models' stated default priors are
weakly informative on them; iris for clustering is also dequantised (:func:`iris_unlabelled`);
the description says so.

The data sets are scikit-learn's, read from the files it ships (:func:`shipped_csv`,
:func:`shipped_table`) to the same values as its ``load_*`` functions give
(``tests/scripts/test_scripts.py`` checks the equality), but without importing scikit-learn:
its import, with the SciPy ``stats`` it brings, took 0.6 s of every script's start on a 2-core
machine (2026-12-04), in processes that need neither.
"""

import csv
import gzip
import importlib.util
from pathlib import Path

import numpy as np

# the columns of breast_cancer.csv: each measurement's mean, standard error and worst value,
# as scikit-learn's load_breast_cancer names them
BREAST_CANCER_MEASUREMENTS = ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
                              "concave points", "symmetry", "fractal dimension")
BREAST_CANCER_FEATURES = (*(f"mean {m}" for m in BREAST_CANCER_MEASUREMENTS),
                          *(f"{m} error" for m in BREAST_CANCER_MEASUREMENTS),
                          *(f"worst {m}" for m in BREAST_CANCER_MEASUREMENTS))


def _shipped_file(name):
    """The path of scikit-learn's data file ``name``, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ModuleNotFoundError("scikit-learn is not installed: the shipped data sets are its files")
    return Path(spec.submodule_search_locations[0], "datasets", "data", name)


def shipped_csv(name):
    """``(data, target)`` of one of scikit-learn's classification files (``iris.csv``,
    ``wine_data.csv``, ``breast_cancer.csv``): a header ``num_rows, num_features, class
    names...``, then one row per sample, its label last."""
    with open(_shipped_file(name), encoding="utf-8") as file:
        rows = csv.reader(file)
        num_rows, num_features = (int(field) for field in next(rows)[:2])
        fields = list(rows)
    for line, row in enumerate(fields, start=2):
        if len(row) != num_features + 1:
            raise ValueError(f"{name}, line {line}: expected {num_features + 1} fields; got {len(row)}")
    if len(fields) != num_rows:
        raise ValueError(f"{name}: its header promises {num_rows} rows; got {len(fields)}")
    table = np.array(fields, dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64)


def shipped_table(name):
    """One of scikit-learn's gzipped, space-separated tables (``diabetes_data_raw.csv.gz``,
    ``diabetes_target.csv.gz``) as float64."""
    with gzip.open(_shipped_file(name), "rt") as file:
        return np.loadtxt(file)


def _standardise(values):
    values = np.asarray(values, dtype=np.float64)
    return (values - values.mean(0)) / values.std(0)


def diabetes():
    """Regression: disease progression on the 10 baseline variables (442 patients).

    Standardised from the raw table (scikit-learn's ``load_diabetes(scaled=False)``); its scaled
    features, standardised, agree to 6e-15."""
    X, y = shipped_table("diabetes_data_raw.csv.gz"), shipped_table("diabetes_target.csv.gz")
    return {"X": _standardise(X), "y": _standardise(y)}, "diabetes (scikit-learn), 10 features and target standardised"


def breast_cancer(features=("mean radius", "mean texture", "mean smoothness")):
    """Binary classification: malignant (0) vs benign (1) tumours on a few standardised features."""
    X, y = shipped_csv("breast_cancer.csv")
    columns = [BREAST_CANCER_FEATURES.index(name) for name in features]
    return {"X": _standardise(X[:, columns]), "y": y}, (
        f"breast cancer (scikit-learn), features {', '.join(features)} standardised"
    )


def iris():
    """Three species on four standardised measurements (150 flowers)."""
    X, y = shipped_csv("iris.csv")
    return {"X": _standardise(X), "y": y}, "iris (scikit-learn), 4 features standardised"


def wine():
    """Three cultivars on 13 standardised chemical measurements (178 wines)."""
    X, y = shipped_csv("wine_data.csv")
    return {"X": _standardise(X), "y": y}, "wine (scikit-learn), 13 features standardised"


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
    X = _standardise(dequantise(shipped_csv("iris.csv")[0], IRIS_RESOLUTION))
    return {"X": X}, (f"iris (scikit-learn), labels removed, dequantised (U(-{IRIS_RESOLUTION / 2:g}, "
                      f"{IRIS_RESOLUTION / 2:g}) cm noise), 4 features standardised")


def tumour_area():
    """A skewed positive variable: the mean area of breast-cancer nuclei, standardised."""
    area = shipped_csv("breast_cancer.csv")[0][:, BREAST_CANCER_FEATURES.index("mean area")]
    return {"X": _standardise(area)[:, None]}, "breast cancer (scikit-learn), mean area standardised"


DATASETS = {
    "diabetes": diabetes,
    "breast_cancer": breast_cancer,
    "iris": iris,
    "wine": wine,
    "iris_unlabelled": iris_unlabelled,
    "tumour_area": tumour_area,
}

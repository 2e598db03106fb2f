"""Real data sets shipped inside the dependencies, prepared for the lecture models.

Each loader returns ``(data, description)`` with ``data`` ready for ``inference.fit``. Features
(and regression targets) are standardised, so that the models' stated default priors are
weakly informative on them; the description says so.
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


def iris_unlabelled():
    """Iris without its labels, for clustering."""
    data, description = iris()
    return {"X": data["X"]}, description + ", labels removed"


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

"""A fit owns its data: ``Fit.data`` never shares memory with the caller's arrays, a fit never
writes to them, and a later change to them never reaches the fit (nor its InferenceData).
Exact: the values are compared bit for bit."""

import numpy as np
import pytest

from inference import fit

RNG = np.random.default_rng(0)
X2 = RNG.normal(size=(40, 2))
LABELS = (X2[:, 0] + RNG.normal(size=40) > 0).astype(np.int64)
TARGETS = X2 @ np.array([1.0, -2.0]) + 0.5 + RNG.normal(size=40)

CASES = [
    ("linear_regression", {"X": X2, "y": TARGETS}, "ml", {}),  # the closed form, evaluated
    ("linear_regression", {"X": X2[:, 0], "y": TARGETS}, "map", {}),  # a 1-D X: a view of it
    ("logistic_regression", {"X": X2, "y": LABELS}, "ml", {}),
    ("logistic_regression", {"X": X2.astype(np.float32), "y": LABELS.astype(np.float64)}, "ml", {}),
    ("logistic_regression", {"X": X2, "y": LABELS}, "ml", {"optimizer": "adam", "batch_size": 8, "max_iter": 20}),
    ("logistic_regression", {"X": X2, "y": LABELS}, "laplace", {"num_samples": 10}),
    ("logistic_regression", {"X": X2, "y": LABELS}, "vi", {"num_steps": 10, "num_samples": 10}),
    ("logistic_regression", {"X": X2, "y": LABELS}, "nuts", {"num_warmup": 10, "num_samples": 10}),
    ("gaussian_classifier", {"X": X2, "y": np.where(np.arange(40) % 5 == 0, -1, LABELS)}, "map", {}),
    ("gaussian_mixture", {"X": X2}, "em", {"max_iter": 3}),
    ("pushforward", {"X": np.abs(X2[:, 0])}, "ml", {}),
]


@pytest.mark.filterwarnings("ignore::inference.ConvergenceWarning")  # the short runs
@pytest.mark.parametrize(("model", "data", "method", "options"), CASES,
                         ids=[f"{m}-{meth}-{i}" for i, (m, _, meth, _) in enumerate(CASES)])
def test_a_fit_owns_its_data(model, data, method, options):
    data = {name: value.copy() for name, value in data.items()}  # the caller's arrays, this test's own
    before = {name: value.copy() for name, value in data.items()}
    result = fit(model, data, method, **options)
    for name, value in data.items():
        np.testing.assert_array_equal(value, before[name], err_msg=f"the fit wrote to the caller's {name}")
        assert not any(np.shares_memory(kept, value) for kept in result.data.values()), name
    kept = {name: value.copy() for name, value in result.data.items()}
    for value in data.values():
        value[...] = 0 if value.dtype.kind in "iu" else 7.0
    for name, value in result.data.items():
        np.testing.assert_array_equal(value, kept[name], err_msg=f"a change to the caller's arrays reached Fit.data[{name!r}]")


@pytest.mark.parametrize("method", ["ml", "map"])
def test_ml_and_map_keep_their_padded_rows_not_a_second_copy(method):
    # the rows padded for the program (to a multiple of 512) are the fit's own buffer: its data
    # are a view of their first rows, and a change to the caller's arrays still does not reach it
    X = RNG.normal(size=(600, 2))
    y = (X[:, 0] + RNG.normal(size=600) > 0).astype(np.int64)
    original = X.copy()
    result = fit("logistic_regression", {"X": X, "y": y}, method)
    for name, value in result.data.items():
        assert value.base is not None and value.base.nbytes >= value.nbytes // 600 * 1024, name  # 1024 rows
    X[...] = 7.0
    np.testing.assert_array_equal(result.data["X"], original)


def test_small_data_keep_a_copy_of_their_size_not_the_padded_block():
    # 40 rows padded to 512: the fit keeps 40 rows of its own, not a view of the 512
    result = fit("logistic_regression", {"X": X2, "y": LABELS}, "ml")
    for name, value in result.data.items():
        assert value.base is None and value.shape[0] == 40, name


@pytest.mark.parametrize("method", ["ml", "laplace"])
def test_memory_mapped_data_keep_X_unread_and_copy_y(tmp_path, method):
    # a memory-mapped X is data beyond memory and stays on disk; y (N values) is copied, so that
    # a later write to its file does not reach the fit
    np.save(tmp_path / "X.npy", RNG.normal(size=(600, 2)))
    np.save(tmp_path / "y.npy", (RNG.normal(size=600) > 0).astype(np.int64))
    X, y = np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r+")
    labels = np.array(y)
    result = fit("logistic_regression", {"X": X, "y": y}, method, **({"num_samples": 10} if method == "laplace" else {}))
    assert result.data["X"] is X
    assert type(result.data["y"]) is np.ndarray and not np.shares_memory(result.data["y"], y)
    y[:] = 1 - labels
    np.testing.assert_array_equal(result.data["y"], labels)


@pytest.mark.filterwarnings("ignore::inference.ConvergenceWarning")
def test_a_streamed_fit_keeps_the_file_unread(tmp_path):
    # data on disk stay there: Fit.data holds the map itself, not a copy read into memory
    path = tmp_path / "X.npy"
    np.save(path, X2)
    X = np.load(path, mmap_mode="r")
    result = fit("gaussian_mixture", {"X": X}, "em", max_iter=3)
    assert result.data["X"] is X

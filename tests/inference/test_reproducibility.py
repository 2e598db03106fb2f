"""The same seed gives identical results on the same machine; the InferenceData says how it was made."""

import warnings

import jax
import numpy as np
import pytest

from inference import ConvergenceWarning, fit
from models import gaussian_mixture, logistic_regression

DATA = {
    "mixture": {"X": np.asarray(gaussian_mixture.simulate(jax.random.PRNGKey(0), 120, 2).data["X"])},
    "logistic": dict(logistic_regression.simulate(jax.random.PRNGKey(1), 100, 2).data),
}


@pytest.mark.parametrize("model, method, options", [
    (logistic_regression, "ml", {}), (logistic_regression, "map", {}),
    (gaussian_mixture, "em", {"init_method": "random", "num_restarts": 2}),
    (logistic_regression, "nuts", {"num_warmup": 50, "num_samples": 50}),
    (logistic_regression, "vi", {"num_steps": 200, "num_samples": 50}),
    (logistic_regression, "laplace", {"num_samples": 50}),
])
def test_the_same_seed_gives_identical_results(model, method, options):
    """Bit for bit: every random choice (starts, restarts, draws) comes from the seed, and XLA on
    one CPU device is deterministic."""
    def run(seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            data = DATA["mixture" if model is gaussian_mixture else "logistic"]
            return fit(model, data, method, seed=seed, **options)

    first, again = run(3), run(3)
    for name, value in first.params.items():
        np.testing.assert_array_equal(again.params[name], value, err_msg=name)
    if first.samples is not None:
        for name, value in first.samples.items():
            np.testing.assert_array_equal(again.samples[name], value, err_msg=name)
    attrs = first.idata.posterior.attrs
    assert attrs["seed"] == 3 and attrs["method"] == method and attrs["x64"] == 1
    assert "numpyro" in attrs["versions"] and "jax" in attrs["versions"]
    assert attrs["method_options"] == repr({k: v for k, v in first.method_options.items() if k != "init"})
    if method in ("nuts", "vi", "laplace"):  # a different seed gives different draws
        assert not np.array_equal(run(4).samples["a"], first.samples["a"])

"""The same seed gives identical results on the same machine; the InferenceData says how it was made."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import jax
import numpy as np
import pytest

from inference import ConvergenceWarning, fit
from inference._setup import fit_keys
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


@pytest.mark.parametrize("num", [2, 3])
def test_the_keys_of_a_seed_are_jax_randoms_own(num):
    """The methods draw their keys from one compiled program (``fit_keys``): the same bits as
    ``random.split(random.PRNGKey(seed), num)`` op by op, at the ends of the seeds ``fit``
    takes and where the seed outgrows 32 bits (PRNGKey splits it into two 32-bit words)."""
    for seed in (0, 1, 2**31 - 1, 2**31, 2**32 + 5, 2**63 - 1):
        keys = fit_keys(seed, num)
        assert isinstance(keys, tuple) and len(keys) == num
        expected = jax.random.split(jax.random.PRNGKey(seed), num)
        for i, key in enumerate(keys):
            np.testing.assert_array_equal(key, expected[i], err_msg=f"seed {seed}, key {i}")



IN_A_FRESH_PROCESS = textwrap.dedent("""
    import collections, json, sys, warnings
    import jax
    import numpy as np
    import numpyro
    numpyro.enable_x64()
    jax.config.update("jax_compilation_cache_dir", sys.argv[1])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    from inference import ConvergenceWarning, fit
    from models import gaussian_mixture, logistic_regression

    events = collections.Counter()
    jax.monitoring.register_event_listener(lambda event, **kwargs: events.update([event]))
    warnings.simplefilter("ignore", ConvergenceWarning)
    logistic = dict(logistic_regression.simulate(jax.random.PRNGKey(1), 100, 2).data)
    mixture = {"X": np.asarray(gaussian_mixture.simulate(jax.random.PRNGKey(0), 120, 2).data["X"])}
    fits = [fit(logistic_regression, logistic, "map"), fit(logistic_regression, logistic, "vi", num_steps=100),
            fit(gaussian_mixture, mixture, "ml")]
    print(json.dumps({
        "bits": [np.concatenate([np.ravel(v) for _, v in sorted(f.params.items())]).tobytes().hex() for f in fits],
        "steps": [f.num_steps for f in fits],
        "compiled": events["/jax/compilation_cache/compile_requests_use_cache"],
        "from_disk": events["/jax/compilation_cache/cache_hits"],
    }))
""")


@pytest.mark.slow
def test_a_fit_is_the_same_program_and_the_same_bits_in_every_process(tmp_path):
    """NumPyro's ELBOs add the sites' terms in the order of a set of names, which changes with
    Python's hash seed: MAP differed in its last bits from process to process, and JAX's
    persistent compilation cache never found another process's programs. The objectives now
    add in the trace's order (:mod:`inference._density`): two processes with different hash
    seeds give the same bits (MAP, VI, and ML with an enumerated latent), and the second loads
    every program it needs from the first one's cache."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def run(hash_seed):
        env = {**os.environ, "PYTHONHASHSEED": str(hash_seed), "JAX_PLATFORMS": "cpu"}
        done = subprocess.run([sys.executable, "-c", IN_A_FRESH_PROCESS, str(tmp_path)], env=env, cwd=root,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first, second = run(1), run(2)
    assert (first["bits"], first["steps"]) == (second["bits"], second["steps"])
    # (the first process finds some of its own small programs on disk: the same operation jitted twice)
    assert first["from_disk"] < first["compiled"]
    assert second["from_disk"] == second["compiled"] == first["compiled"]

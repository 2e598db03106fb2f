"""Data-parallel EM across JAX devices: rows sharded, the statistics summed by XLA.

The host CPU is split into four devices in a subprocess (``XLA_FLAGS`` must be set before JAX
starts, which this test process has already done with one device)."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from inference import ConvergenceWarning, fit
from models import gaussian_mixture as gm

SHARDED_RUN = textwrap.dedent("""
    import json, warnings
    import jax
    import numpy as np
    import numpyro
    numpyro.enable_x64()
    from inference import ConvergenceWarning, fit
    from models import gaussian_mixture as gm

    assert len(jax.devices()) == 4, jax.devices()
    warnings.simplefilter("ignore", ConvergenceWarning)
    X = np.asarray(gm.simulate(jax.random.PRNGKey(3), 1001, 3, num_components=3).data["X"])
    out = {}
    for covariance_type in gm.COVARIANCE_TYPES:
        options = dict(num_components=3, covariance_type=covariance_type, tol=0.0, max_iter=12, chunk_size=50)
        one = fit(gm, {"X": X}, "em", devices=1, **options)
        four = fit(gm, {"X": X}, "em", devices=4, **options)
        out[covariance_type] = {
            "trace": float(np.max(np.abs(four.losses / one.losses - 1))),
            "params": max(float(np.max(np.abs(four.params[k] - one.params[k]) / (1 + np.abs(one.params[k]))))
                          for k in ("pi", "mu", "cov")),
            "devices": four.method_options["devices"],
        }
    print(json.dumps(out))
""")


def test_em_sharded_over_four_devices_equals_one_device():
    """1001 rows in chunks of 50 give 21 chunks, padded to 24 so that each of the four devices
    sums six; the padding carries weight 0. Only the order of the additions changes, so the trace
    and the parameters agree to 1e-12 relative (not bit for bit)."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", SHARDED_RUN], env=env, cwd=root, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for covariance_type, diff in result.items():
        assert diff["trace"] < 1e-12, (covariance_type, diff)
        assert diff["params"] < 1e-12, (covariance_type, diff)
        assert diff["devices"] == 4


def test_devices_errors_name_the_option():
    X = np.random.default_rng(0).normal(size=(40, 2))
    with pytest.raises(ValueError, match=r"devices must be at most the 1 available JAX device\(s\); got devices = 3"):
        fit(gm, {"X": X}, "em", devices=3)
    with pytest.raises(ValueError, match=r"devices applies to the compiled engine only .* engine='generic'"):
        fit(gm, {"X": X}, "em", devices=1, engine="generic")
    with pytest.raises(ValueError, match=r"devices must be >= 1"):
        fit(gm, {"X": X}, "em", devices=0)


def test_one_device_mesh_is_the_plain_compiled_run():
    X = np.random.default_rng(1).normal(size=(200, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = fit(gm, {"X": X}, "em", max_iter=5, tol=0.0)
        one = fit(gm, {"X": X}, "em", devices=1, max_iter=5, tol=0.0)
    np.testing.assert_array_equal(plain.losses, one.losses)

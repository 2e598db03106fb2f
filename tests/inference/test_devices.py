"""Data-parallel fits across JAX devices: rows sharded, the statistics and gradients summed by XLA;
NUTS chains one per device.

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


def _in_four_devices(code):
    """Run ``code`` in a Python whose host CPU is split into four JAX devices."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_em_sharded_over_four_devices_equals_one_device():
    """1001 rows in chunks of 50 give 21 chunks, padded to 24 so that each of the four devices
    sums six; the padding carries weight 0. Only the order of the additions changes, so the trace
    and the parameters agree to 1e-12 relative (not bit for bit)."""
    done = _in_four_devices(SHARDED_RUN)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for covariance_type, diff in result.items():
        assert diff["trace"] < 1e-12, (covariance_type, diff)
        assert diff["params"] < 1e-12, (covariance_type, diff)
        assert diff["devices"] == 4


POINT_RUN = textwrap.dedent("""
    import json, warnings
    import jax
    import numpy as np
    import numpyro
    numpyro.enable_x64()
    import models
    from inference import ConvergenceWarning, fit

    assert len(jax.devices()) == 4, jax.devices()
    warnings.simplefilter("ignore", ConvergenceWarning)
    key = jax.random.PRNGKey(5)
    cases = {
        "linear_regression": (models.linear_regression.simulate(key, 1001, 3).data, {}),
        "logistic_regression": (models.logistic_regression.simulate(key, 1001, 3).data, {}),
        "gaussian_classifier": (models.gaussian_classifier.simulate(key, 1001, 2).data, {}),
        "gaussian_mixture": (models.gaussian_mixture.simulate(key, 1001, 2, num_components=2).data,
                             {"num_components": 2}),
        "pushforward": (models.pushforward.simulate(key, 1001).data, {}),
    }
    # ML searches (closed_form=False): a closed form is computed on the host, equal by construction
    methods = {"ml": {"gtol": 1e-13, "closed_form": False}, "map": {"gtol": 1e-13},
               "vi": {"num_steps": 200, "num_samples": 20}}
    out = {}
    for name, (data, model_options) in cases.items():
        data = {k: np.asarray(v) for k, v in data.items()}
        for method, options in methods.items():
            one = fit(name, data, method, devices=1, **model_options, **options)
            four = fit(name, data, method, devices=4, **model_options, **options)
            out[f"{name}-{method}"] = {
                "params": max(float(np.max(np.abs(four.params[k] - one.params[k]) / (1 + np.abs(one.params[k]))))
                              for k in one.params),
                "loss": float(abs(four.losses[-1] / one.losses[-1] - 1)),
                "devices": four.method_options["devices"],
            }
    # NUTS: two chains on two devices (a shard_map), the classifier's corr_chol included
    data = {k: np.asarray(v) for k, v in cases["gaussian_classifier"][0].items()}
    nuts = fit("gaussian_classifier", data, "nuts", num_chains=2, chain_method="parallel", num_warmup=50,
               num_samples=50)
    events = []
    jax.monitoring.register_event_duration_secs_listener(lambda event, secs, **kw: events.append(event))
    again = fit("gaussian_classifier", data, "nuts", num_chains=2, chain_method="parallel", num_warmup=50,
                num_samples=50, seed=1)
    compiles = [event for event in events if event.startswith("/jax/core/compile")]
    sequential = fit("gaussian_classifier", data, "nuts", num_chains=2, num_warmup=50, num_samples=50)
    a, b = nuts.samples["mu"].reshape(-1, 4), sequential.samples["mu"].reshape(-1, 4)
    out["nuts"] = {"shape": list(nuts.samples["mu"].shape), "finite": bool(np.isfinite(a).all()),
                   "z": float(np.max(np.abs(a.mean(0) - b.mean(0)) / (b.std(0) / np.sqrt(len(b))))),
                   "chains differ": bool(np.all(nuts.samples["mu"][0] != nuts.samples["mu"][1])),
                   "seeds differ": bool(np.all(again.samples["mu"] != nuts.samples["mu"])),
                   "second fit compiles": compiles}
    print(json.dumps(out))
""")


@pytest.mark.slow  # about 150 s: 30 fits and 2 NUTS runs, each compiled for one and for four devices
def test_ml_map_and_vi_sharded_over_four_devices_equal_one_device():
    """1001 rows over four devices: padded by rows that every observed site masks out (exactly 0,
    even with the mixture's z summed out): for ML and MAP to 2048 (512 a device; 1024 on one
    device), for VI to 1004. Only the order of the additions
    changes. ML and MAP run to gtol = 1e-13, the floor of float64: at the default 1e-9 both runs
    stop inside the tolerance but at points up to 6e-10 apart, which says nothing about the
    sharding. VI's 200 steps draw the same noise on both, so it agrees to round-off as well."""
    done = _in_four_devices(POINT_RUN)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    nuts = result.pop("nuts")
    for case, diff in result.items():
        assert diff["params"] < 1e-12 and diff["loss"] < 1e-12, (case, diff)
        assert diff["devices"] == 4
    # parallel chains (they failed on corr_chol under pmap before the start values were jnp
    # arrays) follow the same keys as the sequential ones, but a NUTS trajectory may branch on
    # round-off, so only the posterior means are compared, within 6 Monte Carlo standard errors.
    # They are one compiled program: a second fit (another seed) compiles nothing
    assert nuts["shape"] == [2, 50, 2, 2] and nuts["finite"]
    assert nuts["z"] < 6, nuts
    assert nuts["chains differ"] and nuts["seeds differ"]
    assert nuts["second fit compiles"] == [], nuts


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

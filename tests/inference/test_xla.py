"""``compile_faster``: the flag is added once, a user's own value is kept, a call after JAX's
backend has started says that the flag changes nothing; the quick methods' programs compile at -O0."""

import os

import jax.numpy as jnp
import pytest
from jax._src import xla_bridge

from inference import xla


@pytest.fixture
def before_backend(monkeypatch):
    """As if JAX's backend had not started (in the test process it has)."""
    monkeypatch.setattr(xla_bridge, "backends_are_initialized", lambda: False)


@pytest.mark.parametrize(
    "given, expected",
    [
        (None, "--xla_cpu_use_fusion_emitters=false"),
        ("--xla_force_host_platform_device_count=4",
         "--xla_force_host_platform_device_count=4 --xla_cpu_use_fusion_emitters=false"),
        ("--xla_cpu_use_fusion_emitters=true", "--xla_cpu_use_fusion_emitters=true"),  # the user's choice stands
        ("--xla_cpu_use_fusion_emitters", "--xla_cpu_use_fusion_emitters"),  # a bare boolean flag is true
    ],
)
def test_the_flag_is_added_once_and_a_given_value_is_kept(before_backend, monkeypatch, given, expected):
    if given is None:
        monkeypatch.delenv("XLA_FLAGS", raising=False)
    else:
        monkeypatch.setenv("XLA_FLAGS", given)
    xla.compile_faster()
    xla.compile_faster()
    assert os.environ["XLA_FLAGS"] == expected


def test_a_call_after_the_backend_started_warns_and_sets_only_the_quick_methods(monkeypatch):
    monkeypatch.setattr(xla, "_quick_methods", ())
    jnp.zeros(1).block_until_ready()  # the backend has started
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    with pytest.warns(RuntimeWarning, match="before the first computation"):
        xla.compile_faster()
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=1"
    assert xla.compiler_options("ml") == {"xla_backend_optimization_level": 0}


def test_the_quick_methods_programs_compile_at_o0_and_the_others_at_xlas_default(before_backend, monkeypatch):
    monkeypatch.setattr(xla, "_quick_methods", ())
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert xla.compiler_options("ml") == {}  # before compile_faster: XLA's defaults
    xla.compile_faster()
    for method in ("ml", "map", "laplace"):
        assert xla.compiler_options(method) == {"xla_backend_optimization_level": 0}
    for method in ("vi", "nuts", "em", "pointwise_log_likelihood"):  # VI's thousands of steps run for seconds
        assert xla.compiler_options(method) == {}
    xla.compile_faster(quick_methods=("ml", "vi"))  # VI added (as the suite does: its VI runs are short), MAP left out
    assert xla.compiler_options("vi") == xla.compiler_options("ml") == {"xla_backend_optimization_level": 0}
    assert xla.compiler_options("map") == {}
    xla.compile_faster(quick_methods=())  # the calibration script's choice: it refits one program hundreds of times
    assert xla.compiler_options("ml") == {}
    with pytest.raises(TypeError, match="quick_methods must be a tuple or list of method names; got str 'ml'"):
        xla.compile_faster(quick_methods="ml")
    with pytest.raises(ValueError, match=r"quick_methods must name methods among \('ml', 'map', 'laplace', 'vi'\) "
                                         r"\(NUTS and EM keep -O3\); got \['vl', 'nuts'\]"):
        xla.compile_faster(quick_methods=("ml", "vl", "nuts"))
    assert xla.compiler_options("ml") == {}  # a refused call changes nothing

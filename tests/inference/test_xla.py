"""``compile_faster``: the flags are added once, a user's own value is kept, a call after JAX's
backend has started says that the flags change nothing; the process compiles at -O0, the fits
that run long at -O3 by their own option, and the programs keep their options' level."""

import os

import jax
import jax.numpy as jnp
import numpy as np
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
        (None, "--xla_cpu_use_fusion_emitters=false --xla_backend_optimization_level=0"),
        ("--xla_force_host_platform_device_count=4",
         "--xla_force_host_platform_device_count=4 --xla_cpu_use_fusion_emitters=false "
         "--xla_backend_optimization_level=0"),
        # the user's choice stands
        ("--xla_cpu_use_fusion_emitters=true", "--xla_cpu_use_fusion_emitters=true --xla_backend_optimization_level=0"),
        ("--xla_backend_optimization_level=2", "--xla_backend_optimization_level=2 --xla_cpu_use_fusion_emitters=false"),
        # a bare boolean flag is true
        ("--xla_cpu_use_fusion_emitters", "--xla_cpu_use_fusion_emitters --xla_backend_optimization_level=0"),
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


def test_the_quick_methods_programs_compile_at_o0_and_the_other_fits_at_o3(before_backend, monkeypatch):
    monkeypatch.setattr(xla, "_quick_methods", ())
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    # before compile_faster: XLA's default, stated for the fits, none for the rest
    assert xla.compiler_options("ml") == xla.OPTIMISED == {"xla_backend_optimization_level": 3}
    assert xla.compiler_options("pointwise_log_likelihood") == {}
    xla.compile_faster()
    for method in ("ml", "map", "laplace", "em"):
        assert xla.compiler_options(method) == {"xla_backend_optimization_level": 0}
    for method in ("vi", "nuts"):  # VI's thousands of steps run for seconds
        assert xla.compiler_options(method) == xla.OPTIMISED
    assert xla.compiler_options("pointwise_log_likelihood") == {}  # the process's default: -O0 after compile_faster
    xla.compile_faster(quick_methods=("ml", "vi"))  # VI added (as the suite does: its VI runs are short), MAP left out
    assert xla.compiler_options("vi") == xla.compiler_options("ml") == {"xla_backend_optimization_level": 0}
    assert xla.compiler_options("map") == xla.OPTIMISED


def test_nuts_cannot_be_made_quick():
    with pytest.raises(ValueError, match=r"quick_methods must name methods among .*\(NUTS keeps -O3\); got \['nuts'\]"):
        xla.compile_faster(quick_methods=("ml", "nuts"))


def test_em_s_loop_is_jitted_with_the_options_of_the_moment(monkeypatch):
    """EM's loop is a module-level function: the program that a fit takes follows
    ``compile_faster``'s quick methods as they are at the fit, one jitted object per options."""
    from inference import em

    quick = em.compiled_loop()
    assert quick is em.compiled_loop()  # the same object, so its compiled programs are reused
    monkeypatch.setattr(xla, "_quick_methods", ())
    optimised = em.compiled_loop()
    assert optimised is not quick
    from inference import ConvergenceWarning, fit

    data = {"X": np.random.default_rng(0).normal(size=(40, 2))}
    before = optimised._cache_size()
    with pytest.warns(ConvergenceWarning):  # tol = 0 stops at max_iter
        fit("gaussian_mixture", data, "em", num_components=2, chunk_size=40, max_iter=3, tol=0.0)
    assert optimised._cache_size() == before + 1


def test_a_program_s_own_level_overrides_the_process_default(tmp_path):
    # the suite runs with compile_faster's -O0 as the process's default (conftest); XLA dumps each
    # program's debug options that differ from its defaults, and LLVM's optimised IR: the program
    # with OPTIMISED is at -O3 (XLA's default, so not listed), and LLVM vectorised its loops
    assert "--xla_backend_optimization_level=0" in os.environ["XLA_FLAGS"]

    def f(x):
        return jnp.sum(jnp.sin(x) * jnp.cos(x[::-1]))

    x = jnp.linspace(0.0, 1.0, 4096)
    values = {}
    for name, options in (("default", {}), ("optimised", xla.OPTIMISED)):
        dump = tmp_path / name
        values[name] = jax.jit(f).lower(x).compile({**options, "xla_dump_to": str(dump)})(x)
        listed = "".join(path.read_text() for path in dump.glob("*debug_options"))
        vector_ops = sum(path.read_text().count(" x double>") for path in dump.glob("*ir-with-opt.ll"))
        if name == "default":
            assert "xla_backend_optimization_level: 0" in listed and vector_ops == 0
        else:
            assert "xla_backend_optimization_level" not in listed and vector_ops > 0
    # the same HLO: only LLVM's passes differ, which may reorder the sum's terms
    np.testing.assert_allclose(values["optimised"], values["default"], rtol=1e-13)

"""A fit runs with CPython's cyclic collector paused (``inference._collection``), and leaves the
collector as it found it: running, or disabled by the caller."""

import gc
import threading

import jax
import pytest

import models
from inference import METHODS, fit
from inference._collection import paused_collection


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_the_collector_is_paused_inside_and_running_after(collector_on):
    with paused_collection():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_runs_again_after_an_error(collector_on):
    with pytest.raises(RuntimeError, match="inside"):
        with paused_collection():
            raise RuntimeError("inside")
    assert gc.isenabled()


def test_nested_pauses_end_with_the_outermost(collector_on):
    with paused_collection():
        with paused_collection():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled(collector_on):
    gc.disable()
    with paused_collection():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads_end_with_the_last(collector_on):
    entered, release = threading.Event(), threading.Event()

    def other():
        with paused_collection():
            entered.set()
            release.wait(timeout=10)

    thread = threading.Thread(target=other)
    thread.start()
    assert entered.wait(timeout=10)
    with paused_collection():
        pass
    assert not gc.isenabled()  # the other thread's pause is still open
    release.set()
    thread.join(timeout=10)
    assert gc.isenabled()


def test_fit_runs_its_method_with_the_collector_paused(collector_on, monkeypatch):
    seen = []
    run = METHODS["ml"].run

    def recording(*args, **kwargs):
        seen.append(gc.isenabled())
        return run(*args, **kwargs)

    monkeypatch.setattr(METHODS["ml"], "run", recording)
    data = models.linear_regression.simulate(jax.random.PRNGKey(0), 50, 2).data
    fit("linear_regression", data, "ml")
    assert seen == [False]
    assert gc.isenabled()


def test_the_inference_data_is_built_with_the_collector_paused(collector_on, monkeypatch):
    from inference import arviz as bridge

    seen = []
    pointwise = bridge.pointwise_log_likelihood

    def recording(*args, **kwargs):
        seen.append(gc.isenabled())
        return pointwise(*args, **kwargs)

    monkeypatch.setattr(bridge, "pointwise_log_likelihood", recording)
    data = models.linear_regression.simulate(jax.random.PRNGKey(0), 50, 2).data
    fit("linear_regression", data, "ml").to_idata()
    assert seen == [False]
    assert gc.isenabled()

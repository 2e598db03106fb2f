"""A fit runs with CPython's cyclic collector paused (``inference._collection``), and leaves the
collector as it found it: running, or disabled by the caller."""

import gc
import threading

import jax
import pytest

import models
from inference import METHODS, fit
from inference import arviz as bridge
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


def _collector_seen_by(monkeypatch, owner, name):
    """``owner.name`` patched to record, at each call, whether the collector is enabled."""
    seen = []
    original = getattr(owner, name)

    def recording(*args, **kwargs):
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return seen


def test_fit_runs_its_method_with_the_collector_paused(collector_on, monkeypatch):
    seen = _collector_seen_by(monkeypatch, METHODS["ml"], "run")
    fit("linear_regression", models.linear_regression.simulate(jax.random.PRNGKey(0), 50, 2).data, "ml")
    assert seen == [False]
    assert gc.isenabled()


def test_the_inference_data_is_built_with_the_collector_paused(collector_on, monkeypatch):
    seen = _collector_seen_by(monkeypatch, bridge, "pointwise_log_likelihood")
    fit("linear_regression", models.linear_regression.simulate(jax.random.PRNGKey(0), 50, 2).data, "ml").to_idata()
    assert seen == [False]
    assert gc.isenabled()

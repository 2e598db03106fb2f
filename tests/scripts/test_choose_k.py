"""The mixture script's choice of K reuses the main fits at the main K instead of repeating them,
and returns its point fits (the figures take EM's at the main K)."""

import sys
import types
from pathlib import Path

import pandas as pd

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
try:
    import gaussian_mixture as script  # noqa: E402  (scripts/gaussian_mixture.py)
finally:
    sys.path.remove(str(SCRIPTS))


def test_the_scan_fits_every_k_but_the_main_one(monkeypatch):
    calls, compared = [], {}

    def fake_fit(module, data, method, *, num_components, **options):
        calls.append((method, num_components))
        return types.SimpleNamespace(idata=f"{method} K={num_components}", hessian=options.get("hessian", True),
                                     losses=[float(num_components)])

    def fake_compare(idatas, ic):
        compared.update(idatas)
        return pd.DataFrame({"elpd_loo": [-1.0 * k for k in idatas], "se": 1.0}, index=list(idatas))

    monkeypatch.setattr(script, "fit", fake_fit)
    monkeypatch.setattr(script, "information_criteria", lambda point, log_likelihood: {"aic": 1.0, "bic": 1.0, "of": point.idata,
                                                                                  "l": log_likelihood})
    monkeypatch.setattr(script.import_arviz(), "compare", fake_compare)
    main = {"em": types.SimpleNamespace(idata="main em", losses=[7.0, 5.0]), "nuts": types.SimpleNamespace(idata="main nuts")}
    args = types.SimpleNamespace(seed=0, num_warmup=10, num_samples=10, num_chains=1, progress_bar=False,
                                 num_components=2)
    table, chosen, points = script.choose_k({"X": None}, args, covariance_type="full", max_k=3, with_loo=True,
                                            fitted=main)
    assert calls == [("ml", 1), ("nuts", 1), ("em", 3), ("nuts", 3)]
    assert table.loc[2, "of"] == "main em" and compared[2] == "main nuts"
    # the log-likelihood is the point fit's last objective: -losses[-1]
    assert list(table["l"]) == [-1.0, -5.0, -3.0]
    assert list(table.index) == [1, 2, 3] and chosen["loo"] == 1
    assert points[2] is main["em"] and points[3].idata == "em K=3"
    assert not points[1].hessian  # the criteria need K = 1's estimate only


def test_the_k_fitted_elsewhere_are_taken_from_their_futures_not_refitted(monkeypatch):
    """With ``--jobs`` > 1 the other K's criteria come from other processes (futures); only the
    main K is fitted here, and its fits are reused."""
    calls = []

    def fake_fit(module, data, method, *, num_components, **options):
        calls.append((method, num_components))
        return types.SimpleNamespace(idata=f"{method} K={num_components}", losses=[0.0])

    class Done:
        def __init__(self, k):
            self.k = k

        def result(self):
            return {"K": self.k, "aic": 10.0 - self.k, "bic": float(self.k)}, f"nuts elsewhere K={self.k}"

    compared = {}
    monkeypatch.setattr(script, "fit", fake_fit)
    monkeypatch.setattr(script, "information_criteria", lambda point, log_likelihood: {"aic": 100.0, "bic": 100.0})
    monkeypatch.setattr(script.import_arviz(), "compare", lambda idatas, ic: compared.update(idatas) or pd.DataFrame(
        {"elpd_loo": [0.0] * len(idatas), "se": 1.0}, index=list(idatas)))
    args = types.SimpleNamespace(seed=0, num_warmup=10, num_samples=10, num_chains=1, progress_bar=False,
                                 num_components=2)
    table, chosen, points = script.choose_k({"X": None}, args, covariance_type="full", max_k=3, with_loo=True,
                                            elsewhere={1: Done(1), 3: Done(3)})
    assert calls == [("em", 2), ("nuts", 2)]
    assert list(table.index) == [1, 2, 3] and list(table["bic"]) == [1.0, 100.0, 3.0]
    assert chosen["aic"] == 3 and chosen["bic"] == 1
    assert compared == {1: "nuts elsewhere K=1", 2: "nuts K=2", 3: "nuts elsewhere K=3"}
    assert set(points) == {2}  # the point fits made elsewhere stay there (a fit holds its module)


def test_in_background_runs_nothing_elsewhere_once_jax_has_started():
    """Forking a process whose JAX runtime runs would copy its threads mid-state: the work is left
    to the caller (None), unless spawning is asked for; no worker, no processes."""
    import jax.numpy as jnp

    from inference.xla import runtime_started

    jnp.zeros(1).block_until_ready()
    assert runtime_started()
    with script.common.in_background(1, [print]) as pending:
        assert pending is None
    with script.common.in_background(0, [print], spawn=True) as pending:
        assert pending is None

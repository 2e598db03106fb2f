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
        return types.SimpleNamespace(idata=f"{method} K={num_components}", hessian=options.get("hessian", True))

    def fake_compare(idatas, ic):
        compared.update(idatas)
        return pd.DataFrame({"elpd_loo": [-1.0 * k for k in idatas], "se": 1.0}, index=list(idatas))

    monkeypatch.setattr(script, "fit", fake_fit)
    monkeypatch.setattr(script, "information_criteria", lambda point: {"aic": 1.0, "bic": 1.0, "of": point.idata})
    monkeypatch.setattr(script.import_arviz(), "compare", fake_compare)
    main = {"em": types.SimpleNamespace(idata="main em"), "nuts": types.SimpleNamespace(idata="main nuts")}
    args = types.SimpleNamespace(seed=0, num_warmup=10, num_samples=10, num_chains=1, progress_bar=False,
                                 num_components=2)
    table, chosen, points = script.choose_k({"X": None}, args, covariance_type="full", max_k=3, with_loo=True,
                                            fitted=main)
    assert calls == [("ml", 1), ("nuts", 1), ("em", 3), ("nuts", 3)]
    assert table.loc[2, "of"] == "main em" and compared[2] == "main nuts"
    assert list(table.index) == [1, 2, 3] and chosen["loo"] == 1
    assert points[2] is main["em"] and points[3].idata == "em K=3"
    assert not points[1].hessian  # the criteria need K = 1's estimate only

"""Every script runs in a subprocess and writes its outputs."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference import METHODS

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _run(script, *args, cwd):
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args], cwd=cwd, capture_output=True, text=True, timeout=600,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )


def test_compare_all_fits_every_model_and_writes_tables(tmp_path):
    done = _run("compare_all.py", "--out-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("linear_regression", "logistic_regression", "gaussian_classifier", "gaussian_mixture", "pushforward"):
        assert f"{name} on " in done.stdout
        with open(tmp_path / f"{name}_estimates.csv") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == ["parameter", "ml", "map"] and len(rows) > 2
        assert all(float(v) == float(v) for row in rows[1:] for v in row[1:])  # no NaN
    assert "NOT converged" not in done.stdout


def test_compare_all_rejects_an_unknown_method(tmp_path):
    done = _run("compare_all.py", "--method", "ml,gibbs", cwd=tmp_path)
    assert done.returncode != 0
    assert f"--method takes 'all' or a comma list of {sorted(METHODS)}; got 'ml,gibbs'" in done.stderr


@pytest.mark.parametrize("name", ["diabetes", "breast_cancer", "iris", "iris_unlabelled", "tumour_area"])
def test_shipped_data_sets_load(name):
    sys.path.insert(0, str(SCRIPTS))
    try:
        import datasets
    finally:
        sys.path.remove(str(SCRIPTS))
    data, description = datasets.DATASETS[name]()
    assert data["X"].ndim == 2 and description

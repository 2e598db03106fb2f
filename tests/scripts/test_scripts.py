"""Every script runs in a subprocess with tiny settings and writes its outputs."""

import csv
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from inference import METHODS

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
TINY = ["--num-warmup", "30", "--num-samples", "30", "--num-chains", "1", "--num-steps", "300", "--no-progress-bar"]
MODELS = ["linear_regression", "logistic_regression", "gaussian_classifier", "gaussian_mixture", "pushforward"]
EXTRA = {"gaussian_classifier": ["--curve-repeats", "1"], "gaussian_mixture": ["--max-k", "2"]}


def _run(script, *args, cwd):
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args], cwd=cwd, capture_output=True, text=True, timeout=900,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )


def _figures(stdout):
    return re.findall(r"  figure: (\S+)", stdout)


def test_a_script_runs_every_method_and_writes_its_outputs(tmp_path):
    done = _run("linear_regression.py", "--method", "all", "--out-dir", str(tmp_path), *TINY, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "linear_regression_table.csv") as handle:
        header = next(csv.reader(handle))
    assert {"ml", "ml_se", "map", "nuts_mean", "nuts_hdi_3%", "nuts_r_hat", "vi_mean", "laplace_sd"} <= set(header)
    for method in ("ml", "map", "nuts", "vi", "laplace"):
        assert (tmp_path / f"linear_regression_{method}.nc").stat().st_size > 0
        assert re.search(rf"  {method} +compile +[\d.]+ s +run +[\d.]+ s", done.stdout)
    figures = _figures(done.stdout)
    assert len(figures) == 4 and all(Path(f).stat().st_size > 1000 for f in figures)
    # 30 draws from one chain: the sampler-health check must say the ESS is too low to trust
    assert re.search(r"warning \(nuts\): bulk ESS below 100 \(100 per chain\)", done.stderr), done.stderr


@pytest.mark.slow  # about 130 s: every lecture model with four methods, the mixture's K choice, the curves
def test_compare_all_runs_every_script_into_one_report(tmp_path):
    """The main job with tiny settings: every lecture model's script (its parser and main) in one
    subprocess; VI and Laplace are left to the test above, which runs them through a script."""
    done = _run("compare_all.py", "--out-dir", str(tmp_path), "--method", "ml,map,em,nuts", *TINY,
                "--curve-repeats", "1", "--max-k", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "report.html").read_text()
    checker = _Balanced()
    checker.feed(page)
    checker.close()
    assert checker.stack == [] and checker.errors == []
    for name in MODELS:
        assert f'<section id="{name}">' in page
        assert (tmp_path / name / f"{name}_table.csv").exists()
        assert (tmp_path / name / f"{name}_nuts.nc").exists()
    figures = _figures(done.stdout)
    # every figure a script printed is embedded in the page, none linked
    assert checker.images == len(figures) >= 20
    # per model its timings and estimates, and for the mixture the choice of K and the chosen K
    assert page.count("<table") == 2 * len(MODELS) + 2
    with open(tmp_path / "gaussian_mixture" / "choose_k.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["K"] for row in rows] == ["1", "2"]
    assert all(np.isfinite(float(row[c])) for row in rows for c in ("aic", "bic", "elpd_loo"))
    assert re.search(r"chosen K: aic \d, bic \d, loo \d", done.stdout)


def test_the_mixture_script_runs_with_one_component(tmp_path):
    """K = 1 has no latent for EM: the script fits it by ML and draws no EM figure (it used to
    stop with EM's error in the figures)."""
    done = _run("gaussian_mixture.py", "--method", "ml", "--num-components", "1", "--max-k", "2",
                "--out-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "choose_k.csv") as handle:
        assert [row["K"] for row in csv.DictReader(handle)] == ["1", "2"]
    figures = _figures(done.stdout)
    assert figures and not any("ellipses" in f or "initialisations" in f for f in figures)


@pytest.mark.slow  # about 25 s each: the script twice
@pytest.mark.parametrize("script, extra, outputs", [
    ("gaussian_mixture", ["--max-k", "3"],
     ["choose_k.csv", "gaussian_mixture_ellipses.png", "gaussian_mixture_initialisations.png",
      "gaussian_mixture_densities.png"]),
    ("gaussian_classifier", ["--curve-repeats", "2"], ["decision_boundaries.png", "generative_vs_discriminative.png"]),
])
def test_work_done_in_other_processes_is_the_same_to_the_last_digit(tmp_path, script, extra, outputs):
    """``--jobs 2`` runs what needs nothing of the main fits in a forked process
    (common.in_background: the mixture's other K, and with ML only its main K's criteria, EM's
    figures and, handed over after the main fit, the densities; the classifier's boundary and
    section 1.2 figures); ``--jobs 1`` in the
    script's own process. The same outputs, byte for byte, and the
    same printed results."""
    runs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        done = _run(f"{script}.py", "--method", "ml", *extra, "--jobs", jobs, "--out-dir", str(out), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        printed = [line for line in done.stdout.splitlines() if not re.search(r"compile|figure:|outputs:", line)]
        runs[jobs] = printed, [(out / name).read_bytes() for name in outputs]
    assert runs["1"] == runs["2"]
    assert all(len(content) > 100 for content in runs["1"][1])


class _Balanced(HTMLParser):
    """Tags opened and closed in order (void elements excepted); counts embedded images."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images += 1
            if not dict(attrs)["src"].startswith("data:image/png;base64,"):
                self.errors.append("linked image")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")


def test_csv_input_by_column_name(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = 1.5 * X[:, 0] - 0.5 * X[:, 1] + 0.3 + 0.1 * rng.normal(size=60)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([y, X, rng.normal(size=60)]), delimiter=",", header="y,x1,x2,noise", comments="")
    done = _run("linear_regression.py", "--data", str(path), "--target", "y", "--features", "x1,x2", "--method", "ml",
                "--out-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "out" / "linear_regression_table.csv") as handle:
        table = {row["parameter"]: float(row["ml"]) for row in csv.DictReader(handle)}
    np.testing.assert_allclose([table["a[0]"], table["a[1]"], table["b"]], [1.5, -0.5, 0.3], atol=0.1)


@pytest.mark.parametrize(
    "columns, body, args, message",
    [
        ("y,x1", "1,2\n3,4\n", ["--features", "x1,x9"], r"error: column\(s\) \['x9'\] not in .*data.csv; its columns are \['y', 'x1'\]"),
        ("y,x1", "1,2\n3,abc\n", [], r"error: column 'x1' of .*data.csv must be numeric; line 3 has 'abc'"),
        ("y,x1", "1,2\n", ["--target", "z"], r"error: column\(s\) \['z'\] not in .*data.csv; its columns are \['y', 'x1'\]"),
    ],
)
def test_csv_errors_are_one_line_and_exit_non_zero(tmp_path, columns, body, args, message):
    path = tmp_path / "data.csv"
    path.write_text(f"{columns}\n{body}")
    argv = ["--data", str(path), "--method", "ml", "--out-dir", str(tmp_path / "out")]
    argv += args if "--target" in args else ["--target", "y", *args]
    done = _run("linear_regression.py", *argv, cwd=tmp_path)
    assert done.returncode != 0
    assert re.fullmatch(message, done.stderr.strip()), done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]  # no output, no partial staging directory


def test_outputs_are_never_silently_overwritten(tmp_path):
    """A directory holding files is refused in one line (exit 2) and left as it was; --force
    replaces it whole, through a staging directory renamed when the run is complete."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    argv = ["--method", "ml", "--out-dir", str(out), "--no-progress-bar"]
    refused = _run("linear_regression.py", *argv, cwd=tmp_path)
    assert refused.returncode == 2
    assert re.fullmatch(r"linear_regression.py: error: --out-dir .*out already holds files; pass --force to replace "
                        r"them, or choose another", refused.stderr.strip()), refused.stderr
    assert (out / "mine.txt").read_text() == "keep"
    forced = _run("linear_regression.py", *argv, "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert not (out / "mine.txt").exists() and (out / "linear_regression_table.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_bad_arguments_are_one_line_and_exit_non_zero(tmp_path):
    done = _run("linear_regression.py", "--seed", "one", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "linear_regression.py: error: argument --seed: invalid int value: 'one'"


def test_compare_all_rejects_an_unknown_method(tmp_path):
    done = _run("compare_all.py", "--method", "ml,gibbs", cwd=tmp_path)
    assert done.returncode != 0
    assert f"--method takes 'all' or a comma list of {sorted(METHODS)}; got 'ml,gibbs'" in done.stderr


def _datasets():
    """scripts/datasets.py, imported as the scripts import it."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        import datasets
    finally:
        sys.path.remove(str(SCRIPTS))
    return datasets


@pytest.mark.parametrize("name", ["diabetes", "breast_cancer", "iris", "wine", "iris_unlabelled", "tumour_area"])
def test_shipped_data_sets_load(name):
    datasets = _datasets()
    data, description = datasets.DATASETS[name]()
    assert data["X"].ndim == 2 and description


@pytest.mark.parametrize("name, loader", [("iris.csv", "load_iris"), ("wine_data.csv", "load_wine"),
                                          ("breast_cancer.csv", "load_breast_cancer")])
def test_shipped_classification_files_are_read_as_scikit_learn_reads_them(name, loader):
    from sklearn import datasets as sk

    X, y = _datasets().shipped_csv(name)
    raw = getattr(sk, loader)()
    np.testing.assert_array_equal(X, raw.data)  # the same parse of the same text: equal to the bit
    np.testing.assert_array_equal(y, raw.target)
    assert X.dtype == np.float64 and y.dtype == np.int64


def test_a_malformed_shipped_file_is_named_with_its_line(tmp_path, monkeypatch):
    datasets = _datasets()
    (tmp_path / "bad.csv").write_text("2,2,a,b\n1.0,2.0,0\n3.0,1\n")
    monkeypatch.setattr(datasets, "_shipped_file", lambda name: tmp_path / name)
    with pytest.raises(ValueError, match="bad.csv, line 3: expected 3 fields; got 2"):
        datasets.shipped_csv("bad.csv")
    (tmp_path / "short.csv").write_text("3,2,a,b\n1.0,2.0,0\n")
    with pytest.raises(ValueError, match="short.csv: its header promises 3 rows; got 1"):
        datasets.shipped_csv("short.csv")


def test_shipped_breast_cancer_names_and_diabetes_tables_are_scikit_learn_s():
    from sklearn import datasets as sk

    datasets = _datasets()
    assert datasets.BREAST_CANCER_FEATURES == tuple(sk.load_breast_cancer().feature_names)
    raw = sk.load_diabetes(scaled=False)
    np.testing.assert_array_equal(datasets.shipped_table("diabetes_data_raw.csv.gz"), raw.data)
    np.testing.assert_array_equal(datasets.shipped_table("diabetes_target.csv.gz"), raw.target)
    # scikit-learn's scaled diabetes features, standardised, are the raw ones standardised, to
    # round-off (6e-15 here; values of order 1)
    np.testing.assert_allclose(datasets.diabetes()[0]["X"], datasets._standardise(sk.load_diabetes().data), atol=1e-13)


def test_loading_a_data_set_imports_neither_scikit_learn_nor_scipy_stats():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import datasets; "
            "[load() for load in datasets.DATASETS.values()]; "
            "print(sorted(m for m in ('sklearn', 'scipy.stats') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(SCRIPTS)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_iris_for_clustering_is_dequantised_so_no_two_measurements_tie():
    datasets = _datasets()
    raw = datasets.shipped_csv("iris.csv")[0]
    assert min(len(np.unique(column)) for column in raw.T) == 22  # rounded to 0.1 cm: ties a component can collapse on
    noisy = datasets.dequantise(raw, 0.1)
    assert np.all(np.abs(noisy - raw) <= 0.05) and np.array_equal(noisy, datasets.dequantise(raw, 0.1))
    # uniform on (-0.05, 0.05): sd 0.1 / sqrt(12); the sd of 600 draws is within 10 % of it (3.5 of its own sd)
    assert abs(np.std(noisy - raw) / (0.1 / np.sqrt(12)) - 1) < 0.1
    X = datasets.iris_unlabelled()[0]["X"]
    np.testing.assert_array_equal(X, datasets._standardise(datasets.dequantise(raw, datasets.IRIS_RESOLUTION)))
    assert datasets.IRIS_RESOLUTION == 0.1
    assert all(len(np.unique(column)) == 150 for column in X.T)
    np.testing.assert_allclose(X.mean(0), 0.0, atol=1e-12)  # standardised after the noise
    np.testing.assert_allclose(X.std(0), 1.0, rtol=1e-12)


@pytest.mark.slow  # about 20 s: one model, two methods, tiny settings, and two ML sizes
def test_the_calibration_script_prints_the_tables_and_writes_its_outputs(tmp_path):
    done = _run(
        "calibration.py", "--model", "linear_regression", "--method", "nuts,laplace", "--num-replications", "4",
        "--approx-replications", "2", "--num-samples", "9", "--thin", "1", "--num-bins", "2", "--num-warmup", "30",
        "--sizes", "1000,2000", "--consistency-replications", "1", "--out-dir", str(tmp_path / "out"), cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "nuts_p" in done.stdout and "laplace_50%" in done.stdout and "slope" in done.stdout
    for name in ("sbc_linear_regression.csv", "ml_consistency.csv",
                 "sbc_linear_regression_nuts.png", "ml_consistency.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name


def test_the_calibration_script_refuses_bins_that_do_not_divide_the_ranks(tmp_path):
    done = _run("calibration.py", "--num-bins", "7", "--out-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("--num-bins must divide --num-samples + 1 = 100; got 7")

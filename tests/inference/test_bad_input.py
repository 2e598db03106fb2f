"""Every validation message of ``fit``: raised before any tracing, naming the argument."""

import re

import numpy as np
import numpyro.distributions as dist
import pytest

from inference import METHODS, fit

X = np.random.default_rng(0).normal(size=(20, 2))
Y_REAL = X @ np.array([1.0, -1.0]) + np.random.default_rng(1).normal(size=20)
Y_BINARY = (Y_REAL > 0).astype(int)
Y_THREE = np.arange(20) % 3


@pytest.mark.parametrize(
    "model, data, options, error, match",
    [
        # the data
        ("linear_regression", {"X": np.array([["a", "b"]] * 20), "y": Y_REAL}, {}, TypeError, r"X must be a numeric array; got dtype <U1"),
        ("linear_regression", {"X": [[1, 2], [3]], "y": [1, 2]}, {}, TypeError, r"X must be a numeric array; could not convert list"),
        ("linear_regression", {"X": np.where(np.eye(20, 2) > 0, np.nan, X), "y": Y_REAL}, {}, ValueError, r"X must be finite; got 2 NaN or inf value\(s\), the first at index \(0, 0\)"),
        ("linear_regression", {"X": X, "y": np.r_[Y_REAL[:-1], np.inf]}, {}, ValueError, r"y must be finite; got 1 NaN or inf value\(s\), the first at index \(19,\)"),
        ("linear_regression", {"X": X[None], "y": Y_REAL}, {}, ValueError, r"X must be 1-D or 2-D, of shape \(num_data, num_features\); got shape \(1, 20, 2\)"),
        ("linear_regression", {"X": X, "y": Y_REAL[:, None, None]}, {}, ValueError, r"y must be 1-D, of shape \(num_data,\); got shape \(20, 1, 1\)"),
        ("linear_regression", {"X": X, "y": Y_REAL[:-1]}, {}, ValueError, r"X and y must have the same number of rows; got 20 rows in X and 19 in y"),
        ("linear_regression", {"X": X}, {}, ValueError, r"data must have key 'y' for linear_regression, which models y given X; got keys \['X'\]"),
        ("linear_regression", {"X": X, "y": None}, {}, ValueError, r"data must have key 'y' for linear_regression"),
        ("linear_regression", {"y": Y_REAL}, {}, ValueError, r"data must have key 'X'; got keys \['y'\]"),
        ("linear_regression", [X, Y_REAL], {}, TypeError, r"data must be a dict with key 'X' and y; got list"),
        ("gaussian_mixture", {"X": X, "z": Y_BINARY}, {}, ValueError, r"data has unknown key\(s\) \['z'\]; gaussian_mixture uses \['X'\]"),
        ("linear_regression", {"X": np.zeros((0, 2)), "y": []}, {}, ValueError, r"X must have at least one row and one column; got shape \(0, 2\)"),
        ("linear_regression", {"X": X + 1j, "y": Y_REAL}, {}, TypeError, r"X must be real-valued; got dtype complex128"),
        ("gaussian_mixture", {"X": None}, {}, ValueError, r"X is required; got None"),
        # labels
        ("logistic_regression", {"X": X, "y": Y_THREE}, {}, ValueError, r"y must hold labels in \{0, ..., 1\}; got \[2\]"),
        ("logistic_regression", {"X": X, "y": Y_BINARY + 0.5}, {}, ValueError, r"y must hold integer class labels; got non-integer values such as [01].5"),
        ("gaussian_classifier", {"X": X, "y": Y_THREE}, {}, ValueError, r"y must hold labels in \{0, ..., 1\} \(or -1 for a missing label\); got \[2\]"),
        ("gaussian_classifier", {"X": X, "y": Y_BINARY * 2}, {"num_classes": 3}, ValueError, r"y must have at least one point in every class 0..2; class\(es\) \[1\] have no points"),
        ("gaussian_classifier", {"X": X, "y": Y_THREE}, {"num_classes": 1}, ValueError, r"num_classes must be >= 2; got num_classes = 1"),
        # model options
        ("gaussian_mixture", {"X": X}, {"num_components": 0}, ValueError, r"num_components must be >= 1; got num_components = 0"),
        ("gaussian_mixture", {"X": X}, {"num_components": 21}, ValueError, r"Expected num_data >= num_components but got num_components = 21, num_data = 20"),
        ("gaussian_mixture", {"X": X}, {"num_components": 2.5}, TypeError, r"num_components must be an integer; got float 2.5"),
        ("gaussian_mixture", {"X": X}, {"covariance_type": "banded"}, ValueError, r"covariance_type must be one of \['diag', 'full', 'spherical', 'tied'\]; got 'banded'"),
        ("gaussian_mixture", {"X": X}, {"ordered": "yes"}, TypeError, r"ordered must be True or False; got str 'yes'"),
        ("gaussian_classifier", {"X": X, "y": Y_BINARY}, {"shared_covariance": 1}, TypeError, r"shared_covariance must be True or False; got int 1"),
        ("logistic_regression", {"X": X, "y": Y_BINARY}, {"degree": 0}, ValueError, r"degree must be >= 1; got degree = 0"),
        # methods and their options
        ("linear_regression", {"X": X, "y": Y_REAL}, {"num_components": 2}, ValueError, r"unknown option\(s\) \['num_components'\]; linear_regression takes \['fit_intercept'\] and method 'ml' takes"),
        ("linear_regression", {"X": X, "y": Y_REAL}, {"optimizer": "sgd"}, ValueError, r"optimizer must be one of \['adam', 'lbfgs'\]; got 'sgd'"),
        ("linear_regression", {"X": X, "y": Y_REAL}, {"max_iter": 0}, ValueError, r"max_iter must be >= 1; got max_iter = 0"),
        ("linear_regression", {"X": X, "y": Y_REAL}, {"num_samples": 0}, ValueError, r"unknown option\(s\) \['num_samples'\]; linear_regression takes \['fit_intercept'\] and method 'ml' takes"),
        ("linear_regression", {"X": X, "y": Y_REAL}, {"gtol": -1.0}, ValueError, r"gtol must be a positive number or None; got -1.0"),
        ("linear_regression", {"X": X, "y": Y_REAL}, {"init": {"c": 1.0}}, ValueError, r"init names parameters that do not exist: \['c'\]; the parameters are \['a', 'b', 'sigma'\]"),
        ("linear_regression", {"X": X, "y": Y_REAL}, {"init": {"a": [1.0]}}, ValueError, r"init\['a'\] must have shape \(2,\); got shape \(1,\)"),
        ("linear_regression", {"X": X, "y": Y_REAL}, {"init": {"sigma": -1.0}}, ValueError, r"init\['sigma'\] must lie in Positive"),
        ("linear_regression", {"X": X, "y": Y_REAL}, {"init": [1.0]}, TypeError, r"init must be a dict \{name: value\} or None; got list"),
        ("linear_regression", {"X": X, "y": Y_REAL}, {"batch_size": 0, "optimizer": "adam"}, ValueError, r"batch_size must be >= 1; got batch_size = 0"),
        # the model's name
        ("quantum_regression", {"X": X, "y": Y_REAL}, {}, ValueError, r"model must be one of \['gaussian_classifier', 'gaussian_mixture', 'linear_regression', 'logistic_regression', 'pushforward'\] or one of their modules; got 'quantum_regression'"),
        (np, {"X": X, "y": Y_REAL}, {}, TypeError, r"model must be a module of models/ or its name"),
    ],
)
def test_bad_input_is_named(model, data, options, error, match):
    with pytest.raises(error, match=match):
        fit(model, data, "ml", **options)


def test_unknown_method():
    with pytest.raises(ValueError, match=re.escape(f"method must be one of {sorted(METHODS)}; got 'mcmc'")):
        fit("linear_regression", {"X": X, "y": Y_REAL}, "mcmc")


def test_bad_seed():
    with pytest.raises(TypeError, match=r"seed must be an integer; got str '0'"):
        fit("linear_regression", {"X": X, "y": Y_REAL}, "ml", seed="0")


@pytest.mark.parametrize(
    "priors, error, match",
    [
        ({"c": dist.Normal(0, 1)}, ValueError, r"priors names parameters that do not exist: \['c'\]; the parameters are \['a', 'b', 'sigma'\]"),
        ({"sigma": dist.Normal(0, 1)}, ValueError, r"priors\['sigma'\] must have support within Positive\(lower_bound=0.0\) \(the domain of 'sigma'\); got Normal with support Real\(\)"),
        ({"sigma": dist.Uniform(-1, 1)}, ValueError, r"priors\['sigma'\] must have support within Positive"),
        ({"a": dist.Poisson(1.0)}, ValueError, r"priors\['a'\] must have support within Real\(\) \(the domain of 'a'\); got Poisson"),
        ({"a": dist.Normal(np.zeros(3), 1.0)}, ValueError, r"priors\['a'\] must broadcast to the shape \(2,\) of 'a'; got Normal with batch shape \(3,\)"),
        ({"a": dist.MultivariateNormal(np.zeros(3), np.eye(3))}, ValueError, r"priors\['a'\] must have an event shape that ends the shape \(2,\) of 'a'; got MultivariateNormal with event shape \(3,\)"),
        ({"sigma": dist.LogNormal(np.zeros(2), 1.0).to_event(1)}, ValueError, r"priors\['sigma'\] must have an event shape that ends the shape \(\) of 'sigma'"),
        ({"a": "uniform"}, ValueError, r"priors\['a'\] must be a NumPyro distribution or the string 'flat'; got the string 'uniform'"),
        ({"a": [1.0]}, TypeError, r"priors\['a'\] must be a NumPyro distribution, the string 'flat' or a fixed value \(a number or an array\); got list"),
        ([dist.Normal(0, 1)], TypeError, r"priors must be a dict \{name: prior\} or None; got list"),
    ],
)
def test_bad_priors_are_named(priors, error, match):
    with pytest.raises(error, match=match):
        fit("linear_regression", {"X": X, "y": Y_REAL}, "map", priors=priors)


def test_a_prior_of_the_wrong_event_shape_is_named():
    with pytest.raises(ValueError, match=r"priors\['pi'\] must have an event shape that ends the shape \(3,\) of 'pi'; got Dirichlet with event shape \(2,\)"):
        fit("gaussian_mixture", {"X": X}, "map", num_components=3, priors={"pi": dist.Dirichlet(np.ones(2))})


@pytest.mark.parametrize(
    "priors",
    [
        {"sigma": dist.Uniform(0.0, 100.0)},  # a bounded prior inside the domain
        {"sigma": dist.Exponential(1.0), "a": dist.Normal(np.zeros(2), 5.0), "b": "flat"},
        {"a": dist.StudentT(3.0, 0.0, 2.5)},
        {"a": dist.MultivariateNormal(np.zeros(2), 4.0 * np.eye(2))},  # a vector prior on a vector
        {"a": dist.Normal(np.zeros(2), 2.0).to_event(1)},
    ],
)
def test_good_priors_are_accepted(priors):
    result = fit("linear_regression", {"X": X, "y": Y_REAL}, "map", priors=priors)
    assert result.converged


def test_a_vector_prior_per_row_of_a_matrix_parameter():
    prior = {"mu": dist.MultivariateNormal(np.zeros(2), 9.0 * np.eye(2))}  # each component's mean
    result = fit("gaussian_mixture", {"X": X}, "map", num_components=2, priors=prior)
    assert result.params["mu"].shape == (2, 2)

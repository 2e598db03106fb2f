"""Logistic regression (Example 1.5): the discriminative classifier, by ML and by its posterior.

Fits ``p(y = 1 | x) = sigmoid(a^T phi(x) + b)`` (``--degree`` > 1 maps x to its monomials) by every
requested method, prints the comparison table, and saves the posterior densities and NUTS's
trace and rank plots. On 2-D data it also draws the decision boundary.

    python scripts/logistic_regression.py                      # breast cancer, 3 features
    python scripts/logistic_regression.py --data simulated --degree 2
"""

import os

import common
import figures

from models import logistic_regression


def make_figures(report, out_dir):
    paths = common.common_figures(report, out_dir)
    X, y = report.data["X"], report.data["y"]
    if X.shape[1] == 2:
        predictors = figures.classifier_predictors({"logistic": common.point_fit(report)})
        paths.append(figures.decision_boundaries(predictors, X, y, os.path.join(out_dir, f"{report.name}_boundary.png")))
    return paths


def main(args):
    report = common.fit_and_report(logistic_regression, args, degree=args.degree)
    return common.finish(report, make_figures(report, args.out_dir))


def build_parser():
    parser = common.parser_for(__doc__, default_data="breast_cancer")
    parser.add_argument("--degree", type=int, default=1, help="degree of the polynomial feature map")
    return parser


if __name__ == "__main__":
    common.run_main(main, build_parser())

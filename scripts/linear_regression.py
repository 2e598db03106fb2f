"""Gaussian linear regression (Example 1.4): least squares is ML, and the posterior beside it.

Fits ``y = a^T x + b + noise`` by every requested method (eq. 1.10-1.11; Remark 1.6), prints
one table with ML +- standard error, MAP and the posterior summaries, and saves the posterior
densities, NUTS's trace and rank plots, and the regression line with its 94 % posterior
predictive band along the feature with the largest effect.

    python scripts/linear_regression.py                        # diabetes, every method
    python scripts/linear_regression.py --data simulated --method ml,nuts
    python scripts/linear_regression.py --data my.csv --target y --features x1,x2
"""

import os

import common
import figures
import numpy as np

from models import linear_regression


def make_figures(report, out_dir):
    paths = common.common_figures(report, out_dir)
    band = common.draws_fit(report) or common.point_fit(report)
    strongest = int(np.argmax(np.abs(common.point_fit(report).params["a"])))
    paths.append(figures.regression_band(band, os.path.join(out_dir, f"{report.name}_band.png"), feature=strongest))
    return paths


def main(args):
    report = common.fit_and_report(linear_regression, args)
    return common.finish(report, make_figures(report, args.out_dir))


def build_parser():
    return common.parser_for(__doc__, default_data="diabetes")


if __name__ == "__main__":
    common.run_main(main, build_parser())

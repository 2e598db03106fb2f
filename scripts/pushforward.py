"""Pushforward distributions (section 1.3) and likelihood training of a learnable one (section 1.4).

Draws Example 1.2 (Fig. 1.1: a pmf and its pushforward under a non-injective map) and
Example 1.3 (Fig. 1.2: samples of X^2 for X ~ N(0, 1) against the change-of-variables density),
then fits the learnable pushforward ``x = loc + scale * sinh((arcsinh(eps) + skewness) *
tailweight)``, ``eps ~ N(0, 1)``, to data by every requested method (its log-likelihood is the
change of variables, eq. 1.5) and prints the comparison table.

    python scripts/pushforward.py                              # breast-cancer nuclei area
    python scripts/pushforward.py --data simulated --method ml,nuts
"""

import os

import common
import lecture_figures

from models import pushforward


def make_figures(report, out_dir):
    return common.common_figures(report, out_dir) + [
        lecture_figures.example_1_2(os.path.join(out_dir, "example_1_2.png")),
        lecture_figures.example_1_3(os.path.join(out_dir, "example_1_3.png"), seed=0),
    ]


def main(args):
    report = common.fit_and_report(pushforward, args)
    return common.finish(report, make_figures(report, args.out_dir))


def build_parser():
    return common.parser_for(__doc__, default_data="tumour_area")


if __name__ == "__main__":
    common.run_main(main, build_parser())

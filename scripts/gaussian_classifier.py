"""The Gaussian class-conditional (generative) classifier (Example 1.1): LDA and QDA.

Fits ``y ~ Categorical(pi), x | y = c ~ N(mu_c, cov_c)`` (eq. 1.3) by every requested method and
prints the comparison table; ``y = -1`` in the data marks a missing label (semi-supervised, and
then EM applies). Saves the posterior densities, NUTS's trace and rank plots, the decision
boundaries of LDA (straight), QDA (curved) and logistic regression on simulated 2-D data, and
section 1.2's comparison of generative and discriminative classifiers as the training set grows
(after Ng & Jordan, 2001). These last two need nothing of the main fits: with ``--jobs`` above 1
(by default one process per CPU core) they are drawn in other processes beside them.

    python scripts/gaussian_classifier.py                      # iris, 3 classes, QDA
    python scripts/gaussian_classifier.py --shared-covariance  # LDA
"""

import os
from functools import partial

import common
import figures
import jax
import lecture_figures
import numpy as np

from inference import fit
from models import gaussian_classifier, logistic_regression


def boundary_figure(path, seed=0):
    """LDA, QDA and logistic regression fitted by ML on simulated 2-D data with unequal covariances
    (classes 2 apart with unit variances: they overlap, so logistic regression's ML exists).

    LDA and QDA take their closed-form ML (``gaussian_classifier.mle``, eq. 1.3), which
    ``fit(..., "ml")`` also takes, at the cost of compiling its standard errors, not drawn here;
    logistic regression has no closed form, and its fit skips the Hessian (``hessian=False``:
    the same estimate, without the standard errors and their 0.3 s of compilation)."""
    sim = gaussian_classifier.simulate(jax.random.PRNGKey(seed), 400, 2, mu=[[-1.0, 0.0], [1.0, 0.0]])
    data = {k: np.asarray(v) for k, v in sim.data.items()}
    predictors = {
        label: lambda X, theta=gaussian_classifier.mle(data["X"], data["y"], shared_covariance=shared):
            np.asarray(gaussian_classifier.predict_proba(theta, X))[:, 1]
        for label, shared in (("LDA", True), ("QDA", False))
    }
    predictors.update(figures.classifier_predictors({"logistic": fit(logistic_regression, data, "ml", hessian=False)}))
    return figures.decision_boundaries(predictors, data["X"], data["y"], path)


def independent_figures(out_dir, *, curve_repeats):
    """The figures that need nothing of the main fits, as calls of no argument: the decision
    boundaries (path) and section 1.2's curves (path and table)."""
    return [partial(boundary_figure, os.path.join(out_dir, "decision_boundaries.png")),
            partial(lecture_figures.generative_vs_discriminative,
                    os.path.join(out_dir, "generative_vs_discriminative.png"), num_repeats=curve_repeats)]


def main(args):
    tasks = independent_figures(args.out_dir, curve_repeats=args.curve_repeats)
    # with --jobs > 1 they are drawn in other processes beside the main fits, started before
    # those start JAX's runtime
    with common.in_background(args.jobs - 1, tasks) as pending:
        report = common.fit_and_report(gaussian_classifier, args, num_classes=args.num_classes,
                                       shared_covariance=args.shared_covariance)
        paths = common.common_figures(report, args.out_dir)
        boundary, (curve, table) = [task.result() for task in pending] if pending else [task() for task in tasks]
    for model, rows in table.items():
        print(f"  {model:<10} train size {rows['train_size']}  log-loss {np.round(rows['log_loss'], 3).tolist()}")
    return common.finish(report, paths + [boundary, curve])


def add_arguments(parser):
    parser.add_argument("--num-classes", type=int, default=3)
    parser.add_argument("--shared-covariance", action="store_true", help="one covariance for all classes (LDA)")
    parser.add_argument("--curve-repeats", type=int, default=20, help="training subsets per size in the section 1.2 curve")
    common.add_jobs_arg(parser, "the decision boundaries and the section 1.2 curves")
    return parser


def build_parser():
    return add_arguments(common.parser_for(__doc__, default_data="iris"))


if __name__ == "__main__":
    common.run_main(main, build_parser())

"""What importing the project costs: ArviZ only once a fit is converted to InferenceData, pandas
only once fits are compared in a table."""

import subprocess
import sys


def test_arviz_and_pandas_are_imported_on_first_use_only():
    # a fresh interpreter: this session's other tests have imported ArviZ long ago
    code = (
        "import sys, numpy as np, inference, models\n"
        "data = models.logistic_regression.simulate(__import__('jax').random.PRNGKey(0), 50, 2).data\n"
        "result = inference.fit(models.logistic_regression, data, 'ml', hessian=False)\n"
        "assert 'arviz' not in sys.modules, 'imported by inference or an ML fit'\n"
        "assert 'pandas' not in sys.modules, 'imported by inference or an ML fit'\n"
        "result.to_idata(log_likelihood=False)\n"
        "assert 'arviz' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

"""Exact EM over data beyond memory: a mixture fitted to an ``.npy`` file read block by block.

Writes N rows (default 1e8, D = 8: 6.4 GB) drawn from a K-component mixture to ``--path`` in
blocks, then fits it with ``fit(gaussian_mixture, {"X": np.load(path, mmap_mode="r")}, "em")``,
which never holds more than two blocks of rows. Run it under ``/usr/bin/time -v`` and read the
"Maximum resident set size":

    /usr/bin/time -v python benchmarks/em_streaming.py --path /tmp/X.npy
"""

import argparse
import os
import time
import warnings

import numpy as np
import numpyro

numpyro.enable_x64()

from inference import ConvergenceWarning, fit  # noqa: E402
from models import gaussian_mixture  # noqa: E402


def write(path, num_data, num_features, num_components, seed, block_rows=1 << 20):
    """A mixture sample written block by block into an ``.npy`` file (never all in memory)."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.normal(size=(num_components, num_features))
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float64)), "fortran_order": False,
              "shape": (num_data, num_features)}
    with open(path, "wb") as file:
        np.lib.format.write_array_header_2_0(file, header)
        for begin in range(0, num_data, block_rows):
            rows = min(block_rows, num_data - begin)
            block = centres[rng.integers(num_components, size=rows)] + rng.normal(size=(rows, num_features))
            file.write(block.tobytes())


def main(args):
    if not os.path.exists(args.path) or args.rewrite:
        begin = time.perf_counter()
        write(args.path, args.num_data, args.num_features, args.num_components, args.seed)
        print(f"wrote {args.num_data} x {args.num_features} to {args.path} in {time.perf_counter() - begin:.0f} s")
    X = np.load(args.path, mmap_mode="r")
    print(f"{args.path}: shape {X.shape}, {X.nbytes / 1e9:.1f} GB on disk")
    begin = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit(gaussian_mixture, {"X": X}, "em", num_components=args.num_components, max_iter=args.max_iter,
                     tol=0.0, progress_bar=True, seed=args.seed)
    elapsed = time.perf_counter() - begin
    print(f"fit: {len(result.losses)} E-steps in {elapsed:.0f} s, with the validation pass over the file, the "
          f"k-means start on a sample and compilation (the bar above times the iterations alone)")
    print("mean log-likelihood per iteration:", np.round(-result.losses / len(X), 6).tolist())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/tmp/em_streaming_X.npy")
    parser.add_argument("--num-data", type=int, default=10**8)
    parser.add_argument("--num-features", type=int, default=8)
    parser.add_argument("--num-components", type=int, default=8)
    parser.add_argument("--max-iter", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rewrite", action="store_true", help="write the file even when it exists")
    main(parser.parse_args())

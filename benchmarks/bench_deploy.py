"""Benchmark: the host runtime's software backend, batched against one sample at a time.

On an exported library (``adapex export``), for every distinct design: the test split served
through ``AdaptiveRunner`` with the software backend as it runs (qonnx on each stage's graph
with its batch axis set, ``BATCH`` samples per execution), against the same stages executed
one sample at a time (the model's own batch size of 1, the way qonnx runs an exported
model), measured in the same run on the first ``--samples`` test images. Also checks that
both give the same labels and answering stages.

Prints per design the samples per second of each and the speed-up (the figure to keep
above 10x: ``adapex deploy verify`` serves every design's whole test split).

Usage: .venv/bin/python benchmarks/bench_deploy.py --library DIR [--samples 64]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", required=True)
    parser.add_argument("--samples", type=int, default=64)
    args = parser.parse_args()

    import numpy as np

    import dse.deploy.backends as backends
    from dse.deploy import AdaptiveRunner, load_deployed_library, load_test_split

    lib = load_deployed_library(args.library)
    x, _, _ = load_test_split(lib)
    x = x[: args.samples]
    ratios = []
    for design_id in lib.design_ids:
        if "alias_of" in lib.entry(design_id):
            continue
        timings, results = {}, {}
        for batch in (backends.BATCH, 1):
            backends.BATCH = batch
            runner = AdaptiveRunner(lib, design_id)
            runner.serve(x[:2])  # warm: the batched graphs are built once per size
            t0 = time.perf_counter()
            res = runner.serve(x)
            timings[batch] = time.perf_counter() - t0
            results[batch] = res
        batched, single = (results[b] for b in sorted(results, reverse=True))
        same = np.array_equal(batched.labels, single.labels) and np.array_equal(
            batched.stage, single.stage
        )
        fast, slow = (timings[b] for b in sorted(timings, reverse=True))
        ratios.append(slow / fast)
        print(
            f"design {design_id}: batched {len(x) / fast:8.1f} samples/s, one at a time "
            f"{len(x) / slow:6.1f} samples/s, speed-up {slow / fast:5.1f}x, same answers: {same}"
        )
        backends.BATCH = max(timings)
    if ratios:
        print(
            f"speed-up over {len(ratios)} designs: min {min(ratios):.1f}x, max {max(ratios):.1f}x"
        )


if __name__ == "__main__":
    main()

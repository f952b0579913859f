"""Benchmark: what the exact (integer) exit profile costs against PyTorch's float one.

Every trained model of a study is profiled once (and cached) on its calibration and test
splits. The profile adapex stores is the integer model's (``integer_profiles``: the model
exported to QONNX and executed by ``dse.integer_exec``, the arithmetic of the exported
accelerator); PyTorch's float forward (``calibrate``) is what adapex used to store. Both run
here, in the same process, on the same trained models and splits: the quickstart's network
(digits at 16x16, the small CNV at W2A2) at the given pruning rates.

Prints per model the seconds of each, their ratio, and how many samples' predictions and
exit decisions the float profile gets wrong against the integer one (what a float profile
would misstate about the accelerator).

Usage: .venv/bin/python benchmarks/bench_profile.py [--rates 0,0.5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0,0.5")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import numpy as np
    import torch

    from dse.accuracy import AccuracyPipeline, TrainRecipe, calibrate
    from dse.accuracy.profile import integer_profiles
    from dse.design import load_pruned_model
    from search_spaces import get_family, load_dataset

    torch.set_num_threads(1)
    data = load_dataset("digits", seed=args.seed, image_size=16)
    family = get_family("cnv")
    arch = family.default_arch(
        data.input_shape, data.num_classes, width_mult=0.25, weight_bits=2, act_bits=2
    )
    splits = {"calibration": (data.x_val, data.y_val), "test": (data.x_test, data.y_test)}
    n = sum(len(y) for _, y in splits.values())
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench_profile_") as cache:
        pipe = AccuracyPipeline(
            data, cache_dir=cache, seed=args.seed, recipe=TrainRecipe.quickstart()
        )
        for rate in (float(r) for r in args.rates.split(",")):
            pruned = pipe.evaluate(arch, rate)
            model = load_pruned_model(pruned.arch, pruned.checkpoint)
            t_int, t_flt = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                exact = integer_profiles(model, splits)
                t_int.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                floats = {k: calibrate(model, x, y) for k, (x, y) in splits.items()}
                t_flt.append(time.perf_counter() - t0)
            ti, tf = statistics.median(t_int), statistics.median(t_flt)
            ratios.append(ti / tf)
            wrong_pred = sum(
                int(np.sum(floats[k].predictions != exact[k].predictions)) for k in splits
            )
            wrong_exit = 0
            for k in splits:
                for i in range(len(exact[k].exits) - 1):
                    for t in (0.75, 0.9, 0.99):
                        wrong_exit += int(
                            np.sum(
                                (floats[k].confidences[i] >= t) != (exact[k].confidences[i] >= t)
                            )
                        )
            print(
                f"pruning {rate:.2f}: integer profile {ti:.2f} s, float profile {tf:.3f} s "
                f"({n} samples, {len(exact['test'].exits)} outputs): integer / float = "
                f"{ti / tf:.1f}x; the float profile misstates {wrong_pred} predictions and "
                f"{wrong_exit} exit decisions (at 0.75, 0.9, 0.99) of the accelerator's"
            )
    print(
        f"integer / float profile time: median {statistics.median(ratios):.1f}x "
        "(once per trained model, cached; a training takes minutes to hours)"
    )


if __name__ == "__main__":
    main()

"""Benchmark: the reusing AccuracyPipeline vs naive per-design training.

Quickstart space: digits, small CNV (width 0.25) at W2A2; pruning rates x every subset of
the candidate exits (thresholds 0.9). The reusing pipeline trains once with every exit,
prunes iteratively (each rate cached) and evaluates exit subsets from the cached profile.
The naive baseline trains every design from scratch with only its exits, then prunes and
fine-tunes it along the same ladder of rates (the same method, without any reuse). Both run here, in the same process, on the same data.

Prints the wall times, the speed-up (target >= 10x) and the largest difference in
early-exit accuracy between the two (target <= 1 point).

Usage: .venv/bin/python benchmarks/bench_accuracy.py [--rates 0,0.25,0.5,0.75]
       [--naive-designs N] [--threads 1] [--threshold 0.9]
(--naive-designs N measures N naive designs spread over the space and extrapolates the
naive time to the whole space; the accuracy comparison then covers those N.)
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0,0.25,0.5,0.75")
    parser.add_argument("--naive-designs", type=int, default=0, help="0 = every design")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from dse.accuracy import AccuracyPipeline, TrainRecipe, train_model
    from dse.accuracy.profile import integer_profiles
    from dse.accuracy.prune import prune_to, pruning_chain
    from dse.accuracy.train import seed_everything
    from search_spaces import get_family, load_dataset

    torch.set_num_threads(args.threads)
    rates = [float(r) for r in args.rates.split(",")]
    recipe = TrainRecipe.quickstart()
    data = load_dataset("digits", seed=args.seed)
    family = get_family("cnv")
    arch = family.default_arch(
        data.input_shape, data.num_classes, width_mult=0.25, weight_bits=2, act_bits=2
    )
    cands = family.candidate_exits(arch)
    subsets = [list(s) for n in range(len(cands) + 1) for s in itertools.combinations(cands, n)]
    designs = [(r, s) for r in rates for s in subsets]
    print(f"space: {len(rates)} pruning rates x {len(subsets)} exit subsets = {len(designs)}")

    # ---- reusing pipeline (fresh cache) ----
    reused: dict[tuple[float, tuple[int, ...]], float] = {}
    with tempfile.TemporaryDirectory(prefix="bench_acc_") as cache:
        t0 = time.perf_counter()
        pipe = AccuracyPipeline(data, cache_dir=cache, device="cpu", seed=args.seed, recipe=recipe)
        for r, s in designs:
            res = pipe.evaluate(arch, r)
            ev = res.profile.evaluate(args.threshold, s)
            reused[(r, tuple(s))] = ev.accuracy
        t_reuse = time.perf_counter() - t0
    print(f"reusing pipeline: {t_reuse:.1f} s for {len(designs)} designs")

    # ---- naive: every design from scratch ----
    chosen = designs
    if args.naive_designs and args.naive_designs < len(designs):
        step = len(designs) / args.naive_designs
        chosen = [designs[int(i * step)] for i in range(args.naive_designs)]
    naive: dict[tuple[float, tuple[int, ...]], float] = {}
    t0 = time.perf_counter()
    for r, s in chosen:
        design_arch = arch.replace(exits=tuple(s))
        seed_everything(args.seed)
        model = family.build(design_arch)
        train_model(model, data, recipe, device="cpu", seed=args.seed)
        # the same pruning method as the pipeline (the ladder of rates, fine-tuning after
        # each step), only without any reuse between designs
        for i, step in enumerate(pruning_chain(r, recipe.prune_step)):
            model = prune_to(model, arch.widths, step, multiple_of=recipe.multiple_of)
            train_model(
                model,
                data,
                recipe,
                epochs=recipe.finetune_epochs,
                lr=recipe.finetune_lr,
                device="cpu",
                seed=args.seed + i + 1,
            )
        # the same profile as the pipeline's: the integer model on the calibration split
        prof = integer_profiles(model, {"calibration": (data.x_val, data.y_val)})["calibration"]
        naive[(r, tuple(s))] = prof.evaluate(args.threshold, s).accuracy
    t_naive_measured = time.perf_counter() - t0
    t_naive = t_naive_measured * len(designs) / len(chosen)
    note = "" if len(chosen) == len(designs) else f" (extrapolated from {len(chosen)} designs)"
    print(f"naive per-design training: {t_naive:.1f} s{note}")

    diffs = {k: abs(reused[k] - naive[k]) for k in naive}
    worst = max(diffs, key=diffs.get)  # type: ignore[arg-type]
    mean_reused = sum(reused[k] for k in naive) / len(naive)
    mean_naive = sum(naive.values()) / len(naive)
    print(f"speed-up (naive / reusing): {t_naive / t_reuse:.1f}x   (target >= 10x)")
    print(
        f"largest accuracy difference: {100 * diffs[worst]:.2f} points at pruning {worst[0]}, "
        f"exits {list(worst[1])}   (target <= 1 point)"
    )
    loss = max(naive[k] - reused[k] for k in naive)
    print(f"largest accuracy loss of reusing vs naive: {100 * max(loss, 0.0):.2f} points")
    print(
        f"mean early-exit accuracy: reusing {mean_reused:.4f}, naive {mean_naive:.4f} "
        f"(reusing - naive = {100 * (mean_reused - mean_naive):+.2f} points)"
    )
    for k in sorted(naive):
        print(
            f"  pruning {k[0]:.2f} exits {list(k[1])!s:9}: reusing {reused[k]:.4f} "
            f"naive {naive[k]:.4f}"
        )


if __name__ == "__main__":
    main()

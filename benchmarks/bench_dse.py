"""Benchmark of the DSE engine on the quickstart space (digits, small CNV W2A2, Pynq-Z1).

Prints:
1. the hypervolume (HV) reached by NSGA-II and TPE after N trials (default N = 10% of the
   space) as a share of the exhaustive enumeration's HV (every point of the quickstart grid
   evaluated; the accuracy cache makes it affordable: training happens once per pruning
   rate) and as a ratio to random search with the same budget, over several seeds
   (target: NSGA-II >= 95% of the exhaustive HV within 10% of its evaluations);
2. the HV of the joint pruning + early-exit space against the pruning-only (no early exit)
   and exit-only (no pruning) sub-spaces of the same grid (the AdaPEx claim);
3. trials per hour of a real study on this machine (SQLite storage, designs and Pareto front
   written per trial, warm accuracy cache), and the one-off training time.

HV: feasible designs only, in the objectives' minimisation space (accuracy linear, throughput
and energy in log10). Two measures: the normalised HV (each objective scaled to [0, 1]
between the ideal and nadir points of the exhaustive front, reference 1.1: the usual
benchmark measure, used for the target) and the study's own HV (the fixed reference point of
dse.pareto: accuracy 0, 1 inference/s, 1 J per inference, which also counts the large easy
region far from the front). Sampler runs look up the exhaustive table (the same
deterministic evaluation), so every sampler sees exactly the same objective values.

Usage: .venv/bin/python benchmarks/bench_dse.py [--fraction 0.1] [--seeds 3] [--jobs 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_EVAL: Any = None


def _init_worker(cache_dir: str) -> None:
    global _EVAL
    import torch

    from dse.config import load_config
    from dse.study.evaluate import Evaluator

    torch.set_num_threads(1)
    _EVAL = Evaluator(load_config(), cache_dir=cache_dir)


def _evaluate_chunk(points: list[Any]) -> list[tuple[Any, dict[str, float], bool]]:
    out = []
    for p in points:
        ev = _EVAL.evaluate(p)
        out.append((p, ev.objectives, ev.feasible))
    return out


def exhaustive(cache_dir: str, points: list[Any], jobs: int) -> dict[Any, tuple[dict, bool]]:
    """Evaluate every point (in ``jobs`` processes)."""
    chunks = [points[i :: jobs * 8] for i in range(jobs * 8)]
    table: dict[Any, tuple[dict, bool]] = {}
    if jobs <= 1:
        _init_worker(cache_dir)
        results = [_evaluate_chunk(c) for c in chunks]
    else:
        with mp.get_context("spawn").Pool(jobs, _init_worker, (cache_dir,)) as pool:
            results = pool.map(_evaluate_chunk, chunks)
    for chunk in results:
        for p, obj, feas in chunk:
            table[p] = (obj, feas)
    return table


def hv_of(entries: list[tuple[dict, bool]], specs: list[Any]) -> float:
    """HV with the study's fixed reference point (what `adapex study status` shows)."""
    from dse.pareto import front_hypervolume

    return front_hypervolume([o for o, f in entries if f], specs)


class NormalisedHV:
    """HV after normalising each objective (minimisation space) to [0, 1] between the ideal
    and the nadir point of the exhaustive feasible front, reference point 1.1 in every
    objective: the usual benchmark measure, which (unlike the fixed reference) weighs the
    region around the true front only."""

    def __init__(self, entries: list[tuple[dict, bool]], specs: list[Any]) -> None:
        from dse.pareto import pareto_mask, to_min_space

        self.specs = specs
        pts = to_min_space([o for o, f in entries if f], specs)
        front = pts[pareto_mask(pts)]
        self.ideal = front.min(axis=0)
        span = front.max(axis=0) - self.ideal
        self.span = np.where(span > 0, span, 1.0)

    def __call__(self, entries: list[tuple[dict, bool]]) -> float:
        from dse.pareto import hypervolume, to_min_space

        feas = [o for o, f in entries if f]
        if not feas:
            return 0.0
        pts = (to_min_space(feas, self.specs) - self.ideal) / self.span
        return hypervolume(pts, np.full(len(self.specs), 1.1))


def sampler_run(
    name: str,
    seed: int,
    n_trials: int,
    space: Any,
    table: dict,
    specs: list[Any],
    pop: int,
    hv: Any,
) -> tuple[float, list[float], float]:
    """Run an Optuna study on the exhaustive table; HV after every 10 trials."""
    import optuna

    from dse.study.samplers import make_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    study = optuna.create_study(
        directions=[s.direction for s in specs],
        sampler=make_sampler(name, seed=seed, population_size=pop),
    )
    seen: list[tuple[dict, bool]] = []
    curve: list[float] = []

    def objective(trial: Any) -> list[float]:
        point = space.sample(trial)
        obj, feas = table[point]
        trial.set_constraint("fits_device", -1.0 if feas else 1.0)
        seen.append((obj, feas))
        if len(seen) % 10 == 0:
            curve.append(hv(seen))
        return [obj[s.name] for s in specs]

    study.optimize(objective, n_trials=n_trials)
    return hv(seen), curve, hv_of(seen, specs)


def trials_per_hour(cache_dir: str, n: int) -> tuple[float, float]:
    """A real study (SQLite, designs written) on the warm cache: trials/hour and seconds."""
    import logging

    from dse.config import load_config
    from dse.study import run_study

    logging.getLogger("dse").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as d:
        cfg = load_config().with_(study={"name": "bench"})
        t0 = time.perf_counter()
        summary = run_study(cfg, storage=f"sqlite:///{d}/bench.db", trials=n, cache_dir=cache_dir)
        seconds = time.perf_counter() - t0
    return 3600.0 * summary.trials_run / seconds, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fraction", type=float, default=0.10, help="trials as a share of the space"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--cache-dir", default=os.environ.get("ADAPEX_CACHE_DIR", str(ROOT / ".adapex_cache"))
    )
    parser.add_argument("--rate-trials", type=int, default=40, help="trials of the trials/hour run")
    args = parser.parse_args()

    import torch

    from dse.config import load_config
    from dse.study.evaluate import Evaluator

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    cfg = load_config()
    specs = cfg.objectives.specs()
    ev = Evaluator(cfg, cache_dir=args.cache_dir)
    space = ev.space
    points = list(space.enumerate())
    print(
        f"quickstart space: {len(points)} design points "
        f"({len(ev.candidates)} candidate exits, sampler population {cfg.study.population_size})"
    )

    t0 = time.perf_counter()
    rates = sorted({p.pruning for p in points})
    for r in rates:  # training (or cache hits): once per pruning rate
        ev.pipeline.evaluate(ev.archs[(2, 2)], r)
    t_train = time.perf_counter() - t0
    print(
        f"accuracy pipeline: {len(rates)} pruning rates ready in {t_train:.1f} s (0 s when cached)"
    )

    t0 = time.perf_counter()
    table = exhaustive(args.cache_dir, points, args.jobs)
    t_exh = time.perf_counter() - t0
    all_entries = list(table.values())
    hv_exh = hv_of(all_entries, specs)
    n_feas = sum(1 for _, f in all_entries if f)
    print(
        f"exhaustive: {len(points)} evaluations in {t_exh:.0f} s with {args.jobs} process(es) "
        f"({len(points) / t_exh:.1f}/s), {n_feas} feasible, HV {hv_exh:.4f}"
    )

    norm = NormalisedHV(all_entries, specs)
    nhv_exh = norm(all_entries)
    n_trials = max(10, int(round(args.fraction * len(points))))
    pct = 100 * n_trials / len(points)
    print(
        f"\nsamplers after {n_trials} trials ({pct:.1f}% of the space), {args.seeds} seeds; "
        "share of the exhaustive HV, mean / min over seeds"
    )
    print("  sampler  normalised HV       fixed-reference HV")
    results: dict[str, list[float]] = {}
    fixed: dict[str, list[float]] = {}
    curves: dict[str, list[list[float]]] = {}
    for name in ("random", "nsga2", "tpe"):
        t0 = time.perf_counter()
        runs = [
            sampler_run(name, seed, n_trials, space, table, specs, cfg.study.population_size, norm)
            for seed in range(args.seeds)
        ]
        results[name] = [r[0] / nhv_exh for r in runs]
        curves[name] = [[v / nhv_exh for v in r[1]] for r in runs]
        fixed[name] = [r[2] / hv_exh for r in runs]
        t_run = time.perf_counter() - t0
        a, f = results[name], fixed[name]
        print(
            f"  {name:7s} {100 * np.mean(a):6.2f}% / {100 * min(a):6.2f}%   "
            f"{100 * np.mean(f):6.2f}% / {100 * min(f):6.2f}%   ({t_run:.0f} s)"
        )
    rnd = float(np.mean(results["random"]))
    for name in ("nsga2", "tpe"):
        first = [
            next((10 * (i + 1) for i, v in enumerate(curve) if v >= 0.95), None)
            for curve in curves[name]
        ]
        reached = [f for f in first if f is not None]
        when = (
            f"after {np.mean(reached):.0f} trials ({100 * np.mean(reached) / len(points):.1f}% "
            "of the space) on average"
            if reached
            else "not within the budget"
        )
        print(
            f"  {name}: {np.mean(results[name]) / rnd:.3f}x random search's normalised HV at equal "
            f"budget; 95% of the exhaustive normalised HV reached in {len(reached)}/{len(first)} "
            f"seeds, {when}"
        )
    worst = min(results["nsga2"])
    verdict = "MET" if worst >= 0.95 else "NOT MET"
    print(
        f"  target: NSGA-II >= 95% of the exhaustive normalised HV within {pct:.0f}% of its "
        f"evaluations, every seed: {verdict} (worst seed {100 * worst:.2f}%)"
    )

    subsets = {
        "joint (pruning + exits)": list(table.values()),
        "pruning only (no exit)": [v for p, v in table.items() if not p.exits],
        "exits only (no pruning)": [v for p, v in table.items() if p.pruning == 0.0],
        "neither (folding/clock)": [
            v for p, v in table.items() if not p.exits and p.pruning == 0.0
        ],
    }
    print("\njoint pruning + early-exit space vs its sub-spaces (exhaustive, same grid):")
    print("  space                     points  normalised HV  fixed-ref HV  joint / this")
    for label, entries in subsets.items():
        nh, fh = norm(entries), hv_of(entries, specs)
        print(
            f"  {label:24s} {len(entries):7d}  {nh:13.4f}  {fh:12.4f}  "
            f"{nhv_exh / nh if nh else float('inf'):.3f}x / {hv_exh / fh if fh else float('inf'):.3f}x"
        )

    rate, seconds = trials_per_hour(args.cache_dir, args.rate_trials)
    print(
        f"\nthroughput: {rate:.0f} trials/hour on this machine ({args.rate_trials} trials of a real "
        f"study on SQLite in {seconds:.1f} s, warm accuracy cache; first-time training: "
        f"{t_train:.0f} s)"
    )


if __name__ == "__main__":
    main()

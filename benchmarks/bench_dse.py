"""Benchmark of the study's search: hypervolume against trainings, the unit a user pays.

A design has knobs that need a training (bit widths, pruning rates) and knobs that cost
milliseconds once its model is trained (exits, thresholds, folding, clock). Three methods,
over several seeds, on two spaces:

* ``nested``: adapex's study (``run_study``, a real SQLite database): TPE over the training
  knobs only, and for each trained model the inner step's exact front over the cheap knobs;
* ``tpe_per_design``: one TPE trial per design over every knob together (the search adapex
  ran before trials were trainings: TPE, multivariate, grouped), its trainings counted as
  the distinct models its trials touched;
* ``random_trainings``: random training choices, each model's exact front (``run_study``
  with the random sampler).

Spaces:

* ``quickstart_bits``: the quickstart's grid with two weight widths (W2A2 and W4A2, four
  pruning rates: eight models, 512 designs each); the reference is the exhaustive front of
  every design of every model;
* ``per_block``: per-block pruning (four rates over the eight prunable layers of a small CNV
  on 8x8 digits: 65,536 models), where exhaustive training is impossible; the reference is
  the best front the seed's runs reach together.

A study's seed is its trainings' seed too, so each seed has its own trained models: every
run of a seed (the three methods and the reference) uses that seed's models, and a seed's
``hv_share`` is against its own reference.

The hypervolume (HV) is normalised: each objective in the study's minimisation space
(accuracy linear, throughput and energy per inference in log10) scaled to [0, 1] between the
ideal and nadir points of the reference front, reference point 1.1; ``hv_share`` is a run's
HV over the reference's. Wall time adds each model's training time, as measured when this run
first trained it, to the time each method spent evaluating designs.

The inner step's pace is measured too: one trained model of the quickstart, its 512 designs,
against the evaluation path of the commit before trials were trainings (``--before``, run in
a subprocess from that commit's files when the checkout has it).

Usage: .venv/bin/python benchmarks/bench_dse.py [--seeds 3] [--tpe-trials 200]
       [--block-tpe-trials 32] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The commit before the study's trials were trainings (its per-design evaluation path).
BEFORE = "5d9a760"

#: The quickstart's grid as that commit had it, whatever the quickstart's clocks are now:
#: two clocks, 10 and 5 ns, so 512 designs per trained model (the figures stay comparable).
GRID = {"hardware": {"clk_ns": [10.0, 5.0]}}

PER_BLOCK = {
    "study": {"name": "per_block", "seed": 0, "sampler": "tpe", "trials": 8},
    "dataset": {"name": "digits", "seed": 0},
    "model": {"family": "cnv", "width_mult": 0.25, "candidate_exits": [0, 1]},
    "training": {"epochs": 5, "finetune_epochs": 1, "batch_size": 32, "prune_step": 0.25},
    "pruning": {"mode": "per_block", "rates": [0.0, 0.25, 0.5, 0.75]},
    "exits": {"thresholds": [0.8, 0.95]},
    "folding": {"strategies": ["optimised"], "budget": [0.25, 0.5, 1.0]},
    "hardware": {"board": "Pynq-Z1", "clk_ns": [10.0, 5.0]},
}


class NormalisedHV:
    """HV of feasible objective dicts, normalised to a reference front (module doc)."""

    def __init__(self, reference: list[dict[str, float]], specs: list[Any]) -> None:
        from dse.pareto import pareto_mask, to_min_space

        self.specs = specs
        pts = to_min_space(reference, specs)
        front = pts[pareto_mask(pts)]
        self.ideal = front.min(axis=0)
        span = front.max(axis=0) - self.ideal
        self.span = np.where(span > 0, span, 1.0)
        self.reference = self(reference)

    def __call__(self, objectives: list[dict[str, float]]) -> float:
        from dse.pareto import hypervolume, pareto_mask, to_min_space

        if not objectives:
            return 0.0
        pts = (to_min_space(objectives, self.specs) - self.ideal) / self.span
        return hypervolume(pts[pareto_mask(pts)], np.full(len(self.specs), 1.1))


class Trainings:
    """Each model's training seconds, measured the first time this run trains it."""

    def __init__(self, evaluator: Any) -> None:
        self.evaluator = evaluator
        self.seconds: dict[str, float] = {}

    def train(self, training: Any) -> Any:
        t0 = time.perf_counter()
        pruned = self.evaluator.train(training)
        key = str(pruned.metrics["key"])
        self.seconds.setdefault(key, time.perf_counter() - t0)
        return pruned


def _quiet() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore")
    logging.getLogger("dse").setLevel(logging.WARNING)


def nested_run(
    cfg: Any, sampler: str, seed: int, budget: int, cache: str, trainings: Trainings
) -> dict:
    """A real study of ``budget`` trainings; per training, the designs found so far."""
    from dse.storage import Store
    from dse.study import run_study

    cfg = cfg.with_(study={"name": f"{sampler}-{seed}", "seed": seed, "sampler": sampler})
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/bench.db"
        # the trainings this run needs, timed when this benchmark trains them first
        t0 = time.perf_counter()
        run_study(cfg, storage=url, trials=budget, cache_dir=cache)
        total = time.perf_counter() - t0
        with Store(url, read_only=True) as store:
            models = store.models(cfg.study.name)
            designs = store.designs(cfg.study.name)
    steps = []
    seen: list[dict[str, float]] = []
    inner = 0.0
    train_s = 0.0
    for m in models:
        # a model this run trained first: its cold training time (a later run reuses it)
        trainings.seconds.setdefault(m.key, float(m.metrics.get("training_seconds") or 0.0))
        seen += [d.objectives for d in designs if d.model_id == m.id and d.feasible]
        inner += float((m.metrics.get("inner") or {}).get("seconds") or 0.0)
        train_s += trainings.seconds[m.key]
        steps.append(
            {"trainings": len(steps) + 1, "objectives": list(seen), "wall": train_s + inner}
        )
    return {"steps": steps, "seconds": total}


def tpe_per_design_run(
    evaluator: Any, seed: int, n_trials: int, trainings: Trainings, max_trainings: int | None
) -> dict:
    """One TPE trial per design over every knob; a step per newly trained model."""
    import optuna

    from dse.study.samplers import make_sampler

    space = evaluator.space
    specs = evaluator.specs
    study = optuna.create_study(
        directions=[s.direction for s in specs], sampler=make_sampler("tpe", seed=seed)
    )
    seen: list[dict[str, float]] = []
    models: list[str] = []
    steps: list[dict] = []
    evaluating = 0.0
    for _ in range(n_trials):
        trial = study.ask()
        point = space.sample(trial)
        pruned = trainings.train(point.training)
        key = str(pruned.metrics["key"])
        if key not in models:
            if max_trainings is not None and len(models) >= max_trainings:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
            if models:  # the designs it had before this training
                steps.append(_step(len(models), seen, models, trainings, evaluating))
            models.append(key)
        t0 = time.perf_counter()
        ev = evaluator.evaluate_trained(pruned, point, space.trial_chooser(trial))
        evaluating += time.perf_counter() - t0
        for name, value in ev.constraints.items():
            trial.set_constraint(name, float(value))
        study.tell(trial, ev.objective_values(specs))
        if ev.feasible:
            seen.append(ev.objectives)
    steps.append(_step(len(models), seen, models, trainings, evaluating))
    return {"steps": steps}


def _step(n: int, seen: list, models: list[str], trainings: Trainings, evaluating: float) -> dict:
    wall = sum(trainings.seconds.get(k, 0.0) for k in models) + evaluating
    return {"trainings": n, "objectives": list(seen), "wall": wall}


def exhaustive_front(evaluator: Any, trainings: Trainings) -> list[dict[str, float]]:
    """Every design of every model of a finite space: the union of the models' fronts."""
    from dse.study.inner import inner_front

    out: list[dict[str, float]] = []
    for tp in evaluator.space.training_grid():
        pruned = trainings.train(tp)
        res = inner_front(evaluator, pruned, tp, limit=10**9, seed=0)
        out += [e.objectives for e in res.front if e.feasible]
    return out


def curves(run: dict, hv: NormalisedHV) -> dict[str, list[list[float]]]:
    curve = [[s["trainings"], hv(s["objectives"]) / hv.reference] for s in run["steps"]]
    wall = [[round(s["wall"], 3), c[1]] for s, c in zip(run["steps"], curve, strict=True)]
    return {"curve": curve, "wall_curve": wall}


def at(curve: list[list[float]], trainings: float) -> float:
    """A curve's hv_share with at most ``trainings`` trainings (0 before its first)."""
    got = [share for t, share in curve if t <= trainings + 1e-9]
    return got[-1] if got else 0.0


def _seeded(cfg: Any, seed: int, cache: str) -> tuple[Any, Trainings]:
    """The evaluator of ``cfg`` with study seed ``seed``: the seed a study's trainings use,
    so a method's runs of one seed are measured against that seed's trained models."""
    from dse.study.evaluate import Evaluator

    ev = Evaluator(cfg.with_(study={"seed": seed}), cache_dir=cache)
    return ev, Trainings(ev)


def quickstart_bits(args: Any, cache: str, out: dict) -> None:
    import torch

    from dse.config import load_config

    torch.set_num_threads(1)
    cfg = load_config().with_(model={"weight_bits": [2, 4]}, study={"trials": 8}, **GRID)
    methods: dict[str, list[dict]] = {"nested": [], "tpe_per_design": [], "random_trainings": []}
    references: list[float] = []
    n_models = 0
    for seed in range(args.seeds):
        ev, trainings = _seeded(cfg, seed, cache)
        n_models = ev.space.training_size()
        t0 = time.perf_counter()
        reference = exhaustive_front(ev, trainings)
        print(
            f"quickstart_bits seed {seed}: {n_models} models x {ev.space.cheap_size()} designs; "
            f"exhaustive front in {time.perf_counter() - t0:.0f} s "
            f"(training {sum(trainings.seconds.values()):.0f} s)"
        )
        hv = NormalisedHV(reference, ev.specs)
        references.append(hv.reference)
        for name, sampler in (("nested", "tpe"), ("random_trainings", "random")):
            run = nested_run(cfg, sampler, seed, n_models, cache, trainings)
            methods[name].append({"seed": seed, **curves(run, hv)})
        run = tpe_per_design_run(ev, seed, args.tpe_trials, trainings, None)
        methods["tpe_per_design"].append({"seed": seed, **curves(run, hv)})
    out["quickstart_bits"] = {
        # one number as the JSON format names it (the seeds' mean); each seed's curve is a
        # share of its own seed's reference, listed beside it
        "reference_hv": statistics.fmean(references),
        "reference_hv_per_seed": references,
        "distinct_trainings": n_models,
        "methods": methods,
    }
    _report("quickstart_bits", out["quickstart_bits"], args)


def per_block(args: Any, cache: str, out: dict) -> None:
    import torch

    from dse.config import parse_config

    torch.set_num_threads(1)
    cfg = parse_config(PER_BLOCK)
    budget = max(1, args.block_tpe_trials // 4)
    methods: dict[str, list[dict]] = {"nested": [], "tpe_per_design": [], "random_trainings": []}
    references: list[float] = []
    n_models = 0
    for seed in range(args.seeds):
        ev, trainings = _seeded(cfg, seed, cache)
        n_models = ev.space.training_size()
        runs = {
            "nested": nested_run(cfg, "tpe", seed, budget, cache, trainings),
            "random_trainings": nested_run(cfg, "random", seed, budget, cache, trainings),
            "tpe_per_design": tpe_per_design_run(
                ev, seed, 50 * args.block_tpe_trials, trainings, args.block_tpe_trials
            ),
        }
        # the reference: every design any run of this seed found (the same trained models)
        everything = [o for r in runs.values() for o in r["steps"][-1]["objectives"]]
        hv = NormalisedHV(everything, ev.specs)
        references.append(hv.reference)
        for name, r in runs.items():
            methods[name].append({"seed": seed, **curves(r, hv)})
    print(
        f"per_block: {n_models} models; TPE per design {args.block_tpe_trials} trainings, "
        f"nested and random {budget}; reference per seed: every design its runs found"
    )
    out["per_block"] = {
        # one number as the JSON format names it (the seeds' mean); each seed's curve is a
        # share of its own seed's reference, listed beside it
        "reference_hv": statistics.fmean(references),
        "reference_hv_per_seed": references,
        "distinct_trainings": n_models,
        "methods": methods,
    }
    _report("per_block", out["per_block"], args)


def _report(name: str, space: dict, args: Any) -> None:
    methods = space["methods"]
    print(f"  {name}: hv_share at the end, per seed")
    for method, runs in methods.items():
        finals = [r["curve"][-1] for r in runs]
        text = ", ".join(f"{s:.3f} ({int(t)} trainings)" for t, s in finals)
        print(f"    {method:17s} {text}")
    nested, tpe = methods["nested"], methods["tpe_per_design"]
    if name == "quickstart_bits":
        exact = all(r["curve"][-1][1] >= 1.0 - 1e-9 for r in nested)
        ahead = all(
            at(n["curve"], t) >= at(p["curve"], t) - 1e-9
            for n, p in zip(nested, tpe, strict=True)
            for t in range(1, int(space["distinct_trainings"]) + 1)
        )
        print(f"    goal: nested reaches the exhaustive front, every seed: {_met(exact)}")
        print(f"    goal: nested >= TPE per design at every number of trainings: {_met(ahead)}")
    else:
        ratio = [
            at(n["curve"], p["curve"][-1][0] / 4) / p["curve"][-1][1]
            for n, p in zip(nested, tpe, strict=True)
        ]
        print(
            "    goal: nested with a quarter of TPE per design's trainings reaches its final HV, "
            f"every seed: {_met(min(ratio) >= 1 - 1e-9)} (nested / TPE: "
            + ", ".join(f"{r:.3f}x" for r in ratio)
            + ")"
        )
    for method, runs in methods.items():
        walls = [r["wall_curve"][-1][0] for r in runs]
        print(
            f"    {method:17s} wall time at the measured training cost: {statistics.mean(walls):.0f} s"
        )


def _met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def inner_pace(cache: str, before: str | None, runs: int = 3) -> None:
    """One trained model's 512 designs: the inner step against the per-design path of
    ``before`` (its files, in a subprocess), designs per second of each.

    The inner step runs ``runs`` times, each in a fresh process (the step's own caches start
    empty, as for each model of a study), and its median is reported."""
    import torch

    from dse.config import load_config
    from dse.study.evaluate import Evaluator
    from dse.study.space import TrainingPoint

    torch.set_num_threads(1)
    Evaluator(load_config().with_(**GRID), cache_dir=cache).train(TrainingPoint(2, 2, 0.25))
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from dse.config import load_config\n"
        "from dse.study.evaluate import Evaluator\n"
        "from dse.study.inner import inner_front\n"
        "from dse.study.space import TrainingPoint\n"
        "tp = TrainingPoint(2, 2, 0.25)\n"
        f"ev = Evaluator(load_config().with_(**{GRID!r}), cache_dir={cache!r})\n"
        "res = inner_front(ev, ev.train(tp), tp, limit=10**9, seed=0)\n"
        "print(res.evaluated, res.seconds, len(res.front))\n"
    )
    times = []
    for _ in range(runs):
        out = _run_code(code, ROOT)
        if out is None:
            return
        n, secs, front = out.split()
        times.append(float(secs))
    med = statistics.median(times)
    now = int(n) / med
    print(
        f"inner step: {n} designs of one trained model in {med:.2f} s, median of {runs} fresh "
        f"processes ({min(times):.2f}-{max(times):.2f} s; {now:.0f} designs/s), {front} on its "
        "front"
    )
    if before is None:
        return
    old = _before_pace(cache, before)
    if old is None:
        print(f"  (no checkout of {before} to measure the per-design path against)")
        return
    print(
        f"  per-design path of {before}: {old:.1f} designs/s; inner step / per-design: "
        f"{now / old:.1f}x"
    )


def _run_code(code: str, path: Path | str) -> str | None:
    """The last line ``code`` prints, run by this Python with ``path`` first on its path."""
    env = {**os.environ, "PYTHONPATH": str(path), "OMP_NUM_THREADS": "1"}
    got = subprocess.run(
        [sys.executable, "-c", code], cwd=path, env=env, capture_output=True, text=True
    )
    if got.returncode != 0:
        print(got.stderr[-2000:], file=sys.stderr)
        return None
    return got.stdout.strip().splitlines()[-1]


def _before_pace(cache: str, ref: str) -> float | None:
    """Designs per second of ``ref``'s per-design evaluation of the same model's designs."""
    with tempfile.TemporaryDirectory() as d:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "dse", "hw_builders", "search_spaces"],
            capture_output=True,
        )
        if archive.returncode != 0:
            return None
        subprocess.run(["tar", "-x", "-C", d], input=archive.stdout, check=True)
        code = (
            "import sys, time, torch; torch.set_num_threads(1)\n"
            "from dse.config import load_config\n"
            "from dse.study.evaluate import Evaluator\n"
            f"ev = Evaluator(load_config(), cache_dir={cache!r})\n"
            "pts = [p for p in ev.space.enumerate() if p.pruning == 0.25]\n"
            "ev.evaluate(pts[0])\n"
            "t0 = time.perf_counter()\n"
            "for p in pts: ev.evaluate(p)\n"
            "print(len(pts) / (time.perf_counter() - t0))\n"
        )
        out = _run_code(code, d)
        return None if out is None else float(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--tpe-trials", type=int, default=200, help="TPE per design's trials on quickstart_bits"
    )
    parser.add_argument(
        "--block-tpe-trials", type=int, default=32, help="TPE per design's trainings on per_block"
    )
    parser.add_argument("--spaces", default="quickstart_bits,per_block")
    parser.add_argument("--before", default=BEFORE, help="git ref of the per-design path")
    parser.add_argument("--no-pace", action="store_true", help="skip the inner step's pace")
    parser.add_argument(
        "--cache-dir", default=os.environ.get("ADAPEX_CACHE_DIR", str(ROOT / ".adapex_cache"))
    )
    parser.add_argument("--json", action="store_true", help="print the results as one object")
    args = parser.parse_args()
    _quiet()
    out: dict[str, Any] = {}
    if not args.no_pace:
        inner_pace(args.cache_dir, args.before)
    for name in args.spaces.split(","):
        {"quickstart_bits": quickstart_bits, "per_block": per_block}[name](
            args, args.cache_dir, out
        )
    if args.json:
        print(json.dumps({"spaces": out}))


if __name__ == "__main__":
    main()

"""The inner step: the exact Pareto set of one trained model over the cheap knobs.

Once a model is trained (the study's Optuna trial samples only its bit widths and pruning
rates), every design of it differs only in knobs that cost microseconds to milliseconds to
evaluate: which candidate exits are used and their thresholds (read from the model's
calibration profile), the folding and the clock (the FINN-exact estimator). The inner step
evaluates them and keeps the model's non-dominated designs:

* **exhaustive** when every cheap knob has finitely many values (lists or stepped ranges,
  optimised folding) and the model has at most ``[study] inner_limit`` designs: its front
  is then exact;
* otherwise an **optimiser** on the fast estimator: an in-memory Optuna study with
  NSGA-II (seeded from the study seed and the model) over the cheap knobs, with the
  study's objectives and constraints, for ``inner_limit`` evaluations; sampled folding
  draws each layer's PE/SIMD among its legal values there.

The front is the feasible non-dominated designs under the study's objectives (the first one,
by the study's first objective, is the one the training trial itself carries), one per
distinct accelerator and threshold setting (budgets that fold the model alike give one
design); when no design of the model is feasible, the least infeasible one stands for it. Beside it, the
pruning-only sub-space of the model (its designs without exits) has its own front: those of
its designs not on the model's front are kept for the runtime's baselines.
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dse.pareto import ObjectiveSpec, feasible_front, to_min_space
from dse.study.seeds import derive_seed
from dse.study.space import DesignPoint, TrainingPoint

if TYPE_CHECKING:
    from dse.study.evaluate import Evaluation, Evaluator

__all__ = ["DEFAULT_INNER_LIMIT", "InnerResult", "inner_front"]

#: Designs the inner step evaluates per trained model at most (``[study] inner_limit``).
DEFAULT_INNER_LIMIT = 4096


@dataclass
class InnerResult:
    """What the inner step found for one trained model.

    Attributes:
        front: The model's non-dominated designs (``Evaluation``), the one its training trial
            carries first; the least infeasible design alone when none is feasible.
        baselines: The designs without exits on the model's pruning-only front that are not
            on ``front`` (the runtime's pruning-only baseline).
        evaluated: How many designs were evaluated.
        mode: ``"exhaustive"`` or ``"optimiser"``.
        seconds: Wall time of the step.
    """

    front: list[Any]
    baselines: list[Any] = field(default_factory=list)
    evaluated: int = 0
    mode: str = "exhaustive"
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The figures stored with the trained model."""
        return {
            "mode": self.mode,
            "evaluated": self.evaluated,
            "front": len(self.front),
            "baselines": len(self.baselines),
            "seconds": round(self.seconds, 4),
        }


def _key(ev: Any) -> str:
    return json.dumps(ev.point.to_params(), sort_keys=True)


def _built(ev: Any) -> str:
    """What a design builds and runs: its exits, thresholds, folding and clock (two budgets
    that fold a model alike give one design)."""
    folding = ev.folding.to_dict() if hasattr(ev.folding, "to_dict") else ev.folding
    return json.dumps(
        [list(ev.exits), list(ev.thresholds), folding, float(ev.point.clk_ns)], sort_keys=True
    )


def _front(evals: list[Any], specs: list[ObjectiveSpec]) -> list[Any]:
    """The feasible non-dominated evaluations (by the first objective, then the next ones,
    best first), or the least infeasible one when none is feasible."""
    if not evals:
        return []
    mask = feasible_front([e.objectives for e in evals], [e.feasible for e in evals], specs)
    kept = [e for e, m in zip(evals, mask, strict=True) if m]
    if not kept:
        worst = [max(e.constraints.values(), default=0.0) for e in evals]
        return [min(zip(worst, range(len(evals)), evals, strict=True))[2]]
    order = to_min_space([e.objectives for e in kept], specs)
    ranked = sorted(range(len(kept)), key=lambda i: (tuple(order[i]), _key(kept[i])))
    seen: set[str] = set()
    out = []
    for i in ranked:
        built = _built(kept[i])
        if built not in seen:
            seen.add(built)
            out.append(kept[i])
    return out


def _exhaustive(evaluator: Evaluator, pruned: Any, points: list[DesignPoint]) -> list[Evaluation]:
    return [evaluator.evaluate_trained(pruned, p) for p in points]


def _optimised(
    evaluator: Evaluator, pruned: Any, training: TrainingPoint, limit: int, seed: int
) -> list[Evaluation]:
    """``limit`` evaluations of the cheap knobs by an in-memory NSGA-II study."""
    import optuna
    from optuna.study import StudyDirection

    specs = evaluator.specs
    found: dict[str, Evaluation] = {}
    sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=min(50, max(8, limit // 20)))
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        directions = [
            StudyDirection.MAXIMIZE if s.direction == "maximize" else StudyDirection.MINIMIZE
            for s in specs
        ]
        study = optuna.create_study(directions=directions, sampler=sampler)
        for _ in range(limit):
            trial = study.ask()
            point = evaluator.space.sample_cheap(trial, training)
            ev = evaluator.evaluate_trained(pruned, point, evaluator.space.trial_chooser(trial))
            found.setdefault(_key(ev), ev)
            for name, value in ev.constraints.items():
                trial.set_constraint(name, float(value))
            study.tell(trial, ev.objective_values(specs))
    finally:
        optuna.logging.set_verbosity(verbosity)
    return list(found.values())


def inner_front(
    evaluator: Evaluator, pruned: Any, training: TrainingPoint, *, limit: int, seed: int
) -> InnerResult:
    """The inner step for one trained model (module doc).

    Args:
        evaluator: The study's :class:`dse.study.evaluate.Evaluator`.
        pruned: The trained model (``Evaluator.train(training)``).
        training: Its training point.
        limit: Designs to evaluate at most (``[study] inner_limit``).
        seed: The study seed (the optimiser's seed derives from it and the model).

    Returns:
        The :class:`InnerResult`.
    """
    t0 = time.perf_counter()
    points = evaluator.space.cheap_points(training)
    # The step makes and drops many small objects and no reference cycles of its own, in a
    # process that holds a trained model and its data: the cyclic collector would walk
    # that heap again and again (a fifth of the step's time); it resumes after the step.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if points is not None and len(points) <= limit:
            evals, mode = _exhaustive(evaluator, pruned, points), "exhaustive"
        else:
            key = str(pruned.metrics.get("key", training.to_params()))
            evals = _optimised(evaluator, pruned, training, limit, derive_seed(seed, "inner", key))
            mode = "optimiser"
    finally:
        if collecting:
            gc.enable()
    specs = evaluator.specs
    front = _front(evals, specs)
    on_front = {_key(e) for e in front}
    no_exits = _front([e for e in evals if not e.exits and e.feasible], specs)
    baselines = [e for e in no_exits if _key(e) not in on_front]
    return InnerResult(
        front=front,
        baselines=baselines,
        evaluated=len(evals),
        mode=mode,
        seconds=time.perf_counter() - t0,
    )

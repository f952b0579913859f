"""The pruning-only and exit-only sub-spaces of a study, evaluated as trials of the study.

The runtime baselines compare adapex with what a user gets from each technique alone, over
its whole sub-space rather than over the designs the sampler happened to draw:

* pruning-only: every pruning rate, no exit, every folding budget and clock;
* exit-only: the unpruned network with every subset of the candidate exits (each exit at the
  middle threshold of the config: thresholds are registers, the runtime manager sweeps them),
  every folding budget and clock.

The points not stored yet are enqueued as trials with fixed parameters and run through the
study's own trial loop: the accuracy pipeline's cache makes each cost a fraction of a second,
they become ordinary designs of the study (exportable, shown everywhere), and the Optuna
tables and adapex's stay consistent (issue 12's invariants).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from dse.errors import DseError

__all__ = ["SUBSPACES", "ensure_subspaces", "subspace_points", "trial_params"]

SUBSPACES = ("pruning_only", "exit_only")


def subspace_points(space: Any) -> dict[str, list[Any]]:
    """The design points of each sub-space (``DesignPoint`` lists; empty when the config's
    space cannot hold it, e.g. no pruning rate 0 for exit-only or sampled folding)."""
    from dse.study.space import DesignPoint, knob_grid

    cfg = space.config
    if "optimised" not in cfg.folding.strategies or cfg.pruning.mode != "uniform":
        return {name: [] for name in SUBSPACES}
    try:
        rates = knob_grid("pruning.rates", cfg.pruning.rates)
        thr = knob_grid("exits.thresholds", cfg.exits.thresholds)
        budgets = knob_grid("folding.budget", cfg.folding.budget)
        clks = knob_grid("hardware.clk_ns", cfg.hardware.clk_ns)
    except DseError:  # a continuous knob: no finite sub-space
        return {name: [] for name in SUBSPACES}
    targets: list[float | None] = list(cfg.folding.target_fps) or [None]
    mid = sorted(thr)[len(thr) // 2]
    wb, ab = cfg.model.weight_bits[0], cfg.model.act_bits[0]
    hw = [(b, t, c) for b in budgets for t in targets for c in clks]

    def point(rate: float, exits: tuple[int, ...], budget: float, target: Any, clk: float) -> Any:
        return DesignPoint(
            weight_bits=wb,
            act_bits=ab,
            pruning=float(rate),
            exits=exits,
            thresholds=tuple(mid for _ in exits),
            folding="optimised",
            budget=budget,
            target_fps=target,
            clk_ns=clk,
        )

    subsets: list[tuple[int, ...]] = [()]
    for k in space.candidates:
        subsets += [(*s, k) for s in subsets]
    subsets = sorted({tuple(sorted(s)) for s in subsets}, key=lambda s: (len(s), s))
    pruning_only = [point(r, (), *h) for r in rates for h in hw]
    exit_only = [point(0.0, s, *h) for s in subsets if s for h in hw] if 0.0 in rates else []
    return {"pruning_only": pruning_only, "exit_only": exit_only}


def trial_params(space: Any, point: Any) -> dict[str, Any]:
    """Optuna parameters that make :meth:`DesignSpace.sample` return ``point``."""
    params: dict[str, Any] = {
        "weight_bits": point.weight_bits,
        "act_bits": point.act_bits,
        "pruning": float(point.pruning),
        "folding": point.folding,
        "clk_ns": float(point.clk_ns),
    }
    chosen = dict(zip(point.exits, point.thresholds, strict=True))
    for k in space.candidates:
        params[f"exit_{k}"] = float(chosen[k]) if k in chosen else "off"
    if point.budget is not None:
        params["budget"] = float(point.budget)
    if point.target_fps is not None:
        params["target_fps"] = float(point.target_fps)
    return params


def ensure_subspaces(
    study: str,
    storage: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    on_trial: Callable[[Any, int], None] | None = None,
    on_missing: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Evaluate the sub-space points the study does not hold yet (as trials of the study).

    Args:
        study: the study name.
        storage: its storage URL.
        cache_dir: the checkpoint cache of the accuracy pipeline.
        on_trial: called after each sub-space trial with (FrozenTrial, completed trials).
        on_missing: called once with the number of points to evaluate (before any).

    Returns:
        Per sub-space, how many of its points the study holds now.

    Raises:
        DseError: the study does not exist (nothing is written).
    """
    import optuna

    from dse.config import parse_config
    from dse.storage import Store
    from dse.study.evaluate import Evaluator
    from dse.study.run import join_study, optuna_storage

    with Store(storage, read_only=True) as store:
        info = store.study_info(study)
        if info is None:
            raise DseError(f"study {study!r}: not found; create it with `adapex run`")
        cfg = parse_config(info["config"], f"stored study {study!r}")
        evaluator = Evaluator(cfg, cache_dir=cache_dir)
        wanted = subspace_points(evaluator.space)
        missing = [
            p
            for name in SUBSPACES
            for p in wanted[name]
            if store.find_design(study, p.to_params()) is None
        ]
    if on_missing is not None:
        on_missing(len(missing))
    if missing:
        ostudy = optuna.load_study(study_name=study, storage=optuna_storage(storage, cfg))
        complete = len(
            ostudy.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        )
        for p in missing:
            ostudy.enqueue_trial(trial_params(evaluator.space, p), skip_if_exists=True)
        join_study(
            study,
            storage,
            trials=complete + len(missing),
            cache_dir=cache_dir,
            on_trial=on_trial,
            remember_target=False,  # the study's own target stays what its runs set
        )
    with Store(storage, read_only=True) as store:
        return {
            name: sum(1 for p in wanted[name] if store.find_design(study, p.to_params()))
            for name in SUBSPACES
        }

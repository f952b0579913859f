"""The design space of a study: sampling a :class:`DesignPoint` per Optuna trial, and
enumerating every point of a finite space (for exhaustive baselines).

Parameter names (stable, so that every trial of a study shares one search space):
``weight_bits`` / ``act_bits`` (only when several are configured), ``pruning`` (uniform) or
``pruning_<i>`` (per block, one per prunable layer), ``exit_<k>`` (one gene per candidate
exit k: ``"off"`` or its confidence threshold, when the thresholds are a list or a stepped
range; with a continuous threshold range, ``exit_<k>`` is True/False and ``threshold_<k>``
its threshold), ``folding`` (when both strategies are configured), ``budget`` and ``target_fps``
(optimised folding), ``fold_<layer>_<attr>`` (sampled folding: a position in [0, 1] among
the layer's legal values) and ``clk_ns``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dse.config import Knob, StudyConfig, knob_values
from dse.errors import DseError

Chooser = Callable[[str, int], int]
"""``choose(name, n)`` returns an index in ``range(n)`` (sampled folding)."""


@dataclass(frozen=True)
class DesignPoint:
    """One point of the design space (before folding values are resolved on the graph)."""

    weight_bits: int
    act_bits: int
    pruning: float | tuple[float, ...]
    exits: tuple[int, ...]
    thresholds: tuple[float, ...]
    folding: str  # "optimised" | "sampled"
    budget: float | None
    target_fps: float | None
    clk_ns: float
    fold_choices: tuple[tuple[str, float], ...] = field(default=())

    def to_params(self) -> dict[str, Any]:
        """The design point as a JSON-friendly dict (DesignRecord.params)."""
        return {
            "weight_bits": self.weight_bits,
            "act_bits": self.act_bits,
            "pruning": list(self.pruning) if isinstance(self.pruning, tuple) else self.pruning,
            "exits": list(self.exits),
            "thresholds": list(self.thresholds),
            "folding": self.folding,
            "budget": self.budget,
            "target_fps": self.target_fps,
            "clk_ns": self.clk_ns,
            **({"fold_choices": dict(self.fold_choices)} if self.fold_choices else {}),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> DesignPoint:
        """Inverse of :meth:`to_params`."""
        pruning = params["pruning"]
        return cls(
            weight_bits=int(params["weight_bits"]),
            act_bits=int(params["act_bits"]),
            pruning=tuple(pruning) if isinstance(pruning, list) else float(pruning),
            exits=tuple(int(e) for e in params["exits"]),
            thresholds=tuple(float(t) for t in params["thresholds"]),
            folding=str(params["folding"]),
            budget=None if params.get("budget") is None else float(params["budget"]),
            target_fps=None if params.get("target_fps") is None else float(params["target_fps"]),
            clk_ns=float(params["clk_ns"]),
            fold_choices=tuple(sorted((params.get("fold_choices") or {}).items())),
        )


def _suggest(trial: Any, name: str, knob: Knob) -> float:
    values = knob_values(knob)
    if values is not None and len(values) == 1:
        return float(values[0])
    if isinstance(knob, list):
        return float(trial.suggest_categorical(name, [float(v) for v in knob]))
    if knob.step is not None:
        return float(trial.suggest_float(name, knob.low, knob.high, step=knob.step))
    return float(trial.suggest_float(name, knob.low, knob.high, log=knob.log))


def knob_grid(name: str, knob: Knob) -> list[float]:
    values = knob_values(knob)
    if values is None:
        raise DseError(
            f"{name}: a continuous range cannot be enumerated; give a list or a range with a step"
        )
    return [float(v) for v in values]


class DesignSpace:
    """The knobs of a study config, for a family with ``n_prunable`` layers and candidate exits.

    Args:
        config: The validated study config.
        n_prunable: Number of prunable layers of the model family (per-block pruning).
        candidate_exits: Candidate exit indices attached to the trained model.
    """

    def __init__(
        self, config: StudyConfig, n_prunable: int, candidate_exits: Sequence[int]
    ) -> None:
        self.config = config
        self.n_prunable = int(n_prunable)
        self.candidates = tuple(int(e) for e in candidate_exits)

    # ------------------------------------------------------------------ sampling
    def sample(self, trial: Any) -> DesignPoint:
        """Sample a design point with an Optuna trial (folding values come later, per layer)."""
        cfg = self.config
        wb = cfg.model.weight_bits
        ab = cfg.model.act_bits
        weight_bits = int(trial.suggest_categorical("weight_bits", wb)) if len(wb) > 1 else wb[0]
        act_bits = int(trial.suggest_categorical("act_bits", ab)) if len(ab) > 1 else ab[0]
        if cfg.pruning.mode == "uniform":
            pruning: float | tuple[float, ...] = _suggest(trial, "pruning", cfg.pruning.rates)
        else:
            pruning = tuple(
                _suggest(trial, f"pruning_{i}", cfg.pruning.rates) for i in range(self.n_prunable)
            )
        used = []
        thresholds = {}
        grid = knob_values(cfg.exits.thresholds)
        if grid is not None:
            # One gene per exit, "off" or its threshold: the parameter space is then exactly
            # the design space, with no threshold genes that do nothing while their exit is
            # off (those made NSGA-II re-evaluate about a third of its trials).
            for k in self.candidates:
                choice = trial.suggest_categorical(f"exit_{k}", ["off", *map(float, grid)])
                if choice != "off":
                    used.append(k)
                    thresholds[k] = float(choice)
        else:  # a continuous threshold range: an on/off gene and a threshold gene per exit
            for k in self.candidates:
                if trial.suggest_categorical(f"exit_{k}", [False, True]):
                    used.append(k)
            for k in self.candidates:
                thresholds[k] = _suggest(trial, f"threshold_{k}", cfg.exits.thresholds)
        strategies = cfg.folding.strategies
        folding = (
            str(trial.suggest_categorical("folding", strategies))
            if len(strategies) > 1
            else strategies[0]
        )
        budget = target = None
        if folding == "optimised":
            budget = _suggest(trial, "budget", cfg.folding.budget)
            if cfg.folding.target_fps:
                target = _suggest(trial, "target_fps", list(cfg.folding.target_fps))
        clk = _suggest(trial, "clk_ns", cfg.hardware.clk_ns)
        return DesignPoint(
            weight_bits=int(weight_bits),
            act_bits=int(act_bits),
            pruning=pruning,
            exits=tuple(used),
            thresholds=tuple(thresholds[k] for k in used),
            folding=folding,
            budget=budget,
            target_fps=target,
            clk_ns=clk,
        )

    @staticmethod
    def trial_chooser(trial: Any) -> Chooser:
        """A chooser that samples sampled-folding positions with ``trial``."""

        def choose(name: str, n: int) -> int:
            if n <= 1:
                return 0
            u = trial.suggest_float(name, 0.0, 1.0)
            return min(n - 1, int(round(u * (n - 1))))

        return choose

    # ------------------------------------------------------------------ enumeration
    def enumerate(self) -> Iterator[DesignPoint]:
        """Every distinct design point of a finite space (thresholds only for exits in use).

        Raises:
            DseError: the space has a continuous knob or sampled folding (not enumerable).
        """
        cfg = self.config
        if "sampled" in cfg.folding.strategies:
            raise DseError(
                "folding.strategies: sampled folding cannot be enumerated; use optimised only"
            )
        rates = knob_grid("pruning.rates", cfg.pruning.rates)
        if cfg.pruning.mode == "uniform":
            prunings: list[float | tuple[float, ...]] = list(rates)
        else:
            prunings = [tuple(p) for p in itertools.product(rates, repeat=self.n_prunable)]
        thr = knob_grid("exits.thresholds", cfg.exits.thresholds)
        budgets = knob_grid("folding.budget", cfg.folding.budget)
        targets: list[float | None] = list(cfg.folding.target_fps) or [None]
        clks = knob_grid("hardware.clk_ns", cfg.hardware.clk_ns)
        subsets = [
            s
            for r in range(len(self.candidates) + 1)
            for s in itertools.combinations(self.candidates, r)
        ]
        for wb, ab, pruning in itertools.product(
            cfg.model.weight_bits, cfg.model.act_bits, prunings
        ):
            for subset in subsets:
                for ths in itertools.product(thr, repeat=len(subset)):
                    for budget, target, clk in itertools.product(budgets, targets, clks):
                        yield DesignPoint(
                            weight_bits=wb,
                            act_bits=ab,
                            pruning=pruning,
                            exits=tuple(subset),
                            thresholds=tuple(ths),
                            folding="optimised",
                            budget=budget,
                            target_fps=target,
                            clk_ns=clk,
                        )

    def size(self) -> int:
        """Number of distinct design points of a finite space (see :meth:`enumerate`)."""
        cfg = self.config
        if "sampled" in cfg.folding.strategies:
            raise DseError(
                "folding.strategies: sampled folding cannot be enumerated; use optimised only"
            )
        n_rates = len(knob_grid("pruning.rates", cfg.pruning.rates))
        n_prune = n_rates if cfg.pruning.mode == "uniform" else n_rates**self.n_prunable
        n_thr = len(knob_grid("exits.thresholds", cfg.exits.thresholds))
        n_exit = sum(
            math.comb(len(self.candidates), r) * n_thr**r for r in range(len(self.candidates) + 1)
        )
        n_hw = (
            len(knob_grid("folding.budget", cfg.folding.budget))
            * max(1, len(cfg.folding.target_fps))
            * len(knob_grid("hardware.clk_ns", cfg.hardware.clk_ns))
        )
        n_bits = len(cfg.model.weight_bits) * len(cfg.model.act_bits)
        return n_bits * n_prune * n_exit * n_hw

"""The design space of a study, in its two levels.

* **Training knobs** (:class:`TrainingPoint`): the bit widths and the pruning rates. Each
  distinct point is one trained model; the study's Optuna trials sample these only
  (:meth:`DesignSpace.sample_training`, :meth:`DesignSpace.training_distributions`).
* **Cheap knobs**: which exits are used and their thresholds (read from the trained model's
  exit profile), the folding and the clock (the FINN-exact estimator). For each trained
  model the inner step (:mod:`dse.study.inner`) enumerates them
  (:meth:`DesignSpace.cheap_points`) or samples them with an optimiser
  (:meth:`DesignSpace.sample_cheap`).

A :class:`DesignPoint` is one design: a training point and its cheap knobs.

Parameter names (stable, so that every trial of a study shares one search space):
``weight_bits`` / ``act_bits`` (only when several are configured), ``pruning`` (uniform) or
``pruning_<i>`` (per block, one per prunable layer) for the training knobs; for the cheap
ones ``exit_<k>`` (one gene per candidate exit k: ``"off"`` or its confidence threshold,
when the thresholds are a list or a stepped range; with a continuous threshold range,
``exit_<k>`` is True/False and ``threshold_<k>`` its threshold), ``folding`` (when both
strategies are configured), ``budget`` and ``target_fps`` (optimised folding),
``fold_<layer>_<attr>`` (sampled folding: a position in [0, 1] among the layer's legal
values) and ``clk_ns``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dse.accuracy.profile import exit_subsets
from dse.config import Knob, StudyConfig, knob_values
from dse.errors import DseError

Chooser = Callable[[str, int], int]
"""``choose(name, n)`` returns an index in ``range(n)`` (sampled folding)."""


@dataclass(frozen=True)
class TrainingPoint:
    """The knobs that need a training: one trained model of the study."""

    weight_bits: int
    act_bits: int
    pruning: float | tuple[float, ...]

    def to_params(self) -> dict[str, Any]:
        """The JSON-friendly form (a trained model's ``params``)."""
        return {
            "weight_bits": self.weight_bits,
            "act_bits": self.act_bits,
            "pruning": list(self.pruning) if isinstance(self.pruning, tuple) else self.pruning,
        }


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

    @property
    def training(self) -> TrainingPoint:
        """The knobs of this design that need a training."""
        return TrainingPoint(self.weight_bits, self.act_bits, self.pruning)

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


def knob_distribution(knob: Knob) -> Any:
    """The Optuna distribution a knob is sampled from (None for a knob of one value)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    values = knob_values(knob)
    if values is not None and len(values) == 1:
        return None
    if isinstance(knob, list):
        return CategoricalDistribution([float(v) for v in knob])
    if knob.step is not None:
        return FloatDistribution(knob.low, knob.high, step=knob.step)
    return FloatDistribution(knob.low, knob.high, log=knob.log)


def suggest(trial: Any, name: str, dist: Any) -> Any:
    """``trial``'s value for ``name`` from the distribution ``dist`` (the public suggest
    call that makes exactly that distribution)."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, list(dist.choices))
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


def _suggest(trial: Any, name: str, knob: Knob) -> float:
    dist = knob_distribution(knob)
    if dist is None:
        return float(knob_values(knob)[0])  # type: ignore[index]
    return float(suggest(trial, name, dist))


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

    # ------------------------------------------------------------------ training knobs
    def training_distributions(self) -> dict[str, Any]:
        """The Optuna distribution of every training knob that has more than one value."""
        from optuna.distributions import CategoricalDistribution

        cfg = self.config
        out: dict[str, Any] = {}
        for name, bits in (
            ("weight_bits", cfg.model.weight_bits),
            ("act_bits", cfg.model.act_bits),
        ):
            if len(bits) > 1:
                out[name] = CategoricalDistribution([int(b) for b in bits])
        dist = knob_distribution(cfg.pruning.rates)
        if dist is not None:
            if cfg.pruning.mode == "uniform":
                out["pruning"] = dist
            else:
                for i in range(self.n_prunable):
                    out[f"pruning_{i}"] = dist
        return out

    def _fixed_rate(self) -> float:
        return float(knob_values(self.config.pruning.rates)[0])  # type: ignore[index]

    def training_point(self, params: Mapping[str, Any]) -> TrainingPoint:
        """The training point of a trial's (or a design's Optuna) parameters; the inverse
        of :meth:`training_params`."""
        cfg = self.config
        wb = int(params.get("weight_bits", cfg.model.weight_bits[0]))
        ab = int(params.get("act_bits", cfg.model.act_bits[0]))
        if cfg.pruning.mode == "uniform":
            pruning: float | tuple[float, ...] = float(params.get("pruning", self._fixed_rate()))
        else:
            pruning = tuple(
                float(params.get(f"pruning_{i}", self._fixed_rate()))
                for i in range(self.n_prunable)
            )
        return TrainingPoint(wb, ab, pruning)

    def training_params(self, point: TrainingPoint) -> dict[str, Any]:
        """The Optuna parameters of a training point (those :meth:`sample_training` draws)."""
        dists = self.training_distributions()
        values: dict[str, Any] = {"weight_bits": point.weight_bits, "act_bits": point.act_bits}
        if isinstance(point.pruning, tuple):
            values.update({f"pruning_{i}": float(r) for i, r in enumerate(point.pruning)})
        else:
            values["pruning"] = float(point.pruning)
        return {k: v for k, v in values.items() if k in dists}

    def sample_training(self, trial: Any) -> TrainingPoint:
        """Sample a training point with an Optuna trial (its only parameters)."""
        params = {
            name: suggest(trial, name, d) for name, d in self.training_distributions().items()
        }
        return self.training_point(params)

    def training_grid(self) -> list[TrainingPoint] | None:
        """Every distinct training point, or None when a knob is continuous."""
        cfg = self.config
        rates = knob_values(cfg.pruning.rates)
        if rates is None:
            return None
        prunings: list[float | tuple[float, ...]]
        if cfg.pruning.mode == "uniform":
            prunings = [float(r) for r in rates]
        else:
            prunings = [
                tuple(map(float, p)) for p in itertools.product(rates, repeat=self.n_prunable)
            ]
        return [
            TrainingPoint(int(wb), int(ab), pr)
            for wb, ab, pr in itertools.product(cfg.model.weight_bits, cfg.model.act_bits, prunings)
        ]

    def training_size(self) -> int | None:
        """How many distinct trained models the space holds (None when continuous)."""
        cfg = self.config
        rates = knob_values(cfg.pruning.rates)
        if rates is None:
            return None
        n = len(rates) if cfg.pruning.mode == "uniform" else len(rates) ** self.n_prunable
        return n * len(cfg.model.weight_bits) * len(cfg.model.act_bits)

    # ------------------------------------------------------------------ cheap knobs
    def sample_cheap(self, trial: Any, training: TrainingPoint) -> DesignPoint:
        """Sample a design of the trained model ``training`` with an Optuna trial (its cheap
        knobs; folding values come later, per layer)."""
        cfg = self.config
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
            weight_bits=training.weight_bits,
            act_bits=training.act_bits,
            pruning=training.pruning,
            exits=tuple(used),
            thresholds=tuple(thresholds[k] for k in used),
            folding=folding,
            budget=budget,
            target_fps=target,
            clk_ns=clk,
        )

    def sample(self, trial: Any) -> DesignPoint:
        """Sample a whole design, training and cheap knobs, with one Optuna trial (a search
        that treats every design as its own trial, as benchmarks/bench_dse.py compares)."""
        return self.sample_cheap(trial, self.sample_training(trial))

    def cheap_points(self, training: TrainingPoint) -> list[DesignPoint] | None:
        """Every design of the trained model ``training`` (thresholds only for exits in
        use), or None when a cheap knob is continuous or folding is sampled."""
        cfg = self.config
        if "sampled" in cfg.folding.strategies:
            return None
        grids = [
            knob_values(k) for k in (cfg.exits.thresholds, cfg.folding.budget, cfg.hardware.clk_ns)
        ]
        if any(g is None for g in grids):
            return None
        thr, budgets, clks = ([float(v) for v in g] for g in grids)  # type: ignore[union-attr]
        targets: list[float | None] = list(cfg.folding.target_fps) or [None]
        points = []
        for subset in exit_subsets(self.candidates):
            for ths in itertools.product(thr, repeat=len(subset)):
                for budget, target, clk in itertools.product(budgets, targets, clks):
                    points.append(
                        DesignPoint(
                            weight_bits=training.weight_bits,
                            act_bits=training.act_bits,
                            pruning=training.pruning,
                            exits=tuple(subset),
                            thresholds=tuple(ths),
                            folding="optimised",
                            budget=budget,
                            target_fps=target,
                            clk_ns=clk,
                        )
                    )
        return points

    def cheap_size(self) -> int | None:
        """How many designs each trained model has (None when not enumerable)."""
        cfg = self.config
        if "sampled" in cfg.folding.strategies:
            return None
        grids = [
            knob_values(k) for k in (cfg.exits.thresholds, cfg.folding.budget, cfg.hardware.clk_ns)
        ]
        if any(g is None for g in grids):
            return None
        n_thr, n_budget, n_clk = (len(g) for g in grids)  # type: ignore[arg-type]
        n_exit = sum(
            math.comb(len(self.candidates), r) * n_thr**r for r in range(len(self.candidates) + 1)
        )
        return n_exit * n_budget * max(1, len(cfg.folding.target_fps)) * n_clk

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
        grid = self.training_grid()
        if grid is None or self.cheap_size() is None:
            raise DseError(
                "the space has a continuous range or sampled folding: it cannot be enumerated; "
                "give lists or ranges with a step, and optimised folding only"
            )
        for tp in grid:
            yield from self.cheap_points(tp) or []

    def size(self) -> int:
        """Number of distinct design points of a finite space (see :meth:`enumerate`)."""
        n_train, n_cheap = self.training_size(), self.cheap_size()
        if n_train is None or n_cheap is None:
            raise DseError(
                "the space has a continuous range or sampled folding: it cannot be enumerated; "
                "give lists or ranges with a step, and optimised folding only"
            )
        return n_train * n_cheap

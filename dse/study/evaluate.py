"""Evaluate a design point with the real components.

Per design: ``AccuracyPipeline.evaluate(arch, pruning)`` (cached: training happens once per
bit widths and pruning rate, shared by every worker through the checkpoint cache) ->
``ExitProfile.evaluate(thresholds, exits)`` (accuracy and per-stage reach) ->
``dse.design.design_graph`` (the family's lowering with FINN's datatypes minimised from the
trained weights) -> folding (``hw_builders.fold(strategy="optimised", budget, target_fps,
reach)``, or PE/SIMD per layer from ``hw_builders.legal_values``) -> ``dse.design.cost``
(throughput with finite inter-stage buffers, power, energy per inference, resources, device
fit): the one costing path the runtime and the export use too.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dse.config import StudyConfig
from dse.design import DesignRecord, Hardware, cost, load_pruned_model, trained_design_graph
from dse.errors import DseError
from dse.objectives import get_objective
from dse.pareto import ObjectiveSpec
from dse.study.space import Chooser, DesignPoint, DesignSpace, TrainingPoint
from hw_builders.errors import HwError
from hw_builders.stages import StageMemo

if TYPE_CHECKING:
    from dse.accuracy.profile import ExitProfile
    from hw_builders.folding.config import FoldingConfig
    from hw_builders.graph import HwGraph
    from hw_builders.stages import StagedReport
    from search_spaces import ArchSpec

#: what a lowered graph is cached by: (pruned arch, exits in use, checkpoint path)
GraphKey = tuple[Any, tuple[int, ...], str]

log = logging.getLogger("dse.study")

_MEMO_SIZE = 512


@dataclass(frozen=True)
class _Reach:
    """A reach as a cache key: equal when it rounds to the same 6 digits; the folding is
    computed from the first one seen."""

    values: tuple[float, ...]
    key: tuple[float, ...] = field(init=False, repr=False)

    def __init__(self, values: list[float]) -> None:
        object.__setattr__(self, "values", tuple(values))
        object.__setattr__(self, "key", tuple(round(r, 6) for r in values))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reach) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


#: The config key behind each field of a family's architecture (for its error messages).
_CONFIG_KEYS = {
    "exits": "model.candidate_exits",
    "input_shape": "dataset.image_size",
    "padding": "model.options.padding",
    "widths": "model.width_mult",
}


@dataclass
class Evaluation:
    """Everything one evaluated design produced (converted to a DesignRecord on demand)."""

    point: DesignPoint
    objectives: dict[str, float]
    constraints: dict[str, float]
    metrics: dict[str, Any]
    feasible: bool
    arch: ArchSpec
    exits: list[int]
    thresholds: list[float]
    profile: ExitProfile
    graph: HwGraph
    folding: FoldingConfig
    report: StagedReport
    checkpoint: str | None
    seconds: dict[str, float] = field(default_factory=dict)

    def objective_values(self, specs: list[ObjectiveSpec]) -> list[float]:
        """Objective values in the order of ``specs`` (as returned to Optuna)."""
        return [float(self.objectives[s.name]) for s in specs]

    def to_record(
        self,
        *,
        study: str,
        trial_number: int,
        board: str | None,
        part: str,
        dataset: dict[str, Any],
        provenance: dict[str, Any],
        device_resources: dict[str, int] | None = None,
    ) -> DesignRecord:
        """The DesignRecord of this design (id and Pareto flag are set by the Store)."""
        params = self.point.to_params()
        return DesignRecord(
            id=0,
            study=study,
            trial_number=int(trial_number),
            params=params,
            objectives=dict(self.objectives),
            metrics=dict(self.metrics),
            feasible=bool(self.feasible),
            pareto=False,
            arch=self.arch.to_dict(),
            exits=list(self.exits),
            thresholds=list(self.thresholds),
            exit_profile=self.profile.to_dict(),
            hw_graph=self.graph.to_dict(),
            folding=self.folding.to_dict(),
            hw_report={
                **self.report.to_dict(),
                **({"device_resources": dict(device_resources)} if device_resources else {}),
            },
            board=board,
            part=part,
            clk_ns=float(self.point.clk_ns),
            checkpoint=self.checkpoint,
            dataset=dataset,
            provenance=provenance,
        )


class Evaluator:
    """Evaluates design points of a study config with the real accuracy pipeline and the
    FINN cost model.

    Construction validates the config against the real components (dataset, family, exits,
    device) without writing anything; the checkpoint cache is created on the first training.

    Args:
        config: The validated study config.
        cache_dir: Checkpoint cache (default: ``config.cache_dir``, ``$ADAPEX_CACHE_DIR`` or
            ``.adapex_cache`` in the working directory).
        torch_device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    """

    def __init__(
        self,
        config: StudyConfig,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        torch_device: str = "cpu",
    ) -> None:
        from hw_builders import get_device
        from search_spaces import get_family
        from search_spaces.datasets import load_dataset

        self.config = config
        ds = config.dataset
        self.data = load_dataset(
            ds.name,
            ds.path,
            seed=ds.seed,
            image_size=ds.image_size,
            val_fraction=ds.calibration_fraction,
            test_fraction=ds.test_fraction,
            limit=ds.limit,
        )
        self.family = get_family(config.model.family)
        hw = config.hardware
        self.device = get_device(board=hw.board, part=hw.part, resources=hw.resources)
        self.archs: dict[tuple[int, int], Any] = {}
        for wb in config.model.weight_bits:
            for ab in config.model.act_bits:
                self.archs[(wb, ab)] = self._base_arch(wb, ab)
        self._check_buildable()
        any_arch = next(iter(self.archs.values()))
        self.candidates = list(any_arch.exits)
        self.n_prunable = len(any_arch.widths)
        self.space = DesignSpace(config, self.n_prunable, self.candidates)
        self.specs = config.objectives.specs()
        self.cache_dir = cache_dir if cache_dir is not None else config.cache_dir
        self.torch_device = torch_device
        self._pipeline: Any = None
        # the memos behind _graph, _weights and _fold_cached (least recently used dropped)
        self._graph_lru = functools.lru_cache(maxsize=_MEMO_SIZE)(self._lower)
        # the trained models whose designs are being lowered (one load per model)
        self._weights_lru = functools.lru_cache(maxsize=2)(load_pruned_model)
        self._fold_lru = functools.lru_cache(maxsize=4 * _MEMO_SIZE)(self._fold)
        # the stage reports of the lowered graphs (never changed) that fold alike
        self._stage_memo = StageMemo()
        self._exit_memo: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    def clock_notes(self) -> list[str]:
        """The config's clocks that are faster than FINN's builds close on the part, one line
        each (designs at them are flagged in every table and report, not refused)."""
        from dse.config import knob_values
        from hw_builders.devices import clock_note

        clk = self.config.hardware.clk_ns
        values = knob_values(clk) or [getattr(clk, "low", 0.0)]
        notes = [clock_note(self.device, float(v)) for v in values]
        return [f"hardware.clk_ns: {n}" for n in notes if n]

    def _check_buildable(self) -> None:
        """Refuse, before anything is trained, a bit-width combination of the config whose
        accelerator FINN cannot build (hw_builders.legality), with every candidate exit."""
        from dse.accuracy.point import check_buildable_arch

        for arch in self.archs.values():
            check_buildable_arch(self.family, arch, "model.act_bits", self.config.dataset.name)

    def _base_arch(self, weight_bits: int, act_bits: int) -> Any:
        """The unpruned architecture at these bit widths, every candidate exit attached
        (SpaceError naming the config's key when the family refuses it)."""
        from search_spaces import SpaceError

        m = self.config.model
        try:
            return self.family.default_arch(
                self.data.input_shape,
                self.data.num_classes,
                width_mult=m.width_mult,
                weight_bits=weight_bits,
                act_bits=act_bits,
                exits=m.candidate_exits,
                **m.options,
            )
        except SpaceError as exc:  # the family names its own arch fields: name the config's
            text = str(exc)
            for field, key in _CONFIG_KEYS.items():
                text = text.replace(f"arch.{field}", key)
            raise SpaceError(text.replace("arch.", "model.")) from None

    @property
    def pipeline(self) -> Any:
        """The (lazily created) AccuracyPipeline sharing the checkpoint cache."""
        if self._pipeline is None:
            from dse.accuracy.pipeline import AccuracyPipeline
            from dse.accuracy.recipe import TrainRecipe

            self._pipeline = AccuracyPipeline(
                self.data,
                cache_dir=self.cache_dir,
                device=self.torch_device,
                seed=self.config.study.seed,
                recipe=TrainRecipe.from_dict(dict(self.config.training)),
            )
        return self._pipeline

    @property
    def board(self) -> str | None:
        """The target board (None when the target is a bare part)."""
        return self.device.board

    @property
    def part(self) -> str:
        """The target FPGA part."""
        return self.device.part

    def dataset_info(self) -> dict[str, Any]:
        """The dataset identity stored with every design (to rebuild the data for export)."""
        info = self.config.dataset.model_dump(mode="json")
        info.update(
            num_classes=int(self.data.num_classes),
            input_shape=list(self.data.input_shape),
            n_calibration=int(len(self.data.y_val)),
            n_test=int(len(self.data.y_test)),
        )
        return info

    # ------------------------------------------------------------------ evaluation
    def _graph(self, key: GraphKey) -> HwGraph:
        """:meth:`_lower`, once per key while the evaluator keeps it."""
        return self._graph_lru(key)

    def _weights(self, arch: Any, checkpoint: str) -> Any:
        """The trained model of ``arch`` (``dse.design.load_pruned_model``), loaded once
        for the designs of one or two models in turn."""
        return self._weights_lru(arch, checkpoint)

    def _fold_cached(self, key: tuple[Any, ...]) -> FoldingConfig:
        """:meth:`_fold`, once per key while the evaluator keeps it."""
        return self._fold_lru(key)

    def _lower(self, key: GraphKey) -> HwGraph:
        """The design's hardware graph with FINN's datatypes for its trained weights
        (``dse.design.design_graph``; memoised by :meth:`_graph`).

        FINN's builder narrows weight, accumulator and output datatypes from the actual
        weights (``step_minimize_bit_width``); so does this graph, so the stored LUT,
        throughput and latency are the ones FINN estimates for the exported design.

        Args:
            key: ``(pruned arch, exits in use, checkpoint path)``.
        """
        arch, exits, checkpoint = key
        return trained_design_graph(self._weights(arch, checkpoint), exits)

    def _fold_optimised(
        self, graph_key: GraphKey, point: DesignPoint, reach: list[float]
    ) -> FoldingConfig:
        # the clock changes the folding only through a target fps
        clk = point.clk_ns if point.target_fps is not None else None
        key = (graph_key, point.budget, point.target_fps, clk, _Reach(reach))
        return self._fold_cached(key)

    def _fold(self, key: tuple[Any, ...]) -> FoldingConfig:
        """adapex's optimised folding for ``key`` (memoised by :meth:`_fold_cached`)."""
        from hw_builders.folding.api import fold

        graph_key, budget, target_fps, clk_ns, reach = key
        graph = self._graph(graph_key)
        try:
            return fold(
                graph,
                strategy="optimised",
                device=self.device,
                clk_ns=clk_ns,
                target_fps=target_fps,
                budget=self._budget(budget),
                reach=list(reach.values),
            )
        except HwError:
            # No folding fits the sampled budget (or reaches the target within it): the
            # design gets the smallest folding, and the device-fit constraint decides.
            return self._fold_sampled(graph, lambda _name, _n: 0)[0]

    def _exits(self, profile: Any, thresholds: Sequence[float], exits: Sequence[int]) -> Any:
        """``profile.evaluate(thresholds, exits)``, kept for the designs that differ only in
        folding and clock (an entry holds its profile, so its id names it while kept)."""
        key = (id(profile), tuple(thresholds), tuple(exits))
        hit = self._exit_memo.get(key)
        if hit is not None and hit[0] is profile:
            return hit[1]
        got = profile.evaluate(list(thresholds), list(exits))
        if len(self._exit_memo) >= 4 * _MEMO_SIZE:
            self._exit_memo.pop(next(iter(self._exit_memo)))
        self._exit_memo[key] = (profile, got)
        return got

    def _constraints(self, report: StagedReport, metrics: dict[str, Any]) -> dict[str, float]:
        """Optuna's constraints (<= 0 is satisfied): fitting the device within the
        utilisation limits, and the minimum accuracy when the config sets one."""
        # <= 0 when the design fits the device; else how far the worst resource is over its
        # utilisation limit (relative to the limit).
        limits = self.config.hardware.max_utilisation
        util = metrics["utilisation"]
        worst = max((u / limits.get(k, 1.0) for k, u in util.items()), default=0.0)
        fit = min(worst, 1e6) - 1.0
        fit = max(fit, 1e-6) if not report.fits else min(fit, 0.0)
        constraints = {"fits_device": fit}
        min_acc = self.config.objectives.min_accuracy
        if min_acc is not None:
            constraints["min_accuracy"] = float(min_acc - metrics["accuracy"])
        return constraints

    def _budget(self, share: float | None) -> dict[str, float] | None:
        """The sampled budget as a share of each resource's usable amount (its limit)."""
        if share is None:
            return None
        return {k: share * lim for k, lim in self.config.hardware.max_utilisation.items()}

    @staticmethod
    def _fold_sampled(graph: HwGraph, choose: Chooser) -> tuple[FoldingConfig, dict[str, float]]:
        from hw_builders import legal_values
        from hw_builders.folding.config import FoldingConfig

        data: dict[str, Any] = {"Defaults": {}}
        chosen: dict[str, float] = {}
        for layer in graph.layers:
            attrs = {}
            for attr, values in legal_values(layer).items():
                if not values:
                    continue
                idx = choose(f"fold_{layer.name}_{attr}", len(values))
                attrs[attr] = int(values[idx])
                chosen[f"{layer.name}.{attr}"] = float(values[idx])
            if attrs:
                data[layer.name] = attrs
        return FoldingConfig.from_dict(data), chosen

    def train(self, training: TrainingPoint) -> Any:
        """The trained, pruned and profiled model of a training point (the accuracy
        pipeline: cached, so a model is trained once per cache).

        Raises:
            DseError: bit widths outside the config.
        """
        base = self.archs.get((training.weight_bits, training.act_bits))
        if base is None:
            raise DseError(
                f"bits W{training.weight_bits}A{training.act_bits}: not in "
                "model.weight_bits/act_bits"
            )
        return self.pipeline.evaluate(base, training.pruning)

    def evaluate(self, point: DesignPoint, choose: Chooser | None = None) -> Evaluation:
        """Evaluate one design point: train its model (cached), then
        :meth:`evaluate_trained`.

        Raises:
            DseError / HwError / SpaceError: an invalid point (bad input).
        """
        t0 = time.perf_counter()
        pruned = self.train(point.training)
        ev = self.evaluate_trained(pruned, point, choose)
        ev.seconds["accuracy"] = ev.seconds.get("accuracy", 0.0) + time.perf_counter() - t0
        return ev

    def evaluate_trained(
        self, pruned: Any, point: DesignPoint, choose: Chooser | None = None
    ) -> Evaluation:
        """Evaluate one design of a trained model (its cheap knobs: exits, thresholds,
        folding, clock), at the estimator's pace.

        Args:
            pruned: The trained model (:meth:`train` of ``point.training``).
            point: The design point.
            choose: Picks sampled-folding positions (required for ``folding == "sampled"``).

        Returns:
            The :class:`Evaluation`: its objectives from the calibration split, its
            held-out test figures under ``metrics["test"]``.

        Raises:
            DseError / HwError / SpaceError: an invalid point (bad input).
        """
        t0 = time.perf_counter()
        ev = self._exits(pruned.profile, point.thresholds, point.exits)
        reach = [float(r) for r in ev.reach]
        arch = pruned.arch
        graph_key = (arch, point.exits, str(pruned.checkpoint))
        graph = self._graph(graph_key)
        if point.folding == "sampled":
            if choose is None:
                raise DseError("folding=sampled: a chooser is needed to pick PE/SIMD per layer")
            folding, chosen = self._fold_sampled(graph, choose)
            point = DesignPoint(**{**point.__dict__, "fold_choices": tuple(sorted(chosen.items()))})
        else:
            folding = self._fold_optimised(graph_key, point, reach)
        hardware = Hardware(
            graph=graph,
            folding=folding,
            device=self.device,
            clk_ns=point.clk_ns,
            buffer_depth=self.config.hardware.buffer_depth,
            limits=self.config.hardware.max_utilisation,
            host=self.config.hardware.link(),
        )
        report = cost(hardware, reach, memo=self._stage_memo)
        metrics = _metrics(ev, report, arch, pruned.profile)
        metrics["test"] = split_figures(
            self._exits(pruned.test_profile, point.thresholds, point.exits)
        )
        objectives = {s.name: get_objective(s.name).value(report, metrics) for s in self.specs}
        for name, value in objectives.items():  # a registered objective's own figure
            metrics.setdefault(name, value)
        constraints = self._constraints(report, metrics)
        feasible = all(v <= 0.0 for v in constraints.values())
        return Evaluation(
            point=point,
            objectives=objectives,
            constraints=constraints,
            metrics=metrics,
            feasible=feasible,
            arch=arch,
            exits=list(point.exits),
            thresholds=list(point.thresholds),
            profile=pruned.profile,
            graph=graph,
            folding=folding,
            report=report,
            checkpoint=str(pruned.checkpoint),
            seconds={"hardware": time.perf_counter() - t0},
        )


def split_figures(ev: Any) -> dict[str, Any]:
    """A design's accuracy, exit fractions and per-exit accuracy on one data split."""
    return {
        "accuracy": float(ev.accuracy),
        "exit_fraction": [float(v) for v in ev.exit_fraction],
        "exit_accuracy": [None if math.isnan(v) else float(v) for v in ev.exit_accuracy],
    }


def _metrics(ev: Any, report: Any, arch: Any, profile: Any) -> dict[str, Any]:
    """Every figure stored with a design: accuracy and exits (``ev``), its staged report."""
    return {
        "accuracy": float(ev.accuracy),
        "throughput_fps": float(report.throughput_fps),
        "latency_s": float(report.mean_latency_s),
        "latency_s_per_exit": [float(v) for v in report.latency_s_per_exit],
        "power_w": float(report.power_w),
        "energy_per_inference_j": float(report.energy_per_inference_j),
        "edp": float(report.edp),
        **{k: int(v) for k, v in report.total.items()},
        "utilisation": {k: float(v) for k, v in report.utilisation.items()},
        "fits": bool(report.fits),
        "reach": [float(r) for r in ev.reach],
        "exit_fraction": [float(v) for v in ev.exit_fraction],
        "exit_accuracy": [None if math.isnan(v) else float(v) for v in ev.exit_accuracy],
        "stage_throughput_fps": [float(v) for v in report.stage_throughput_fps],
        "accelerator_fps": float(report.accelerator_fps),
        "host_fps": None if math.isinf(report.host_fps) else float(report.host_fps),
        "limited_by": dict(report.limited_by),
        "widths": list(arch.widths),
        "final_accuracy": float(profile.exit_accuracies()[-1]),
    }

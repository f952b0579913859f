"""Operating points from stored designs, and the static FINN baseline's point.

For every feasible stored design and a grid of exit thresholds, the design's exit profile
(:meth:`dse.accuracy.ExitProfile.evaluate`) gives the accuracy and the reach of each stage, and
:func:`dse.design.cost` (the costing path the study used) gives throughput, power, energy and
latency per exit for that reach, with the design's stored hardware graph, folding, device,
clock and buffer depth (:meth:`dse.design.DesignRecord.hardware`). The
design's own stored thresholds are always included, and so is the setting that disables every
exit (thresholds above 1, ``EXITS_DISABLED``; the pruning-only baseline uses it). Within each
design the dominated settings are dropped (the exits-disabled one is kept).

The static baselines are the unpruned network without exits (lowered again from the stored
unpruned architecture with ``exits=[]``): static FINN folds it with FINN's SetFolding at the
highest target fps whose design fits the usable device (what a FINN user gets), static best
with adapex's optimised folding under the same limits; their accuracy is the
unpruned model's final-classifier accuracy from the stored exit profile. When the study
explores several bit widths, the most accurate unpruned network is the baseline; its clock is
the fastest one the study explored on that device.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dse.design import CostCache, cost, design_graph, pruning_rate_of
from dse.runtime.errors import RuntimeManagerError
from dse.runtime.points import STATIC_BEST_ID, STATIC_FINN_ID, OperatingPoint, non_dominated

#: threshold that no softmax confidence reaches: the exit never takes a sample
EXITS_DISABLED = 2.0

#: the common confidence thresholds tried on every exit of a design
DEFAULT_THRESHOLD_GRID: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)


def pruning_rate(record: Any) -> float:
    """Mean structured-pruning rate of a stored design; 0.0 (unpruned) when it names none
    (:func:`dse.storage.records.pruning_rate_of`)."""
    rate = pruning_rate_of(record.params or {})
    return 0.0 if rate is None else rate


#: every stored design's reports, shared by the runtime's readers in one process
_COSTS = CostCache()


def _threshold_settings(record: Any, grid: Sequence[float]) -> list[tuple[float, ...]]:
    n = len(record.exits)
    if n == 0:
        return [()]
    settings: list[tuple[float, ...]] = []
    if len(record.thresholds) == n:
        settings.append(tuple(float(t) for t in record.thresholds))
    settings += [(float(t),) * n for t in grid]
    settings.append((EXITS_DISABLED,) * n)
    return list(dict.fromkeys(settings))


class Guarantees:
    """The guaranteed accuracy of every configuration of a study's trained models
    (:mod:`dse.runtime.guarantees`), computed from their calibration profiles.

    Each family is a trained model with one subset of its candidate exits; its settings are
    every exit off, the common thresholds of ``threshold_grid``, every combination of the
    config's exit thresholds (when finite and at most :data:`MAX_FAMILY_SETTINGS`), and the
    stored designs' own thresholds.

    Args:
        records: The designs (study and baseline); designs of one model share its profile.
        delta: One minus the confidence.
        n_models: The study's trained models (the families count them all).
        threshold_grid: The runtime's common thresholds.
        config_thresholds: The config's exit thresholds (None when continuous).
    """

    def __init__(
        self,
        records: Sequence[Any],
        *,
        delta: float,
        n_models: int,
        threshold_grid: Sequence[float] = DEFAULT_THRESHOLD_GRID,
        config_thresholds: Sequence[float] | None = None,
    ) -> None:
        from dse.accuracy.profile import ExitProfile, exit_subsets
        from dse.runtime.guarantees import family_bounds

        self.delta = float(delta)
        models: dict[int, list[Any]] = {}
        for r in records:
            if r.model_id is not None and r.exit_profile:
                models.setdefault(int(r.model_id), []).append(r)
        settings: dict[Any, list[tuple[tuple[float, ...], int]]] = {}
        n_samples = 0
        n_exits = 0
        for model_id, recs in models.items():
            profile = ExitProfile.from_dict(recs[0].exit_profile)
            n_samples = profile.n_samples
            cands = list(profile.candidate_exits)
            n_exits = max(n_exits, len(cands))
            own: dict[tuple[int, ...], set[tuple[float, ...]]] = {}
            for r in recs:
                own.setdefault(tuple(r.exits), set()).add(tuple(map(float, r.thresholds)))
            for subset in exit_subsets(cands):
                family = (model_id, subset)
                ths = self._settings(
                    subset, own.get(subset, set()), threshold_grid, config_thresholds
                )
                settings[family] = [
                    (
                        th,
                        int(round(profile.evaluate(list(th), list(subset)).accuracy * n_samples)),
                    )
                    for th in ths
                ]
        families = max(int(n_models), len(models)) * 2**n_exits
        self.bounds = (
            family_bounds(
                settings, n_samples, delta=self.delta, families=max(families, len(settings))
            )
            if settings and n_samples
            else {}
        )

    @staticmethod
    def _settings(
        subset: tuple[int, ...],
        own: set[tuple[float, ...]],
        grid: Sequence[float],
        config: Sequence[float] | None,
    ) -> set[tuple[float, ...]]:
        import itertools

        n = len(subset)
        out = {(EXITS_DISABLED,) * n, *((float(t),) * n for t in grid), *own}
        if config is not None and len(config) ** n <= MAX_FAMILY_SETTINGS:
            out |= set(itertools.product(map(float, config), repeat=n))
        return out

    def bound(self, record: Any, thresholds: Sequence[float]) -> Any:
        """The ``FamilyBound`` of ``record``'s exits at ``thresholds`` (None: no guarantee:
        a design of a study made before schema 3)."""
        if record.model_id is None:
            return None
        key = (
            (int(record.model_id), tuple(int(e) for e in record.exits)),
            tuple(map(float, thresholds)),
        )
        return self.bounds.get(key)


#: the most combinations of the config's exit thresholds a family's test sequence holds
MAX_FAMILY_SETTINGS = 4096


def _guarded(point: OperatingPoint, bound: Any) -> OperatingPoint:
    """``point`` with its guarantee (unchanged without one)."""
    if bound is None:
        return point
    return dataclasses.replace(point, guaranteed_accuracy=bound.guaranteed, bound=bound.to_dict())


def design_points(
    record: Any,
    *,
    threshold_grid: Sequence[float] = DEFAULT_THRESHOLD_GRID,
    keep_dominated: bool = False,
    guarantees: Guarantees | None = None,
) -> list[OperatingPoint]:
    """The operating points of one stored design (see the module doc), each with its
    guarantee when ``guarantees`` is given."""
    from dse.accuracy.profile import ExitProfile

    if not record.exit_profile or not record.hw_graph:
        raise RuntimeManagerError(
            f"design {record.id}: no exit profile or hardware graph stored; re-run the study"
        )
    profile = ExitProfile.from_dict(record.exit_profile)
    hardware = record.hardware()
    device = hardware.device
    rate = pruning_rate(record)
    exits = [int(e) for e in record.exits]
    out: list[OperatingPoint] = []
    for setting in _threshold_settings(record, threshold_grid):
        ev = profile.evaluate(list(setting), exits=exits)
        rep = _COSTS(hardware, ev.reach)
        point = OperatingPoint(
            design_id=int(record.id),
            thresholds=setting,
            accuracy=float(ev.accuracy),
            throughput_fps=float(rep.throughput_fps),
            energy_per_inference_j=float(rep.energy_per_inference_j),
            power_w=float(rep.power_w),
            idle_power_w=float(rep.static_power_w),
            latency_s=float(rep.mean_latency_s),
            pruning_rate=rate,
            exits=tuple(exits),
            reconfig_time_s=float(device.reconfig_time_s),
            latency_s_per_exit=tuple(float(x) for x in rep.latency_s_per_exit),
            exit_fraction=tuple(float(x) for x in ev.exit_fraction),
            label=f"#{record.id} p{rate:.2f} exits{exits} thr{list(setting)}",
            limited_by=dict(rep.limited_by),
        )
        out.append(_guarded(point, guarantees.bound(record, setting) if guarantees else None))
    if keep_dominated:
        return out
    enabled = [p for p in out if p.exits_enabled]
    disabled = [p for p in out if not p.exits_enabled]
    return non_dominated(enabled) + disabled


def operating_points(
    records: Iterable[Any],
    *,
    threshold_grid: Sequence[float] = DEFAULT_THRESHOLD_GRID,
    keep_dominated: bool = False,
    guarantees: Guarantees | None = None,
) -> list[OperatingPoint]:
    """Operating points of every feasible stored design (DesignRecords), in record order.

    Args:
        records: the study's designs (``Store.designs(study)``); infeasible ones are skipped.
        threshold_grid: common confidence thresholds tried on the exits of each design.
        keep_dominated: keep every setting (default: drop dominated settings per design).
        guarantees: the study's guarantees (:class:`Guarantees`), attached to each point.
    """
    points: list[OperatingPoint] = []
    for rec in records:
        if not rec.feasible:
            continue
        points += design_points(
            rec,
            threshold_grid=threshold_grid,
            keep_dominated=keep_dominated,
            guarantees=guarantees,
        )
    return points


def _unpruned(records: Sequence[Any], name: str) -> Any:
    """The most accurate unpruned design's record (several bit widths may be explored),
    earliest first: the static baselines' network."""
    from dse.accuracy.profile import ExitProfile

    unpruned = [r for r in records if pruning_rate(r) <= 1e-9 and r.arch and r.exit_profile]
    if not unpruned:
        raise RuntimeManagerError(
            f"{name} baseline: the study has no unpruned design; run trials with pruning 0 "
            "(or add 0 to the pruning choices of the config)"
        )

    def final_accuracy(r: Any) -> float:
        return ExitProfile.from_dict(r.exit_profile).exit_accuracies()[-1]

    return max(unpruned, key=lambda r: (final_accuracy(r), -r.id))


def static_point(
    records: Sequence[Any],
    *,
    strategy: str,
    limits: Mapping[str, float] | None = None,
    design_id: int = STATIC_FINN_ID,
    name: str = "static FINN",
    guarantees: Guarantees | None = None,
) -> OperatingPoint:
    """A static baseline: the unpruned network without exits, folded for max throughput.

    Args:
        records: the study's designs; one unpruned design (pruning rate 0) is needed for the
            unpruned architecture and its final-classifier accuracy.
        strategy: folding strategy of :func:`hw_builders.folding.fold`, without target:
            ``"finn"`` is FINN's SetFolding at the highest target fps whose design fits the
            usable device (what a FINN user gets: the AdaPEx paper's baseline); ``"optimised"``
            is adapex's optimised folding of the same network.
        limits: the study's utilisation limits per resource (``[hardware] max_utilisation``);
            the baseline gets the same usable device as the adaptive designs (default: all).
        design_id: the point's (negative, unstored) design id.
        name: the baseline's name in labels.
        guarantees: the study's guarantees, attached to the point.
    """
    from dse.accuracy.profile import ExitProfile
    from hw_builders.folding import fold
    from search_spaces import ArchSpec

    rec = _unpruned(records, name)
    # the fastest clock the study explored for this device (same options as the library)
    same_target = [r for r in records if (r.board, r.part) == (rec.board, rec.part)]
    clk_ns = min(float(r.clk_ns) for r in same_target)
    arch = ArchSpec.from_dict(rec.arch)
    # FINN minimises the static network's datatypes from its weights too
    graph = design_graph(arch, rec.checkpoint, [], name=f"{arch.family}_static")
    device = rec.device
    folding = fold(
        graph, strategy=strategy, device=device, clk_ns=clk_ns, budget=dict(limits or {}) or None
    )
    # costed as the study's designs were (host link, buffer depth), within the study's limits
    hardware = rec.hardware(graph=graph, folding=folding, clk_ns=clk_ns, limits=limits)
    rep = cost(hardware, [1.0])
    if not rep.fits:
        raise RuntimeManagerError(
            f"{name} baseline: the unpruned network does not fit {device.name}; choose a "
            "larger board for the study"
        )
    profile = ExitProfile.from_dict(rec.exit_profile)
    accuracy = profile.exit_accuracies()[-1]  # the final classifier of the unpruned model
    how = "FINN SetFolding" if strategy == "finn" else f"{strategy} folding"
    point = OperatingPoint(
        design_id=design_id,
        thresholds=(),
        accuracy=float(accuracy),
        throughput_fps=float(rep.throughput_fps),
        energy_per_inference_j=float(rep.energy_per_inference_j),
        power_w=float(rep.power_w),
        idle_power_w=float(rep.static_power_w),
        latency_s=float(rep.mean_latency_s),
        pruning_rate=0.0,
        exits=(),
        is_static_finn=design_id == STATIC_FINN_ID,
        reconfig_time_s=float(device.reconfig_time_s),
        latency_s_per_exit=tuple(float(x) for x in rep.latency_s_per_exit),
        exit_fraction=(1.0,),
        label=f"{name} ({how}, {device.name}, {clk_ns:g} ns)",
        limited_by=dict(rep.limited_by),
    )
    # the unpruned model without exits: its own family, one setting
    if guarantees is None:
        return _guarded(point, None)
    return _guarded(point, guarantees.bound(dataclasses.replace(rec, exits=[]), ()))


def static_finn_point(
    records: Sequence[Any],
    *,
    strategy: str = "finn",
    limits: Mapping[str, float] | None = None,
    guarantees: Guarantees | None = None,
) -> OperatingPoint:
    """The static FINN baseline (see :func:`static_point`; FINN's SetFolding by default)."""
    return static_point(records, strategy=strategy, limits=limits, guarantees=guarantees)


def static_best_point(
    records: Sequence[Any],
    *,
    limits: Mapping[str, float] | None = None,
    guarantees: Guarantees | None = None,
) -> OperatingPoint:
    """The static best baseline: the same network with adapex's optimised folding."""
    return static_point(
        records,
        strategy="optimised",
        limits=limits,
        design_id=STATIC_BEST_ID,
        name="static best",
        guarantees=guarantees,
    )


def study_points(
    store: Any,
    study: str,
    *,
    threshold_grid: Sequence[float] = DEFAULT_THRESHOLD_GRID,
    static_strategy: str = "finn",
) -> tuple[list[OperatingPoint], OperatingPoint]:
    """The operating points of a stored study and its static FINN baseline point."""
    records = store.designs(study)
    if not records:
        raise RuntimeManagerError(
            f"study {study!r} has no stored design; run it first (`adapex run --study {study}`)"
        )
    points = operating_points(records, threshold_grid=threshold_grid)
    if not points:
        raise RuntimeManagerError(
            f"study {study!r} has no feasible design; relax the constraints or run more trials"
        )
    limits = dict(store.study_config(study).hardware.max_utilisation)
    return points, static_finn_point(records, strategy=static_strategy, limits=limits)

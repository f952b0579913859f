"""Early exits in hardware: stages, and the sustained performance of a staged design.

Stages (docs/DESIGN.md "Early exits in hardware", docs/CONTRACTS.md): the backbone layers have
``exit`` None; an early exit is a branch (its layers carry ``"exit": k``) taken from a
backbone layer (a DuplicateStreams). Stage k is the backbone segment after the previous
exit's branch point up to and including exit k's branch point, plus exit k's branch;
the final stage holds the rest of the backbone and the final classifier. Stages are
ordered by the position of their branch point along the backbone.

Performance model (:func:`staged_performance`):

* Stage k is a pipelined dataflow accelerator with initiation interval
  ``s_k = max_cycles_k * clk`` (its slowest layer; FINN's model), i.e. own throughput
  ``T_k = 1 / s_k``. A fraction ``reach_k`` of the inputs enters stage k.
* Between stage k and k+1 a FIFO holds ``B`` frames (``buffer_depth``); the stage k+1
  server adds one more place. An item that finished stage k and must go on while that
  FIFO is full blocks stage k (blocking after service), as a full AXI stream does.
* The input is saturated (an item is always waiting in front of stage 1); each item
  leaves after stage k with probability ``1 - reach_{k+1}/reach_k``, independently
  (Bernoulli thinning of the stream entering stage k+1).
* Sustained throughput is the long-run completion rate of this tandem queue with
  deterministic service and finite buffers. It is computed exactly for one sample path
  of N frames by the max-plus recursion of the departure times (a discrete-event
  computation; fixed seed, so the result is deterministic), with the thinning drawn as
  exactly ``round(reach_k N)`` frames reaching stage k. Limits: ``buffer_depth=math.inf``
  gives the closed form ``min_k T_k / reach_k``; all reach 1 gives the slowest stage
  ``min_k T_k`` at any B (a deterministic line never blocks below its bottleneck);
  B = 0 is the synchronous pipeline where a stage can only hand over a frame when the
  next stage has released its previous one. Throughput never decreases as B grows.
* Assumptions: the pipeline fill latency inside a stage delays frames by a constant and
  does not change the sustained rate; exit decisions are independent of each other
  frame to frame; the inter-stage buffers' own memory is not costed.

Latency to exit k is FINN's critical path (the largest sum of layer cycles along a path
from the input to that exit's output) times the clock; the mean latency weights them by
the exit fractions ``reach_k - reach_{k+1}``. Power: device static power plus each
stage's dynamic power (its resources at this clock, from the device's power model)
scaled by its activity ``a_k = reach_k * throughput / T_k`` (the share of time it is
busy). Energy per inference ``= sum_k reach_k * E_k + P_static / throughput`` with
``E_k = P_dyn_k / T_k`` (so energy = power / throughput); EDP = energy * mean latency.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hw_builders.bounds import limited_by
from hw_builders.devices import DEFAULT_LIMITS, clock_ns, resolve_device
from hw_builders.devices import fits as device_fits
from hw_builders.errors import HwError
from hw_builders.estimate import estimate
from hw_builders.folding.config import FoldingConfig
from hw_builders.host import NO_HOST, HostLink, host_link_for, host_traffic
from hw_builders.queueing import QUEUE_FRAMES, tandem_throughput
from hw_builders.report import HardwareReport
from hw_builders.stage_split import check_reach, exit_groups, exit_ids, split_stages, stage_index

__all__ = [
    "DEFAULT_BUFFER_DEPTH",
    "NO_HOST",
    "QUEUE_FRAMES",
    "StagedReport",
    "StageMemo",
    "check_reach",
    "exit_ids",
    "split_stages",
    "stage_index",
    "staged_performance",
    "tandem_throughput",
]

#: Frames each inter-stage FIFO holds when buffer_depth is None.
DEFAULT_BUFFER_DEPTH = 2


# -- report ---------------------------------------------------------------------------------


@dataclass
class StagedReport:
    """Performance, power and energy of an early-exit design (one accelerator per stage).

    Attributes:
        throughput_fps: sustained frames/s with finite inter-stage buffers (queueing).
        latency_s_per_exit: per stage, the critical-path latency to that exit's output.
        mean_latency_s: latency weighted by the fraction of frames leaving at each exit.
        power_w: static + activity-weighted dynamic power.
        energy_per_inference_j: sum_k reach_k E_k + P_static / throughput.
        edp: energy per inference * mean latency (J s).
        stages: per stage, the HardwareReport of its sub-graph.
        total: summed LUT, BRAM_18K, URAM, DSP.
        utilisation: total / device resources.
        fits: whether the whole design fits the device, each resource's share at most
            its limit in ``limits``.
        limits: the utilisation limit per resource ``fits`` was judged against (a design
            stored before limits were recorded: empty).
    """

    throughput_fps: float
    latency_s_per_exit: list[float]
    mean_latency_s: float
    power_w: float
    energy_per_inference_j: float
    edp: float
    stages: list[Any]
    total: dict[str, int]
    utilisation: dict[str, float]
    fits: bool
    reach: list[float] = field(default_factory=list)
    exit_fraction: list[float] = field(default_factory=list)
    exits: list[int | None] = field(default_factory=list)
    stage_throughput_fps: list[float] = field(default_factory=list)
    activity: list[float] = field(default_factory=list)
    static_power_w: float = 0.0
    stage_dynamic_power_w: list[float] = field(default_factory=list)
    buffer_depth: float = DEFAULT_BUFFER_DEPTH
    unbuffered_bound_fps: float = 0.0
    clk_ns: float = 0.0
    device: str = ""
    accelerator_fps: float = 0.0
    host_fps: float = math.inf
    host_bytes_per_inference: float = 0.0
    limited_by: dict[str, Any] = field(default_factory=dict)
    host_link: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stages as their HardwareReport.to_dict())."""
        return {
            "throughput_fps": self.throughput_fps,
            "latency_s_per_exit": list(self.latency_s_per_exit),
            "mean_latency_s": self.mean_latency_s,
            "power_w": self.power_w,
            "energy_per_inference_j": self.energy_per_inference_j,
            "edp": self.edp,
            "total": dict(self.total),
            "utilisation": dict(self.utilisation),
            "fits": self.fits,
            "reach": list(self.reach),
            "exit_fraction": list(self.exit_fraction),
            "exits": list(self.exits),
            "stage_throughput_fps": list(self.stage_throughput_fps),
            "activity": list(self.activity),
            "static_power_w": self.static_power_w,
            "stage_dynamic_power_w": list(self.stage_dynamic_power_w),
            "buffer_depth": None if math.isinf(self.buffer_depth) else self.buffer_depth,
            "unbuffered_bound_fps": self.unbuffered_bound_fps,
            "clk_ns": self.clk_ns,
            "device": self.device,
            "accelerator_fps": self.accelerator_fps,
            "host_fps": None if math.isinf(self.host_fps) else self.host_fps,
            "host_bytes_per_inference": self.host_bytes_per_inference,
            "limited_by": dict(self.limited_by),
            "host_link": dict(self.host_link),
            "limits": dict(self.limits),
            "stages": [s.to_dict() for s in self.stages],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StagedReport:
        """The report of :meth:`to_dict` (a stored design's ``hw_report``).

        Raises:
            HwError: a field is missing or has the wrong type.
        """
        if not isinstance(d, Mapping) or not isinstance(d.get("stages"), list):
            raise HwError("staged report: expected an object with a 'stages' list")
        try:
            depth = d.get("buffer_depth", DEFAULT_BUFFER_DEPTH)
            return cls(
                throughput_fps=float(d["throughput_fps"]),
                latency_s_per_exit=[float(x) for x in d["latency_s_per_exit"]],
                mean_latency_s=float(d["mean_latency_s"]),
                power_w=float(d["power_w"]),
                energy_per_inference_j=float(d["energy_per_inference_j"]),
                edp=float(d["edp"]),
                stages=[HardwareReport.from_dict(x) for x in d["stages"]],
                total={k: int(v) for k, v in d["total"].items()},
                utilisation={k: float(v) for k, v in d["utilisation"].items()},
                fits=bool(d["fits"]),
                reach=[float(x) for x in d.get("reach", [])],
                exit_fraction=[float(x) for x in d.get("exit_fraction", [])],
                exits=[None if x is None else int(x) for x in d.get("exits", [])],
                stage_throughput_fps=[float(x) for x in d.get("stage_throughput_fps", [])],
                activity=[float(x) for x in d.get("activity", [])],
                static_power_w=float(d.get("static_power_w", 0.0)),
                stage_dynamic_power_w=[float(x) for x in d.get("stage_dynamic_power_w", [])],
                buffer_depth=math.inf if depth is None else float(depth),
                unbuffered_bound_fps=float(d.get("unbuffered_bound_fps", 0.0)),
                clk_ns=float(d.get("clk_ns", 0.0)),
                device=str(d.get("device", "")),
                accelerator_fps=float(d.get("accelerator_fps", d["throughput_fps"])),
                host_fps=math.inf if d.get("host_fps") is None else float(d["host_fps"]),
                host_bytes_per_inference=float(d.get("host_bytes_per_inference", 0.0)),
                limited_by=dict(d.get("limited_by") or {}),
                host_link=dict(d.get("host_link") or {}),
                limits={k: float(v) for k, v in (d.get("limits") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HwError(f"staged report: bad or missing field {exc}") from None


def _critical_paths(graph: Any, cycles: dict[str, int]) -> dict[str, int]:
    """Per layer, the largest sum of cycles on a path from the input through it."""
    best: dict[str, int] = {}
    for layer in graph.layers:  # graph order is topological
        before = max((best[i] for i in layer.inputs if i in best), default=0)
        best[layer.name] = before + int(cycles.get(layer.name, 0))
    return best


def _sink(layers: Sequence[Any], graph: Any) -> str:
    consumed = {i for layer in graph.layers for i in layer.inputs}
    sinks = [layer.name for layer in layers if layer.name not in consumed]
    return sinks[-1] if sinks else layers[-1].name


def staged_performance(
    graph: Any,
    reach: Sequence[float] | None = None,
    *,
    device: Any,
    clk_ns: float | None = None,
    folding: Any = None,
    buffer_depth: float | None = None,
    limits: Mapping[str, float] | None = None,
    host: HostLink | None = None,
    memo: StageMemo | None = None,
) -> StagedReport:
    """Sustained performance, power and energy of an early-exit design.

    Args:
        graph: the HwGraph with its exits marked.
        reach: per stage, the fraction of inputs entering it (reach[0] = 1); None means
            [1.0] for a graph without exits.
        device: the Device (or a board name).
        clk_ns: clock period (the device default when None).
        folding: a FoldingConfig or folding dict applied first.
        buffer_depth: frames each inter-stage FIFO holds (None: DEFAULT_BUFFER_DEPTH;
            ``math.inf``: unbounded).
        limits: maximum utilisation share per resource for ``fits`` (e.g. {"LUT": 0.85});
            default 1.0 each (hw_builders.devices.DEFAULT_LIMITS).
        host: the host's link to the streams (hw_builders.host); None: the one assumed for
            the device's part; ``NO_HOST``: the accelerator alone.
        memo: A :class:`StageMemo` keeping the stage reports for later calls (None: none).

    Returns the StagedReport; raises HwError on a bad reach, buffer depth, device or folding.
    """
    if device is None:
        raise HwError("device: give a Device (hw_builders.get_device) or a board name")
    dev = resolve_device(device)
    clk = clock_ns(dev, clk_ns)
    depth = _buffer_depth(buffer_depth)
    costed = _costed_stages if memo is None else memo.stages
    graph, stages, reports = costed(graph, folding, dev, clk)
    r = check_reach([1.0] if reach is None and len(stages) == 1 else reach or [], len(stages))
    t_stage, service = _stage_rates(reports, clk)
    fpga = tandem_throughput(service, r, depth)
    traffic = host_traffic(graph, r)
    link = host_link_for(dev.part) if host is None else host
    thr = min(fpga, host_fps := traffic.cap_fps(link))
    latency, frac, mean_lat = _latencies(graph, reports, r, clk)
    static_w = float(dev.power.static_w)
    dyn, activity, power, energy = _power(reports, r, t_stage, thr, static_w)
    total, util = _resources(reports, dev)
    bound = limited_by(
        graph, stages, reports, r, fpga_fps=fpga, host_fps=host_fps, utilisation=util, limits=limits
    )
    return StagedReport(
        throughput_fps=thr,
        latency_s_per_exit=latency,
        mean_latency_s=mean_lat,
        power_w=power,
        energy_per_inference_j=energy,
        edp=energy * mean_lat,
        stages=reports,
        total=total,
        utilisation=util,
        fits=device_fits(total, dev, limits),
        reach=r,
        exit_fraction=frac,
        exits=exit_ids(graph),
        stage_throughput_fps=t_stage,
        activity=activity,
        static_power_w=static_w,
        stage_dynamic_power_w=dyn,
        buffer_depth=depth,
        unbuffered_bound_fps=tandem_throughput(service, r, math.inf),
        clk_ns=clk,
        device=dev.name,
        accelerator_fps=fpga,
        host_fps=host_fps,
        host_bytes_per_inference=traffic.bytes_per_inference,
        limited_by=bound,
        host_link=link.to_dict(),
        limits={**DEFAULT_LIMITS, **(limits or {})},
    )


def _stage_rates(reports: Sequence[Any], clk: float) -> tuple[list[float], list[float]]:
    """Per stage, its own throughput (frames/s) and service time (s per frame): its slowest
    layer's cycles at the clock."""
    max_cycles = [max(1, int(rep.performance["max_cycles"])) for rep in reports]
    return [1e9 / clk / c for c in max_cycles], [c * clk * 1e-9 for c in max_cycles]


def _folded(graph: Any, folding: Any) -> Any:
    """``graph`` with a FoldingConfig or folding dict applied (as it is when None)."""
    if folding is None:
        return graph
    cfg = folding if isinstance(folding, FoldingConfig) else FoldingConfig.from_dict(folding)
    return cfg.apply(graph)


class StageMemo:
    """Stage reports kept across :func:`staged_performance` calls: the folded graph, its
    stages and their FINN reports per (graph, device, folding, clock), for the designs of
    one graph that fold alike at one clock (many reaches share them).

    Graphs and devices are told apart by identity: use one memo only while the graphs and
    devices it was given are not changed in place. An entry holds its graph and device, so
    their ids name them while it is kept.

    Args:
        maxsize: Entries kept (the oldest is dropped first).
    """

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = int(maxsize)
        self._entries: dict[tuple[Any, ...], tuple[Any, Any, tuple[Any, list[Any], list[Any]]]] = {}

    def stages(
        self, graph: Any, folding: Any, dev: Any, clk: float
    ) -> tuple[Any, list[Any], list[Any]]:
        """``graph`` folded, split into its stages, and each stage's FINN report."""
        key = (id(graph), id(dev), _folding_key(folding), float(clk))
        hit = self._entries.get(key)
        if hit is not None and hit[0] is graph and hit[1] is dev:
            return hit[2]
        got = _costed_stages(graph, folding, dev, clk)
        if len(self._entries) >= self.maxsize:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (graph, dev, got)
        return got


def _folding_key(folding: Any) -> Any:
    """A hashable form of a FoldingConfig or folding dict (None when there is none)."""
    if folding is None:
        return None
    data = folding.to_dict() if isinstance(folding, FoldingConfig) else folding
    return json.dumps(data, sort_keys=True, default=str)


def _costed_stages(
    graph: Any, folding: Any, dev: Any, clk: float
) -> tuple[Any, list[Any], list[Any]]:
    """``graph`` folded, split into its stages, and each stage's FINN report."""
    folded = _folded(graph, folding)
    stages = split_stages(folded)
    return folded, stages, _stage_reports(stages, dev, clk)


def _stage_reports(stages: Sequence[Any], dev: Any, clk: float) -> list[Any]:
    """FINN's estimate of every stage, on the Device itself, not its board's name: a
    calibrated power model or edited resources must cost every stage."""
    return [estimate(s, device=dev, clk_ns=clk) for s in stages]


def _buffer_depth(buffer_depth: float | None) -> float:
    """The inter-stage FIFO depth in frames (None: DEFAULT_BUFFER_DEPTH); HwError unless a
    number >= 0."""
    if buffer_depth is None:
        return float(DEFAULT_BUFFER_DEPTH)
    if (
        isinstance(buffer_depth, bool)
        or not isinstance(buffer_depth, (int, float))
        or not (buffer_depth >= 0)
    ):
        raise HwError(f"buffer_depth={buffer_depth!r}: must be a number of frames >= 0")
    return float(buffer_depth)


def _latencies(
    graph: Any, reports: Sequence[Any], r: Sequence[float], clk: float
) -> tuple[list[float], list[float], float]:
    """Per exit (then the final classifier), the latency to its sink along the critical
    path; the share of inputs leaving there; the mean latency."""
    cycles = {lr.name: int(lr.cycles) for rep in reports for lr in rep.layers}
    paths = _critical_paths(graph, cycles)
    backbone, exits = exit_groups(graph)
    sinks = [_sink(layers, graph) for _, _, layers in exits]
    consumed = {i for layer in graph.layers for i in layer.inputs}
    final_sinks = [layer.name for layer in backbone if layer.name not in consumed]
    sinks.append(final_sinks[-1] if final_sinks else backbone[-1].name)
    latency = [paths[s] * clk * 1e-9 for s in sinks]
    frac = [r[k] - (r[k + 1] if k + 1 < len(r) else 0.0) for k in range(len(r))]
    mean_lat = sum(f * lat for f, lat in zip(frac, latency, strict=False))
    return latency, frac, mean_lat


def _power(
    reports: Sequence[Any],
    r: Sequence[float],
    t_stage: Sequence[float],
    thr: float,
    static_w: float,
) -> tuple[list[float], list[float], float, float]:
    """Per stage its dynamic power and activity at throughput ``thr``; the design's power and
    energy per inference (sum_k reach_k E_k + static power over throughput)."""
    dyn = [max(0.0, float(rep.power_w or 0.0) - static_w) for rep in reports]
    activity = [min(1.0, rk * thr / tk) for rk, tk in zip(r, t_stage, strict=False)]
    power = static_w + sum(a * d for a, d in zip(activity, dyn, strict=False))
    energy = sum(rk * d / tk for rk, d, tk in zip(r, dyn, t_stage, strict=False)) + static_w / thr
    return dyn, activity, power, energy


def _resources(reports: Sequence[Any], dev: Any) -> tuple[dict[str, int], dict[str, float]]:
    """The design's resources (every stage on one device) and their utilisation."""
    total = {
        k: int(sum(rep.total.get(k, 0) for rep in reports))
        for k in ("LUT", "BRAM_18K", "URAM", "DSP")
    }
    util = {
        k: (
            total[k] / dev.resources[k] if dev.resources.get(k) else (math.inf if total[k] else 0.0)
        )
        for k in total
    }
    return total, util

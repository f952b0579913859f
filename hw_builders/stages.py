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

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hw_builders.devices import fits as device_fits
from hw_builders.errors import HwError

#: Frames each inter-stage FIFO holds when buffer_depth is None.
DEFAULT_BUFFER_DEPTH = 2
#: Frames in the sample path of the queueing computation.
QUEUE_FRAMES = 4096


# -- stages ---------------------------------------------------------------------------------


def _exit_groups(graph: Any) -> tuple[list[Any], list[tuple[int, int, list[Any]]]]:
    """Backbone layers, and per exit (position of its branch point, k, its layers)."""
    backbone = [layer for layer in graph.layers if layer.exit is None]
    pos = {layer.name: i for i, layer in enumerate(backbone)}
    groups: dict[int, list[Any]] = {}
    for layer in graph.layers:
        if layer.exit is not None:
            groups.setdefault(int(layer.exit), []).append(layer)
    out: list[tuple[int, int, list[Any]]] = []
    for k, layers in groups.items():
        names = {layer.name for layer in layers}
        sources = {src for layer in layers for src in layer.inputs if src not in names}
        if len(sources) != 1 or next(iter(sources)) not in pos:
            raise HwError(
                f"exit {k}: its layers must branch from exactly one backbone layer "
                f"(found inputs {sorted(sources) or 'none'}); mark only the exit branch with "
                f'"exit": {k}'
            )
        out.append((pos[next(iter(sources))], k, layers))
    out.sort(key=lambda t: (t[0], t[1]))
    if out and out[-1][0] >= len(backbone) - 1:
        raise HwError(
            f"exit {out[-1][1]}: it branches after the last backbone layer; the final stage "
            f"would be empty"
        )
    return backbone, out


def stage_index(graph: Any) -> dict[str, int]:
    """Per layer name, the index of its stage (0 for every layer without exits)."""
    backbone, exits = _exit_groups(graph)
    idx: dict[str, int] = {}
    start = 0
    for s, (p, _k, layers) in enumerate(exits):
        for layer in backbone[start : p + 1]:
            idx[layer.name] = s
        for layer in layers:
            idx[layer.name] = s
        start = p + 1
    for layer in backbone[start:]:
        idx[layer.name] = len(exits)
    return idx


def split_stages(graph: Any) -> list[Any]:
    """One sub-graph per stage, in order (a graph without exits is one stage).

    Layer names are kept (so a folding config applies unchanged); inputs that come from
    an earlier stage are dropped (they are the stage's input stream).

    Raises:
        HwError: an exit's layers do not form one branch from the backbone.
    """
    from hw_builders.graph import HwGraph, HwLayer

    idx = stage_index(graph)
    n = max(idx.values(), default=0) + 1
    if n == 1:
        return [graph]
    members: list[list[Any]] = [[] for _ in range(n)]
    for layer in graph.layers:
        members[idx[layer.name]].append(layer)
    out = []
    for s, layers in enumerate(members):
        names = {layer.name for layer in layers}
        copies = [
            HwLayer(
                layer.name,
                layer.op_type,
                [i for i in layer.inputs if i in names],
                dict(layer.attrs),
                layer.impl,
                layer.exit,
            )
            for layer in layers
        ]
        out.append(HwGraph(f"{graph.name}_stage{s}", copies))
    return out


def exit_ids(graph: Any) -> list[int | None]:
    """Per stage, the candidate exit index it ends with (None for the final stage)."""
    _, exits = _exit_groups(graph)
    return [k for _, k, _ in exits] + [None]


def check_reach(reach: Sequence[float], n_stages: int) -> list[float]:
    """Validate a reach vector (one entry per stage, reach[0] = 1, non-increasing).

    Raises:
        HwError: wrong length or values.
    """
    try:
        r = [float(x) for x in reach]
    except (TypeError, ValueError):
        raise HwError(f"reach={reach!r}: expected a list of fractions, one per stage") from None
    if len(r) != n_stages:
        raise HwError(
            f"reach has {len(r)} entries but the graph has {n_stages} stage(s); give one "
            f"fraction per stage"
        )
    if not r or abs(r[0] - 1.0) > 1e-9:
        raise HwError(f"reach[0]={r[0] if r else None}: every input enters stage 0; use 1.0")
    for i, x in enumerate(r):
        if not (0.0 <= x <= 1.0) or not math.isfinite(x):
            raise HwError(f"reach[{i}]={x}: must be a fraction in [0, 1]")
        if i and x > r[i - 1] + 1e-12:
            raise HwError(
                f"reach[{i}]={x} exceeds reach[{i - 1}]={r[i - 1]}; reach never increases"
            )
    r[0] = 1.0
    return r


# -- queueing -------------------------------------------------------------------------------


def tandem_throughput(
    service_s: Sequence[float],
    reach: Sequence[float],
    buffer_depth: float,
    *,
    frames: int = QUEUE_FRAMES,
    seed: int = 0,
) -> float:
    """Sustained frames/s of a saturated tandem line with Bernoulli-thinned stages.

    Args:
        service_s: per stage, the deterministic service time (initiation interval, s).
        reach: per stage, the fraction of frames entering it (reach[0] = 1).
        buffer_depth: frames each inter-stage FIFO holds (``math.inf``: unbounded).
        frames: length of the sample path (raised, up to 8x, so that the least-reached
            stage sees at least 512 frames).
        seed: seed of the thinning draw.

    Returns:
        The long-run throughput (frames per second entering stage 0).
    """
    K = len(service_s)
    bound = min(
        1.0 / (s * r) if r > 0 else math.inf for s, r in zip(service_s, reach, strict=False)
    )
    if K == 1 or math.isinf(buffer_depth) or all(r >= 1.0 for r in reach):
        return bound
    if buffer_depth < 0:
        raise HwError(f"buffer_depth={buffer_depth}: must be >= 0 frames")
    cap = int(buffer_depth) + 1
    # enough frames that the least-reached stage still sees a few hundred of them
    r_min = min((r for r in reach if r > 0), default=1.0)
    frames = max(frames, min(8 * frames, int(512 / r_min)))
    rng = random.Random(seed)
    # which frames reach each stage: exact counts, random choice among the previous ones
    goes_on: list[set[int]] = []
    current = list(range(frames))
    for k in range(1, K):
        n_next = min(len(current), round(reach[k] * frames))
        chosen = sorted(rng.sample(current, n_next))
        goes_on.append(set(chosen))
        current = chosen
    seq_pos: list[dict[int, int]] = [{}]  # per stage, frame -> position in the stage's stream
    for k in range(1, K):
        seq_pos.append({f: j for j, f in enumerate(sorted(goes_on[k - 1]))})
    release: list[list[float]] = [[] for _ in range(K)]  # per stage, release time by position
    last_release = [0.0] * K
    t_end = 0.0
    for f in range(frames):
        arrival = 0.0
        k = 0
        while True:
            start = max(arrival, last_release[k])
            finish = start + service_s[k]
            if k + 1 < K and f in goes_on[k]:
                j = seq_pos[k + 1][f]
                rel = finish
                if j - cap >= 0:
                    rel = max(rel, release[k + 1][j - cap])
                # the stage k+1 release of position j - cap is known: it is an earlier frame
            else:
                rel = finish
            release[k].append(rel)
            last_release[k] = rel
            t_end = max(t_end, rel)
            if k + 1 < K and f in goes_on[k]:
                arrival = rel
                k += 1
            else:
                break
    fill = sum(service_s)
    got = (frames - 1) / max(t_end - fill, 1e-30)
    return min(got, bound)


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
        fits: whether the whole design fits the device.
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
            "stages": [s.to_dict() for s in self.stages],
        }


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

    Returns:
        The StagedReport.

    Raises:
        HwError: bad reach, buffer depth, device or folding.
    """
    from hw_builders import estimate
    from hw_builders.folding.api import _clk, resolve_device

    dev = resolve_device(device)
    clk = _clk(dev, clk_ns)
    if folding is not None:
        from hw_builders.folding.config import FoldingConfig

        cfg = folding if isinstance(folding, FoldingConfig) else FoldingConfig.from_dict(folding)
        graph = cfg.apply(graph)
    if buffer_depth is None:
        buffer_depth = DEFAULT_BUFFER_DEPTH
    if (
        isinstance(buffer_depth, bool)
        or not isinstance(buffer_depth, (int, float))
        or not (buffer_depth >= 0)
    ):
        raise HwError(f"buffer_depth={buffer_depth!r}: must be a number of frames >= 0")
    stages = split_stages(graph)
    r = check_reach([1.0] if reach is None and len(stages) == 1 else reach or [], len(stages))
    kw: dict[str, Any] = {"part": dev.part} if dev.board is None else {"board": dev.board}
    reports = [estimate(s, clk_ns=clk, **kw) for s in stages]
    f_clk = 1e9 / clk
    max_cycles = [max(1, int(rep.performance["max_cycles"])) for rep in reports]
    t_stage = [f_clk / c for c in max_cycles]
    service = [c * clk * 1e-9 for c in max_cycles]
    thr = tandem_throughput(service, r, float(buffer_depth))
    bound = tandem_throughput(service, r, math.inf)

    cycles = {lr.name: int(lr.cycles) for rep in reports for lr in rep.layers}
    paths = _critical_paths(graph, cycles)
    backbone, exits = _exit_groups(graph)
    sinks = [_sink(layers, graph) for _, _, layers in exits]
    final_layers = [layer for layer in backbone]
    consumed = {i for layer in graph.layers for i in layer.inputs}
    final_sinks = [layer.name for layer in final_layers if layer.name not in consumed]
    sinks.append(final_sinks[-1] if final_sinks else backbone[-1].name)
    latency = [paths[s] * clk * 1e-9 for s in sinks]
    frac = [r[k] - (r[k + 1] if k + 1 < len(r) else 0.0) for k in range(len(r))]
    mean_lat = sum(f * lat for f, lat in zip(frac, latency, strict=False))

    static_w = float(dev.power.static_w)
    dyn = [max(0.0, float(rep.power_w) - static_w) for rep in reports]
    activity = [min(1.0, rk * thr / tk) for rk, tk in zip(r, t_stage, strict=False)]
    power = static_w + sum(a * d for a, d in zip(activity, dyn, strict=False))
    energy = sum(rk * d / tk for rk, d, tk in zip(r, dyn, t_stage, strict=False)) + static_w / thr
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
    fits = device_fits(total, dev, limits)
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
        fits=fits,
        reach=r,
        exit_fraction=frac,
        exits=exit_ids(graph),
        stage_throughput_fps=t_stage,
        activity=activity,
        static_power_w=static_w,
        stage_dynamic_power_w=dyn,
        buffer_depth=float(buffer_depth),
        unbuffered_bound_fps=bound,
        clk_ns=clk,
        device=dev.name,
    )


__all__ = [
    "DEFAULT_BUFFER_DEPTH",
    "StagedReport",
    "check_reach",
    "exit_ids",
    "split_stages",
    "stage_index",
    "staged_performance",
    "tandem_throughput",
]

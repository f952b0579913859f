"""FINN-compatible estimates of a dataflow design: per layer, totals, performance, power.

Two paths:

* :func:`estimate` builds a full :class:`HardwareReport` (FINN's report shape).
* :class:`Estimator` is compiled once per (graph, device, clock) and memoises each
  layer's cost by its folding values, so that the optimiser can evaluate tens of
  thousands of foldings per second with :meth:`Estimator.fast` (no report objects).

Performance follows FINN's dataflow_performance analysis: max_cycles is the largest layer
cycle count (the first such node in graph order names it); critical_path_cycles is the
largest sum of cycles along any input->output path (latency_at_node_output);
fps = (1e9 / clk_ns) / max_cycles; latency_ns = critical_path_cycles * clk_ns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from hw_builders.devices import Device, clock_ns, fits, resolve_device, utilisation
from hw_builders.errors import HwError
from hw_builders.graph import HwGraph, HwLayer
from hw_builders.registry import LayerCost, get_op
from hw_builders.report import HardwareReport, LayerReport

__all__ = [
    "LayerCost",
    "layer_cost",
    "estimate",
    "Estimator",
    "FastResult",
    "legal_values",
    "check_folding",
]


def _check(layer: HwLayer, a: dict[str, Any]) -> None:
    msgs = get_op(layer.op_type).violations(a, layer.impl)
    if msgs:
        raise HwError(f"layer {layer.name}: {msgs[0]}")


def _attrs_key(attrs: dict[str, Any]) -> tuple[Any, ...]:
    """``attrs`` as a hashable key (lists as tuples; a nested list stays unhashable)."""
    return tuple([(k, tuple(v) if type(v) is list else v) for k, v in attrs.items()])


def layer_key(layer: HwLayer) -> tuple[Any, ...] | None:
    """What a layer's FINN estimates depend on, hashable: its name, op type, impl and
    resolved attributes (None when an attribute cannot be hashed)."""
    key = (layer.name, layer.op_type, layer.impl, _attrs_key(layer.resolved_attrs()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


#: Layer costs by (op type, impl, Versal, attributes): a layer's FINN estimate depends on
#: these alone (op models are registered once and never replaced), and the folding search,
#: the staged report and the inner step cost the same layer foldings over and over.
_COST_MEMO: dict[tuple[Any, ...], LayerCost] = {}
_COST_MEMO_MAX = 1 << 18


def clear_cost_memo() -> None:
    """Forget every memoised layer cost (hw_builders.clear_memos)."""
    _COST_MEMO.clear()


def _op_cost(layer: HwLayer, attrs: dict[str, Any], versal: bool) -> LayerCost:
    """``layer``'s cost with its resolved ``attrs`` (HwError if the folding is illegal)."""
    try:
        key: tuple[Any, ...] | None = (layer.op_type, layer.impl, versal, _attrs_key(attrs))
        hash(key)
    except TypeError:  # an attribute that cannot be hashed: costed every time
        key = None
    if key is not None:
        got = _COST_MEMO.get(key)
        if got is not None:
            return got
    _check(layer, attrs)
    cost = get_op(layer.op_type).cost(attrs, layer.impl, versal)
    if key is not None:
        if len(_COST_MEMO) >= _COST_MEMO_MAX:
            _COST_MEMO.clear()
        _COST_MEMO[key] = cost
    return cost


def layer_cost(layer: HwLayer, device: Device | None = None) -> LayerCost:
    """FINN's estimates for one layer.

    Args:
        layer: the layer (its attrs include the folding).
        device: the target (only Versal-ness matters, for rtl MVAU DSPs); None = non-Versal.

    Raises:
        HwError: the folding violates a constraint (layer and constraint named).
    """
    return _op_cost(layer, layer.resolved_attrs(), bool(device and device.versal))


class FastResult(NamedTuple):
    """Result of :meth:`Estimator.fast`."""

    max_cycles: int
    LUT: int
    BRAM_18K: int
    URAM: int
    DSP: int
    fits: bool


class Estimator:
    """Compiled, memoising estimator for one graph on one device and clock.

    Each layer ``i`` has folding knobs ``knobs[i]`` (e.g. ``("PE", "SIMD", "ram_style",
    ...)``); a folding of the whole graph is a sequence with, per layer, a tuple of those
    values in that order (``None`` keeps the graph's own values). ``values_from_folding``
    converts a FINN folding_config dict.
    """

    def __init__(
        self,
        graph: HwGraph,
        device: Device | str | None = None,
        *,
        board: str | None = None,
        part: str | None = None,
        clk_ns: float | None = None,
        limits: Mapping[str, float] | None = None,
    ) -> None:
        self.graph = graph
        self.device = resolve_device(device, board=board, part=part)
        self.clk_ns = clock_ns(self.device, clk_ns)
        self.limits = dict(limits or {})
        self.names = [lay.name for lay in graph.layers]
        self.n = len(graph.layers)
        self._ops = [get_op(lay.op_type) for lay in graph.layers]
        self._base = [lay.resolved_attrs() for lay in graph.layers]
        self.knobs: list[tuple[str, ...]] = [op.fold_attrs for op in self._ops]
        self.current: list[tuple] = [
            tuple(b.get(k) for k in kn) for b, kn in zip(self._base, self.knobs, strict=False)
        ]
        self._memo: list[dict[tuple, tuple[int, int, int, int, int]]] = [{} for _ in range(self.n)]
        self._memo_full: list[dict[tuple, LayerCost]] = [{} for _ in range(self.n)]
        self._versal = self.device.versal
        idx = {name: i for i, name in enumerate(self.names)}
        self._preds = [[idx[s] for s in lay.inputs] for lay in graph.layers]
        self._topo = self._topological_order()
        caps = {}
        for k in ("LUT", "BRAM_18K", "URAM", "DSP"):
            lim = self.limits.get(k, 1.0)
            caps[k] = lim * self.device.resources.get(k, 0)
        self._caps = (caps["LUT"], caps["BRAM_18K"], caps["URAM"], caps["DSP"])

    def _topological_order(self) -> list[int]:
        """Layer indexes with every layer after its producers."""
        from graphlib import TopologicalSorter

        if all(p < i for i in range(self.n) for p in self._preds[i]):
            return list(range(self.n))  # the graph's own order is one (the usual case)
        preds = {i: self._preds[i] for i in range(self.n)}
        return list(TopologicalSorter(preds).static_order())

    # -- per-layer ---------------------------------------------------------------------
    def attrs(self, i: int, values: tuple | None = None) -> dict[str, Any]:
        """Layer ``i``'s resolved attributes with folding ``values`` applied."""
        a = dict(self._base[i])
        if values is not None:
            a.update(zip(self.knobs[i], values, strict=False))
        return a

    def cost(self, i: int, values: tuple | None = None) -> LayerCost:
        """Layer ``i``'s LayerCost under folding ``values`` (memoised; HwError if illegal)."""
        key = self.current[i] if values is None else values
        c = self._memo_full[i].get(key)
        if c is None:
            self._compute(i, key)
            c = self._memo_full[i][key]
        return c

    def _compute(self, i: int, key: tuple) -> tuple[int, int, int, int, int]:
        a = self.attrs(i, key)
        c = _op_cost(self.graph.layers[i], a, self._versal)
        t = (c.cycles, c.LUT, c.BRAM_18K, c.URAM, c.DSP)
        self._memo[i][key] = t
        self._memo_full[i][key] = c
        return t

    def values_from_folding(self, folding: Any) -> list[tuple]:
        """Per-layer knob tuples from a FINN folding_config dict / FoldingConfig."""
        g = self.graph.with_folding(folding)
        out = []
        for i, lay in enumerate(g.layers):
            a = dict(self._base[i])
            a.update(lay.attrs)
            out.append(tuple(a.get(k) for k in self.knobs[i]))
        return out

    # -- whole graph -------------------------------------------------------------------
    def fast(self, values: Sequence[tuple | None] | None = None) -> FastResult:
        """(max_cycles, LUT, BRAM_18K, URAM, DSP, fits) for one folding, without reports.

        Args:
            values: per layer, a tuple of ``knobs[i]`` values or None (graph's own); None
                for the graph's own folding throughout.
        """
        if values is None:
            values = self.current
        elif None in values:
            values = [c if v is None else v for v, c in zip(values, self.current, strict=False)]
        if len(values) != self.n:
            raise HwError(f"folding: expected {self.n} per-layer entries, got {len(values)}")
        # the hot path: one C-level dict lookup per layer (map over dict.get)
        costs: list[Any] = list(map(dict.get, self._memo, values))  # type: ignore[arg-type]
        if None in costs:
            costs = [
                c if c is not None else self._compute(i, values[i])  # type: ignore[arg-type]
                for i, c in enumerate(costs)
            ]
        cyc, lut, bram, uram, dsp = zip(*costs, strict=True)
        lut, bram, uram, dsp = sum(lut), sum(bram), sum(uram), sum(dsp)
        cl, cb, cu, cd = self._caps
        return FastResult(
            max(cyc), lut, bram, uram, dsp, lut <= cl and bram <= cb and uram <= cu and dsp <= cd
        )

    def throughput_fps(self, max_cycles: int) -> float:
        """FINN's estimated_throughput_fps for a given max_cycles."""
        return (1e9 / self.clk_ns) / max_cycles

    def report(self, values: Sequence[tuple | None] | None = None) -> HardwareReport:
        """The full HardwareReport for one folding (per-layer tuples as in :meth:`fast`)."""
        if values is None:
            values = self.current
        costs = [self.cost(i, v) for i, v in enumerate(values)]
        layers = [
            LayerReport(name=lay.name, op_type=lay.op_type, exit=lay.exit, **vars(c))
            for lay, c in zip(self.graph.layers, costs, strict=False)
        ]
        total = {k: sum(getattr(c, k) for c in costs) for k in ("LUT", "BRAM_18K", "URAM", "DSP")}
        max_cycles, max_name = 0, ""
        for lay in layers:
            if lay.cycles > max_cycles:
                max_cycles, max_name = lay.cycles, lay.name
        lat = [0] * self.n
        for i in self._topo:
            lat[i] = costs[i].cycles + max((lat[p] for p in self._preds[i]), default=0)
        critical = max(lat) if lat else 0
        perf: dict[str, Any] = {
            "critical_path_cycles": int(critical),
            "max_cycles": int(max_cycles),
            "max_cycles_node_name": max_name,
        }
        fps = (1e9 / self.clk_ns) / max_cycles if max_cycles else float("inf")
        perf["estimated_throughput_fps"] = fps
        perf["estimated_latency_ns"] = critical * self.clk_ns
        util = utilisation(total, self.device)
        ok = fits(total, self.device, self.limits)
        power = self.device.power.power_w(total, self.clk_ns)
        energy = power / fps if fps and fps != float("inf") else 0.0
        return HardwareReport(
            layers, total, perf, util, ok, power, energy, self.device.name, self.clk_ns
        )


def estimate(
    graph: HwGraph,
    *,
    board: str | None = None,
    part: str | None = None,
    clk_ns: float | None = None,
    folding: Any = None,
    device: Device | None = None,
    limits: Mapping[str, float] | None = None,
) -> HardwareReport:
    """FINN's estimate reports for ``graph`` (with ``folding`` applied) on a device.

    Args:
        graph: the hardware graph.
        board: board name (see ``BOARDS``), or
        part: FPGA part number; or
        device: a Device object.
        clk_ns: clock period; the device's default when None.
        folding: FINN folding_config dict or FoldingConfig to apply first.
        limits: maximum utilisation share per resource for ``fits``.

    Raises:
        HwError: unknown device, illegal folding, bad clock.
    """
    g = graph.with_folding(folding) if folding is not None else graph
    return Estimator(g, device, board=board, part=part, clk_ns=clk_ns, limits=limits).report()


def legal_values(layer: HwLayer) -> dict[str, list[int]]:
    """Legal values of each integer folding attribute of ``layer``.

    E.g. ``{"PE": divisors(MH), "SIMD": divisors(MW)}`` for an MVAU; ``{}`` for ops
    without integer folding (StreamingFIFO).
    """
    return get_op(layer.op_type).legal_values(layer.resolved_attrs(), layer.impl)


def check_folding(graph: HwGraph) -> None:
    """Raise HwError naming the first layer whose folding violates a constraint.

    Example message: ``layer MVAU_hls_3: PE=7 does not divide MH=64; choose a divisor of
    MH: 1, 2, 4, 8, 16, 32, 64``.
    """
    for lay in graph.layers:
        _check(lay, lay.resolved_attrs())

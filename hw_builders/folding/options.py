"""The folding space of a graph: every legal folding of every layer with its FINN cost.

Layers whose folding is coupled are grouped: a depthwise sliding window
(ConvolutionInputGenerator) feeding a VVAU must have SIMD = the VVAU's PE (and the RTL
one needs parallel_window = 1 when the VVAU's SIMD > 1), so the pair forms one group whose
options are the VVAU's (PE, SIMD) with SIMD > 1 only at PE = Channels (the parallel
sliding window needs SIMD = IFMChannels). Every other layer is its own group. Options that are
dominated (no faster and no cheaper in every resource than another option) are dropped:
this loses no optimum, so an exhaustive search over the kept options is exact.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hw_builders.errors import HwError
from hw_builders.estimate import layer_cost, layer_key, legal_values

#: Resources that budgets constrain, in this order in every resource vector.
RESOURCES: tuple[str, ...] = ("LUT", "BRAM_18K", "URAM", "DSP")


class Option(NamedTuple):
    """One folding of one group of layers (a named tuple: options are made by the
    thousand for every weighting of a graph's groups).

    Attributes:
        assign: per layer name, the attributes this option sets.
        layer_cycles: per layer name, FINN's cycles with this folding.
        res: summed (LUT, BRAM_18K, URAM, DSP) of the group's layers.
        wcycles: max over the group's layers of weight * cycles (the objective's term).
    """

    assign: dict[str, dict[str, Any]]
    layer_cycles: dict[str, int]
    res: tuple[int, int, int, int]
    wcycles: float


@dataclass
class Group:
    """Layers folded together, with their non-dominated options (fastest first)."""

    names: tuple[str, ...]
    options: list[Option] = field(default_factory=list)


def _pareto(options: list[Option]) -> list[Option]:
    """Drop options dominated in (wcycles, res); keep order fastest first."""
    opts = sorted(options, key=lambda o: (o.wcycles, sum(o.res), o.res))
    kept: list[Option] = []
    for o in opts:
        dominated = False
        for k in kept:
            if k.wcycles <= o.wcycles and all(a <= b for a, b in zip(k.res, o.res, strict=False)):
                dominated = True
                break
        if not dominated:
            kept.append(o)
    return kept


@dataclass
class _Costed:
    """A graph's groups and options costed once with unit weights (shared by every
    FoldingSpace of the same graph and DSP family: weights only scale cycles)."""

    groups: list[Group]
    all_cycles: set[int]
    #: FINN's SetFolding of the graph per cycles target (hw_builders.folding.api)
    set_folding: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    #: the groups weighted per weight vector (layer order): the weights of an early-exit
    #: design are its stages' reach, which many designs share (budgets, clocks)
    weighted: dict[tuple[float, ...], list[Group]] = field(default_factory=dict)


#: weight vectors whose weighted groups a graph keeps (the oldest is dropped first)
_WEIGHTED_MAX = 256

#: a group's unit-weight options and every cycle count its legal foldings reach, by its
#: layers' costing identity (``layer_key``) and the DSP family: the graphs of one model
#: (each set of exits in use) share their backbone's layers
_GROUPS: dict[tuple[Any, ...], tuple[Group, frozenset[int]]] = {}
_GROUPS_MAX = 4096


#: id(graph) -> (a weak reference to it, {versal: its costed groups}); an entry goes with
#: its graph
_COSTED: dict[int, tuple[Any, dict[bool, _Costed]]] = {}


def costed(graph: Any, versal: bool) -> _Costed | None:
    """The cached unit-weight costing of ``graph`` (None when not costed yet)."""
    entry = _COSTED.get(id(graph))
    if entry is None or entry[0]() is not graph:
        return None
    return entry[1].get(bool(versal))


def _remember(graph: Any, versal: bool, value: _Costed) -> None:
    import weakref

    key = id(graph)
    entry = _COSTED.get(key)
    if entry is None or entry[0]() is not graph:

        def forget(_ref: Any, k: int = key) -> None:
            _COSTED.pop(k, None)

        try:
            ref = weakref.ref(graph, forget)
        except TypeError:  # a graph that cannot be referenced weakly is costed every time
            return
        entry = (ref, {})
        _COSTED[key] = entry
    entry[1][bool(versal)] = value


def _weighted(group: Group, weights: Mapping[str, float]) -> Group:
    """``group`` with each option's objective term weighted (``max`` over its layers of
    weight x cycles); a positive weight per group keeps the order and the dominance."""
    ws = {weights[n] for n in group.names}
    if len(ws) == 1:  # one stage: w x max(cycles) is max(w x cycles), exactly (w >= 0)
        w = ws.pop()
        return Group(
            group.names,
            [Option(o.assign, o.layer_cycles, o.res, w * o.wcycles) for o in group.options],
        )
    options = [
        Option(
            o.assign,
            o.layer_cycles,
            o.res,
            max((weights[n] * c for n, c in o.layer_cycles.items()), default=0.0),
        )
        for o in group.options
    ]
    return Group(group.names, options)


class FoldingSpace:
    """All legal foldings of a graph's layers, costed with FINN's models for a device.

    The layers are costed once per graph and DSP family (a module cache that lives as long
    as the graph object); other weights only rescale the options' cycles.

    Args:
        graph: the HwGraph.
        device: the target Device (its resource counts and DSP family matter).
        weights: per layer name, the objective weight of its cycles (the reach of its
            stage for early-exit designs; 1 when absent).
    """

    def __init__(self, graph: Any, device: Any, weights: Mapping[str, float] | None = None) -> None:

        self.graph = graph
        self.device = device
        self.weights = {
            layer.name: float((weights or {}).get(layer.name, 1.0)) for layer in graph.layers
        }
        self._layer_cost = layer_cost
        self._legal_values = legal_values
        versal = bool(getattr(device, "versal", False))
        self._costing = False
        base = costed(graph, versal)
        if base is None:
            self._costing = True
            unit = {name: 1.0 for name in self.weights}
            own, self.weights = self.weights, unit
            self.groups: list[Group] = []
            #: every cycle count any legal folding of any layer reaches (unpruned)
            self.all_cycles: set[int] = set()
            self._cost_groups(graph)
            base = _Costed(self.groups, self.all_cycles)
            _remember(graph, versal, base)
            self.weights = own
            self._costing = False
        self._base = base
        self.all_cycles = base.all_cycles
        if all(w == 1.0 for w in self.weights.values()):
            self.groups = list(base.groups)
        else:
            key = tuple(self.weights.values())
            groups = base.weighted.get(key)
            if groups is None:
                groups = [_weighted(g, self.weights) for g in base.groups]
                if len(base.weighted) >= _WEIGHTED_MAX:
                    base.weighted.pop(next(iter(base.weighted)))
                base.weighted[key] = groups
            # the shared groups are never changed (Group and Option are values to readers);
            # the list is the space's own
            self.groups = list(groups)

    @property
    def finn_cache(self) -> dict[tuple[Any, ...], Any]:
        """FINN's SetFolding results of this graph by ``(target cycles, wwidth max)`` and
        the targets that fit by ``("fits", limits, wwidth max)``, shared by every space of the
        graph (they do not depend on weights or budgets)."""
        return self._base.set_folding

    def _cost_groups(self, graph: Any) -> None:
        """Cost every group of ``graph`` (with the current weights) into ``self.groups``."""
        by_name = {layer.name: layer for layer in graph.layers}
        paired: dict[str, str] = {}  # swu name -> vvau name
        for layer in graph.layers:
            if layer.op_type == "VVAU" and layer.inputs and layer.inputs[0] in by_name:
                prod = by_name[layer.inputs[0]]
                if prod.op_type == "ConvolutionInputGenerator":
                    paired[prod.name] = layer.name
        versal = bool(getattr(self.device, "versal", False))
        for layer in graph.layers:
            if layer.name in paired:
                continue  # costed with its VVAU
            swu = next((s for s, v in paired.items() if v == layer.name), None)
            members = [layer] if swu is None else [by_name[swu], layer]
            keys = [layer_key(m) for m in members]
            key = None if None in keys else (versal, *keys)
            got = _GROUPS.get(key) if key is not None else None
            if got is None:
                seen = set(self.all_cycles)
                self.all_cycles = set()
                group = self._single_group(layer) if swu is None else self._vvau_group(*members)
                got = (group, frozenset(self.all_cycles))
                self.all_cycles |= seen
                if key is not None:
                    if len(_GROUPS) >= _GROUPS_MAX:
                        _GROUPS.pop(next(iter(_GROUPS)))
                    _GROUPS[key] = got
            else:
                self.all_cycles |= got[1]
            self.groups.append(got[0])

    # -- costing -------------------------------------------------------------------
    def _cost(self, layer: Any, attrs: Mapping[str, Any]) -> tuple[int, tuple[int, int, int, int]]:
        lay = dataclasses.replace(layer, attrs={**layer.attrs, **attrs})
        c = self._layer_cost(lay, self.device)
        if self._costing:  # the shared set is only filled while the groups are costed
            self.all_cycles.add(int(c.cycles))
        return int(c.cycles), (int(c.LUT), int(c.BRAM_18K), int(c.URAM), int(c.DSP))

    def _single_group(self, layer: Any) -> Group:
        legal = {k: list(v) for k, v in self._legal_values(layer).items() if v}
        keys = sorted(legal)
        opts: list[Option] = []
        w = self.weights[layer.name]
        combos = [
            dict(zip(keys, c, strict=False)) for c in itertools.product(*(legal[k] for k in keys))
        ]
        if (
            layer.op_type == "ConvolutionInputGenerator"
            and layer.impl == "rtl"
            and not int(layer.attrs.get("depthwise", 0) or 0)
        ):
            # the RTL sliding window's parallel mode (FINN: only with SIMD = IFMChannels)
            for c in combos:
                c["parallel_window"] = 0
            combos.append({"SIMD": int(layer.attrs["IFMChannels"]), "parallel_window": 1})
        for attrs in combos:
            cyc, res = self._cost(layer, attrs)
            opts.append(
                Option({layer.name: attrs} if attrs else {}, {layer.name: cyc}, res, w * cyc)
            )
        return Group((layer.name,), _pareto(opts))

    def _vvau_group(self, swu: Any, vvau: Any) -> Group:
        legal = self._legal_values(vvau)
        opts: list[Option] = []
        for pe in legal.get("PE", [vvau.attrs.get("PE", 1)]):
            for simd in legal.get("SIMD", [vvau.attrs.get("SIMD", 1)]):
                v_attrs = {"PE": pe, "SIMD": simd}
                s_attrs: dict[str, Any] = {"SIMD": pe}
                if swu.impl == "rtl":
                    s_attrs["parallel_window"] = 1 if simd > 1 else 0
                channels = int(swu.attrs.get("IFMChannels", pe))
                if channels % pe:
                    continue
                if simd > 1 and pe != channels:
                    continue  # the parallel sliding window needs SIMD = IFMChannels
                c_s, r_s = self._cost(swu, s_attrs)
                c_v, r_v = self._cost(vvau, v_attrs)
                res = tuple(a + b for a, b in zip(r_s, r_v, strict=False))
                wc = max(self.weights[swu.name] * c_s, self.weights[vvau.name] * c_v)
                opts.append(
                    Option(
                        {swu.name: s_attrs, vvau.name: v_attrs},
                        {swu.name: c_s, vvau.name: c_v},
                        res,  # type: ignore[arg-type]
                        wc,
                    )
                )
        if not opts:
            raise HwError(
                f"layer {vvau.name}: no PE divides both Channels and the IFMChannels of "
                f"{swu.name}; make their channel counts equal"
            )
        return Group((swu.name, vvau.name), _pareto(opts))

    # -- evaluation ------------------------------------------------------------------
    def budget_vector(self, budget: float | Mapping[str, float] | None) -> tuple[float, ...]:
        """Absolute (LUT, BRAM_18K, URAM, DSP) limits from shares of the device.

        Raises:
            HwError: a share is negative or names an unknown resource.
        """
        return budget_vector(self.device, budget)

    @staticmethod
    def usage(choice: Sequence[Option]) -> tuple[int, ...]:
        """Summed resource vector of one option per group."""
        return tuple(sum(o.res[i] for o in choice) for i in range(len(RESOURCES)))

    @staticmethod
    def objective(choice: Sequence[Option]) -> float:
        """Max weighted cycles of a choice (lower is faster)."""
        return max((o.wcycles for o in choice), default=0.0)

    @staticmethod
    def fits(use: Sequence[float], limits: Sequence[float]) -> bool:
        """Whether a resource vector is within the limits."""
        return all(u <= b + 1e-9 for u, b in zip(use, limits, strict=False))

    def to_folding(self, choice: Sequence[Option]) -> dict[str, dict[str, Any]]:
        """Per layer name, the attributes set by one option per group."""
        out: dict[str, dict[str, Any]] = {}
        for o in choice:
            for name, attrs in o.assign.items():
                if attrs:
                    out[name] = dict(attrs)
        return out

    def reweight(self, choice: Sequence[Option]) -> list[Option]:
        """A choice costed by another space of the same graph, with this space's weights."""
        return [
            o._replace(
                wcycles=max((self.weights[n] * c for n, c in o.layer_cycles.items()), default=0.0)
            )
            for o in choice
        ]

    def choice_of(self, folding: Mapping[str, Mapping[str, Any]]) -> list[Option]:
        """The costed options of an explicit folding (layers absent keep their attributes).

        Used to cost the FINN baseline in the same terms as the optimiser.
        """
        by_name = {layer.name: layer for layer in self.graph.layers}
        out: list[Option] = []
        for g in self.groups:
            assign: dict[str, dict[str, Any]] = {}
            cycles: dict[str, int] = {}
            res = [0, 0, 0, 0]
            wc = 0.0
            for name in g.names:
                attrs = dict(folding.get(name, {}))
                c, r = self._cost(by_name[name], attrs)
                assign[name] = attrs
                cycles[name] = c
                res = [a + b for a, b in zip(res, r, strict=False)]
                wc = max(wc, self.weights[name] * c)
            out.append(Option(assign, cycles, tuple(res), wc))  # type: ignore[arg-type]
        return out


def budget_vector(device: Any, budget: float | Mapping[str, float] | None) -> tuple[float, ...]:
    """Absolute (LUT, BRAM_18K, URAM, DSP) limits: shares of ``device.resources``.

    Args:
        device: the Device.
        budget: one share for every resource, per-resource shares (absent ones = 1.0),
            or None (the whole device).

    Raises:
        HwError: a negative or non-numeric share, or an unknown resource name.
    """
    shares = {r: 1.0 for r in RESOURCES}
    if budget is None:
        pass
    elif isinstance(budget, Mapping):
        for key, val in budget.items():
            if key not in RESOURCES:
                raise HwError(f"budget: unknown resource {key!r}; use {', '.join(RESOURCES)}")
            shares[key] = _share(f"budget.{key}", val)
    else:
        s = _share("budget", budget)
        shares = {r: s for r in RESOURCES}
    return tuple(shares[r] * float(device.resources.get(r, 0)) for r in RESOURCES)


def _share(field_name: str, val: Any) -> float:
    if isinstance(val, bool) or not isinstance(val, (int, float)) or not 0 <= val <= 1:
        raise HwError(f"{field_name}={val!r} must be a share of the device in [0, 1] (e.g. 0.8)")
    return float(val)

"""The hardware graph: FINN's dataflow graph after layer specialisation, as JSON.

Format (docs/DESIGN.md): ``{"name": ..., "layers": [LAYER, ...]}``, layers in dataflow order,
each ``{"name", "op_type", "inputs": [names], "impl"?, "exit"?, <FINN attributes>}``.

Default node names follow FINN: ``GiveUniqueNodeNames`` (qonnx/transformation/general.py,
qonnx 1.0, checked in this venv) names node ``f"{op_type}_{n}"`` with ``n`` counting the
nodes *of the same op_type* in graph order; after ``SpecializeLayers`` the op_type is
``MVAU_hls``, ``ConvolutionInputGenerator_rtl``, ..., so names are ``MVAU_hls_0``,
``MVAU_hls_1``, ... per specialised op type (e.g. ``Thresholding_rtl_0`` and
``Thresholding_hls_0`` count separately). This is what finn-examples' folding files use
(build/bnn-pynq/folding_config/cnv-w1a1_folding_config.json @ 6dcc92c5).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hw_builders.atomic import atomic_write_text
from hw_builders.datatypes import datatype
from hw_builders.errors import HwError
from hw_builders.registry import get_op, known_ops

__all__ = ["HwLayer", "HwGraph", "load_graph", "save_graph", "default_name"]

_RESERVED = ("name", "op_type", "inputs", "impl", "exit")
_DT_ATTRS = ("inputDataType", "weightDataType", "outputDataType", "accDataType", "dataType")


def default_name(op_type: str, impl: str, index: int) -> str:
    """FINN's node name after specialisation: ``<op_type>_<impl>_<index>``."""
    return f"{op_type}_{impl}_{index}"


@dataclass
class HwLayer:
    """One FINN dataflow node.

    Attributes:
        name: FINN node name.
        op_type: FINN op type without the impl suffix (MVAU, ConvolutionInputGenerator, ...).
        inputs: names of producer layers ([] for the graph input).
        attrs: FINN attribute names verbatim.
        impl: "hls" | "rtl" (| "vivado" for StreamingFIFO).
        exit: candidate exit index for early-exit branch layers, else None.
    """

    name: str
    op_type: str
    inputs: list[str]
    attrs: dict[str, Any]
    impl: str
    exit: int | None = None

    @property
    def specialized_op_type(self) -> str:
        """FINN's op_type after SpecializeLayers, e.g. ``MVAU_hls``."""
        return f"{self.op_type}_{self.impl}"

    def copy(self) -> HwLayer:
        """A copy whose inputs and attributes can change without touching this layer."""
        return HwLayer(
            self.name, self.op_type, list(self.inputs), dict(self.attrs), self.impl, self.exit
        )

    def resolved_attrs(self) -> dict[str, Any]:
        """The attributes merged over FINN's defaults for this op."""
        op = get_op(self.op_type)
        a = dict(op.defaults)
        a.update(self.attrs)
        return a

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "op_type": self.op_type, "impl": self.impl}
        d["inputs"] = list(self.inputs)
        if self.exit is not None:
            d["exit"] = self.exit
        d.update(copy.deepcopy(self.attrs))
        return d


@dataclass
class HwGraph:
    """A dataflow graph of HwLayers in dataflow (topological) order."""

    name: str
    layers: list[HwLayer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._index = {layer.name: i for i, layer in enumerate(self.layers)}

    def to_dict(self) -> dict[str, Any]:
        """The JSON format of docs/DESIGN.md."""
        return {"name": self.name, "layers": [layer.to_dict() for layer in self.layers]}

    def layer(self, name: str) -> HwLayer:
        """The layer called ``name`` (HwError when absent)."""
        if len(self._index) != len(self.layers):
            self._index = {layer.name: i for i, layer in enumerate(self.layers)}
        try:
            return self.layers[self._index[name]]
        except KeyError:
            raise HwError(f"layer {name!r} is not in graph {self.name!r}") from None

    def index(self, name: str) -> int:
        """Position of layer ``name`` in graph order."""
        self.layer(name)
        return self._index[name]

    def with_folding(self, folding: Any) -> HwGraph:
        """Copy of the graph with FINN folding_config entries applied.

        Args:
            folding: a FoldingConfig (anything with ``to_dict()``) or its dict
                ``{"Defaults": {attr: [value, [op types] | "all"]}, "<node>": {attr: value}}``.

        Raises:
            HwError: a node named in the folding is not in the graph, or an attribute is
                not one that folding may set for that op.
        """
        d = folding.to_dict() if hasattr(folding, "to_dict") else folding
        if d is None:
            return self
        if not isinstance(d, Mapping):
            raise HwError("folding: expected a FINN folding_config dict {node name: {attr: value}}")
        layers = [lay.copy() for lay in self.layers]
        by_name = {lay.name: lay for lay in layers}
        defaults = d.get("Defaults", {}) or {}
        for attr, spec in defaults.items():
            if not (isinstance(spec, (list, tuple)) and len(spec) == 2):
                raise HwError(f'folding Defaults.{attr}: expected [value, [op types] or "all"]')
            value, ops = spec
            for lay in layers:
                selected = ops == "all" or lay.op_type in ops or lay.specialized_op_type in ops
                known = attr in get_op(lay.op_type).defaults or attr in lay.attrs
                if selected and known:
                    lay.attrs[attr] = value
        for node, cfg in d.items():
            if node == "Defaults":
                continue
            found = by_name.get(node)
            if found is None:
                raise HwError(
                    f"folding: node {node!r} is not in graph {self.name!r}; "
                    f"use one of the graph's layer names (e.g. {layers[0].name if layers else '-'})"
                )
            lay = found
            if not isinstance(cfg, Mapping):
                raise HwError(f"folding {node}: expected an object of attributes such as PE, SIMD")
            for attr, value in cfg.items():
                lay.attrs[attr] = value
        return HwGraph(self.name, layers)


# -- loading and validation ---------------------------------------------------------------


# Shape attributes FINN gives as an int or a list of ints (its cost formulas multiply them);
# Padding may hold zeros, the others are positive.
_SHAPE_ATTRS = (
    "numInputVectors",
    "IFMDim",
    "OFMDim",
    "ConvKernelDim",
    "Stride",
    "Dilation",
    "ImgDim",
    "PoolDim",
    "Kernel",
    "Dim",
    "folded_shape",
    "Padding",
)


def _is_int(v: Any, least: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= least


def _check_shape_attrs(layer: HwLayer, a: Mapping[str, Any]) -> None:
    for attr in _SHAPE_ATTRS:
        if attr not in a or a[attr] is None:
            continue
        v, least = a[attr], 0 if attr == "Padding" else 1
        items = v if isinstance(v, list) else [v]
        if not items or not all(_is_int(x, least) for x in items):
            kind = "non-negative" if least == 0 else "positive"
            raise HwError(
                f"layer {layer.name}: {attr}={v!r} must be a {kind} integer or a list of them"
            )


#: The largest integer a layer attribute may hold: FINN's node attributes are ONNX INT
#: values, and a size beyond this overflows the cost formulas' float arithmetic.
MAX_ATTR_INT = 2**40


def _check_magnitudes(layer: HwLayer, attrs: Mapping[str, Any]) -> None:
    """HwError naming the first integer attribute (or element of one) out of range."""
    for attr, v in attrs.items():
        items = v if isinstance(v, list | tuple) else [v]
        for item in items:
            if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_ATTR_INT:
                shown = (
                    f"{item:.3g}"
                    if abs(item) < 10**300
                    else f"a {len(str(abs(item)))}-digit number"
                )
                raise HwError(
                    f"layer {layer.name}: {attr} holds {shown}, beyond any FINN "
                    "layer (at most 2**40); give the layer's real size"
                )


def _check_attr_types(layer: HwLayer) -> None:
    op = get_op(layer.op_type)
    a = layer.resolved_attrs()
    _check_magnitudes(layer, a)
    for attr in op.int_attrs:
        v = a.get(attr)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise HwError(f"layer {layer.name}: {attr}={v!r} must be a positive integer")
    _check_shape_attrs(layer, a)
    for attr, allowed in op.choices.items():
        if attr in a and a[attr] not in allowed:
            raise HwError(
                f"layer {layer.name}: {attr}={a[attr]!r} is not allowed; use one of: "
                + ", ".join(map(str, allowed))
            )
    for attr in _DT_ATTRS:
        v = a.get(attr)
        if v is not None:
            try:
                datatype(v)
            except HwError as e:
                raise HwError(f"layer {layer.name}: {attr}: {e}") from None


def _parse_layer(raw: Any, i: int, counters: dict[str, int]) -> HwLayer:
    if not isinstance(raw, Mapping):
        raise HwError(f"layers[{i}]: expected an object with op_type, inputs and FINN attributes")
    op_type = raw.get("op_type")
    if not isinstance(op_type, str):
        raise HwError(f"layers[{i}]: missing op_type; use one of: {', '.join(known_ops())}")
    # accept specialised spellings such as "MVAU_hls"
    impl_from_type = None
    for suffix in ("_hls", "_rtl", "_vivado"):
        if op_type.endswith(suffix) and op_type[: -len(suffix)] in known_ops():
            op_type, impl_from_type = op_type[: -len(suffix)], suffix[1:]
    op = get_op(op_type) if op_type in known_ops() else None
    if op is None:
        raise HwError(
            f"layers[{i}]: op_type {op_type!r} is unknown; use one of: {', '.join(known_ops())}"
        )
    impl = raw.get("impl", impl_from_type) or op.default_impl
    extra: dict[str, Any] = {}
    if op_type == "StreamingFIFO" and impl == "vivado":
        # FINN: always StreamingFIFO_rtl; the style is the impl_style attribute
        impl, extra = "rtl", {"impl_style": "vivado"}
    spec = f"{op_type}_{impl}"
    index = counters.get(spec, 0)
    counters[spec] = index + 1
    name = raw.get("name") or default_name(op_type, impl, index)
    if not isinstance(name, str):
        raise HwError(f"layers[{i}]: name must be a string")
    if impl not in op.impls:
        raise HwError(
            f"layer {name}: impl={impl!r} is not available for {op_type}; use one of: {', '.join(op.impls)}"
        )
    inputs = raw.get("inputs", [])
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(x, str) for x in inputs):
        raise HwError(f"layer {name}: inputs must be a list of layer names")
    ex = raw.get("exit")
    if ex is not None and (isinstance(ex, bool) or not isinstance(ex, int) or ex < 0):
        raise HwError(f"layer {name}: exit={ex!r} must be a non-negative integer or absent")
    attrs = {k: copy.deepcopy(v) for k, v in raw.items() if k not in _RESERVED}
    for k, v in extra.items():
        attrs.setdefault(k, v)
    for req in op.required:
        if req not in attrs:
            raise HwError(f"layer {name}: missing required attribute {req} for {op_type}")
    layer = HwLayer(name, op_type, list(inputs), attrs, impl, ex)
    _check_attr_types(layer)
    return layer


def _check_structure(g: HwGraph) -> None:
    names: dict[str, int] = {}
    for i, lay in enumerate(g.layers):
        if lay.name in names:
            raise HwError(
                f"layer {lay.name}: duplicate name (also layers[{names[lay.name]}]); names must be unique"
            )
        names[lay.name] = i
    for lay in g.layers:
        for src in lay.inputs:
            if src not in names:
                raise HwError(f"layer {lay.name}: inputs refers to unknown layer {src!r}")
    # cycle detection (iterative DFS, colours)
    state: dict[str, int] = {}
    preds = {lay.name: lay.inputs for lay in g.layers}
    for start in preds:
        if state.get(start):
            continue
        stack = [(start, iter(preds[start]))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                raise HwError(
                    f"layer {nxt}: the graph has a cycle through {node}; inputs must form a DAG"
                )
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(preds[nxt])))


def graph_from_dict(d: Any, source: str = "graph") -> HwGraph:
    """Validate and build an HwGraph from its dict form (HwError on any problem)."""
    if not isinstance(d, Mapping):
        raise HwError(f'{source}: expected an object {{"name": ..., "layers": [...]}}')
    layers_raw = d.get("layers")
    if not isinstance(layers_raw, list) or not layers_raw:
        raise HwError(f"{source}: 'layers' must be a non-empty list of layer objects")
    counters: dict[str, int] = {}
    layers = [_parse_layer(raw, i, counters) for i, raw in enumerate(layers_raw)]
    g = HwGraph(str(d.get("name", "graph")), layers)
    _check_structure(g)
    return g


def load_graph(src: str | os.PathLike | Mapping) -> HwGraph:
    """Load and validate a hardware graph.

    Args:
        src: path of a graph JSON file, or the graph dict itself.

    Returns:
        The validated HwGraph.

    Raises:
        HwError: unreadable or malformed file (file and line named), unknown op_type,
            missing attribute, unknown input, cycle, bad impl or attribute value.
    """
    if isinstance(src, Mapping):
        return graph_from_dict(src)
    path = Path(src)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise HwError(f"graph file {path}: cannot read ({e.strerror}); check the path") from None
    except UnicodeDecodeError as e:
        raise HwError(
            f"graph file {path}: not UTF-8 text (byte {e.start}); save it as UTF-8 JSON"
        ) from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise HwError(
            f"graph file {path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
        ) from None
    return graph_from_dict(d, source=f"graph file {path}")


def save_graph(graph: HwGraph, path: str | os.PathLike) -> None:
    """Write ``graph`` as JSON, atomically."""
    atomic_write_text(path, json.dumps(graph.to_dict(), indent=2) + "\n")

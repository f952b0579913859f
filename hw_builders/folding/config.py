"""FINN's folding_config.json: read, write (atomic), validate against a graph, apply.

The format is FINN's (``qonnx.transformation.general.ApplyConfig``)::

    {"Defaults": {"<attr>": [value, ["MVAU_hls", ...] | "all"]},
     "<node name>": {"PE": 4, "SIMD": 8, "ram_style": "block", ...}}

Node names are FINN's (``<op_type>_<impl>_<index>``); ``Defaults`` entries apply to every
node whose op type (``MVAU`` or the specialised ``MVAU_hls``) is listed, or to all nodes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hw_builders.atomic import atomic_write_json
from hw_builders.errors import HwError

if TYPE_CHECKING:
    from hw_builders.graph import HwGraph

#: Attributes a folding config may set (FINN node attribute names, verbatim).
FOLDING_ATTRS: tuple[str, ...] = (
    "PE",
    "SIMD",
    "ram_style",
    "ram_style_thresholds",
    "resType",
    "mem_mode",
    "parallel_window",
    "runtime_writeable_weights",
    "depth",
    "impl_style",
    "inFIFODepths",
    "outFIFODepths",
)

#: Attributes every FINN HW node has (HWCustomOp), whatever its op type.
_GENERIC_ATTRS = frozenset({"inFIFODepths", "outFIFODepths"})

#: Attributes that are integers in FINN (validated as such).
_INT_ATTRS = frozenset({"PE", "SIMD", "parallel_window", "runtime_writeable_weights", "depth"})


def _check_attrs(where: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key not in FOLDING_ATTRS:
            raise HwError(
                f"folding config {where}: unknown attribute {key!r}; "
                f"use one of {', '.join(FOLDING_ATTRS)}"
            )
        if key in _INT_ATTRS and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise HwError(
                f"folding config {where}: {key}={value!r} is not a non-negative integer; "
                f"give an integer"
            )
        out[key] = value
    return out


class FoldingConfig:
    """A folding configuration in FINN's folding_config.json format.

    Attributes:
        nodes: per node name, the attributes to set (``{"PE": 4, "SIMD": 8, ...}``).
        defaults: FINN's ``Defaults`` section, ``{attr: [value, [op types] | "all"]}``.
    """

    def __init__(
        self,
        nodes: Mapping[str, Mapping[str, Any]] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        for name, attrs in (nodes or {}).items():
            if not isinstance(attrs, Mapping):
                raise HwError(
                    f"folding config node {name!r}: expected an object of attributes, "
                    f"got {type(attrs).__name__}"
                )
            self.nodes[str(name)] = _check_attrs(f"node {name!r}", attrs)
        self.defaults: dict[str, list[Any]] = {}
        for key, spec in (defaults or {}).items():
            if key not in FOLDING_ATTRS:
                raise HwError(
                    f"folding config Defaults: unknown attribute {key!r}; "
                    f"use one of {', '.join(FOLDING_ATTRS)}"
                )
            if (
                not isinstance(spec, (list, tuple))
                or len(spec) != 2
                or not (spec[1] == "all" or isinstance(spec[1], (list, tuple)))
            ):
                raise HwError(
                    f'folding config Defaults.{key}: expected [value, [op types] or "all"], '
                    f"got {spec!r}"
                )
            _check_attrs("Defaults", {key: spec[0]})
            ops = spec[1] if spec[1] == "all" else [str(o) for o in spec[1]]
            self.defaults[key] = [spec[0], ops]

    # -- construction / serialisation -------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FoldingConfig:
        """Build from the JSON object of a folding_config.json.

        Raises:
            HwError: the object is malformed or names an unknown attribute.
        """
        if not isinstance(data, Mapping):
            raise HwError(f"folding config: expected a JSON object, got {type(data).__name__}")
        defaults = data.get("Defaults", {})
        if not isinstance(defaults, Mapping):
            raise HwError("folding config Defaults: expected an object")
        nodes = {k: v for k, v in data.items() if k != "Defaults"}
        return cls(nodes, defaults)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FoldingConfig:
        """Read a folding_config.json file.

        Raises:
            HwError: the file is missing, not JSON, or malformed.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise HwError(f"folding file {p}: cannot read it ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise HwError(
                f"folding file {p}: not UTF-8 text (byte {exc.start}); save it as UTF-8 JSON"
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HwError(
                f"folding file {p}: not valid JSON (line {exc.lineno}: {exc.msg})"
            ) from exc
        return cls.from_dict(data)

    @classmethod
    def from_graph(cls, graph: HwGraph, attrs: Iterable[str] = ("PE", "SIMD")) -> FoldingConfig:
        """The folding of ``graph``: each layer's ``attrs`` that its op may fold (FINN's
        defaults filled in), so that every layer is listed explicitly."""
        from hw_builders.registry import get_op

        nodes: dict[str, dict[str, Any]] = {}
        for layer in graph.layers:
            fold_attrs = set(get_op(layer.op_type).fold_attrs)
            resolved = layer.resolved_attrs()
            got = {a: resolved[a] for a in attrs if a in fold_attrs and a in resolved}
            if got:
                nodes[layer.name] = got
        return cls(nodes)

    def to_dict(self) -> dict[str, Any]:
        """The folding_config.json object (``Defaults`` first)."""
        out: dict[str, Any] = {"Defaults": {k: list(v) for k, v in self.defaults.items()}}
        for name, attrs in self.nodes.items():
            out[name] = dict(attrs)
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write folding_config.json atomically (temp file in the same folder, then rename)."""
        p = atomic_write_json(path, self.to_dict())
        return p

    # -- graph interaction --------------------------------------------------------------
    def resolved(self, graph: HwGraph) -> dict[str, dict[str, Any]]:
        """Per node of ``graph``, the attributes this config sets (Defaults applied first).

        Raises:
            HwError: a node name is not in the graph.
        """
        names = {layer.name for layer in graph.layers}
        unknown = [n for n in self.nodes if n not in names]
        if unknown:
            raise HwError(
                f"folding config: node {unknown[0]!r} is not in graph {graph.name!r}; "
                f"use the graph's layer names (e.g. {', '.join(sorted(names)[:3])})"
            )
        from hw_builders.registry import get_op

        out: dict[str, dict[str, Any]] = {}
        for layer in graph.layers:
            op = get_op(layer.op_type)
            known = set(op.fold_attrs) | set(op.defaults) | set(layer.attrs) | _GENERIC_ATTRS
            attrs: dict[str, Any] = {}
            specialised = f"{layer.op_type}_{layer.impl}"
            for key, (value, ops) in self.defaults.items():
                # FINN's ApplyConfig sets a default only on nodes that have the attribute
                if (ops == "all" or layer.op_type in ops or specialised in ops) and key in known:
                    attrs[key] = value
            for key, value in self.nodes.get(layer.name, {}).items():
                if key not in known:
                    raise HwError(
                        f"folding config node {layer.name!r}: {layer.op_type} has no attribute "
                        f"{key!r}; it takes {', '.join(op.fold_attrs) or 'no folding attributes'}"
                    )
                attrs[key] = value
            if attrs:
                out[layer.name] = attrs
        return out

    def apply(self, graph: HwGraph) -> HwGraph:
        """A copy of ``graph`` with this folding set (validated by the graph's own checks).

        Raises:
            HwError: unknown node name or attribute, or an illegal folding.
        """
        return graph.with_folding(self.resolved(graph))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FoldingConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"FoldingConfig({len(self.nodes)} nodes, defaults={sorted(self.defaults)})"

"""ArchSpec: the pure, hashable description of one multi-exit model of a family."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from search_spaces.errors import SpaceError

#: The registered family of a name (``search_spaces.families.registry.get_family``, set by
#: that module: it imports this one).
FAMILY_LOOKUP: Callable[[str], Any] | None = None

ALLOWED_BITS = (1, 2, 4, 8)
PADDINGS = ("valid", "same")


def _int_tuple(value: Any, field_name: str) -> tuple[int, ...]:
    try:
        items = tuple(value)
    except TypeError:
        raise SpaceError(
            f"arch.{field_name}: {value!r} is not a sequence; give a list of integers"
        ) from None
    out: list[int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            try:
                as_int = int(item)
            except (TypeError, ValueError):
                as_int = None
            if as_int is None or as_int != item:
                raise SpaceError(
                    f"arch.{field_name}: {item!r} is not an integer; give a list of integers"
                )
            item = as_int
        out.append(int(item))
    return tuple(out)


@dataclass(frozen=True)
class ArchSpec:
    """One multi-exit architecture of a model family (pure data, hashable, JSON-friendly).

    Attributes:
        family: Family name ("cnv" or "tfc").
        input_shape: (C, H, W) of the network input.
        num_classes: Number of output classes.
        weight_bits: Weight bit width (1 = bipolar / binary, 2, 4, 8).
        act_bits: Activation bit width (1 = bipolar sign activation, else unsigned ReLU).
        in_bits: Bit width of the input quantiser (8 = the raw UINT8 image).
        widths: Output channels / neurons of every prunable layer, in order.
        exits: Candidate exit indices attached to the model (sorted, unique).
        padding: Conv padding of the cnv family ("valid" as FINN's CNV, or "same" for
            small inputs); ignored (kept "valid") by families without convolutions.
    """

    family: str
    input_shape: tuple[int, int, int]
    num_classes: int
    weight_bits: int
    act_bits: int
    in_bits: int
    widths: tuple[int, ...]
    exits: tuple[int, ...] = field(default=())
    padding: str = "valid"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.family, str):
            raise SpaceError(f"arch.family: {self.family!r} is not a name; use 'cnv' or 'tfc'")
        shape = _int_tuple(self.input_shape, "input_shape")
        if len(shape) != 3 or min(shape) <= 0:
            raise SpaceError(
                f"arch.input_shape: {shape} is not a positive (C, H, W) triple; give e.g. (3, 32, 32)"
            )
        set_(self, "input_shape", shape)
        for name in ("num_classes", "weight_bits", "act_bits", "in_bits"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int):
                raise SpaceError(f"arch.{name}: {val!r} is not an integer")
        if self.num_classes < 2:
            raise SpaceError(f"arch.num_classes: {self.num_classes} < 2; give at least 2 classes")
        for name in ("weight_bits", "act_bits", "in_bits"):
            val = getattr(self, name)
            if val not in ALLOWED_BITS:
                raise SpaceError(f"arch.{name}: {val} is not supported; choose one of 1, 2, 4, 8")
        widths = _int_tuple(self.widths, "widths")
        for i, w in enumerate(widths):
            if w <= 0:
                raise SpaceError(f"arch.widths[{i}]: {w} is not positive; widths must be > 0")
        set_(self, "widths", widths)
        exits = _int_tuple(self.exits, "exits")
        if len(set(exits)) != len(exits) or list(exits) != sorted(exits):
            raise SpaceError(f"arch.exits: {exits} must be sorted and unique; give e.g. (0, 1)")
        set_(self, "exits", exits)
        if self.padding not in PADDINGS:
            raise SpaceError(f"arch.padding: {self.padding!r} is unknown; use 'valid' or 'same'")
        # Family-specific checks (layer count, exits that exist, geometry): the registered
        # family's own, found through the registry's lookup
        if FAMILY_LOOKUP is None:  # pragma: no cover - set when search_spaces.families loads
            raise RuntimeError("search_spaces.families is not loaded")
        FAMILY_LOOKUP(self.family).validate(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (lists instead of tuples)."""
        return {
            "family": self.family,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "weight_bits": self.weight_bits,
            "act_bits": self.act_bits,
            "in_bits": self.in_bits,
            "widths": list(self.widths),
            "exits": list(self.exits),
            "padding": self.padding,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchSpec:
        """Inverse of :meth:`to_dict`; SpaceError on a missing or unknown key."""
        if not isinstance(data, dict):
            raise SpaceError(f"arch: expected a dict, got {type(data).__name__}")
        required = (
            "family",
            "input_shape",
            "num_classes",
            "weight_bits",
            "act_bits",
            "in_bits",
            "widths",
        )
        for key in required:
            if key not in data:
                raise SpaceError(
                    f"arch.{key}: missing; an ArchSpec dict needs {', '.join(required)}"
                )
        known = set(required) | {"exits", "padding"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpaceError(f"arch.{unknown[0]}: unknown key; allowed keys are {sorted(known)}")
        return cls(
            family=data["family"],
            input_shape=tuple(data["input_shape"]),
            num_classes=data["num_classes"],
            weight_bits=data["weight_bits"],
            act_bits=data["act_bits"],
            in_bits=data["in_bits"],
            widths=tuple(data["widths"]),
            exits=tuple(data.get("exits", ())),
            padding=data.get("padding", "valid"),
        )

    def replace(self, **changes: Any) -> ArchSpec:
        """A copy with some fields changed (validated again)."""
        d = self.to_dict()
        d.update(changes)
        return ArchSpec.from_dict(d)

"""Family: the interface every model family implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from search_spaces.errors import SpaceError
from search_spaces.families.arch import ALLOWED_BITS, ArchSpec

if TYPE_CHECKING:
    from hw_builders.graph import HwGraph
    from search_spaces.families.multi_exit import MultiExitNet


@dataclass(frozen=True)
class PruneRole:
    """How pruning slices the tensors of one module.

    Attributes:
        out_group: Index of the prunable layer whose kept channels select this module's
            output channels (dim 0), or None when the outputs are not pruned.
        in_group: Index of the prunable layer whose kept channels select the input
            channels / features (dim 1 of a weight), or None.
        in_repeat: Spatial positions per channel after a flatten (feature index =
            channel * in_repeat + position); 1 for convs and unflattened inputs.
    """

    out_group: int | None
    in_group: int | None
    in_repeat: int = 1


class Family:
    """A model family's spec: default architectures, validation, exits, pruning map and
    lowering to a hardware graph, all without torch. Its Brevitas model lives in the module
    named by ``model_module`` (a ``build(arch)`` function), imported only to build one."""

    name: str = ""
    base_widths: tuple[int, ...] = ()
    model_module: str = ""

    def default_arch(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        *,
        width_mult: float = 1.0,
        weight_bits: int = 2,
        act_bits: int = 2,
        exits: Sequence[int] | None = None,
        in_bits: int = 8,
        padding: str | None = None,
    ) -> ArchSpec:
        """The family's default architecture for an input shape and class count.

        Args:
            input_shape: (C, H, W) of the input.
            num_classes: Number of classes.
            width_mult: Multiplier on the family's base widths (rounded, at least 1).
            weight_bits: Weight bit width (1, 2, 4, 8).
            act_bits: Activation bit width (1, 2, 4, 8).
            exits: Candidate exits to attach; None attaches all of them.
            in_bits: Input quantiser bit width (8 = raw UINT8 image).
            padding: "valid" / "same" (cnv only); None picks the family's rule.
        """
        if not width_mult > 0:
            raise SpaceError(f"width_mult: {width_mult} must be > 0")
        if weight_bits not in ALLOWED_BITS or act_bits not in ALLOWED_BITS:
            raise SpaceError(
                f"weight_bits/act_bits: {weight_bits}/{act_bits} not supported; choose 1, 2, 4 or 8"
            )
        shape = tuple(int(v) for v in input_shape)
        if len(shape) != 3:
            raise SpaceError(f"input_shape: {shape} is not (C, H, W)")
        widths = tuple(max(1, int(round(w * width_mult))) for w in self.base_widths)
        pad = padding if padding is not None else self.default_padding(shape)
        probe = ArchSpec(
            family=self.name,
            input_shape=shape,
            num_classes=int(num_classes),
            weight_bits=weight_bits,
            act_bits=act_bits,
            in_bits=in_bits,
            widths=widths,
            exits=(),
            padding=pad,
        )
        ex = self.candidate_exits(probe) if exits is None else sorted(int(e) for e in exits)
        return probe.replace(exits=list(ex))

    def default_padding(self, input_shape: tuple[int, ...]) -> str:
        """Padding rule for a new default architecture."""
        return "valid"

    def validate(self, arch: ArchSpec) -> None:
        """Family-specific checks; SpaceError naming the field."""
        if len(arch.widths) != len(self.base_widths):
            raise SpaceError(
                f"arch.widths: {self.name} has {len(self.base_widths)} prunable layers, got "
                f"{len(arch.widths)} widths"
            )
        cands = self.candidate_exits(arch)
        for e in arch.exits:
            if e not in cands:
                raise SpaceError(
                    f"arch.exits: exit {e} does not exist in {self.name}; candidates are {cands}"
                )

    def candidate_exits(self, arch: ArchSpec) -> list[int]:
        """Candidate exit indices of the family (exit k follows backbone block k)."""
        raise NotImplementedError

    def build(self, arch: ArchSpec) -> MultiExitNet:
        """Build the Brevitas model for ``arch`` (imports torch: the family's model module)."""
        import importlib

        if not self.model_module:
            raise NotImplementedError(f"family {self.name!r}: no model_module to build from")
        return importlib.import_module(self.model_module).build(arch)

    def prune_roles(self, arch: ArchSpec) -> dict[str, PruneRole]:
        """Module name -> PruneRole for every module holding channel-shaped state."""
        raise NotImplementedError

    def lower_dict(
        self, arch: ArchSpec, *, exits: Sequence[int] | None = None, name: str | None = None
    ) -> dict[str, Any]:
        """The hardware-graph JSON dict of ``arch`` with the exits in use."""
        raise NotImplementedError

    def lower(
        self, arch: ArchSpec, *, exits: Sequence[int] | None = None, name: str | None = None
    ) -> HwGraph:
        """FINN's dataflow graph (hw_builders.HwGraph) of ``arch`` using ``exits``.

        Args:
            arch: The architecture (pruned widths included).
            exits: Exits in use (a subset of ``arch.exits``); None uses all attached exits.
            name: Graph name; default ``<family>_w<W>a<A>``.
        """
        from search_spaces.lowering import to_hw_graph

        return to_hw_graph(self.lower_dict(arch, exits=exits, name=name))

    def _exits_in_use(self, arch: ArchSpec, exits: Sequence[int] | None) -> list[int]:
        ex = list(arch.exits) if exits is None else sorted(int(e) for e in exits)
        if len(set(ex)) != len(ex):
            raise SpaceError(f"exits: {ex} has duplicates")
        for e in ex:
            if e not in arch.exits:
                raise SpaceError(
                    f"exits: exit {e} is not attached to the architecture; choose from {list(arch.exits)}"
                )
        return ex

    def _graph_name(self, arch: ArchSpec, name: str | None) -> str:
        return name or f"{self.name}_w{arch.weight_bits}a{arch.act_bits}"

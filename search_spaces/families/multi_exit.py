"""MultiExitNet: a backbone of blocks, early-exit heads after some blocks, a final classifier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from search_spaces.errors import SpaceError
from search_spaces.families.arch import ArchSpec
from search_spaces.families.quant import is_act_quant


def _plain(x: torch.Tensor) -> torch.Tensor:
    """A plain tensor from a Brevitas QuantTensor (or the tensor itself)."""
    return x.value if hasattr(x, "value") and not isinstance(x, torch.Tensor) else x


class MultiExitNet(nn.Module):
    """A multi-exit network.

    ``input_quant`` -> ``blocks[0]`` -> ... -> ``blocks[n-1]`` -> ``classifier``; exit k (a
    candidate index) is a head fed by the output of ``blocks[k]``. Module names are stable
    (``input_quant``, ``blocks.<i>``, ``heads.<k>``, ``classifier``) so that checkpoints and
    pruning can address layers by name.

    Attributes:
        arch: The ArchSpec this model was built from.
    """

    def __init__(
        self,
        arch: ArchSpec,
        input_quant: nn.Module,
        blocks: Sequence[nn.Module],
        heads: Mapping[int, nn.Module],
        classifier: nn.Module,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.input_quant = input_quant
        self.blocks = nn.ModuleList(blocks)
        self.heads = nn.ModuleDict({str(k): heads[k] for k in sorted(heads)})
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Logits of every attached exit in ``arch.exits`` order, then the final logits."""
        outs: list[torch.Tensor] = []
        x = self.input_quant(x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            key = str(i)
            if key in self.heads:
                outs.append(_plain(self.heads[key](x)))
        outs.append(_plain(self.classifier(x)))
        return outs

    def clip_weights(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        """Clamp float weights of every quantised layer (BNN-PYNQ's training practice)."""
        with torch.no_grad():
            for m in self.modules():
                weight: Any = getattr(m, "weight", None)
                if hasattr(m, "weight_quant") and weight is not None:
                    weight.clamp_(min_val, max_val)

    def _check_exits(self, exits: Sequence[int] | None) -> tuple[int, ...]:
        ex = tuple(self.arch.exits if exits is None else (int(e) for e in exits))
        if list(ex) != sorted(set(ex)):
            raise SpaceError(f"exits: {ex} must be sorted and unique")
        for e in ex:
            if e not in self.arch.exits:
                raise SpaceError(
                    f"exits: {e} is not attached to this model; choose from {list(self.arch.exits)}"
                )
        return ex

    def num_stages(self, exits: Sequence[int] | None = None) -> int:
        """Number of stages of a design using ``exits`` (len(exits) + 1)."""
        return len(self._check_exits(exits)) + 1

    def requantiser(self, block_index: int) -> nn.Module:
        """The quantiser that ends ``blocks[block_index]`` (idempotent on its output)."""
        for m in reversed(list(self.blocks[block_index].modules())):
            if is_act_quant(m):
                return m
        raise SpaceError(f"block {block_index}: has no activation quantiser")

    def stage(self, k: int, exits: Sequence[int] | None = None) -> Stage:
        """Stage ``k`` of a design that uses the exit subset ``exits`` (default: all attached).

        Stage k < len(exits) runs the backbone from the previous exit point (the input for
        k == 0) up to exit ``exits[k]`` and returns ``(exit logits, features)``; the last
        stage runs the remaining backbone and the final classifier and returns logits.
        Stages after the first start with the (idempotent) activation quantiser of the
        block that feeds them, so that their exported input carries its quantised type.
        Modules are shared with this model (no copy).
        """
        ex = self._check_exits(exits)
        if not 0 <= k <= len(ex):
            raise SpaceError(
                f"stage: {k} is out of range; a design with {len(ex)} exits has stages 0..{len(ex)}"
            )
        start = 0 if k == 0 else ex[k - 1] + 1
        pre = self.input_quant if k == 0 else self.requantiser(ex[k - 1])
        if k < len(ex):
            blocks = [self.blocks[i] for i in range(start, ex[k] + 1)]
            return Stage(pre, blocks, head=self.heads[str(ex[k])], classifier=None)
        blocks = [self.blocks[i] for i in range(start, len(self.blocks))]
        return Stage(pre, blocks, head=None, classifier=self.classifier)

    def quant_layers(self, exits: Sequence[int] | None = None) -> list[tuple[str, nn.Module]]:
        """The weight layers (quantised conv / linear) in dataflow order, named by module path.

        The order is the order of the MVAUs in the family's hardware graph for ``exits``:
        each block's layers, exit k's head right after block k, then the classifier.
        """
        ex = set(self._check_exits(exits))
        parts: list[tuple[str, nn.Module]] = []
        for i, block in enumerate(self.blocks):
            parts.append((f"blocks.{i}", block))
            if i in ex:
                parts.append((f"heads.{i}", self.heads[str(i)]))
        parts.append(("classifier", self.classifier))
        out: list[tuple[str, nn.Module]] = []
        for prefix, part in parts:
            for name, m in part.named_modules():
                if getattr(m, "weight_quant", None) is not None and hasattr(m, "quant_weight"):
                    out.append((f"{prefix}.{name}", m))
        return out

    @torch.no_grad()
    def integer_weights(self, exits: Sequence[int] | None = None) -> list[tuple[str, Any]]:
        """Each weight layer's quantised integer weights in FINN's MVAU layout (MW, MH).

        A convolution's (out, in, kh, kw) weights become rows ordered (kh, kw, in), as
        FINN's LowerConvsToMatMul lays them out; a linear layer's (out, in) become (in, out).
        1-bit weights are bipolar (-1/+1). Returns ``[(module path, int64 numpy array)]``
        in :meth:`quant_layers` order.
        """
        out: list[tuple[str, Any]] = []
        for name, m in self.quant_layers(exits):
            qt = getattr(m, "quant_weight")()  # noqa: B009 (a Brevitas layer's, untyped)
            ints = torch.round(qt.value / qt.scale).to(torch.int64)
            if ints.dim() == 4:
                mat = ints.permute(2, 3, 1, 0).reshape(-1, ints.shape[0])
            else:
                mat = ints.t()
            out.append((name, mat.contiguous().cpu().numpy()))
        return out

    @torch.no_grad()
    def stage_inputs(
        self, x: torch.Tensor, exits: Sequence[int] | None = None
    ) -> list[torch.Tensor]:
        """Example input of every stage for the input batch ``x`` (for export and checks)."""
        ex = self._check_exits(exits)
        inputs = [x]
        for k in range(len(ex)):
            _, feats = self.stage(k, ex)(inputs[-1])
            inputs.append(feats)
        return inputs


class Stage(nn.Module):
    """One stage of a multi-exit design (see :meth:`MultiExitNet.stage`)."""

    def __init__(
        self,
        pre: nn.Module,
        blocks: Sequence[nn.Module],
        *,
        head: nn.Module | None,
        classifier: nn.Module | None,
    ) -> None:
        super().__init__()
        self.pre = pre
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.classifier = classifier

    @property
    def is_last(self) -> bool:
        """True for the final stage (returns logits only)."""
        return self.head is None

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(exit logits, features) for an early stage; logits for the last stage."""
        x = self.pre(x)
        for block in self.blocks:
            x = block(x)
        x = _plain(x)
        if self.head is not None:
            return _plain(self.head(x)), x
        assert self.classifier is not None  # the last stage has the classifier
        return _plain(self.classifier(x))

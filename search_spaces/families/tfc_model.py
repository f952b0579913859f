"""The Brevitas model of the tfc family (torch); the family's spec is in tfc.py."""

from __future__ import annotations

from torch import nn

from search_spaces.families.arch import ArchSpec
from search_spaces.families.multi_exit import MultiExitNet
from search_spaces.families.quant import BN_EPS, LogitScale, input_quant, quant_act, quant_linear

__all__ = ["build"]


def build(arch: ArchSpec) -> MultiExitNet:
    """Brevitas TFC with heads for ``arch.exits``."""
    c, h, w = arch.input_shape
    fan_in = c * h * w
    pre = input_quant(arch.in_bits)
    pre.insert(0, nn.Flatten())
    blocks: list[nn.Module] = []
    for width in arch.widths:
        blocks.append(
            nn.Sequential(
                quant_linear(fan_in, width, arch.weight_bits),
                nn.BatchNorm1d(width, eps=BN_EPS),
                quant_act(arch.act_bits),
            )
        )
        fan_in = width
    heads = {
        k: nn.Sequential(
            quant_linear(arch.widths[k], arch.num_classes, arch.weight_bits),
            LogitScale(arch.widths[k]),
        )
        for k in arch.exits
    }
    classifier = nn.Sequential(
        quant_linear(arch.widths[-1], arch.num_classes, arch.weight_bits),
        LogitScale(arch.widths[-1]),
    )
    return MultiExitNet(arch, pre, blocks, heads, classifier)

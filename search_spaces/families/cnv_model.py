"""The Brevitas model of the cnv family (torch); the family's spec is in cnv.py."""

from __future__ import annotations

from torch import nn

from search_spaces.families.arch import ArchSpec
from search_spaces.families.cnv import N_BLOCKS, POOLED_BLOCKS, geometry
from search_spaces.families.multi_exit import MultiExitNet
from search_spaces.families.quant import (
    BN_EPS,
    LogitScale,
    input_quant,
    quant_act,
    quant_conv,
    quant_linear,
)

__all__ = ["build"]


def build(arch: ArchSpec) -> MultiExitNet:
    """Brevitas CNV with heads for ``arch.exits``."""
    geo = geometry(arch)
    wb, ab = arch.weight_bits, arch.act_bits
    in_ch = arch.input_shape[0]
    blocks: list[nn.Module] = []
    for b in range(N_BLOCKS):
        layers: list[nn.Module] = []
        for j in range(2):
            out_ch = arch.widths[2 * b + j]
            layers += [
                quant_conv(in_ch, out_ch, wb, geo.pad),
                nn.BatchNorm2d(out_ch, eps=BN_EPS),
                quant_act(ab),
            ]
            in_ch = out_ch
        if b in POOLED_BLOCKS:
            layers.append(nn.MaxPool2d(2))
        blocks.append(nn.Sequential(*layers))
    heads: dict[int, nn.Module] = {}
    for k in arch.exits:
        c = arch.widths[2 * k + 1]
        kp = geo.head_pool[k]
        s = geo.block_out[k] // kp
        head: list[nn.Module] = [nn.MaxPool2d(kp)] if kp > 1 else []
        head += [
            nn.Flatten(),
            quant_linear(c * s * s, arch.num_classes, wb),
            LogitScale(c * s * s),
        ]
        heads[k] = nn.Sequential(*head)
    f = arch.widths[5] * geo.final * geo.final
    classifier = nn.Sequential(
        nn.Flatten(),
        quant_linear(f, arch.widths[6], wb),
        nn.BatchNorm1d(arch.widths[6], eps=BN_EPS),
        quant_act(ab),
        quant_linear(arch.widths[6], arch.widths[7], wb),
        nn.BatchNorm1d(arch.widths[7], eps=BN_EPS),
        quant_act(ab),
        quant_linear(arch.widths[7], arch.num_classes, wb),
        LogitScale(arch.widths[7]),
    )
    return MultiExitNet(arch, input_quant(arch.in_bits), blocks, heads, classifier)

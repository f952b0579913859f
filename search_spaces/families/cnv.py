"""cnv: FINN's CNV topology (BNN-PYNQ) as a multi-exit Brevitas model.

Backbone: three blocks of two 3x3 convs (base widths 64-64, 128-128, 256-256), each conv
followed by BatchNorm and the activation quantiser; a 2x2 max-pool ends blocks 0 and 1.
Classifier: flatten, FC 512 - FC 512 (BatchNorm + activation each), FC to the classes.

Geometry rules (square inputs only):
- padding "valid" (FINN's CNV): every conv shrinks the map by 2, pools halve it (floor):
  32x32 -> 30, 28, pool 14 -> 12, 10, pool 5 -> 3, 1. Needs H >= 32 (final map >= 1x1).
- padding "same": convs keep the map (FINN lowers them with FMPadding before the sliding
  window), pools halve it: 8x8 -> 8, 8, pool 4 -> 4, 4, pool 2 -> 2, 2. Needs H >= 4.
- ``default_arch`` picks "valid" for H >= 32, else "same".
- The first FC sees C x h x w features of the last block (flattened, channel-major).

Candidate exits 0, 1, 2 follow blocks 0, 1, 2. An exit head is a max-pool with the
smallest kernel k dividing the map size s with s / k <= 2 (none when s <= 2), then a
quantised FC to the classes and a logit scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hw_builders.datatypes import activation_datatype
from search_spaces.errors import SpaceError
from search_spaces.families.arch import ArchSpec
from search_spaces.families.base import Family, PruneRole
from search_spaces.lowering import GraphBuilder, label_select, mvau

N_BLOCKS = 3
POOLED_BLOCKS = (0, 1)


@dataclass(frozen=True)
class CnvGeometry:
    """Spatial sizes of a cnv architecture.

    Attributes:
        conv_in: Input map size of each of the 6 convs (before padding).
        conv_out: Output map size of each conv.
        pad: Padding of every conv (0 or 1).
        block_out: Map size at the output of each block (after its pool).
        head_pool: Max-pool kernel of each exit head (1 = no pool).
        final: Map size entering the classifier.
    """

    conv_in: tuple[int, ...]
    conv_out: tuple[int, ...]
    pad: int
    block_out: tuple[int, ...]
    head_pool: tuple[int, ...]
    final: int


def head_pool_kernel(size: int) -> int:
    """Smallest divisor k of ``size`` with size / k <= 2 (1 when size <= 2)."""
    for k in range(1, size + 1):
        if size % k == 0 and size // k <= 2:
            return k
    return size


def geometry(arch: ArchSpec) -> CnvGeometry:
    """Spatial geometry of a cnv ArchSpec; SpaceError when the input is too small."""
    _, h, w = arch.input_shape
    if h != w:
        raise SpaceError(
            f"arch.input_shape: cnv needs square images, got {h}x{w}; resize with image_size"
        )
    pad = 1 if arch.padding == "same" else 0
    s = h
    conv_in: list[int] = []
    conv_out: list[int] = []
    block_out: list[int] = []
    for b in range(N_BLOCKS):
        for _ in range(2):
            conv_in.append(s)
            s = s + 2 * pad - 2
            if s < 1:
                raise SpaceError(
                    f"arch.input_shape: {h}x{w} is too small for cnv with padding "
                    f"'{arch.padding}' (valid needs >= 32x32); use padding='same' or a larger image_size"
                )
            conv_out.append(s)
        if b in POOLED_BLOCKS:
            if s < 2:
                raise SpaceError(
                    f"arch.input_shape: {h}x{w} is too small for cnv with padding "
                    f"'{arch.padding}' (valid needs >= 32x32, same >= 4x4); use a larger image_size"
                )
            s //= 2
        block_out.append(s)
    return CnvGeometry(
        conv_in=tuple(conv_in),
        conv_out=tuple(conv_out),
        pad=pad,
        block_out=tuple(block_out),
        head_pool=tuple(head_pool_kernel(v) for v in block_out),
        final=s,
    )


class CnvFamily(Family):
    """FINN's CNV with candidate early exits after each of its three conv blocks."""

    name = "cnv"
    model_module = "search_spaces.families.cnv_model"
    base_widths = (64, 64, 128, 128, 256, 256, 512, 512)

    def default_padding(self, input_shape: tuple[int, ...]) -> str:
        return "valid" if min(input_shape[1:]) >= 32 else "same"

    def validate(self, arch: ArchSpec) -> None:
        super().validate(arch)
        geometry(arch)

    def candidate_exits(self, arch: ArchSpec) -> list[int]:
        return list(range(N_BLOCKS))

    def prune_roles(self, arch: ArchSpec) -> dict[str, PruneRole]:
        geo = geometry(arch)
        roles: dict[str, PruneRole] = {}
        for b in range(N_BLOCKS):
            for j in range(2):
                g = 2 * b + j
                roles[f"blocks.{b}.{3 * j}"] = PruneRole(g, g - 1 if g > 0 else None)
                roles[f"blocks.{b}.{3 * j + 1}"] = PruneRole(g, None)
                roles[f"blocks.{b}.{3 * j + 2}"] = PruneRole(g, None)
        for k in arch.exits:
            kp = geo.head_pool[k]
            s = geo.block_out[k] // kp
            fc_index = 2 if kp > 1 else 1
            roles[f"heads.{k}.{fc_index}"] = PruneRole(None, 2 * k + 1, s * s)
        roles["classifier.1"] = PruneRole(6, 5, geo.final * geo.final)
        roles["classifier.2"] = PruneRole(6, None)
        roles["classifier.3"] = PruneRole(6, None)
        roles["classifier.4"] = PruneRole(7, 6)
        roles["classifier.5"] = PruneRole(7, None)
        roles["classifier.6"] = PruneRole(7, None)
        roles["classifier.7"] = PruneRole(None, 7)
        return roles

    def lower_dict(
        self, arch: ArchSpec, *, exits: Sequence[int] | None = None, name: str | None = None
    ) -> dict[str, Any]:
        """FINN dataflow graph dict of the cnv ``arch`` with the exits in use: the input
        quantiser, per block two convolutions (and a max pool), an exit head after each block
        in use, then the classifier."""
        ex = self._exits_in_use(arch, exits)
        geo = geometry(arch)
        wb = arch.weight_bits
        g = GraphBuilder(self._graph_name(arch, name))
        src, dt = _input_quantiser(g, arch)
        adt = activation_datatype(arch.act_bits, xnor_consumer=wb == 1)
        c = arch.input_shape[0]
        s = arch.input_shape[1]
        for b in range(N_BLOCKS):
            for j in range(2):
                i = 2 * b + j
                src = _conv(g, src, geo, i, c=c, cout=arch.widths[i], dt=dt, adt=adt, wb=wb)
                dt, c, s = adt, arch.widths[i], geo.conv_out[i]
            if b in POOLED_BLOCKS:
                src = [g.add("StreamingMaxPool", src, _maxpool_attrs(c, s, 2, dt))]
                s //= 2
            if b in ex:
                src = [_exit_head(g, src, arch, geo, b, c=c, s=s, dt=dt)]
        mw = c * s * s
        for i in (6, 7):
            src = [
                mvau(g, src[0], mw=mw, mh=arch.widths[i], nvec=[1], idt=dt, weight_bits=wb, odt=adt)
            ]
            dt = adt
            mw = arch.widths[i]
        fc = mvau(g, src[0], mw=mw, mh=arch.num_classes, nvec=[1], idt=dt, weight_bits=wb, odt=None)
        label_select(g, fc, labels=arch.num_classes, idt=g.layers[-1]["outputDataType"])
        return g.to_dict()


def _input_quantiser(g: GraphBuilder, arch: ArchSpec) -> tuple[list[str], str]:
    """The Thresholding that quantises UINT8 pixels to ``in_bits`` (none at 8 bits): the
    first layer's inputs and the datatype it reads."""
    if arch.in_bits >= 8:
        return [], "UINT8"
    c, s = arch.input_shape[0], arch.input_shape[1]
    out_dt = activation_datatype(arch.in_bits, xnor_consumer=arch.weight_bits == 1)
    attrs = _thresholding_attrs(c, [1, s, s], "UINT8", out_dt, arch.in_bits)
    return [g.add("Thresholding", [], attrs)], out_dt


def _conv(
    g: GraphBuilder,
    src: list[str],
    geo: Any,
    i: int,
    *,
    c: int,
    cout: int,
    dt: str,
    adt: str,
    wb: int,
) -> list[str]:
    """Convolution ``i`` as FINN lowers it: [FMPadding] + ConvolutionInputGenerator + MVAU
    (thresholds embedded)."""
    ifm = geo.conv_in[i]
    if geo.pad:
        attrs = {
            "ImgDim": [ifm, ifm],
            "Padding": [1, 1, 1, 1],
            "NumChannels": c,
            "SIMD": 1,
            "inputDataType": dt,
            "numInputVectors": 1,
        }
        src = [g.add("FMPadding", src, attrs, impl="rtl")]
        ifm += 2
    ofm = geo.conv_out[i]
    swg = {
        "ConvKernelDim": [3, 3],
        "IFMChannels": c,
        "IFMDim": [ifm, ifm],
        "OFMDim": [ofm, ofm],
        "Stride": [1, 1],
        "Dilation": [1, 1],
        "SIMD": 1,
        "inputDataType": dt,
        "outputDataType": dt,
        "depthwise": 0,
    }
    src = [g.add("ConvolutionInputGenerator", src, swg)]
    return [mvau(g, src[0], mw=9 * c, mh=cout, nvec=[1, ofm, ofm], idt=dt, weight_bits=wb, odt=adt)]


def _exit_head(
    g: GraphBuilder,
    src: list[str],
    arch: ArchSpec,
    geo: Any,
    b: int,
    *,
    c: int,
    s: int,
    dt: str,
) -> str:
    """The exit after block ``b``: a DuplicateStreams whose second stream feeds the exit's
    [max pool +] classifier MVAU; returns the stream the backbone continues on."""
    dup = g.add(
        "DuplicateStreams",
        src,
        {
            "NumChannels": c,
            "PE": 1,
            "NumOutputStreams": 2,
            "numInputVectors": [1, s, s],
            "inputDataType": dt,
        },
    )
    kp = geo.head_pool[b]
    hsrc = dup
    if kp > 1:
        hsrc = g.add("StreamingMaxPool", [dup], _maxpool_attrs(c, s, kp, dt), exit=b)
    hs = s // kp
    # the exit's logits leave the stage: the host takes the exit decision
    mvau(
        g,
        hsrc,
        mw=c * hs * hs,
        mh=arch.num_classes,
        nvec=[1],
        idt=dt,
        weight_bits=arch.weight_bits,
        odt=None,
        exit=b,
    )
    return dup


def _maxpool_attrs(c: int, s: int, k: int, dt: str) -> dict[str, Any]:
    return {
        "NumChannels": c,
        "ImgDim": [s, s],
        "PoolDim": [k, k],
        "PE": 1,
        "CeilMode": 0,
        "dataType": dt,
    }


def _thresholding_attrs(
    channels: int, nvec: list[int], idt: str, odt: str, bits: int
) -> dict[str, Any]:
    return {
        "NumChannels": channels,
        "PE": 1,
        "numSteps": 2**bits - 1,
        "numInputVectors": nvec,
        "inputDataType": idt,
        "weightDataType": idt,
        "outputDataType": odt,
        "ActVal": 0,
    }

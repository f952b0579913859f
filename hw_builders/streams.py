"""The AXI streams of a FINN accelerator: what enters and leaves each stage, as FINN packs it.

A stage's input stream is its first layer's input and an output stream is a layer's output
(FINN's ``get_normal_input_shape`` / ``get_folded_input_shape`` and the output twins of the
layer's op, src/finn/custom_op/fpgadataflow/). The stream moves the folded shape's last
axis as one word per cycle; FINN's PYNQ driver packs that axis into bytes
(``finn.util.data_packing.finnpy_to_packed_bytearray`` with ``reverse_inner`` and
``reverse_endian``, padded to whole bytes), which gives the packed shape.

Shapes are channels-last (NHWC for feature maps), as FINN's dataflow partition streams them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hw_builders.datatypes import bitwidth
from hw_builders.errors import HwError
from hw_builders.graph import HwLayer

__all__ = ["Stream", "input_stream", "output_stream"]


@dataclass(frozen=True)
class Stream:
    """One AXI stream of a dataflow accelerator.

    Attributes:
        datatype: FINN DataType name of its elements.
        shape_normal: the tensor's shape (channels last).
        shape_folded: the same elements, last axis = the elements of one stream word.
        shape_packed: FINN's driver buffer: the folded shape with its last axis packed into
            bytes.
    """

    datatype: str
    shape_normal: tuple[int, ...]
    shape_folded: tuple[int, ...]

    @property
    def shape_packed(self) -> tuple[int, ...]:
        word_bits = self.shape_folded[-1] * bitwidth(self.datatype)
        return (*self.shape_folded[:-1], int(math.ceil(word_bits / 8)))

    @property
    def word_bits(self) -> int:
        """Bits of one stream word (FINN's stream width before padding to bytes)."""
        return int(self.shape_folded[-1] * bitwidth(self.datatype))

    def to_dict(self) -> dict[str, Any]:
        return {
            "datatype": self.datatype,
            "shape_normal": list(self.shape_normal),
            "shape_folded": list(self.shape_folded),
            "shape_packed": list(self.shape_packed),
            "word_bits": self.word_bits,
        }


def _dims(v: Any) -> list[int]:
    """An int or an int list as a list (FINN's ImgDim / IFMDim / numInputVectors)."""
    return [int(x) for x in v] if isinstance(v, (list, tuple)) else [int(v)]


def _image(v: Any) -> list[int]:
    d = _dims(v)
    return d * 2 if len(d) == 1 else d


def _fold(normal: list[int], per_word: int, what: str) -> tuple[int, ...]:
    channels = normal[-1]
    if per_word < 1 or channels % per_word:
        raise HwError(f"{what}: {per_word} elements per word do not divide {channels} channels")
    return (*normal[:-1], channels // per_word, per_word)


def _stream(dt: Any, normal: list[int], per_word: int, what: str) -> Stream:
    return Stream(str(dt), tuple(normal), _fold(normal, int(per_word), what))


def _vectors(a: dict[str, Any]) -> list[int]:
    return _dims(a.get("numInputVectors", [1]))


_INPUTS: dict[str, Callable[[dict[str, Any], str], Stream]] = {
    "MVAU": lambda a, w: _stream(a["inputDataType"], [*_vectors(a), a["MW"]], a["SIMD"], w),
    "FMPadding": lambda a, w: _stream(
        a["inputDataType"], [1, *_image(a["ImgDim"]), a["NumChannels"]], a["SIMD"], w
    ),
    "ConvolutionInputGenerator": lambda a, w: _stream(
        a["inputDataType"], [1, *_image(a["IFMDim"]), a["IFMChannels"]], a["SIMD"], w
    ),
    "Thresholding": lambda a, w: _stream(
        a["inputDataType"], [*_vectors(a), a["NumChannels"]], a["PE"], w
    ),
    "StreamingMaxPool": lambda a, w: _stream(
        a["dataType"], [1, *_image(a["ImgDim"]), a["NumChannels"]], a["PE"], w
    ),
    "DuplicateStreams": lambda a, w: _stream(
        a["inputDataType"], [*_vectors(a), a["NumChannels"]], a["PE"], w
    ),
    "LabelSelect": lambda a, w: _stream(
        a["inputDataType"], [*_vectors(a), a["Labels"]], a["PE"], w
    ),
}

_OUTPUTS: dict[str, Callable[[dict[str, Any], str], Stream]] = {
    "MVAU": lambda a, w: _stream(a["outputDataType"], [*_vectors(a), a["MH"]], a["PE"], w),
    "Thresholding": lambda a, w: _stream(
        a["outputDataType"], [*_vectors(a), a["NumChannels"]], a["PE"], w
    ),
    "DuplicateStreams": lambda a, w: _stream(
        a["inputDataType"], [*_vectors(a), a["NumChannels"]], a["PE"], w
    ),
    "LabelSelect": lambda a, w: _stream(a["outputDataType"], [*_vectors(a), a["K"]], 1, w),
}


def _resolve(layer: HwLayer, table: dict[str, Any], side: str) -> Stream:
    fn = table.get(layer.op_type)
    if fn is None:
        raise HwError(
            f"layer {layer.name}: no {side} stream model for {layer.op_type}; a stage "
            f"{side} of this op is not supported (known: {', '.join(sorted(table))})"
        )
    return fn(layer.resolved_attrs(), f"layer {layer.name}")


def input_stream(layer: HwLayer) -> Stream:
    """The stream ``layer`` reads when it is the first layer of a stage."""
    return _resolve(layer, _INPUTS, "input")


def output_stream(layer: HwLayer) -> Stream:
    """The stream ``layer`` writes when its output leaves the accelerator."""
    return _resolve(layer, _OUTPUTS, "output")

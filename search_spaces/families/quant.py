"""Brevitas quantisers and layer constructors shared by the model families.

The choices follow FINN's BNN-PYNQ examples (brevitas_examples/bnn_pynq/models/common.py):
weights use a per-tensor *constant* scale (1.0, narrow range; binary at 1 bit), which
FINN streamlines into thresholds. Activations at 1 bit are the bipolar sign quantiser
(QuantIdentity, min -1, max 1); at 2..8 bits they are an unsigned QuantReLU with one
learned per-tensor scale (initialised from ``ACT_MAX_INIT``), which FINN also absorbs into
the MultiThreshold that follows each MatMul/Conv. The network input is the image in [0, 1]
quantised by an unsigned 8-bit QuantIdentity (scale 1/255: exactly FINN's UINT8 input).
"""

from __future__ import annotations

import math
import warnings

import torch

# brevitas announces on import that an optional CUDA kernel package (used only by its
# Hadamard-rotation equaliser, which adapex does not use) is missing.
warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")

from brevitas.core.bit_width import BitWidthImplType
from brevitas.core.quant import QuantType
from brevitas.core.restrict_val import FloatToIntImplType, RestrictValueType
from brevitas.core.scaling import ScalingImplType
from brevitas.core.zero_point import ZeroZeroPoint
from brevitas.inject import ExtendedInjector
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from brevitas.quant.scaled_int import Uint8ActPerTensorFloatMaxInit
from brevitas.quant.solver import ActQuantSolver, WeightQuantSolver
from dependencies import value
from torch import nn

ACT_MAX_INIT = 2.0  # initial clip value of the learned ReLU scale (inputs are batch-normalised)
BN_EPS = 1e-4


class CommonQuant(ExtendedInjector):
    """FINN BNN-PYNQ's common quantiser: per-tensor constant scale, narrow signed range."""

    bit_width_impl_type = BitWidthImplType.CONST
    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.FP
    zero_point_impl = ZeroZeroPoint
    float_to_int_impl_type = FloatToIntImplType.ROUND
    scaling_per_output_channel = False
    narrow_range = True
    signed = True

    @value
    def quant_type(bit_width):  # noqa: N805 - injector value function
        if bit_width is None:
            return QuantType.FP
        if bit_width == 1:
            return QuantType.BINARY
        return QuantType.INT


class CommonWeightQuant(CommonQuant, WeightQuantSolver):
    """Weights: constant per-tensor scale 1.0 (values in [-1, 1]); binary at 1 bit."""

    scaling_const = 1.0


class CommonActQuant(CommonQuant, ActQuantSolver):
    """Bipolar / signed activations in [-1, 1] with a constant scale."""

    min_val = -1.0
    max_val = 1.0


class ReluActQuant(Uint8ActPerTensorFloatMaxInit):
    """Unsigned activations with one learned per-tensor scale (bit width set per layer)."""

    max_val = ACT_MAX_INIT


def quant_conv(in_ch: int, out_ch: int, weight_bits: int, padding: int) -> QuantConv2d:
    """3x3 quantised convolution without bias, FINN-style weight quantiser."""
    conv = QuantConv2d(
        in_ch,
        out_ch,
        kernel_size=3,
        padding=padding,
        bias=False,
        weight_quant=CommonWeightQuant,
        weight_bit_width=weight_bits,
    )
    nn.init.uniform_(conv.weight.data, -1.0, 1.0)
    return conv


def quant_linear(in_features: int, out_features: int, weight_bits: int) -> QuantLinear:
    """Quantised fully-connected layer without bias, FINN-style weight quantiser."""
    fc = QuantLinear(
        in_features,
        out_features,
        bias=False,
        weight_quant=CommonWeightQuant,
        weight_bit_width=weight_bits,
    )
    nn.init.uniform_(fc.weight.data, -1.0, 1.0)
    return fc


def quant_act(act_bits: int) -> nn.Module:
    """Activation quantiser: bipolar sign at 1 bit, unsigned learned-scale ReLU otherwise."""
    if act_bits == 1:
        return QuantIdentity(act_quant=CommonActQuant, bit_width=1)
    return QuantReLU(act_quant=ReluActQuant, bit_width=act_bits)


class Shift(nn.Module):
    """Adds a constant (used to centre the [0, 1] input before a bipolar quantiser)."""

    def __init__(self, offset: float) -> None:
        super().__init__()
        self.offset = float(offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.offset


def input_quant(in_bits: int) -> nn.Sequential:
    """Input quantiser: the image in [0, 1] as UINT8 (scale 1/255), then, for in_bits < 8,
    a requantisation to UINT<in_bits> (or bipolar at 1 bit) that FINN maps to an input
    Thresholding layer."""
    layers: list[nn.Module] = [
        QuantIdentity(
            act_quant=CommonActQuant,
            bit_width=8,
            signed=False,
            narrow_range=False,
            min_val=0.0,
            max_val=1.0,
        )
    ]
    if in_bits == 1:
        layers += [Shift(-0.5), QuantIdentity(act_quant=CommonActQuant, bit_width=1)]
    elif in_bits < 8:
        layers.append(
            QuantIdentity(
                act_quant=CommonActQuant,
                bit_width=in_bits,
                signed=False,
                narrow_range=False,
                min_val=0.0,
                max_val=1.0,
            )
        )
    return nn.Sequential(*layers)


class LogitScale(nn.Module):
    """Learned positive scalar on the logits (a streamlinable Mul; argmax unchanged).

    Plays the part of BNN-PYNQ's TensorNorm: it brings the large integer-valued logits of
    a constant-scale quantised classifier into a range where softmax confidences (used
    for exit thresholds) are meaningful.
    """

    def __init__(self, fan_in: int) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(-0.5 * math.log(max(fan_in, 1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.exp(self.log_scale)


def is_act_quant(module: nn.Module) -> bool:
    """True for the activation quantisers that end a layer (QuantReLU / QuantIdentity)."""
    return isinstance(module, (QuantReLU, QuantIdentity))

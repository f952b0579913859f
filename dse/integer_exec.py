"""The integer arithmetic of an exported design: an exact executor for its QONNX graphs.

A design's ``model.onnx`` (Brevitas' QONNX, FINN's input form) describes every value as an
integer times a scale: the stage input is integers (pixels, or the previous stage's
features) multiplied by their scale, every weight and activation is a ``Quant`` /
``BipolarQuant`` output, and every convolution and fully-connected layer is an integer dot
product whose result FINN's accelerator holds in an integer accumulator. This module
executes such a graph the way the accelerator computes it:

* a tensor that is an integer times a positive scalar scale is kept as :class:`Scaled`
  (the integers, as float64 values, and the scale);
* ``Conv``, ``Gemm`` and ``MatMul`` on two :class:`Scaled` operands compute the integer
  accumulator exactly (integer-valued float64 products and sums stay exact below 2**53,
  whatever order a BLAS library sums in), with scale ``s_x * s_w``;
* ``MaxPool``, ``Relu``, ``Reshape``, ``Flatten``, ``Transpose`` and ``TopK`` work on the
  integers themselves (a positive scale keeps their order), so ties are exact: ``TopK``
  picks the lowest class index among equal integer logits, as FINN's ``LabelSelect`` does;
* the remaining element-wise float arithmetic (batch normalisation, the quantisers'
  division by their scale and rounding half to even, scalar multiplications) is IEEE
  float64 on each element on its own, the same on every machine.

So the integers the executor returns do not depend on the machine, the batch size or the
BLAS library, and every figure adapex states about a design's accuracy is computed by this
one executor: the exit profiles of the study (:mod:`dse.accuracy.profile`) and the
``software`` backend of the host runtime (:mod:`dse.deploy.backends`), which therefore agree
sample for sample. The host's exit rule (:func:`exit_confidence`) and the image-to-pixel
conversion (:func:`image_integers`) are stated here once, for both.

numpy and onnx only: the host runtime runs it without torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dse.errors import DseError

__all__ = [
    "CompiledGraph",
    "IntegerExecError",
    "Scaled",
    "exit_confidence",
    "exit_prediction",
    "image_integers",
]


class IntegerExecError(DseError):
    """A graph holds an operator or a form the integer executor does not know."""


@dataclass(frozen=True)
class Scaled:
    """A tensor whose values are ``q * scale``: integers ``q`` (float64 holding integers)
    and one positive scale."""

    q: np.ndarray
    scale: float

    def value(self) -> np.ndarray:
        """The float64 values ``q * scale``."""
        return self.q * self.scale

    def integers(self) -> np.ndarray:
        """``q`` as int64."""
        return self.q.astype(np.int64)


Tensor = Scaled | np.ndarray


def _value(t: Tensor) -> np.ndarray:
    return t.value() if isinstance(t, Scaled) else np.asarray(t, dtype=np.float64)


def image_integers(images: Any, scale: float) -> np.ndarray:
    """Images with values in [0, 1] as stage 0's integer input (raw pixels for FINN's UINT8
    input stream): ``rint(image / scale)``, the rule of the host runtime and of the profiles."""
    return np.rint(np.asarray(images, dtype=np.float64) / float(scale)).astype(np.int64)


def exit_confidence(q: Any, scale: float) -> np.ndarray:
    """The host's exit confidence of each row of integer logits ``q`` with their ``scale``:
    the largest softmax probability of ``q * scale`` (float64). An exit answers a sample
    when this is at least its threshold."""
    z = np.asarray(q, dtype=np.float64)
    if z.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    z = z.reshape(z.shape[0], -1) * float(scale)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p.max(axis=1) / p.sum(axis=1)


def exit_prediction(q: Any) -> np.ndarray:
    """The class an exit answers with: the argmax of its integer logits, the lowest class
    among equal ones (as FINN's LabelSelect and ONNX's TopK on integers)."""
    arr = np.asarray(q)
    if arr.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    return np.argmax(arr.reshape(arr.shape[0], -1), axis=1).astype(np.int64)


# ---------------------------------------------------------------------------- operators
def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _scalar(t: Tensor) -> float | None:
    """The value of a one-element constant (None when ``t`` is not one)."""
    if isinstance(t, Scaled):
        return None
    arr = np.asarray(t)
    return float(arr.reshape(-1)[0]) if arr.size == 1 else None


def _positive_scale(value: float) -> bool:
    return math.isfinite(value) and value > 0.0


def _int_range(signed: bool, narrow: bool, bits: int) -> tuple[float, float]:
    if signed:
        low = -(2 ** (bits - 1)) + (1 if narrow else 0)
        return float(low), float(2 ** (bits - 1) - 1)
    return 0.0, float(2**bits - 1 - (1 if narrow else 0))


_ROUNDING: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "ROUND": np.round,  # half to even, as qonnx and Brevitas
    "HALF_EVEN": np.round,
    "FLOOR": np.floor,
    "CEIL": np.ceil,
    "DOWN": np.trunc,
    "UP": lambda x: np.sign(x) * np.ceil(np.abs(x)),
    "HALF_UP": lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
    "HALF_DOWN": lambda x: np.sign(x) * np.ceil(np.abs(x) - 0.5),
}


def _quant(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> Tensor:
    """qonnx's ``Quant``: ``q = round(clip(x / scale + zeropt)) - zeropt``."""
    scale, zeropt, bits = (_scalar(t) for t in ins[1:4])
    if scale is None or zeropt is None or bits is None:
        raise IntegerExecError(
            f"Quant node {node.name!r}: per-channel scale, zero point or bit width; the "
            "integer executor takes one per tensor"
        )
    signed, narrow = bool(attrs.get("signed", 1)), bool(attrs.get("narrow", 0))
    mode = str(attrs.get("rounding_mode", "ROUND")).upper()
    y = _value(ins[0]) / scale + zeropt
    if bits == 1 and signed:
        q = np.where(y >= 0.0, 1.0, -1.0)
    else:
        low, high = _int_range(signed, narrow, int(bits))
        q = _ROUNDING[mode](np.clip(y, low, high))
    q = q - zeropt
    if _positive_scale(scale):
        return Scaled(q, scale)
    return q * scale


def _bipolar_quant(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> Tensor:
    scale = _scalar(ins[1])
    if scale is None:
        raise IntegerExecError(f"BipolarQuant node {node.name!r}: per-channel scale")
    q = np.where(_value(ins[0]) >= 0.0, 1.0, -1.0)
    return Scaled(q, scale) if _positive_scale(scale) else q * scale


def _mul(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> Tensor:
    a, b = ins
    for x, c in ((a, _scalar(b)), (b, _scalar(a))):
        if isinstance(x, Scaled) and c is not None:
            factor = x.scale * c
            return Scaled(x.q, factor) if _positive_scale(factor) else x.q * factor
    return _value(a) * _value(b)


def _elementwise(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Any:
    def run(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> Tensor:
        return fn(_value(ins[0]), _value(ins[1]))

    return run


def _relu(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> Tensor:
    x = ins[0]
    if isinstance(x, Scaled):
        return Scaled(np.maximum(x.q, 0.0), x.scale)
    return np.maximum(_value(x), 0.0)


def _batchnorm(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> Tensor:
    x = _value(ins[0])
    gamma, beta, mean, var = (_value(t) for t in ins[1:5])
    eps = float(attrs.get("epsilon", 1e-5))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(
        shape
    ) + beta.reshape(shape)


def _structural(fn: Callable[[np.ndarray, list[Tensor], dict[str, Any]], np.ndarray]) -> Any:
    """An operator that only moves values: applied to the integers of a Scaled tensor."""

    def run(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> Tensor:
        x = ins[0]
        if isinstance(x, Scaled):
            return Scaled(fn(x.q, ins, attrs), x.scale)
        return fn(_value(x), ins, attrs)

    return run


def _reshape(x: np.ndarray, ins: list[Tensor], attrs: dict[str, Any]) -> np.ndarray:
    shape = [int(v) for v in np.asarray(ins[1]).reshape(-1)]
    # the exported graphs have batch size 1: the batch axis follows the input's
    if shape and shape[0] == 1 and x.shape[0] != 1:
        shape[0] = x.shape[0]
    shape = [
        x.shape[i] if v == 0 and not attrs.get("allowzero", 0) else v for i, v in enumerate(shape)
    ]
    return x.reshape(shape)


def _flatten(x: np.ndarray, ins: list[Tensor], attrs: dict[str, Any]) -> np.ndarray:
    axis = int(attrs.get("axis", 1))
    axis = axis + x.ndim if axis < 0 else axis
    lead = int(np.prod(x.shape[:axis])) if axis else 1
    return x.reshape(lead, -1)


def _transpose(x: np.ndarray, ins: list[Tensor], attrs: dict[str, Any]) -> np.ndarray:
    perm = attrs.get("perm")
    return np.transpose(x, perm) if perm is not None else np.transpose(x)


def _squeeze_axes(ins: list[Tensor], attrs: dict[str, Any]) -> list[int] | None:
    if "axes" in attrs:
        return [int(a) for a in attrs["axes"]]
    if len(ins) > 1:
        return [int(a) for a in np.asarray(ins[1]).reshape(-1)]
    return None


def _squeeze(x: np.ndarray, ins: list[Tensor], attrs: dict[str, Any]) -> np.ndarray:
    axes = _squeeze_axes(ins, attrs)
    return np.squeeze(x) if axes is None else np.squeeze(x, axis=tuple(axes))


def _unsqueeze(x: np.ndarray, ins: list[Tensor], attrs: dict[str, Any]) -> np.ndarray:
    for a in sorted(_squeeze_axes(ins, attrs) or []):
        x = np.expand_dims(x, a)
    return x


def _pool_windows(
    x: np.ndarray, kernel: Sequence[int], strides: Sequence[int], pads: Sequence[int], fill: float
) -> np.ndarray:
    """(N, C, OH, OW, kh, kw) windows of an NCHW array (no ceil mode, no dilation)."""
    kh, kw = kernel
    if any(pads):
        x = np.pad(
            x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=fill
        )
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return win[:, :, :: strides[0], :: strides[1]]


def _maxpool(x: np.ndarray, ins: list[Tensor], attrs: dict[str, Any]) -> np.ndarray:
    kernel = [int(k) for k in attrs["kernel_shape"]]
    if (
        len(kernel) != 2
        or int(attrs.get("ceil_mode", 0))
        or any(int(d) != 1 for d in attrs.get("dilations", [1, 1]))
    ):
        raise IntegerExecError("MaxPool: only 2-D pooling without ceil mode or dilation")
    strides = [int(s) for s in attrs.get("strides", kernel)]
    pads = [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]
    return _pool_windows(x, kernel, strides, pads, -np.inf).max(axis=(4, 5))


def _conv_values(x: np.ndarray, w: np.ndarray, attrs: dict[str, Any]) -> np.ndarray:
    """NCHW convolution of ``x`` with OIHW ``w``: one matrix product per kernel position
    (exact for integer values below 2**53)."""
    group = int(attrs.get("group", 1))
    kh, kw = int(w.shape[2]), int(w.shape[3])
    strides = [int(s) for s in attrs.get("strides", [1, 1])]
    dil = [int(d) for d in attrs.get("dilations", [1, 1])]
    pads = [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]
    if str(attrs.get("auto_pad", "NOTSET")) not in ("NOTSET", ""):
        raise IntegerExecError("Conv: auto_pad is not supported; give explicit pads")
    if any(pads):
        x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    oh = (h - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd - dil[1] * (kw - 1) - 1) // strides[1] + 1
    out_ch = int(w.shape[0])
    xt = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # NHWC
    cg, og = c // group, out_ch // group
    out = np.zeros((n, oh, ow, out_ch), dtype=np.float64)
    for g in range(group):
        xs = xt[..., g * cg : (g + 1) * cg]
        wg = w[g * og : (g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dil[0], j * dil[1]
                patch = xs[
                    :,
                    r0 : r0 + strides[0] * (oh - 1) + 1 : strides[0],
                    c0 : c0 + strides[1] * (ow - 1) + 1 : strides[1],
                    :,
                ]
                out[..., g * og : (g + 1) * og] += patch @ wg[:, :, i, j].T
    return out.transpose(0, 3, 1, 2)


def _scaled_product(
    a: Tensor, b: Tensor, product: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> Tensor:
    if isinstance(a, Scaled) and isinstance(b, Scaled):
        factor = a.scale * b.scale
        acc = product(a.q, b.q)
        return Scaled(acc, factor) if _positive_scale(factor) else acc * factor
    return product(_value(a), _value(b))


def _conv(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> Tensor:
    out = _scaled_product(ins[0], ins[1], lambda x, w: _conv_values(x, w, attrs))
    if len(ins) > 2 and ins[2] is not None:
        bias = _value(ins[2])
        if np.any(bias != 0):
            return _value(out) + bias.reshape(1, -1, 1, 1)
    return out


def _gemm(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> Tensor:
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    ta, tb = int(attrs.get("transA", 0)), int(attrs.get("transB", 0))

    def product(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return (x.T if ta else x) @ (w.T if tb else w)

    out = _scaled_product(ins[0], ins[1], product)
    if alpha != 1.0:
        out = _value(out) * alpha
    if len(ins) > 2:
        bias = _value(ins[2])
        if np.any(bias != 0):
            return _value(out) + beta * bias
    return out


def _matmul(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> Tensor:
    return _scaled_product(ins[0], ins[1], lambda x, w: x @ w)


def _topk(node: Any, ins: list[Tensor], attrs: dict[str, Any]) -> list[Tensor]:
    k = int(np.asarray(_value(ins[1])).reshape(-1)[0])
    axis = int(attrs.get("axis", -1))
    if k != 1 or not int(attrs.get("largest", 1)):
        raise IntegerExecError(f"TopK node {node.name!r}: only k = 1, largest (LabelSelect)")
    x = ins[0]
    keys = x.q if isinstance(x, Scaled) else _value(x)
    # the first (lowest) index among equal values, as LabelSelect on FINN's integers
    idx = np.expand_dims(np.argmax(keys, axis=axis), axis)
    values = np.take_along_axis(_value(x), idx, axis=axis)
    return [values, idx.astype(np.int64)]


_OPS: dict[str, Callable[[Any, list[Tensor], dict[str, Any]], Any]] = {
    "Quant": _quant,
    "IntQuant": _quant,
    "BipolarQuant": _bipolar_quant,
    "Mul": _mul,
    "Add": _elementwise(np.add),
    "Sub": _elementwise(np.subtract),
    "Div": _elementwise(np.divide),
    "Relu": _relu,
    "BatchNormalization": _batchnorm,
    "Reshape": _structural(_reshape),
    "Flatten": _structural(_flatten),
    "Transpose": _structural(_transpose),
    "Squeeze": _structural(_squeeze),
    "Unsqueeze": _structural(_unsqueeze),
    "Identity": _structural(lambda x, ins, attrs: x),
    "MaxPool": _structural(_maxpool),
    "Conv": _conv,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "TopK": _topk,
}


#: Operators that only move a tensor's values.
_LAYOUT = frozenset({"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity"})


class CompiledGraph:
    """An ONNX graph ready to run on integers (module doc).

    Nodes whose inputs are all constants (the weight quantisers) are evaluated once here.

    Args:
        graph: An ``onnx.GraphProto`` (or a ``ModelProto``, or a qonnx ``ModelWrapper``).
        inputs: The graph inputs to feed (default: all of them).
        outputs: The tensors to return (default: the graph outputs that ``inputs`` reach).

    Raises:
        IntegerExecError: an operator the executor does not know.
    """

    def __init__(
        self,
        graph: Any,
        *,
        inputs: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None,
    ) -> None:
        from onnx import numpy_helper

        graph = getattr(graph, "model", graph)
        graph = getattr(graph, "graph", graph)
        self.name = str(graph.name)
        self.inputs = list(inputs) if inputs is not None else [vi.name for vi in graph.input]
        const: dict[str, Tensor] = {
            t.name: numpy_helper.to_array(t).astype(np.float64)
            if numpy_helper.to_array(t).dtype.kind == "f"
            else numpy_helper.to_array(t)
            for t in graph.initializer
        }
        for node in graph.node:
            if node.op_type == "Constant":
                const[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        reached = set(self.inputs)
        self.nodes: list[tuple[Any, dict[str, Any]]] = []
        for node in graph.node:
            if node.op_type == "Constant":
                continue
            if node.op_type not in _OPS:
                raise IntegerExecError(
                    f"node {node.name or node.output[0]!r}: operator {node.op_type} is not "
                    "supported by the integer executor"
                )
            attrs = _attrs(node)
            if all(t in const or not t for t in node.input):
                outs = self._run(node, attrs, const)
                const.update(outs)
            elif any(t in reached for t in node.input):
                self.nodes.append((node, attrs))
                reached.update(node.output)
        self.const = const
        self.outputs = (
            list(outputs)
            if outputs is not None
            else [vi.name for vi in graph.output if vi.name in reached]
        )

    @staticmethod
    def _run(node: Any, attrs: dict[str, Any], env: Mapping[str, Tensor]) -> dict[str, Tensor]:
        ins = [env[t] if t else None for t in node.input]
        try:
            got = _OPS[node.op_type](node, ins, attrs)  # type: ignore[arg-type]
        except IntegerExecError:
            raise
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            raise IntegerExecError(
                f"node {node.name or node.output[0]!r} ({node.op_type}): {exc}"
            ) from None
        outs = got if isinstance(got, list) else [got]
        return dict(zip(node.output, outs, strict=False))

    def input_scale(self, name: str) -> float:
        """The scale the graph gives its input ``name``: the scalar of the first ``Mul`` that
        reads it, past layout changes (1.0 when none does: the integers are the values,
        e.g. bipolar features)."""
        current = {name}
        for node, _attrs in self.nodes:
            if not current & set(node.input):
                continue
            if node.op_type == "Mul":
                other = [t for t in node.input if t not in current]
                value = _scalar(self.const[other[0]]) if other and other[0] in self.const else None
                if value is not None:
                    return float(value)
            if node.op_type in _LAYOUT:
                current |= set(node.output)
        return 1.0

    def run(self, feeds: Mapping[str, Any]) -> dict[str, Tensor]:
        """Execute on ``feeds``: per graph input, integers (a stage's input stream, integers
        times 1: the graph's own ``Mul`` gives them their scale) or float values (images in
        [0, 1] for a graph that quantises its input itself).

        Returns:
            The requested outputs: :class:`Scaled` where the value is integers times a
            scale, else float64 (or int64 indices) arrays.
        """
        env: dict[str, Tensor] = dict(self.const)
        for name in self.inputs:
            if name not in feeds:
                raise IntegerExecError(f"graph {self.name!r}: no value fed for input {name!r}")
            arr = np.asarray(feeds[name])
            values = arr.astype(np.float64)
            integral = arr.dtype.kind in "iub" or bool(np.all(values == np.rint(values)))
            env[name] = Scaled(values, 1.0) if integral else values
        for node, attrs in self.nodes:
            env.update(self._run(node, attrs, env))
        return {name: env[name] for name in self.outputs}


def output_integers(value: Tensor, name: str) -> tuple[np.ndarray, float]:
    """``(integers, scale)`` of an output that the executor kept scaled.

    Raises:
        IntegerExecError: the output is not integers times a scale.
    """
    if isinstance(value, Scaled):
        return value.integers(), float(value.scale)
    arr = np.asarray(value)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64), 1.0
    raise IntegerExecError(
        f"output {name!r}: its values are not integers times a scale; the stream cannot carry them"
    )

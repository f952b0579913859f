"""Stage models in the form FINN's builder takes (finn-examples' conventions).

One ONNX file per stage of a design (docs/DESIGN.md, "Early exits in hardware"):

* **input**: integers, annotated with their FINN datatype, and the scaling inside the
  model. Stage 0 reads raw UINT8 pixels (0..255) and multiplies by 1/255 (the input
  quantiser of the trained model is exactly that grid, so it disappears); an input
  requantisation to fewer bits is a ReLU + unsigned ``Quant`` (FINN's input Thresholding
  layer). Stage k > 0 reads the previous stage's integer features (``UINT<act bits>``,
  or ``BIPOLAR``) and multiplies by their quantiser's scale.
* **flat input**: a later stage that begins with its classifier's flatten (the last exit
  follows the last convolution block) reads the features already flattened, channel-major:
  a Flatten or Reshape on a graph input breaks FINN's ``RemoveCNVtoFCFlatten`` (it looks
  for the flatten's producer, and the graph input has none) in a model that also holds
  convolutions, as a design's one model does. The host flattens (deployment.json's
  ``feeds.reshape``).
* **biases present**: every ``Gemm`` carries its bias input C (zero for bias-free layers),
  which qonnx's ``GemmToMatMul`` needs.
* **outputs**: an early stage returns the exit classifier's logits, then the features the
  next stage reads; the last stage ends in ``TopK`` (k = 1) and returns the label index,
  FINN's ``LabelSelect``.

Every file is executed with qonnx on integer inputs and compared with the PyTorch stage
before it is written (argmax of logits, exact labels, features within float rounding).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dse.errors import DseError


def _torch_modules() -> Any:
    import torch
    from torch import nn

    class Scale(nn.Module):
        """Multiplies by a constant (exported as one scalar ``Mul``)."""

        def __init__(self, factor: float) -> None:
            super().__init__()
            self.register_buffer("factor", torch.tensor(float(factor)))

        factor: torch.Tensor

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.factor

    def _plain(t: Any) -> torch.Tensor:
        """A plain tensor from a Brevitas QuantTensor (or the tensor itself)."""
        return t.value if hasattr(t, "value") and not isinstance(t, torch.Tensor) else t

    class FinnStage(nn.Module):
        """A stage on integer inputs: ``pre`` (scaling), blocks, head or classifier."""

        def __init__(self, pre: nn.Module, stage: Any, flat_input: bool = False) -> None:
            super().__init__()
            self.pre = pre
            self.blocks: Any = stage.blocks
            self.head: Any = stage.head
            self.classifier: Any = stage.classifier
            #: the stage reads its input flattened (module doc, "flat input")
            self.flat_input = flat_input
            if flat_input:
                self.classifier = nn.Sequential(*list(stage.classifier.children())[1:])

        def forward(self, x: torch.Tensor) -> Any:
            x = self.pre(x)
            for block in self.blocks:
                x = block(x)
            x = _plain(x)
            if self.head is not None:
                return _plain(self.head(x)), x
            return _plain(self.classifier(x))

    return torch, nn, Scale, FinnStage


def _act_scale(quant: Any) -> float:
    return float(quant.act_quant.scale().detach().reshape(-1)[0])


def _is_unsigned_quant(m: Any) -> bool:
    from brevitas.nn import QuantIdentity

    return isinstance(m, QuantIdentity) and not bool(m.act_quant.is_signed)


def finn_stage(model: Any, k: int, exits: Sequence[int]) -> tuple[Any, str, float]:
    """Stage ``k`` of the design using ``exits``, on integer inputs.

    Returns:
        ``(module, input datatype, input scale)``: the module maps integer inputs to the
        stage's outputs; the float input of the trained stage is ``integers * scale``.
    """
    torch, nn, scale_cls, stage_cls = _torch_modules()
    from brevitas.nn import QuantReLU

    ex = [int(e) for e in exits]
    stage = model.stage(k, ex)
    if k == 0:
        mods = list(model.input_quant) if isinstance(model.input_quant, nn.Sequential) else []
        pre: list[Any] = []
        first = True
        scale = 1.0
        for m in mods:
            if first and _is_unsigned_quant(m):
                # the raw-pixel grid: integers 0..255 times the quantiser's scale
                scale = _act_scale(m)
                pre.append(scale_cls(scale))
                first = False
            elif _is_unsigned_quant(m):
                # FINN converts an unsigned quantiser only after a ReLU (identity here)
                pre += [nn.ReLU(), m]
            else:
                pre.append(m)
        if first:
            raise DseError(
                f"model family {model.arch.family}: its input quantiser is not an unsigned "
                "8-bit QuantIdentity; FINN-form export needs raw UINT8 pixels"
            )
        return stage_cls(nn.Sequential(*pre), stage), "UINT8", scale
    requant = model.requantiser(ex[k - 1])
    bits = int(model.arch.act_bits)
    flat = _starts_with_flatten(stage)
    if isinstance(requant, QuantReLU):
        scale = _act_scale(requant)
        return stage_cls(scale_cls(scale), stage, flat), f"UINT{bits}", scale
    # a bipolar quantiser: its values -1/+1 are the integers themselves
    return stage_cls(nn.Identity(), stage, flat), "BIPOLAR", 1.0


def _starts_with_flatten(stage: Any) -> bool:
    """Whether a later stage begins with its classifier's flatten (no block before it)."""
    from torch import nn

    if len(stage.blocks) or stage.classifier is None:
        return False
    first = next(iter(stage.classifier.children()), None)
    return isinstance(first, nn.Flatten)


def stage_input(module: Any, x: Any) -> Any:
    """A stage's input as its FINN-form module reads it: flattened (channel-major, as
    PyTorch's Flatten) when the stage begins with its classifier's flatten."""
    return x.flatten(1) if getattr(module, "flat_input", False) else x


def stage_integer_inputs(model: Any, x: Any, exits: Sequence[int]) -> list[tuple[Any, Any]]:
    """Per stage, ``(integer input, float input)`` for the input batch ``x`` in [0, 1]."""
    import torch

    ex = [int(e) for e in exits]
    out = []
    for k, xf in enumerate(model.stage_inputs(x, ex)):
        module, _dt, scale = finn_stage(model, k, ex)
        out.append((stage_input(module, torch.round(xf / scale)), xf))
    return out


def add_zero_biases() -> Any:
    """qonnx's ``Transformation`` that gives every Gemm without bias a zero C input (qonnx's
    GemmToMatMul, in FINN's first steps, needs one)."""
    from qonnx.transformation.base import Transformation

    class AddZeroBiases(Transformation):
        def apply(self, model: Any) -> tuple[Any, bool]:
            for node in model.graph.node:
                if node.op_type == "Gemm" and len(node.input) == 2:
                    n_out = int(model.get_tensor_shape(node.output[0])[-1])
                    name = f"{node.name or node.output[0]}_bias"
                    model.set_initializer(name, np.zeros((n_out,), dtype=np.float32))
                    node.input.append(name)
            return model, False

    return AddZeroBiases()


def export_finn_stage(
    model: Any,
    out_path: str | os.PathLike[str],
    *,
    stage: int,
    exits: Sequence[int],
    sample: Any = None,
    verify: bool = True,
    n_verify: int = 8,
) -> Path:
    """Write stage ``stage`` of the design using ``exits`` in FINN's form (module doc).

    Args:
        model: The design's ``MultiExitNet`` (eval mode, CPU).
        out_path: The ``.onnx`` file to write (atomically).
        stage: Stage index.
        exits: The exits in use.
        sample: Input batch of the whole model in [0, 1] (default: seeded random images on
            the UINT8 grid).
        verify: Execute the file with qonnx and compare with PyTorch.
        n_verify: Random samples when ``sample`` is None.

    Returns:
        The written path.

    Raises:
        DseError: a bad stage, or the exported graph disagrees with PyTorch.
    """
    import torch
    from qonnx.core.datatype import DataType
    from qonnx.transformation.insert_topk import InsertTopK
    from qonnx.util.cleanup import cleanup_model

    from dse.accuracy.qonnx_export import write_qonnx
    from search_spaces import SpaceError

    model.eval()
    model.cpu()
    ex = [int(e) for e in exits]
    if sample is None:
        gen = torch.Generator().manual_seed(0)
        sample = torch.randint(0, 256, (n_verify, *model.arch.input_shape), generator=gen) / 255.0
    x = sample if isinstance(sample, torch.Tensor) else torch.from_numpy(np.asarray(sample))
    x = torch.round(x.float() * 255.0) / 255.0  # the raw-pixel grid the accelerator reads
    try:
        module, in_dt, scale = finn_stage(model, int(stage), ex)
        xi = stage_input(module, torch.round(model.stage_inputs(x, ex)[int(stage)] / scale))
    except SpaceError as exc:
        raise DseError(str(exc)) from exc
    module.eval()
    last = int(stage) == len(ex)
    step = None if last else float(finn_stage(model, int(stage) + 1, ex)[2])

    def finn_form(wrapped: Any) -> Any:
        wrapped = wrapped.transform(add_zero_biases(), cleanup=False)
        if last:
            wrapped = cleanup_model(wrapped.transform(InsertTopK(k=1)))
        wrapped.set_tensor_datatype(wrapped.graph.input[0].name, DataType[in_dt])
        return wrapped

    return write_qonnx(
        module,
        xi[:1],
        out_path,
        transform=finn_form,
        check=(lambda path: verify_finn_stage(path, module, xi, last=last, step=step))
        if verify
        else None,
        dynamo=False,
    )


def verify_finn_stage(
    path: Any,
    module: Any,
    xi: Any,
    *,
    last: bool,
    atol: float = 1e-4,
    step: float | None = None,
) -> dict:
    """Execute a FINN-form stage file with qonnx on integer inputs against PyTorch.

    The last stage's label must equal PyTorch's argmax (up to ties within ``atol``); an
    early stage's exit logits must have the same argmax and its features must match. With
    ``step`` (the features' quantisation step), a feature may be one step off where the
    float rounding of PyTorch and qonnx puts a value on either side of a quantiser's
    boundary (at 8 bits it happens), on at most 1% of the features of a sample.

    Raises:
        DseError: a difference, or the graph cannot be executed.
    """
    import torch
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    wrapped = path if isinstance(path, ModelWrapper) else ModelWrapper(str(path))
    label = wrapped.graph.name if isinstance(path, ModelWrapper) else str(path)
    in_name = wrapped.graph.input[0].name
    out_names = [o.name for o in wrapped.graph.output]
    with torch.no_grad():
        ref = module(xi.float())
    refs = [ref] if last else list(ref)
    refs = [r.detach().cpu().numpy().astype(np.float64) for r in refs]
    max_diff = 0.0
    batched = _execute_batch(wrapped, in_name, out_names, xi)
    for i in range(xi.shape[0]):
        if batched is not None:
            res = batched[i]
        else:
            try:
                res = execute_onnx(wrapped, {in_name: xi[i : i + 1].numpy().astype(np.float32)})
            except Exception as exc:  # noqa: BLE001 - one line for any execution failure
                raise DseError(
                    f"{label}: qonnx cannot execute the stage model ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''}); re-export it"
                ) from exc
        logits = refs[0][i]
        if last:
            got = int(np.asarray(res[out_names[0]]).reshape(-1)[0])
            want = int(np.argmax(logits))
            if got != want and logits[got] < logits[want] - atol:
                raise DseError(
                    f"{label}: sample {i}: label {got} but PyTorch says {want}; the export is "
                    "not faithful (check the quantisers)"
                )
            continue
        got_logits = np.asarray(res[out_names[0]], dtype=np.float64).reshape(logits.shape)
        a, b = int(np.argmax(got_logits)), int(np.argmax(logits))
        if a != b and logits[a] < logits[b] - atol:
            raise DseError(
                f"{label}: sample {i}: exit argmax {a} but PyTorch says {b}; the export is not "
                "faithful (check the quantisers)"
            )
        feats = np.asarray(res[out_names[1]], dtype=np.float64).reshape(refs[1][i].shape)
        err = np.abs(feats - refs[1][i])
        diff = float(np.max(err)) if feats.size else 0.0
        max_diff = max(max_diff, diff)
        tol = 1e-3 * max(1.0, float(np.max(np.abs(refs[1][i])))) if feats.size else 0.0
        one_step = (
            step is not None and diff <= 1.001 * step + 1e-6 and float(np.mean(err > tol)) <= 0.01
        )
        if diff > tol and not one_step:
            raise DseError(
                f"{label}: sample {i}: features differ from PyTorch's by {diff:.3g}; the export "
                "is not faithful (check the quantisers)"
            )
    return {"samples": int(xi.shape[0]), "outputs": out_names, "max_abs_diff": max_diff}


def _execute_batch(
    wrapped: Any, in_name: str, out_names: Sequence[str], xi: Any
) -> list[dict[str, Any]] | None:
    """Every sample of ``xi`` through a copy of the stage graph whose batch dimension holds
    them all (one qonnx execution instead of one per sample: the same nodes on the same
    inputs; a batched float product may round its last bits otherwise, which the check's
    tolerances are for), split back per sample; None when the copy cannot run them (the
    caller then runs the samples one at a time on the graph itself)."""
    import copy

    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    n = int(xi.shape[0])
    if n <= 1:
        return None
    try:
        batch = ModelWrapper(copy.deepcopy(wrapped.model))
        graph = batch.model.graph
        for tensor in [*graph.input, *graph.output]:
            tensor.type.tensor_type.shape.dim[0].dim_value = n
        del graph.value_info[:]
        for node in batch.get_nodes_by_op_type("Reshape"):
            shape = batch.get_initializer(node.input[1])
            if shape is not None and len(shape) and shape[0] == 1:
                shape = shape.copy()
                shape[0] = n
                batch.set_initializer(node.input[1], shape)
        batch = batch.transform(InferShapes())
        res = execute_onnx(batch, {in_name: xi.numpy().astype(np.float32)})
        outs = {name: np.asarray(res[name]) for name in out_names}
    except Exception:  # noqa: BLE001 - any failure: the one-sample path decides
        return None
    if any(v.ndim == 0 or v.shape[0] != n for v in outs.values()):
        return None
    return [{name: v[i : i + 1] for name, v in outs.items()} for i in range(n)]


def logits_scale(model: Any, exit_index: int | None) -> float:
    """The scale of an exit's logits (``exit_index``; None: the final classifier's):
    ``logits = accumulator * scale``, where the accumulator is the integer dot product the
    head's last FINN MVAU (no activation) computes, which is what an exit's stream carries
    and what the final stage's LabelSelect compares.

    The one definition of a logits scale, used by the host (deployment.json) and by the
    exit profiles alike: the head's input quantiser scale times its weight scale times its
    ``LogitScale`` factor, multiplied in float64 from the trained parameters (the float32
    constant an ONNX exporter folds for the factor may differ in its last bit).

    Raises:
        DseError: the head does not end in a quantised linear layer (and a LogitScale).
    """
    from brevitas.nn import QuantLinear

    from search_spaces.families.quant import LogitScale, is_act_quant

    head = model.classifier if exit_index is None else model.heads[str(int(exit_index))]
    mods = list(head.children()) if list(head.children()) else [head]
    fcs = [i for i, m in enumerate(mods) if isinstance(m, QuantLinear)]
    what = "the final classifier" if exit_index is None else f"exit {exit_index}"
    if not fcs:
        raise DseError(f"{what}: its classifier has no quantised linear layer")
    fc = mods[fcs[-1]]
    after = mods[fcs[-1] + 1 :]
    if any(not isinstance(m, LogitScale) for m in after):
        raise DseError(
            f"{what}: its classifier ends in {[type(m).__name__ for m in after]} after its "
            "last linear layer; only a LogitScale can stay on the host"
        )
    quants = [m for m in mods[: fcs[-1]] if is_act_quant(m)]
    if quants:
        in_scale = _act_scale(quants[-1])
    else:  # the classifier reads the features of the block before it
        block = len(model.blocks) - 1 if exit_index is None else int(exit_index)
        requant = model.requantiser(block)
        in_scale = _act_scale(requant) if hasattr(requant, "act_quant") else 1.0
    w_scale = fc.quant_weight().scale.detach().reshape(-1)
    if w_scale.numel() != 1:
        raise DseError(f"{what}: the classifier's weights have per-channel scales")
    scale = in_scale * float(w_scale[0])
    for m in after:
        scale *= math.exp(float(m.log_scale.detach()))
    return scale


def exit_logits_scale(model: Any, k: int, exits: Sequence[int], xi: Any) -> float:
    """The scale of stage ``k``'s logits (:func:`logits_scale` of its exit, or of the final
    classifier for the last stage), checked on the stage's integer inputs ``xi``.

    Raises:
        DseError: the head is not a quantised linear layer (and a LogitScale), or its
            logits are not integers times the scale.
    """
    import torch

    ex = [int(e) for e in exits]
    last = int(k) == len(ex)
    scale = logits_scale(model, None if last else ex[int(k)])
    module, _dt, _scale = finn_stage(model, int(k), ex)
    module.eval()
    with torch.no_grad():
        out = module(xi.float())
    logits = out if last else out[0]
    acc = logits.detach().double() / scale
    off = float((acc - torch.round(acc)).abs().max()) if acc.numel() else 0.0
    # PyTorch's float32 dot products carry rounding relative to the accumulator's size
    if off > max(1e-2, 1e-5 * float(acc.abs().max()) if acc.numel() else 0.0):
        raise DseError(
            f"stage {k}: its logits are not integers times {scale:.6g} (off by {off:.3g}); "
            "the host cannot rebuild them from the accelerator's stream"
        )
    return scale


def verification_inputs(model: Any, exits: Sequence[int], n: int = 8, seed: int = 0) -> list[Any]:
    """Per stage, integer inputs for ``n`` seeded random images on the UINT8 grid (what the
    stage reads when those images enter the design)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, *model.arch.input_shape), generator=gen) / 255.0
    ex = [int(e) for e in exits]
    out = []
    for k, xf in enumerate(model.stage_inputs(x, ex)):
        module, _dt, scale = finn_stage(model, k, ex)
        out.append(stage_input(module, torch.round(xf / scale)))
    return out


def verify_design_model(wrapped: Any, model: Any, exits: Sequence[int], n: int = 8) -> list[dict]:
    """Execute a design's one model (:mod:`dse.accuracy.design_model`) stage by stage with
    qonnx, each stage on its own input stream, against PyTorch's stages.

    Raises:
        DseError: a stage differs from PyTorch or cannot be executed.
    """
    from dse.accuracy.design_model import stage_submodel

    ex = [int(e) for e in exits]
    model.eval()
    out = []
    for k, xi in enumerate(verification_inputs(model, ex, n)):
        module = finn_stage(model, k, ex)[0].eval()
        sub = stage_submodel(wrapped, k)
        last = k == len(ex)
        step = None if last else float(finn_stage(model, k + 1, ex)[2])
        out.append(verify_finn_stage(sub, module, xi, last=last, step=step))
    return out


def write_design_onnx(
    model: Any,
    exits: Sequence[int],
    out_path: str | os.PathLike[str],
    *,
    name: str,
    n_verify: int = 8,
) -> list[dict[str, Any]]:
    """Write a design's one model (:mod:`dse.accuracy.design_model`): every stage in FINN's
    form, merged, and the merged model checked stage by stage with qonnx against PyTorch.

    Args:
        model: The design's ``MultiExitNet`` (eval mode, CPU).
        exits: The exits in use.
        out_path: The ``model.onnx`` to write (atomically).
        name: The graph's name.
        n_verify: Random samples each stage is executed on.

    Returns:
        Per stage, what deployment.json needs of its tensors: ``input_shape``,
        ``input_scale``, ``input_datatype`` (FINN's name for the integers of the input in the
        model: ``UINT8``, ``UINT<bits>`` or ``BIPOLAR``), ``logits_scale`` and, for an early stage, ``logits_shape`` and
        ``features_shape``.

    Raises:
        DseError: a stage disagrees with PyTorch.
    """
    import tempfile

    from qonnx.core.modelwrapper import ModelWrapper

    from dse.accuracy.design_model import write_design_model

    ex = [int(e) for e in exits]
    paths, io = [], []
    xis = verification_inputs(model, ex, n_verify)
    with tempfile.TemporaryDirectory(prefix="adapex-stages-") as scratch:
        for k in range(len(ex) + 1):
            path = Path(scratch) / f"stage_{k}.onnx"
            # checked once, merged: verify_design_model runs every stage of the merged file
            # on the same inputs against PyTorch (a check of each stage file as well would
            # run the same samples through the same nodes twice)
            export_finn_stage(model, path, stage=k, exits=ex, verify=False)
            wrapped = ModelWrapper(str(path))
            shapes = [list(wrapped.get_tensor_shape(o.name)) for o in wrapped.graph.output]
            row: dict[str, Any] = {
                "input_shape": list(wrapped.get_tensor_shape(wrapped.graph.input[0].name)),
                "input_scale": float(finn_stage(model, k, ex)[2]),
                "input_datatype": str(finn_stage(model, k, ex)[1]),
            }
            row["logits_scale"] = exit_logits_scale(model, k, ex, xis[k])
            if k < len(ex):
                row["logits_shape"], row["features_shape"] = shapes
            io.append(row)
            paths.append(path)

        def check(wrapped: Any) -> None:
            verify_design_model(wrapped, model, ex, n_verify)
            _integer_scales(wrapped, io, xis)

        write_design_model(paths, out_path, name=name, check=check)
    return io


#: How far (relative) a stream's scale may lie from the one the exported model gives it
#: (the float32 constants an exporter folds against the float64 definition).
SCALE_RTOL = 1e-6


def _integer_scales(wrapped: Any, io: list[dict[str, Any]], xis: Sequence[Any]) -> None:
    """Check the scales of ``io`` against the ones the integer executor finds in the
    design's model.

    Raises:
        DseError: a scale differs beyond float32 rounding.
    """
    from dse.accuracy.design_model import input_name, output_names
    from dse.integer_exec import CompiledGraph, output_integers

    last = len(io) - 1
    for k, row in enumerate(io):
        outs = output_names(k, k == last)
        graph = CompiledGraph(wrapped.model, inputs=[input_name(k)], outputs=outs)
        scales = {"input_scale": graph.input_scale(input_name(k))}
        if k < last:
            got = graph.run({input_name(k): np.asarray(xis[k][:1].numpy())})
            scales["logits_scale"] = output_integers(got[outs[0]], outs[0])[1]
        else:  # the final logits: the TopK's input
            topk = next(n for n, _ in graph.nodes if n.op_type == "TopK")
            graph = CompiledGraph(wrapped.model, inputs=[input_name(k)], outputs=[topk.input[0]])
            got = graph.run({input_name(k): np.asarray(xis[k][:1].numpy())})
            scales["logits_scale"] = output_integers(got[topk.input[0]], topk.input[0])[1]
        for key, value in scales.items():
            if not math.isclose(value, float(row[key]), rel_tol=SCALE_RTOL):
                raise DseError(
                    f"stage {k}: {key} {value!r} in the exported model but {row[key]!r} in "
                    "PyTorch; the export is not faithful (check the quantisers)"
                )

"""``deployment.json``: the contract between a design's FINN accelerator and the host program.

One file per design folder (docs/CONTRACTS.md, "deployment.json"). It lists every stream of
the accelerator FINN builds from the folder's ``model.onnx``:

* ``inputs[i]`` is the stitched IP's ``s_axis_<i>``: stage ``i``'s input (stage 0: the
  image; stage k: the features of stage k - 1);
* ``outputs[j]`` is ``m_axis_<j>``: per early stage its exit logits then its features, and
  the final stage's label.

Each stream gives its ONNX tensor in ``model.onnx`` (name, shape, layout), its FINN datatype,
its normal, folded and packed shapes on the accelerator (channels last; FINN's PYNQ driver
packing) and how its integers become values (``value = integer * scale``). ``stages`` say
which output feeds which stage's input and each exit's stored threshold;
``runtime_table_thresholds`` lists the threshold settings the library's runtime table
selects for the design (written by the library export); ``bitfile`` names the files FINN's
bitfile steps write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dse.accuracy.design_model import input_name, output_names
from dse.errors import DseError
from dse.library_format import DEPLOYMENT_FORMAT

#: FINN's file names under the build's output_dir (build_dataflow_steps.py:
#: step_synthesize_bitfile, step_make_pynq_driver, step_deployment_package).
BITFILE_FILES: dict[str, dict[str, str]] = {
    "vivado_zynq": {
        "bitfile": "output/bitfile/finn-accel.bit",
        "hwh": "output/bitfile/finn-accel.hwh",
        "driver": "output/driver/driver.py",
        "deploy": "output/deploy",
    },
    "vitis_alveo": {
        "bitfile": "output/bitfile/finn-accel.xclbin",
        "driver": "output/driver/driver.py",
        "deploy": "output/deploy",
    },
}

#: How FINN's driver packs a stream's folded last axis into bytes.
PACKING = {
    "function": "finn.util.data_packing.finnpy_to_packed_bytearray",
    "reverse_inner": True,
    "reverse_endian": True,
    "pad_to": "bytes",
}


def _layouts(onnx_shape: Sequence[int]) -> tuple[str, str]:
    """(layout in model.onnx, layout on the stream)."""
    return ("NCHW", "NHWC") if len(onnx_shape) == 4 else ("NC", "NC")


def _stream_entry(
    index: int,
    kind: str,
    role: str,
    stage: int,
    onnx_name: str,
    onnx_shape: Sequence[int],
    stream: Any,
    scale: float | None,
    layer: str,
    onnx_datatype: str | None = None,
) -> dict[str, Any]:
    onnx_layout, stream_layout = _layouts(onnx_shape)
    onnx: dict[str, Any] = {"name": onnx_name, "shape": list(onnx_shape), "layout": onnx_layout}
    if onnx_datatype is not None:
        _check_encoding(onnx_datatype, stream.datatype, onnx_name)
        onnx["datatype"] = onnx_datatype
    return {
        "index": index,
        "stream": f"{kind}_{index}",
        "role": role,
        "stage": stage,
        "layer": layer,
        "onnx": onnx,
        "layout": stream_layout,
        **stream.to_dict(),
        "packing": dict(PACKING),
        "scale": scale,
    }


def _check_encoding(onnx_datatype: str, stream_datatype: str, name: str) -> None:
    """The integers of ``name`` in model.onnx are the stream's, or bipolar ones (-1/+1) that
    the stream carries as FINN's XNOR layers read them, BINARY (0/1)."""
    from dse.library_format import stream_encoding

    try:
        stream_encoding(onnx_datatype, stream_datatype)
    except ValueError as exc:
        raise DseError(f"{name}: {exc}; the design cannot be deployed as costed") from None


def _stage_layers(stage: Any) -> tuple[Any, Any | None, Any]:
    """(first layer, fork layer or None, last layer of the exit head or the classifier)."""
    first = stage.layers[0]
    consumed = {i for layer in stage.layers for i in layer.inputs}
    ends = [layer for layer in stage.layers if layer.name not in consumed]
    fork = next((la for la in stage.layers if la.op_type == "DuplicateStreams"), None)
    heads = [la for la in ends if la is not fork and (la.exit is not None or fork is None)]
    if len(heads) != 1:
        raise DseError(
            f"stage graph {stage.name}: {len(heads)} outputs besides its features, expected 1"
        )
    return first, fork, heads[0]


def _add_label(
    outputs: list[dict[str, Any]], k: int, head: Any, names: Mapping[str, str], io: Any
) -> int:
    """The final stage's label stream; its index."""
    from hw_builders.streams import output_stream

    entry = _stream_entry(
        len(outputs),
        "m_axis",
        "label",
        k,
        output_names(k, True)[0],
        [1, 1],
        output_stream(head),
        None,
        names[head.name],
    )
    # what LabelSelect compares: the final classifier's integer logits, at this scale
    entry["logits_scale"] = io["logits_scale"]
    outputs.append(entry)
    return entry["index"]


def _add_exit(
    outputs: list[dict[str, Any]],
    k: int,
    fork: Any,
    head: Any,
    names: Mapping[str, str],
    io: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """An early stage's logits and features streams; its row's stream fields."""
    from hw_builders.streams import output_stream

    logits_name, features_name = output_names(k, False)
    logits = _stream_entry(
        len(outputs),
        "m_axis",
        "logits",
        k,
        logits_name,
        io[k]["logits_shape"],
        output_stream(head),
        io[k]["logits_scale"],
        names[head.name],
    )
    outputs.append(logits)
    features = _stream_entry(
        len(outputs),
        "m_axis",
        "features",
        k,
        features_name,
        io[k]["features_shape"],
        output_stream(fork),
        io[k + 1]["input_scale"],
        names[fork.name],
        io[k + 1].get("input_datatype"),
    )
    outputs.append(features)
    feeds: dict[str, Any] = {"stage": k + 1, "input": k + 1}
    if list(io[k]["features_shape"]) != list(io[k + 1]["input_shape"]):
        # the next stage reads the features flattened: the features in model.onnx's layout,
        # reshaped in C order (NCHW: channel-major, as the classifier's Flatten)
        feeds["reshape"] = list(io[k + 1]["input_shape"])
    return {"logits": logits["index"], "features": features["index"], "feeds": feeds}


def deployment(
    record: Any,
    stages: Sequence[Any],
    names: Mapping[str, str],
    io: Sequence[Mapping[str, Any]],
    shell: str,
) -> dict[str, Any]:
    """The deployment.json content of a design.

    Args:
        record: The stored design (``DesignRecord``).
        stages: Its stage graphs (adapex's layer names).
        names: adapex layer name -> FINN node name in the design's model.
        io: Per stage, what the export measured: ``input_shape`` / ``input_scale`` (ONNX
            input), and for an early stage ``logits_shape`` / ``logits_scale`` /
            ``features_shape``.
        shell: FINN's shell flow type (``vivado_zynq`` or ``vitis_alveo``).
    """
    from hw_builders.streams import input_stream

    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    stage_rows: list[dict[str, Any]] = []
    for k, stage in enumerate(stages):
        first, fork, head = _stage_layers(stage)
        role = "image" if k == 0 else "features"
        inputs.append(
            _stream_entry(
                k,
                "s_axis",
                role,
                k,
                input_name(k),
                io[k]["input_shape"],
                input_stream(first),
                io[k]["input_scale"],
                names[first.name],
                io[k].get("input_datatype"),
            )
        )
        row: dict[str, Any] = {"stage": k, "input": k, "exit": None, "threshold": None}
        if k == len(stages) - 1:
            row["label"] = _add_label(outputs, k, head, names, io[k])
        else:
            if fork is None:
                raise DseError(f"stage {k} of design {record.id}: no DuplicateStreams fork")
            row.update(_add_exit(outputs, k, fork, head, names, io))
            row["exit"] = int(record.exits[k])
            row["threshold"] = float(record.thresholds[k]) if k < len(record.thresholds) else None
        stage_rows.append(row)
    _check_feeds(outputs, inputs)
    return {
        "format": DEPLOYMENT_FORMAT,
        "design_id": record.id,
        "model": "model.onnx",
        "board": record.board,
        "part": record.part,
        "clk_ns": record.clk_ns,
        "shell_flow_type": shell,
        "exit_rule": "an exit answers a sample when the largest softmax probability of its "
        "logits (value = integer * scale) is at least its threshold",
        "inputs": inputs,
        "outputs": outputs,
        "stages": stage_rows,
        "bitfile": dict(BITFILE_FILES.get(shell, BITFILE_FILES["vivado_zynq"])),
    }


def _check_feeds(outputs: Sequence[Mapping[str, Any]], inputs: Sequence[Mapping[str, Any]]) -> None:
    """Every features stream carries exactly what the next stage's input stream reads (the
    same integers: datatype, scale and element count; a flattening reshape at most)."""
    import math

    for out in outputs:
        if out["role"] != "features":
            continue
        nxt = inputs[out["stage"] + 1]
        if math.prod(out["shape_normal"]) != math.prod(nxt["shape_normal"]):
            raise DseError(
                f"stage {out['stage']}: its features stream has shape {out['shape_normal']} "
                f"but stage {nxt['stage']} reads {nxt['shape_normal']}; the design cannot be "
                "deployed as costed"
            )
        for key in ("datatype", "scale"):
            if out[key] != nxt[key]:
                raise DseError(
                    f"stage {out['stage']}: its features stream has {key} {out[key]} but stage "
                    f"{nxt['stage']} reads {nxt[key]}; the design cannot be deployed as costed"
                )

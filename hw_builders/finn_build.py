"""Write a FINN build folder for one graph (stage) that FINN's builder accepts unchanged.

The folder (``finn.builder.build_dataflow.build_dataflow_directory`` layout)::

    model.onnx                        the stage's QONNX model (when given)
    dataflow_build_config.json        DataflowBuildConfig fields (FINN's names, verbatim)
    folding_config.json               FINN's folding format (node names after specialisation)
    specialize_layers_config.json     {"<node>": {"preferred_impl_style": ..}} when any layer
                                      uses a non-default implementation
    hw_graph.json                     adapex's graph of this stage (what the estimates used)
    build.py                          only for a stage that forks to an early exit: FINN's
                                      builder plus the custom steps of
                                      hw_builders.build_script (run ``python build.py``)

Paths inside the config are relative: FINN's builder changes into the folder first.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hw_builders.atomic import atomic_directory
from hw_builders.build_script import BUILD_PY
from hw_builders.devices import clock_ns, resolve_device
from hw_builders.errors import HwError
from hw_builders.estimate import check_folding
from hw_builders.folding.config import FoldingConfig
from hw_builders.registry import get_op

#: FINN's ``estimate_only_dataflow_steps`` (src/finn/builder/build_dataflow_config.py).
ESTIMATE_STEPS: tuple[str, ...] = (
    "step_qonnx_to_finn",
    "step_tidy_up",
    "step_streamline",
    "step_convert_to_hw",
    "step_create_dataflow_partition",
    "step_specialize_layers",
    "step_target_fps_parallelization",
    "step_apply_folding_config",
    "step_minimize_bit_width",
    "step_generate_estimate_reports",
)
#: FINN's ``default_build_dataflow_steps`` (everything up to the deployment package).
BITFILE_STEPS: tuple[str, ...] = ESTIMATE_STEPS + (
    "step_hw_codegen",
    "step_hw_ipgen",
    "step_set_fifo_depths",
    "step_create_stitched_ip",
    "step_measure_rtlsim_performance",
    "step_out_of_context_synthesis",
    "step_synthesize_bitfile",
    "step_make_pynq_driver",
    "step_deployment_package",
)
#: generate_outputs per build kind (FINN's DataflowOutputType values).
OUTPUTS: dict[str, list[str]] = {
    "estimate": ["estimate_reports"],
    "bitfile": ["estimate_reports", "bitfile", "pynq_driver", "deployment_package"],
}
#: Our board names -> FINN's where they differ (the catalogue uses FINN's own names,
#: finn.util.basic part_map keys, for every board FINN knows).
FINN_BOARD_NAMES: dict[str, str] = {"AUP-ZU3": "AUP-ZU3_8GB"}


def shell_flow_type(device: Any) -> str:
    """FINN's ShellFlowType for a device: vitis_alveo for Alveo cards, else vivado_zynq."""
    return "vitis_alveo" if str(device.part).lower().startswith("xcu") else "vivado_zynq"


def _specialize_config(graph: Any) -> dict[str, Any] | None:
    """specialize_layers_config.json content, or None when every layer uses FINN's default.

    Keys are the node names before specialisation (FINN's GiveUniqueNodeNames on the
    generic op types: ``MVAU_0``, ``MVAU_1``, ...).
    """
    counters: dict[str, int] = {}
    cfg: dict[str, Any] = {"Defaults": {}}
    differs = False
    for layer in graph.layers:
        n = counters.get(layer.op_type, 0)
        counters[layer.op_type] = n + 1
        cfg[f"{layer.op_type}_{n}"] = {"preferred_impl_style": layer.impl}
        if layer.impl != get_op(layer.op_type).default_impl:
            differs = True
    return cfg if differs else None


def build_config(
    *,
    device: Any,
    clk_ns: float,
    steps: str = "estimate",
    target_fps: float | None = None,
    specialize: bool = False,
    output_dir: str = "output",
) -> dict[str, Any]:
    """The dataflow_build_config.json content (DataflowBuildConfig field names).

    Raises:
        HwError: unknown ``steps`` kind or bad clock.
    """
    if steps not in OUTPUTS:
        raise HwError(f"steps={steps!r} is unknown; use one of: {', '.join(OUTPUTS)}")
    if isinstance(clk_ns, bool) or not isinstance(clk_ns, (int, float)) or not clk_ns > 0:
        raise HwError(
            f"`clk_ns` {clk_ns!r} must be a positive clock period in ns", arguments=("clk_ns",)
        )
    cfg: dict[str, Any] = {
        "output_dir": output_dir,
        "synth_clk_period_ns": float(clk_ns),
        "generate_outputs": list(OUTPUTS[steps]),
        "fpga_part": device.part,
        "shell_flow_type": shell_flow_type(device),
        "folding_config_file": "folding_config.json",
        "steps": list(ESTIMATE_STEPS if steps == "estimate" else BITFILE_STEPS),
        "auto_fifo_depths": steps == "bitfile",
        "save_intermediate_models": True,
        "enable_build_pdb_debug": False,
        "verbose": False,
    }
    if device.board is not None:
        cfg["board"] = FINN_BOARD_NAMES.get(device.board, device.board)
    if target_fps is not None:
        if (
            isinstance(target_fps, bool)
            or not isinstance(target_fps, (int, float))
            or not (target_fps > 0)
        ):
            raise HwError(
                f"`target_fps` {target_fps!r} must be a positive number",
                arguments=("target_fps",),
            )
        cfg["target_fps"] = max(1, int(round(target_fps)))
    if specialize:
        cfg["specialize_layers_config_file"] = "specialize_layers_config.json"
    return cfg


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def write_build_folder(
    graph_stage: Any,
    out_dir: str | os.PathLike[str],
    *,
    folding: Any,
    device: Any,
    clk_ns: float | None = None,
    model_onnx: str | os.PathLike[str] | None = None,
    target_fps: float | None = None,
    steps: str = "estimate",
) -> Path:
    """Write a FINN build folder for ``graph_stage`` (atomically: temp dir, then rename).

    Args:
        graph_stage: the HwGraph of one stage (or a whole design).
        out_dir: the folder to create (replaced if it exists).
        folding: FoldingConfig or folding dict for the stage's layers.
        device: the Device (or a board name).
        clk_ns: clock period (device default when None).
        model_onnx: path of the stage's QONNX model, copied as model.onnx.
        target_fps: written as FINN's target_fps (the folding file overrides it).
        steps: "estimate" (estimate reports only) or "bitfile" (through the deployment
            package).

    Returns:
        The folder's path.

    Raises:
        HwError: bad folding, device, clock, steps or model path (nothing is written).
    """
    if device is None:
        raise HwError("device: give a Device (hw_builders.get_device) or a board name")
    dev = resolve_device(device)
    clk = clock_ns(dev, clk_ns)
    cfg_fold = (
        folding
        if isinstance(folding, FoldingConfig)
        else FoldingConfig.from_dict(folding if folding is not None else {})
    )
    folded = cfg_fold.apply(graph_stage)
    check_folding(folded)
    if model_onnx is not None and not Path(model_onnx).is_file():
        raise HwError(
            f"model_onnx {model_onnx}: no such file; export the stage's QONNX model first"
        )
    spec = _specialize_config(graph_stage)
    config = build_config(
        device=dev, clk_ns=clk, steps=steps, target_fps=target_fps, specialize=spec is not None
    )
    # the folding file lists every layer's parallelism explicitly (not only the changed ones)
    full = FoldingConfig.from_graph(
        folded, attrs=("PE", "SIMD", "parallel_window", "ram_style", "resType", "mem_mode")
    )
    full.defaults = dict(cfg_fold.defaults)

    out = Path(out_dir)
    with atomic_directory(out) as tmp:
        _dump(tmp / "dataflow_build_config.json", config)
        _dump(tmp / "folding_config.json", full.to_dict())
        if spec is not None:
            _dump(tmp / "specialize_layers_config.json", spec)
        _dump(tmp / "hw_graph.json", graph_stage.to_dict())
        if needs_build_script(graph_stage):
            (tmp / "build.py").write_text(BUILD_PY)
        if model_onnx is not None:
            shutil.copyfile(model_onnx, tmp / "model.onnx")
    return out


#: FINN's 1-bit datatypes: a stage quantised only to them holds only BipolarQuant nodes
_ONE_BIT = {"BIPOLAR", "BINARY"}


def needs_build_script(graph: Any) -> bool:
    """Whether FINN's standard steps cannot build ``graph`` alone: it forks to an exit, or
    it is quantised to 1 bit (its model may hold only BipolarQuant nodes, which FINN's
    step_qonnx_to_finn skips)."""
    if any(layer.op_type == "DuplicateStreams" for layer in graph.layers):
        return True
    keys = ("inputDataType", "weightDataType", "outputDataType")
    return any(str(layer.attrs.get(k)) in _ONE_BIT for layer in graph.layers for k in keys)


def read_build_config(folder: str | os.PathLike[str]) -> Mapping[str, Any]:
    """The dataflow_build_config.json of a build folder (HwError when missing or bad)."""
    p = Path(folder) / "dataflow_build_config.json"
    try:
        return json.loads(p.read_text())
    except OSError:
        raise HwError(f"{p}: missing; write the folder with write_build_folder first") from None
    except json.JSONDecodeError as e:
        raise HwError(f"{p}: invalid JSON at line {e.lineno}: {e.msg}") from None


__all__ = [
    "BITFILE_STEPS",
    "ESTIMATE_STEPS",
    "FINN_BOARD_NAMES",
    "build_config",
    "needs_build_script",
    "read_build_config",
    "shell_flow_type",
    "write_build_folder",
]

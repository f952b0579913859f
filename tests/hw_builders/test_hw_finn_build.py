"""FINN build folders and the optional FINN backend."""

from __future__ import annotations

import importlib.util
import json

import pytest

from hw_builders import get_device, load_graph
from hw_builders.errors import HwError
from hw_builders.finn_backend import finn_available, run_finn_build
from hw_builders.finn_build import ESTIMATE_STEPS, write_build_folder
from hw_builders.folding import FoldingConfig, fold

# DataflowBuildConfig's fields (FINN src/finn/builder/build_dataflow_config.py, main 2024)
FINN_FIELDS = {
    "output_dir", "synth_clk_period_ns", "generate_outputs", "specialize_layers_config_file",
    "folding_config_file", "target_fps", "folding_two_pass_relaxation", "verify_steps",
    "verify_input_npy", "verify_expected_output_npy", "verify_save_full_context",
    "verify_save_rtlsim_waveforms", "stitched_ip_gen_dcp", "signature", "mvau_wwidth_max",
    "standalone_thresholds", "minimize_bit_width", "board", "shell_flow_type", "fpga_part",
    "auto_fifo_depths", "split_large_fifos", "auto_fifo_strategy", "force_python_rtlsim",
    "large_fifo_mem_style", "fifosim_input_throttle", "fifosim_save_waveform",
    "hls_clk_period_ns", "default_swg_exception", "vitis_platform", "vitis_floorplan_file",
    "vitis_opt_strategy", "save_intermediate_models", "enable_hw_debug",
    "enable_build_pdb_debug", "verbose", "steps", "start_step", "stop_step",
    "max_multithreshold_bit_width", "rtlsim_batch_size", "rtlsim_use_vivado_comps",
    "input_range_info",
}  # fmt: skip
OUTPUT_TYPES = {
    "stitched_ip", "estimate_reports", "out_of_context_synth", "rtlsim_performance",
    "bitfile", "pynq_driver", "deployment_package",
}  # fmt: skip


def small_graph(impl="hls"):
    return load_graph(
        {
            "name": "g",
            "layers": [
                {
                    "name": f"MVAU_{impl}_0",
                    "op_type": "MVAU",
                    "impl": impl,
                    "inputs": [],
                    "MW": 27,
                    "MH": 16,
                    "numInputVectors": 64,
                    "inputDataType": "UINT2",
                    "weightDataType": "INT2",
                    "outputDataType": "UINT2",
                    "accDataType": "INT16",
                },
                {
                    "name": "LabelSelect_hls_0",
                    "op_type": "LabelSelect",
                    "inputs": [f"MVAU_{impl}_0"],
                    "Labels": 16,
                    "K": 1,
                    "inputDataType": "INT16",
                },
            ],
        }
    )


def test_folder_contents_estimate_build(tmp_path):
    g = small_graph()
    dev = get_device(board="Pynq-Z1")
    cfg = fold(g, strategy="finn", device=dev, target_fps=100_000)
    onnx = tmp_path / "stage0.onnx"
    onnx.write_bytes(b"\x08\x07")  # content is copied verbatim
    out = write_build_folder(
        g,
        tmp_path / "build" / "stage0",
        folding=cfg,
        device=dev,
        clk_ns=5.0,
        model_onnx=onnx,
        target_fps=100_000,
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "dataflow_build_config.json",
        "folding_config.json",
        "hw_graph.json",
        "model.onnx",
    ]
    assert (out / "model.onnx").read_bytes() == b"\x08\x07"
    bc = json.loads((out / "dataflow_build_config.json").read_text())
    assert set(bc) <= FINN_FIELDS
    assert set(bc["generate_outputs"]) <= OUTPUT_TYPES
    assert bc["generate_outputs"] == ["estimate_reports"]
    assert bc["synth_clk_period_ns"] == 5.0 and bc["target_fps"] == 100_000
    assert bc["board"] == "Pynq-Z1" and bc["fpga_part"] == "xc7z020clg400-1"
    assert bc["shell_flow_type"] == "vivado_zynq"
    assert bc["folding_config_file"] == "folding_config.json"
    assert bc["steps"] == list(ESTIMATE_STEPS)
    assert bc["steps"][-1] == "step_generate_estimate_reports"
    assert "specialize_layers_config_file" not in bc
    folding = FoldingConfig.load(out / "folding_config.json")
    assert folding.nodes["MVAU_hls_0"]["PE"] == cfg.nodes["MVAU_hls_0"]["PE"]
    assert folding.nodes["MVAU_hls_0"]["SIMD"] == cfg.nodes["MVAU_hls_0"]["SIMD"]
    assert load_graph(out / "hw_graph.json").to_dict() == g.to_dict()
    # no temp folders left beside it
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["stage0"]


def test_alveo_bitfile_build_and_specialisation(tmp_path):
    g = small_graph(impl="rtl")
    out = write_build_folder(
        g, tmp_path / "b", folding={}, device=get_device(board="U250"), steps="bitfile"
    )
    bc = json.loads((out / "dataflow_build_config.json").read_text())
    assert bc["shell_flow_type"] == "vitis_alveo" and bc["board"] == "U250"
    assert "bitfile" in bc["generate_outputs"] and bc["steps"][-1] == "step_deployment_package"
    assert bc["synth_clk_period_ns"] == 3.33
    assert bc["specialize_layers_config_file"] == "specialize_layers_config.json"
    spec = json.loads((out / "specialize_layers_config.json").read_text())
    assert spec["MVAU_0"] == {"preferred_impl_style": "rtl"}
    assert spec["LabelSelect_0"] == {"preferred_impl_style": "hls"}
    kv = write_build_folder(g, tmp_path / "kv", folding={}, device=get_device(board="KV260"))
    assert json.loads((kv / "dataflow_build_config.json").read_text())["board"] == "KV260_SOM"


def test_rewrite_replaces_atomically_and_bad_input_writes_nothing(tmp_path):
    g = small_graph()
    dev = get_device(board="Pynq-Z1")
    out = write_build_folder(g, tmp_path / "s", folding={"MVAU_hls_0": {"PE": 2}}, device=dev)
    (out / "stale.txt").write_text("x")
    out = write_build_folder(g, tmp_path / "s", folding={"MVAU_hls_0": {"PE": 4}}, device=dev)
    assert not (out / "stale.txt").exists()
    assert FoldingConfig.load(out / "folding_config.json").nodes["MVAU_hls_0"]["PE"] == 4
    with pytest.raises(HwError, match="PE=5 does not divide MH=16"):
        write_build_folder(g, tmp_path / "bad", folding={"MVAU_hls_0": {"PE": 5}}, device=dev)
    with pytest.raises(HwError, match="steps"):
        write_build_folder(g, tmp_path / "bad", folding={}, device=dev, steps="synth")
    with pytest.raises(HwError, match="model_onnx"):
        write_build_folder(
            g, tmp_path / "bad", folding={}, device=dev, model_onnx=tmp_path / "x.onnx"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_finn_backend_reports_its_absence_plainly(tmp_path):
    assert finn_available() == (
        importlib.util.find_spec("finn") is not None
        and importlib.util.find_spec("finn.builder") is not None
    )
    folder = write_build_folder(
        small_graph(), tmp_path / "f", folding={}, device=get_device(board="Pynq-Z1")
    )
    if not finn_available():
        with pytest.raises(HwError, match="FINN is not installed.*install FINN"):
            run_finn_build(folder)
    else:  # with FINN installed, a folder without model.onnx is refused before building
        with pytest.raises(HwError, match="no model.onnx"):
            run_finn_build(folder)


def test_example_cnv_folder_carries_its_folding(tmp_path):
    from pathlib import Path

    import hw_builders

    ex = Path(hw_builders.__file__).parent / "examples"
    g = load_graph(ex / "cnv_w2a2.json")
    given = FoldingConfig.load(ex / "cnv_w2a2_folding.json")
    out = write_build_folder(g, tmp_path / "cnv", folding=given, device="Pynq-Z1")
    written = FoldingConfig.load(out / "folding_config.json")
    from hw_builders import get_op

    # every layer with a parallelism knob is listed explicitly
    knobs = {lay.name for lay in g.layers if {"PE", "SIMD"} & set(get_op(lay.op_type).fold_attrs)}
    assert knobs <= set(written.nodes)
    for name, attrs in given.nodes.items():
        for key, value in attrs.items():
            assert written.nodes[name][key] == value, (name, key)

"""Graph format: loading, validation messages, default names, folding application."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import hw_builders as hb
from hw_builders.datatypes import datatype

EXAMPLES = Path(hb.__file__).parent / "examples"


def mvau(**kw):
    d = {
        "op_type": "MVAU",
        "MW": 64,
        "MH": 32,
        "inputDataType": "INT2",
        "weightDataType": "INT2",
        "outputDataType": "INT2",
    }
    d.update(kw)
    return d


def test_default_names_count_per_specialised_op_type() -> None:
    g = hb.load_graph(
        {
            "name": "g",
            "layers": [
                {
                    "op_type": "Thresholding",
                    "NumChannels": 4,
                    "inputDataType": "UINT8",
                    "weightDataType": "UINT8",
                    "outputDataType": "INT2",
                    "numSteps": 3,
                },
                mvau(inputs=["Thresholding_rtl_0"]),
                mvau(inputs=["MVAU_hls_0"], impl="rtl"),
                mvau(inputs=["MVAU_rtl_0"]),
                {
                    "op_type": "Thresholding",
                    "impl": "hls",
                    "inputs": ["MVAU_hls_1"],
                    "NumChannels": 32,
                    "inputDataType": "INT8",
                    "weightDataType": "INT8",
                    "outputDataType": "INT2",
                    "numSteps": 3,
                },
            ],
        }
    )
    assert [x.name for x in g.layers] == [
        "Thresholding_rtl_0",
        "MVAU_hls_0",
        "MVAU_rtl_0",
        "MVAU_hls_1",
        "Thresholding_hls_0",
    ]
    assert g.layer("MVAU_rtl_0").specialized_op_type == "MVAU_rtl"


def test_default_impls_follow_finn() -> None:
    assert hb.get_op("MVAU").default_impl == "hls"
    assert hb.get_op("VVAU").default_impl == "hls"
    assert hb.get_op("ConvolutionInputGenerator").default_impl == "rtl"
    assert hb.get_op("Thresholding").default_impl == "rtl"
    assert hb.get_op("StreamingFIFO").default_impl == "rtl"
    assert hb.get_op("LabelSelect").default_impl == "hls"


def test_roundtrip_save_load(tmp_path: Path) -> None:
    g = hb.load_graph(EXAMPLES / "cnv_w2a2.json")
    p = tmp_path / "sub" / "g.json"
    hb.save_graph(g, p)
    assert hb.load_graph(p).to_dict() == g.to_dict()
    assert not [x for x in p.parent.iterdir() if x.name.endswith(".tmp")]


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text('{\n  "name": "x",\n  "layers": [\n    {"op_type": "MVAU",,}\n  ]\n}\n')
    with pytest.raises(hb.HwError, match=r"bad\.json: invalid JSON at line 4"):
        hb.load_graph(p)


@pytest.mark.parametrize(
    ("layers", "pattern"),
    [
        ([{"op_type": "Conv"}], r"op_type 'Conv' is unknown; use one of: .*MVAU"),
        ([{"op_type": "MVAU", "name": "m", "MW": 4}], r"layer m: missing required attribute MH"),
        ([mvau(name="m", inputs=["nope"])], r"layer m: inputs refers to unknown layer 'nope'"),
        ([mvau(name="a", inputs=["b"]), mvau(name="b", inputs=["a"])], r"cycle"),
        ([mvau(name="m", impl="vivado")], r"layer m: impl='vivado' is not available for MVAU"),
        ([mvau(name="m", MW=0)], r"layer m: MW=0 must be a positive integer"),
        ([mvau(name="m", inputDataType="INT")], r"layer m: inputDataType: .*unknown FINN DataType"),
        ([mvau(name="m", ram_style="huge")], r"layer m: ram_style='huge' is not allowed"),
        ([mvau(name="m"), mvau(name="m")], r"layer m: duplicate name"),
    ],
)
def test_validation_errors_are_one_line(layers, pattern) -> None:
    with pytest.raises(hb.HwError, match=pattern) as ei:
        hb.load_graph({"name": "g", "layers": layers})
    assert "\n" not in str(ei.value)
    # the CLI turns it into one line and exit status 2, and writes nothing
    import subprocess
    import sys

    bad = json.dumps({"name": "g", "layers": layers})
    proc = subprocess.run(
        [sys.executable, "-m", "dse", "hw", "estimate", "/dev/stdin", "--board", "Pynq-Z1"],
        input=bad,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.count("\n") == 1 and re.search(pattern, proc.stderr), proc.stderr


def test_with_folding_and_defaults() -> None:
    g = hb.load_graph(EXAMPLES / "cnv_w1a1.json")
    f = json.loads((EXAMPLES / "cnv_w1a1_folding.json").read_text())
    f["Defaults"] = {"resType": ["dsp", ["MVAU_hls"]]}
    g2 = g.with_folding(f)
    assert g2.layer("MVAU_hls_1").attrs["PE"] == 32
    assert g2.layer("MVAU_hls_1").attrs["resType"] == "lut"  # node entry overrides Defaults
    assert g.layer("MVAU_hls_1").attrs["PE"] == 1  # original untouched
    with pytest.raises(hb.HwError, match="node 'MVAU_hls_99' is not in graph"):
        g.with_folding({"MVAU_hls_99": {"PE": 1}})


def test_check_folding_message() -> None:
    g = hb.load_graph({"name": "g", "layers": [mvau(name="MVAU_hls_3", MH=64, PE=7)]})
    with pytest.raises(hb.HwError) as ei:
        hb.check_folding(g)
    assert str(ei.value) == (
        "layer MVAU_hls_3: PE=7 does not divide MH=64; choose a divisor of MH: 1, 2, 4, 8, 16, 32, 64"
    )
    assert hb.legal_values(g.layers[0]) == {
        "PE": [1, 2, 4, 8, 16, 32, 64],
        "SIMD": [1, 2, 4, 8, 16, 32, 64],
    }


def test_datatypes_match_qonnx() -> None:
    from qonnx.core.datatype import DataType as Q

    for name in ("BINARY", "BIPOLAR", "TERNARY", "UINT8", "INT2", "INT32", "FIXED<8,4>", "FLOAT32"):
        ours, theirs = datatype(name), Q[name]
        assert ours.bitwidth == theirs.bitwidth()
        assert ours.signed == theirs.signed()
        assert ours.min == theirs.min() and ours.max == theirs.max()
    with pytest.raises(hb.HwError, match="unknown FINN DataType"):
        datatype("INTEGER")


def test_fifo_vivado_is_named_like_finn() -> None:
    g = hb.load_graph(
        {
            "name": "f",
            "layers": [
                {
                    "op_type": "StreamingFIFO",
                    "impl": "vivado",
                    "depth": 100,
                    "dataType": "INT8",
                    "folded_shape": [1, 4],
                },
                {
                    "op_type": "StreamingFIFO",
                    "inputs": ["StreamingFIFO_rtl_0"],
                    "depth": 2,
                    "dataType": "INT8",
                    "folded_shape": [1, 4],
                },
            ],
        }
    )
    assert [x.name for x in g.layers] == ["StreamingFIFO_rtl_0", "StreamingFIFO_rtl_1"]
    assert g.layers[0].attrs["impl_style"] == "vivado"
    assert hb.layer_cost(g.layers[0]).LUT == 2 * 7  # depth rounded up to 128, LUT control only


def test_swg_rtl_parallel_needs_full_simd() -> None:
    g = hb.load_graph(
        {
            "name": "s",
            "layers": [
                {
                    "name": "swg",
                    "op_type": "ConvolutionInputGenerator",
                    "IFMChannels": 16,
                    "IFMDim": [8, 8],
                    "OFMDim": [8, 8],
                    "ConvKernelDim": [3, 3],
                    "parallel_window": 1,
                    "SIMD": 4,
                    "inputDataType": "INT4",
                },
            ],
        }
    )
    assert hb.legal_values(g.layers[0]) == {"SIMD": [16]}
    with pytest.raises(hb.HwError, match="layer swg: SIMD=4 must equal IFMChannels=16"):
        hb.check_folding(g)
    hls = g.with_folding({})
    hls.layers[0].impl = "hls"
    assert hb.legal_values(hls.layers[0]) == {"SIMD": [1, 2, 4, 8, 16]}

"""Hypothesis properties of the cost models and the estimator."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hw_builders as hb
from hw_builders.graph import HwLayer

EXAMPLES = Path(hb.__file__).parent / "examples"
GRAPHS = {t: hb.load_graph(EXAMPLES / f"cnv_{t}.json") for t in ("w1a1", "w2a2")}

MW = st.sampled_from([27, 64, 144, 576, 1152, 256, 512])
MH = st.sampled_from([10, 32, 64, 128, 512])


def _mvau(mw: int, mh: int, pe: int, simd: int) -> HwLayer:
    return HwLayer(
        "m",
        "MVAU",
        [],
        dict(
            MW=mw,
            MH=mh,
            PE=pe,
            SIMD=simd,
            inputDataType="INT2",
            weightDataType="INT2",
            outputDataType="INT2",
            numInputVectors=[1, 4, 4],
        ),
        "hls",
    )


@settings(max_examples=60, deadline=None)
@given(mw=MW, mh=MH, data=st.data())
def test_mvau_cycles_never_grow_with_parallelism(mw: int, mh: int, data) -> None:
    lv = hb.legal_values(_mvau(mw, mh, 1, 1))
    pes = sorted(data.draw(st.lists(st.sampled_from(lv["PE"]), min_size=2, max_size=2)))
    simds = sorted(data.draw(st.lists(st.sampled_from(lv["SIMD"]), min_size=2, max_size=2)))
    lo = hb.layer_cost(_mvau(mw, mh, pes[0], simds[0])).cycles
    hi = hb.layer_cost(_mvau(mw, mh, pes[1], simds[1])).cycles
    assert hi <= lo


@settings(max_examples=60, deadline=None)
@given(tag=st.sampled_from(["w1a1", "w2a2"]), data=st.data())
def test_legal_values_are_legal_and_totals_sum(tag: str, data) -> None:
    g = GRAPHS[tag]
    folding = {}
    for lay in g.layers:
        choice = {k: data.draw(st.sampled_from(v)) for k, v in hb.legal_values(lay).items()}
        folding[lay.name] = choice
    g2 = g.with_folding(folding)
    hb.check_folding(g2)  # never raises for values from legal_values
    rep = hb.estimate(g2, board="Pynq-Z1")
    # a stored report reads back as the same report
    assert hb.HardwareReport.from_dict(json.loads(json.dumps(rep.to_dict()))) == rep
    for k in ("LUT", "BRAM_18K", "URAM", "DSP"):
        assert rep.total[k] == sum(getattr(x, k) for x in rep.layers)
    assert rep.performance["max_cycles"] == max(x.cycles for x in rep.layers)
    # consistency with the report's own max_cycles (numbers by hand: see
    # test_throughput_and_latency_by_hand)
    assert rep.performance["estimated_throughput_fps"] == 1e8 / rep.performance["max_cycles"]
    # a chain: the critical path is the sum of all cycles
    assert rep.performance["critical_path_cycles"] == sum(x.cycles for x in rep.layers)
    # the fast path agrees with the report
    est = hb.Estimator(g, board="Pynq-Z1")
    fr = est.fast(est.values_from_folding(folding))
    assert (fr.max_cycles, fr.LUT, fr.BRAM_18K, fr.URAM, fr.DSP, fr.fits) == (
        rep.performance["max_cycles"],
        rep.total["LUT"],
        rep.total["BRAM_18K"],
        rep.total["URAM"],
        rep.total["DSP"],
        rep.fits,
    )


@settings(max_examples=40, deadline=None)
@given(pe=st.integers(1, 200), mh=st.sampled_from([12, 64, 100]))
def test_illegal_pe_rejected_with_divisors(pe: int, mh: int) -> None:
    layer = _mvau(64, mh, pe, 1)
    if mh % pe:
        try:
            hb.layer_cost(layer)
        except hb.HwError as e:
            assert f"PE={pe} does not divide MH={mh}" in str(e)
        else:
            raise AssertionError("illegal PE accepted")
    else:
        assert hb.layer_cost(layer).cycles == (mh // pe) * 64 * 16


def test_branches_critical_path() -> None:
    """Critical path = longest input->output path (FINN's latency_at_node_output)."""
    dt = {"inputDataType": "INT2"}
    g = hb.load_graph(
        {
            "name": "b",
            "layers": [
                {
                    "name": "dup",
                    "op_type": "DuplicateStreams",
                    "NumChannels": 8,
                    "numInputVectors": [1, 4, 4],
                    **dt,
                },
                {"name": "a", "op_type": "LabelSelect", "inputs": ["dup"], "Labels": 1000, **dt},
                {"name": "b1", "op_type": "LabelSelect", "inputs": ["dup"], "Labels": 10, **dt},
                {"name": "b2", "op_type": "LabelSelect", "inputs": ["b1"], "Labels": 10, **dt},
                {
                    "name": "add",
                    "op_type": "AddStreams",
                    "inputs": ["a", "b2"],
                    "NumChannels": 8,
                    "numInputVectors": [1, 2, 2],
                    **dt,
                },
            ],
        }
    )
    rep = hb.estimate(g, board="Pynq-Z1")
    # dup 128; path via a: 128+1000+32 = 1160; via b1,b2: 128+10+10+32 = 180
    assert rep.performance["critical_path_cycles"] == 1160
    assert rep.performance["max_cycles_node_name"] == "a"
    assert rep.performance["estimated_latency_ns"] == 11600.0


def test_throughput_and_latency_by_hand() -> None:
    """One MVAU, MW=27, MH=16, 64 input vectors, PE=4, SIMD=9: FINN's cycles
    (MH / PE) * (MW / SIMD) * 64 = 4 * 3 * 64 = 768, so 1e8 / 768 = 130208.3 frames/s at
    10 ns and twice that at 5 ns; a lone layer's latency is its 768 cycles: 7680 ns."""
    g = hb.load_graph(
        {
            "name": "one",
            "layers": [
                {
                    "name": "m",
                    "op_type": "MVAU",
                    "MW": 27,
                    "MH": 16,
                    "PE": 4,
                    "SIMD": 9,
                    "numInputVectors": [1, 8, 8],
                    "inputDataType": "UINT2",
                    "weightDataType": "INT2",
                    "outputDataType": "UINT2",
                    "accDataType": "INT16",
                }
            ],
        }
    )
    slow = hb.estimate(g, board="Pynq-Z1", clk_ns=10.0).performance
    fast = hb.estimate(g, board="Pynq-Z1", clk_ns=5.0).performance
    assert slow["max_cycles"] == 768 and slow["critical_path_cycles"] == 768
    assert slow["estimated_throughput_fps"] == pytest.approx(130208.333, rel=1e-6)
    assert fast["estimated_throughput_fps"] == pytest.approx(260416.667, rel=1e-6)
    assert slow["estimated_latency_ns"] == pytest.approx(7680.0)
    # energy by hand: a static-only 0.25 W over 130208.3 frames/s is 1.92 uJ, and at 5 ns
    # half that; a dynamic 1 uW/MHz per LUT adds 100 MHz * 1e-6 * LUT watts at 10 ns
    pynq = hb.get_device(board="Pynq-Z1")
    flat = replace(pynq, power=hb.PowerModel(static_w=0.25, dynamic_w_per_mhz={}))
    assert hb.estimate(g, device=flat, clk_ns=10.0).energy_per_inference_j == pytest.approx(1.92e-6)
    assert hb.estimate(g, device=flat, clk_ns=5.0).energy_per_inference_j == pytest.approx(0.96e-6)
    lut = replace(pynq, power=hb.PowerModel(static_w=0.25, dynamic_w_per_mhz={"LUT": 1e-6}))
    rep = hb.estimate(g, device=lut, clk_ns=10.0)
    assert rep.total["LUT"] > 0
    assert rep.power_w == pytest.approx(0.25 + 100 * 1e-6 * rep.total["LUT"])
    assert rep.energy_per_inference_j == pytest.approx(rep.power_w * 768 / 1e8)


def test_estimator_memoises_and_reports_energy() -> None:
    g = GRAPHS["w2a2"]
    f = json.loads((EXAMPLES / "cnv_w2a2_folding.json").read_text())
    est = hb.Estimator(g, board="Pynq-Z1")
    vals = est.values_from_folding(f)
    a = est.fast(vals)
    b = est.fast(vals)
    assert a == b
    rep = est.report(vals)
    # consistency (numbers by hand: test_throughput_and_latency_by_hand)
    assert rep.energy_per_inference_j == rep.power_w / rep.performance["estimated_throughput_fps"]
    assert rep.to_dict()["estimate_network_performance"] == rep.performance


VVAU_ATTRS = dict(
    Channels=32,
    Kernel=[3, 3],
    Dim=[6, 6],
    inputDataType="INT4",
    weightDataType="INT4",
    outputDataType="UINT2",
)
SWG_ATTRS = dict(
    IFMChannels=32,
    IFMDim=[10, 10],
    OFMDim=[8, 8],
    ConvKernelDim=[3, 3],
    inputDataType="INT4",
)


@settings(max_examples=60, deadline=None)
@given(
    case=st.sampled_from(
        [
            ("VVAU", "hls", VVAU_ATTRS),
            ("ConvolutionInputGenerator", "rtl", SWG_ATTRS),
            ("ConvolutionInputGenerator", "hls", SWG_ATTRS),
            (
                "Thresholding",
                "rtl",
                dict(
                    NumChannels=48,
                    numInputVectors=[1, 5, 5],
                    inputDataType="INT8",
                    weightDataType="INT8",
                    outputDataType="UINT2",
                    numSteps=3,
                ),
            ),
            (
                "FMPadding",
                "hls",
                dict(ImgDim=[6, 6], Padding=[1, 1, 1, 1], NumChannels=24, inputDataType="INT2"),
            ),
            ("LabelSelect", "hls", dict(Labels=100, inputDataType="INT16")),
        ]
    ),
    data=st.data(),
)
def test_cycles_never_grow_with_legal_parallelism(case, data) -> None:
    op_type, impl, attrs = case
    base = HwLayer("x", op_type, [], dict(attrs), impl)
    legal = hb.legal_values(base)
    lo, hi = {}, {}
    for knob, values in legal.items():
        a, b = sorted(data.draw(st.lists(st.sampled_from(values), min_size=2, max_size=2)))
        lo[knob], hi[knob] = a, b
    c_lo = hb.layer_cost(HwLayer("x", op_type, [], {**attrs, **lo}, impl)).cycles
    c_hi = hb.layer_cost(HwLayer("x", op_type, [], {**attrs, **hi}, impl)).cycles
    assert c_hi <= c_lo


def test_report_names_each_layer_its_device_clock_and_limits() -> None:
    """The report's identity fields and the utilisation limits, on a two-layer chain with an
    exit head: every layer keeps its op_type and exit, the report names the device and the
    clock it was costed at, and a limit tighter than the design's LUT share makes it not fit."""
    g = hb.load_graph(
        {
            "name": "two",
            "layers": [
                {
                    "name": "m",
                    "op_type": "MVAU",
                    "inputs": [],
                    "MW": 27,
                    "MH": 16,
                    "PE": 4,
                    "SIMD": 9,
                    "numInputVectors": [1, 8, 8],
                    "inputDataType": "UINT2",
                    "weightDataType": "INT2",
                    "outputDataType": "UINT2",
                    "accDataType": "INT16",
                },
                {
                    "name": "d",
                    "op_type": "DuplicateStreams",
                    "inputs": ["m"],
                    "NumChannels": 16,
                    "numInputVectors": 64,
                    "inputDataType": "UINT2",
                },
                {
                    "name": "h",
                    "op_type": "MVAU",
                    "inputs": ["d"],
                    "exit": 0,
                    "MW": 1024,
                    "MH": 10,
                    "inputDataType": "UINT2",
                    "weightDataType": "INT2",
                    "outputDataType": "UINT2",
                    "accDataType": "INT16",
                    "noActivation": 1,
                },
                {
                    "name": "n",
                    "op_type": "MVAU",
                    "inputs": ["d"],
                    "MW": 1024,
                    "MH": 10,
                    "inputDataType": "UINT2",
                    "weightDataType": "INT2",
                    "outputDataType": "UINT2",
                    "accDataType": "INT16",
                    "noActivation": 1,
                },
            ],
        }
    )
    rep = hb.estimate(g, board="Pynq-Z1", clk_ns=5.0)
    assert [(x.name, x.op_type, x.exit) for x in rep.layers] == [
        ("m", "MVAU", None),
        ("d", "DuplicateStreams", None),
        ("h", "MVAU", 0),
        ("n", "MVAU", None),
    ]
    assert rep.device == hb.get_device(board="Pynq-Z1").name and rep.clk_ns == 5.0
    share = rep.total["LUT"] / 53200  # the xc7z020's LUTs (DS190)
    assert rep.fits and hb.estimate(g, board="Pynq-Z1", limits={"LUT": share * 1.01}).fits
    assert not hb.estimate(g, board="Pynq-Z1", limits={"LUT": share * 0.99}).fits
    est = hb.Estimator(g, board="Pynq-Z1", limits={"LUT": share * 0.99})
    assert not est.report().fits

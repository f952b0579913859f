"""The host's share (hw_builders.host) and what limits a design (hw_builders.bounds), by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw_builders import fold, get_device, load_graph
from hw_builders.host import HOST_LINKS, NO_HOST, HostLink, host_link_for, host_traffic
from hw_builders.stages import StagedReport, staged_performance
from search_spaces import get_family

PYNQ = get_device(board="Pynq-Z1")


def _mvau(name, mw, mh, inputs=(), nvec=1, **kw):
    return {
        "name": name,
        "op_type": "MVAU",
        "inputs": list(inputs),
        "MW": mw,
        "MH": mh,
        "numInputVectors": nvec,
        "inputDataType": "UINT2",
        "weightDataType": "INT2",
        "outputDataType": "UINT2",
        "accDataType": "INT16",
        **kw,
    }


def one_exit_graph():
    """a (27 x 16, 64 vectors of UINT2) -> fork (16 ch x 64 of UINT2) -> exit MVAU (10 logits
    of INT16) | b -> c (10 logits) -> label select."""
    return load_graph(
        {
            "name": "one_exit",
            "layers": [
                _mvau("a", 27, 16, nvec=64),
                {
                    "name": "d0",
                    "op_type": "DuplicateStreams",
                    "inputs": ["a"],
                    "NumChannels": 16,
                    "numInputVectors": 64,
                    "inputDataType": "UINT2",
                },
                _mvau("e0", 1024, 10, ["d0"], exit=0, outputDataType="INT16", noActivation=1),
                _mvau("b", 1024, 16, ["d0"]),
                _mvau("c", 16, 10, ["b"], outputDataType="INT16", noActivation=1),
                {
                    "name": "ls",
                    "op_type": "LabelSelect",
                    "inputs": ["c"],
                    "Labels": 10,
                    "K": 1,
                    "inputDataType": "INT16",
                    "outputDataType": "UINT8",
                },
            ],
        }
    )


def test_host_traffic_by_hand() -> None:
    t = host_traffic(one_exit_graph(), [1.0, 0.4])
    # input 27 x 64 x 2 bits = 432 B; exit-0 logits 10 x 16 bits = 20 B; features 16 x 64 x
    # 2 bits = 256 B out of stage 0 (every sample) and into stage 1 (40%); label 1 B (40%)
    assert t.stream_bytes == {
        "input": 432,
        "exit0_logits": 20,
        "stage0_features_out": 256,
        "stage1_features_in": 256,
        "label": 1,
    }
    assert t.bytes_per_inference == pytest.approx(432 + 20 + 256 + 0.4 * 256 + 0.4 * 1)
    assert t.decisions_per_inference == pytest.approx(1.0)
    link = HostLink(bandwidth_bytes_s=1e6, decision_s=1e-3)
    # 1 MB/s over 810.8 B is 1233 inferences/s; one decision of 1 ms each caps at 1000/s
    assert t.cap_fps(link) == pytest.approx(1000.0)
    assert t.cap_fps(HostLink(1e6, 1e-6)) == pytest.approx(1e6 / t.bytes_per_inference)
    assert t.cap_fps(NO_HOST) == math.inf


def test_the_host_link_caps_the_throughput_and_is_named() -> None:
    g = one_exit_graph()
    cfg = fold(g, strategy="optimised", device=PYNQ)
    alone = staged_performance(g, [1.0, 0.4], device=PYNQ, folding=cfg, host=NO_HOST)
    assert alone.host_fps == math.inf and alone.limited_by["kind"] != "host_link"
    slow = HostLink(bandwidth_bytes_s=alone.accelerator_fps * 81.08, decision_s=0.0)
    rep = staged_performance(g, [1.0, 0.4], device=PYNQ, folding=cfg, host=slow)
    traffic = host_traffic(g, [1.0, 0.4])
    assert rep.accelerator_fps == pytest.approx(alone.throughput_fps)
    assert rep.throughput_fps == pytest.approx(slow.bandwidth_bytes_s / traffic.bytes_per_inference)
    assert rep.throughput_fps < alone.throughput_fps
    assert rep.limited_by["kind"] == "host_link"
    assert rep.host_bytes_per_inference == pytest.approx(traffic.bytes_per_inference)
    # the slower service costs the static power for longer: energy per inference grows
    assert rep.energy_per_inference_j > alone.energy_per_inference_j
    assert rep.energy_per_inference_j == pytest.approx(
        sum(
            r * d / t
            for r, d, t in zip(
                [1.0, 0.4], rep.stage_dynamic_power_w, rep.stage_throughput_fps, strict=True
            )
        )
        + rep.static_power_w / rep.throughput_fps
    )
    # the report keeps what limited it through to_dict / from_dict (hw_report.json)
    again = StagedReport.from_dict(rep.to_dict())
    assert again.limited_by == rep.limited_by and again.host_fps == pytest.approx(rep.host_fps)
    assert StagedReport.from_dict(alone.to_dict()).host_fps == math.inf


def test_every_board_has_a_documented_host_link() -> None:
    from hw_builders.devices import BOARDS

    assert len(BOARDS) >= 10
    for device in BOARDS.values():
        link = host_link_for(device.part)
        assert link.bandwidth_bytes_s > 0 and link.decision_s > 0 and link.source
    assert host_link_for("xc7z020clg400-1") is HOST_LINKS["xc7z"]
    assert host_link_for("xczu7ev-ffvc1156-2-e") is HOST_LINKS["xczu"]
    assert host_link_for("xcvc1902-vsva2197-2MP-e-S") is HOST_LINKS["xcv"]


def test_limited_by_names_the_input_stream_the_parallelism_or_the_resource() -> None:
    cnv = get_family("cnv")
    arch = cnv.default_arch((3, 32, 32), 10, width_mult=0.25, weight_bits=2, act_bits=2, exits=())
    g = cnv.lower(arch)
    big = get_device(board="U250")
    fast = staged_performance(g, device=big, folding=fold(g, strategy="optimised", device=big))
    # fully unfolded, the first sliding window reads one pixel per cycle: 32 x 32 (+2)
    assert fast.limited_by["kind"] == "input_stream"
    assert fast.limited_by["layer"] == "ConvolutionInputGenerator_rtl_0"
    assert fast.throughput_fps == pytest.approx(1e9 / fast.clk_ns / 1026)
    small = fold(g, strategy="optimised", device=PYNQ, budget={"LUT": 0.2})
    rep = staged_performance(g, device=PYNQ, folding=small, limits={"LUT": 0.85})
    assert rep.limited_by["kind"] == "layer" and rep.limited_by["resource"] == "LUT"
    assert rep.limited_by["layer"] == rep.stages[0].performance["max_cycles_node_name"]
    assert "limit 85%" in rep.limited_by["detail"]


@settings(max_examples=30, deadline=None)
@given(
    st.floats(0.0, 1.0),
    st.floats(1e3, 1e10),
    st.floats(0.0, 1e-3),
)
def test_more_reach_or_a_slower_host_never_serves_more(r1: float, bandwidth: float, dec: float):
    """Cost monotonicity: the host's cap falls as more samples go on or the link slows."""
    g = one_exit_graph()
    link = HostLink(bandwidth, dec)
    t = host_traffic(g, [1.0, r1])
    more = host_traffic(g, [1.0, min(1.0, r1 + 0.1)])
    assert more.bytes_per_inference >= t.bytes_per_inference
    assert more.cap_fps(link) <= t.cap_fps(link) * (1 + 1e-12)
    assert t.cap_fps(HostLink(bandwidth / 2, dec)) <= t.cap_fps(link) * (1 + 1e-12)


def test_measured_timings_calibrate_the_host_link() -> None:
    from hw_builders import HwError
    from hw_builders.host import calibrate

    # two stages measured: 3 MB in 10 ms and 1 MB in 10 ms; 2000 decisions in 3 ms
    link = calibrate(
        [
            {"bytes": 3e6, "transfer_s": 0.010, "decisions": 1500, "decision_s": 0.002},
            {"bytes": 1e6, "transfer_s": 0.010, "decisions": 500, "decision_s": 0.001},
        ],
        source="deploy run",
    )
    assert link.bandwidth_bytes_s == pytest.approx(200e6)
    assert link.decision_s == pytest.approx(1.5e-6) and link.source == "deploy run"
    assert HostLink.from_dict(link.to_dict()) == link
    assert HostLink.from_dict(NO_HOST.to_dict()).bandwidth_bytes_s == math.inf
    with pytest.raises(HwError, match="no transfer measured"):
        calibrate([{"decisions": 3, "decision_s": 1.0}])
    with pytest.raises(HwError, match="no decision measured"):
        calibrate([{"bytes": 3, "transfer_s": 1.0}])


def test_a_study_config_can_set_its_measured_host_link(tmp_path) -> None:
    from dse.config import load_config
    from dse.errors import DseError

    toml = tmp_path / "h.toml"
    toml.write_text("[hardware]\nhost_link = { bandwidth_mb_s = 250, decision_us = 2 }\n")
    link = load_config(toml).hardware.link()
    assert link.bandwidth_bytes_s == pytest.approx(250e6) and link.decision_s == pytest.approx(2e-6)
    assert load_config().hardware.link() is None  # the family's assumed link
    toml.write_text("[hardware]\nhost_link = { bandwidth_mb_s = 0, decision_us = 2 }\n")
    with pytest.raises(DseError, match="hardware.host_link: bandwidth_mb_s must be > 0"):
        load_config(toml)


def test_a_padded_sliding_window_at_one_pixel_per_cycle_is_the_input_stream() -> None:
    cnv = get_family("cnv")
    arch = cnv.default_arch((1, 16, 16), 10, width_mult=0.25, weight_bits=2, act_bits=2, exits=())
    g = cnv.lower(arch)  # 16x16 pads to 18x18 ("same"): the first window reads 324 pixels
    big = get_device(board="U250")
    rep = staged_performance(g, device=big, folding=fold(g, strategy="optimised", device=big))
    bound = rep.limited_by
    assert bound["kind"] == "input_stream", bound
    assert bound["op_type"] in ("ConvolutionInputGenerator", "FMPadding", "Thresholding")
    assert "(324 pixels)" in bound["detail"] or "(256 pixels)" in bound["detail"]

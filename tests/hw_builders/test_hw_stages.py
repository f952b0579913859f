"""Early exits in hardware: stage split, queueing throughput limits, energy and latency."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw_builders import estimate, get_device, load_graph
from hw_builders.errors import HwError
from hw_builders.folding import FoldingConfig, fold
from hw_builders.host import NO_HOST
from hw_builders.power import PowerModel
from hw_builders.report import HardwareReport
from hw_builders.stages import (
    StagedReport,
    StageMemo,
    check_reach,
    split_stages,
    stage_index,
    staged_performance,
    tandem_throughput,
)

PYNQ = get_device(board="Pynq-Z1")


def mvau(name, mw, mh, inputs=(), nvec=1, **kw):
    d = {
        "name": name,
        "op_type": "MVAU",
        "inputs": list(inputs),
        "MW": mw,
        "MH": mh,
        "PE": 1,
        "SIMD": 1,
        "numInputVectors": nvec,
        "inputDataType": "UINT2",
        "weightDataType": "INT2",
        "outputDataType": "UINT2",
        "accDataType": "INT16",
    }
    d.update(kw)
    return d


def dup(name, inputs, ch=16, nvec=64):
    return {
        "name": name,
        "op_type": "DuplicateStreams",
        "inputs": list(inputs),
        "NumChannels": ch,
        "numInputVectors": nvec,
        "inputDataType": "UINT2",
    }


def label(name, inputs, **kw):
    return {
        "name": name,
        "op_type": "LabelSelect",
        "inputs": list(inputs),
        "Labels": 10,
        "K": 1,
        "inputDataType": "INT16",
        **kw,
    }


def two_exit_graph():
    """Backbone a -> d0 -> b -> d1 -> c -> ls; exits 0 (from d0) and 2 (from d1)."""
    return load_graph(
        {
            "name": "ee",
            "layers": [
                mvau("a", 27, 16, nvec=64),
                dup("d0", ["a"]),
                mvau("e0", 1024, 10, ["d0"], exit=0),
                label("ls0", ["e0"], exit=0),
                mvau("b", 144, 16, ["d0"], nvec=16),
                dup("d1", ["b"], nvec=16),
                mvau("e2", 256, 10, ["d1"], exit=2),
                label("ls2", ["e2"], exit=2),
                mvau("c", 256, 10, ["d1"]),
                label("ls", ["c"]),
            ],
        }
    )


def test_split_stages_follows_the_backbone():
    g = two_exit_graph()
    stages = split_stages(g)
    assert [[lay.name for lay in s.layers] for s in stages] == [
        ["a", "d0", "e0", "ls0"],
        ["b", "d1", "e2", "ls2"],
        ["c", "ls"],
    ]
    assert stages[1].layer("b").inputs == []  # fed by the previous stage
    assert stage_index(g)["ls"] == 2
    single = load_graph({"name": "s", "layers": [mvau("a", 27, 16)]})
    assert split_stages(single) == [single]


def test_bad_exit_branch_is_refused():
    g = load_graph(
        {
            "name": "bad",
            "layers": [
                mvau("a", 8, 8),
                mvau("b", 8, 8, ["a"]),
                mvau("e", 8, 10, ["a", "b"], exit=0),
            ],
        }
    )
    with pytest.raises(HwError, match="exit 0"):
        split_stages(g)


def test_check_reach():
    assert check_reach([1, 0.5, 0.2], 3) == [1.0, 0.5, 0.2]
    with pytest.raises(HwError, match="2 entries"):
        check_reach([1, 0.5], 3)
    with pytest.raises(HwError, match="reach\\[0\\]"):
        check_reach([0.9, 0.5], 2)
    with pytest.raises(HwError, match="never increases"):
        check_reach([1, 0.2, 0.5], 3)


# -- the queueing model's limits ------------------------------------------------------------


def test_unbounded_buffers_give_min_t_over_reach():
    s = [1.0, 2.0, 4.0]
    r = [1.0, 0.5, 0.1]
    assert tandem_throughput(s, r, math.inf) == pytest.approx(min(1 / 1.0, 1 / 1.0, 1 / 0.4))
    # a large finite buffer converges to it (unbalanced stages converge fast)
    s2, r2 = [1.0, 3.0], [1.0, 0.25]
    assert tandem_throughput(s2, r2, 200) == pytest.approx(1.0, rel=0.01)


def test_reach_all_one_gives_the_slowest_stage_at_any_buffer():
    for b in (0, 1, 5, math.inf):
        assert tandem_throughput([1.0, 3.0, 2.0], [1.0, 1.0, 1.0], b) == pytest.approx(1 / 3.0)


def test_zero_buffer_is_the_blocking_pipeline():
    # two stages, service 1 and m, continue probability q, no buffer: between two hand-overs
    # the first stage serves G ~ Geometric(q) frames and waits until the second is free,
    # so throughput = E[G] / E[max(G, m)].
    q = 0.5
    for m in (2, 3):
        eg = 1 / q
        emax = sum(max(g, m) * q * (1 - q) ** (g - 1) for g in range(1, 200))
        exact = eg / emax
        got = tandem_throughput([1.0, float(m)], [1.0, q], 0)
        assert got == pytest.approx(exact, rel=0.015)
        assert got < tandem_throughput([1.0, float(m)], [1.0, q], math.inf)


def test_throughput_grows_smoothly_with_the_buffer():
    s, r = [1.0, 2.0, 3.0], [1.0, 0.5, 0.3]
    vals = [tandem_throughput(s, r, b) for b in (0, 1, 2, 4, 8, 32, math.inf)]
    assert all(x <= y + 1e-12 for x, y in zip(vals, vals[1:], strict=False))
    assert vals[0] < vals[-1]
    # no jump: every doubling of the buffer closes part of the gap, none closes it all
    assert vals[-2] < vals[-1] and vals[1] > vals[0]


# -- staged_performance ---------------------------------------------------------------------


def test_single_stage_equals_estimate():
    g = load_graph(
        {"name": "s", "layers": [mvau("a", 27, 16, nvec=64), mvau("b", 144, 16, ["a"], nvec=16)]}
    )
    cfg = fold(g, strategy="optimised", device=PYNQ, budget=0.2)
    rep = staged_performance(g, device=PYNQ, folding=cfg)
    est = estimate(g, board="Pynq-Z1", folding=cfg)
    assert rep.throughput_fps == pytest.approx(est.performance["estimated_throughput_fps"])
    assert rep.latency_s_per_exit == [pytest.approx(est.performance["estimated_latency_ns"] * 1e-9)]
    assert rep.mean_latency_s == pytest.approx(est.performance["estimated_latency_ns"] * 1e-9)
    assert rep.power_w == pytest.approx(est.power_w)
    assert rep.energy_per_inference_j == pytest.approx(est.energy_per_inference_j)
    assert rep.total == est.total and rep.fits == est.fits


def test_staged_report_is_consistent():
    g = two_exit_graph()
    reach = [1.0, 0.5, 0.2]
    cfg = fold(g, strategy="optimised", device=PYNQ, budget=0.3, reach=reach)
    # the accelerator alone (the host's share: test_the_host_link_caps_the_throughput)
    rep = staged_performance(g, reach, device=PYNQ, folding=cfg, buffer_depth=2, host=NO_HOST)
    again = staged_performance(g, reach, device=PYNQ, folding=cfg, buffer_depth=2, host=NO_HOST)
    assert rep.throughput_fps == again.throughput_fps  # deterministic
    bound = min(t / r for t, r in zip(rep.stage_throughput_fps, reach, strict=False))
    assert rep.unbuffered_bound_fps == pytest.approx(bound)
    assert rep.throughput_fps <= bound * (1 + 1e-9)
    inf = staged_performance(
        g, reach, device=PYNQ, folding=cfg, buffer_depth=math.inf, host=NO_HOST
    )
    assert inf.throughput_fps == pytest.approx(bound)
    assert rep.exit_fraction == pytest.approx([0.5, 0.3, 0.2])
    assert rep.exits == [0, 2, None]
    lat = rep.latency_s_per_exit
    assert lat[0] < lat[1] < lat[2]
    assert rep.mean_latency_s == pytest.approx(0.5 * lat[0] + 0.3 * lat[1] + 0.2 * lat[2])
    # consistency checks (numbers by hand: test_staged_throughput_by_hand)
    assert rep.energy_per_inference_j == pytest.approx(rep.power_w / rep.throughput_fps)
    dyn = rep.stage_dynamic_power_w
    e_formula = (
        sum(r * d / t for r, d, t in zip(reach, dyn, rep.stage_throughput_fps, strict=False))
        + rep.static_power_w / rep.throughput_fps
    )
    assert rep.energy_per_inference_j == pytest.approx(e_formula)
    assert rep.edp == pytest.approx(rep.energy_per_inference_j * rep.mean_latency_s)
    whole = estimate(g, board="Pynq-Z1", folding=cfg)
    assert rep.total == whole.total
    d = rep.to_dict()
    assert d["throughput_fps"] == rep.throughput_fps and len(d["stages"]) == 3
    # a stored report (JSON, buffer depth inf as null) reads back as the same report
    for r in (rep, inf):
        assert StagedReport.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    # strict JSON (no Infinity): an unbounded buffer and no host cap are stored as null;
    # a finite host cap and the accelerator's own rate are stored as they are
    capped = staged_performance(g, reach, device=PYNQ, folding=cfg, buffer_depth=2)
    assert math.isfinite(capped.host_fps) and math.isinf(rep.host_fps)
    for r in (rep, inf, capped):
        back = StagedReport.from_dict(json.loads(json.dumps(r.to_dict(), allow_nan=False)))
        assert back == r
        assert (back.host_fps, back.accelerator_fps, back.buffer_depth) == (
            r.host_fps,
            r.accelerator_fps,
            r.buffer_depth,
        )
    assert inf.to_dict()["buffer_depth"] is None and rep.to_dict()["host_fps"] is None
    assert capped.to_dict()["host_fps"] == capped.host_fps
    assert capped.to_dict()["accelerator_fps"] == capped.accelerator_fps != capped.host_fps
    with pytest.raises(HwError, match="staged report: bad or missing field 'edp'"):
        StagedReport.from_dict({k: v for k, v in d.items() if k != "edp"})
    with pytest.raises(HwError, match="expected an object with a 'layers' list"):
        HardwareReport.from_dict({"total": {}})
    # exits that stop most inputs early cost less energy than running everything
    all_in = staged_performance(g, [1.0, 1.0, 1.0], device=PYNQ, folding=cfg)
    assert rep.energy_per_inference_j < all_in.energy_per_inference_j


def test_staged_throughput_by_hand():
    """The staged figures against numbers worked out by hand from FINN's cycle formulas
    (PE = SIMD = 1 everywhere; MVAU: MH * MW * numInputVectors; DuplicateStreams:
    NumChannels * numInputVectors; LabelSelect: Labels), 100 MHz on the Pynq-Z1:
    stage 0 (a, d0, e0, ls0) is bound by a at 16 * 27 * 64 = 27648 cycles, stage 1 by b at
    16 * 144 * 16 = 36864, stage 2 by c at 10 * 256 = 2560. With reach 1, 0.5, 0.2 and
    unbounded buffers the design sustains min(1e8/27648 / 1, 1e8/36864 / 0.5,
    1e8/2560 / 0.2) = 1e8 / 27648 = 3616.9 inferences/s: stage 0 bounds it."""
    rep = staged_performance(two_exit_graph(), [1.0, 0.5, 0.2], device=PYNQ, buffer_depth=math.inf)
    assert rep.stage_throughput_fps == pytest.approx([1e8 / 27648, 1e8 / 36864, 1e8 / 2560])
    assert rep.throughput_fps == pytest.approx(1e8 / 27648)
    assert rep.throughput_fps == pytest.approx(3616.898, rel=1e-6)
    # a sample leaving at exit 0 crossed stage 0 only; at the end it crossed all three
    assert rep.exit_fraction == pytest.approx([0.5, 0.3, 0.2])
    # each stage busy for its reach x the design's rate / its own rate: 1, 0.5 x 36864 /
    # 27648 = 2/3, 0.2 x 2560 / 27648
    assert rep.activity == pytest.approx([1.0, 0.5 * 36864 / 27648, 0.2 * 2560 / 27648])
    # the resources of all three stages together, against the xc7z020 of DS190 (53,200 LUTs,
    # 280 BRAM_18K)
    assert rep.utilisation["LUT"] == pytest.approx(rep.total["LUT"] / 53200)
    assert rep.utilisation["BRAM_18K"] == pytest.approx(rep.total["BRAM_18K"] / 280)
    # at a 5 ns clock every stage runs twice as fast
    fast = staged_performance(
        two_exit_graph(), [1.0, 0.5, 0.2], device=PYNQ, buffer_depth=math.inf, clk_ns=5.0
    )
    assert fast.throughput_fps == pytest.approx(2e8 / 27648)
    # latency by hand: exit 0 after a, d0, e0, ls0 = 27648 + 1024 + 10240 + 10 = 38922 cycles;
    # exit 2 and the final label after a, d0, b, d1 and e2 (or c), then a LabelSelect:
    # 27648 + 1024 + 36864 + 256 + 2560 + 10 = 68362 cycles, both 683.62 us at 10 ns
    assert rep.latency_s_per_exit == pytest.approx([389.22e-6, 683.62e-6, 683.62e-6])
    assert rep.mean_latency_s == pytest.approx(0.5 * 389.22e-6 + 0.5 * 683.62e-6)
    # with a static-only power model of 0.25 W, energy is 0.25 W over 3616.9 inferences/s:
    # 0.25 * 27648 / 1e8 = 69.12 uJ, and EDP that times the mean latency of 536.42 us
    static_only = replace(PYNQ, power=PowerModel(static_w=0.25, dynamic_w_per_mhz={}))
    flat = staged_performance(
        two_exit_graph(), [1.0, 0.5, 0.2], device=static_only, buffer_depth=math.inf
    )
    assert flat.power_w == pytest.approx(0.25)
    assert flat.energy_per_inference_j == pytest.approx(69.12e-6)
    assert flat.edp == pytest.approx(69.12e-6 * 536.42e-6)
    # a dynamic term of 1 uW/MHz per LUT only: each stage adds reach_k * 100 MHz * 1e-6 *
    # LUT_k / T_k (its energy per pass, for the share of samples that pass it)
    lut_only = replace(PYNQ, power=PowerModel(static_w=0.25, dynamic_w_per_mhz={"LUT": 1e-6}))
    dyn = staged_performance(
        two_exit_graph(), [1.0, 0.5, 0.2], device=lut_only, buffer_depth=math.inf
    )
    luts = [s.total["LUT"] for s in dyn.stages]
    cycles = [27648, 36864, 2560]
    expect = 69.12e-6 + sum(
        r * 100 * 1e-6 * lut * c / 1e8
        for r, lut, c in zip([1.0, 0.5, 0.2], luts, cycles, strict=True)
    )
    assert dyn.energy_per_inference_j == pytest.approx(expect)


def test_staged_report_records_what_it_was_costed_with():
    """The report names its clock, device, reach and buffer depth; the stages are costed at
    the clock given (a 5 ns clock doubles each stage's dynamic power: P_dyn ~ f_MHz); a
    utilisation limit below the design's LUT share makes it not fit."""
    g = two_exit_graph()
    reach = [1.0, 0.5, 0.2]
    lut_only = replace(PYNQ, power=PowerModel(static_w=0.25, dynamic_w_per_mhz={"LUT": 1e-6}))
    slow = staged_performance(g, reach, device=lut_only, buffer_depth=2)
    fast = staged_performance(g, reach, device=lut_only, buffer_depth=2, clk_ns=5.0)
    assert (slow.clk_ns, fast.clk_ns) == (10.0, 5.0)
    assert slow.device == PYNQ.name and slow.reach == reach and slow.buffer_depth == 2.0
    luts = [st.total["LUT"] for st in slow.stages]
    assert slow.stage_dynamic_power_w == pytest.approx([100 * 1e-6 * n for n in luts])
    assert fast.stage_dynamic_power_w == pytest.approx([200 * 1e-6 * n for n in luts])
    assert [st.clk_ns for st in fast.stages] == [5.0, 5.0, 5.0]
    share = slow.total["LUT"] / 53200
    assert slow.fits
    assert staged_performance(g, reach, device=PYNQ, limits={"LUT": share * 1.01}).fits
    assert not staged_performance(g, reach, device=PYNQ, limits={"LUT": share * 0.99}).fits
    # no buffer between stages is a legal design (depth 0)
    assert staged_performance(g, reach, device=PYNQ, buffer_depth=0).buffer_depth == 0.0


def test_staged_argument_errors():
    g = two_exit_graph()
    with pytest.raises(HwError, match="3 stage"):
        staged_performance(g, [1.0, 0.5], device=PYNQ)
    with pytest.raises(HwError, match="3 stage"):  # a staged design needs its reach
        staged_performance(g, device=PYNQ)
    for bad in (True, "2", -0.5):
        with pytest.raises(HwError, match="buffer_depth"):
            staged_performance(g, [1.0, 0.5, 0.1], device=PYNQ, buffer_depth=bad)
    with pytest.raises(HwError, match="buffer_depth"):
        staged_performance(g, [1.0, 0.5, 0.1], device=PYNQ, buffer_depth=-1)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    service=st.lists(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 5.0]), min_size=2, max_size=4),
    drops=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3),
    buffers=st.lists(st.integers(0, 12), min_size=2, max_size=2),
)
def test_queueing_properties(service, drops, buffers):
    reach = [1.0]
    for d in drops[: len(service) - 1]:
        reach.append(round(reach[-1] * (0.1 + 0.9 * d), 3))
    bound = tandem_throughput(service, reach, math.inf)
    assert bound == pytest.approx(min(1 / (s * r) for s, r in zip(service, reach, strict=False)))
    lo, hi = sorted(buffers)
    t_lo = tandem_throughput(service, reach, lo)
    t_hi = tandem_throughput(service, reach, hi)
    slowest = 1 / max(service)
    # never above the unbounded-buffer bound, never below the all-frames-everywhere line,
    # and more buffer never hurts
    assert slowest * (1 - 1e-9) <= t_lo <= t_hi * (1 + 1e-12) <= bound * (1 + 1e-9)


def test_stage_memo_gives_the_reports_it_would_compute():
    """A StageMemo reuses the stage reports of a folding (equal by content) at a clock, and
    gives every design exactly the report computed without it."""
    g = two_exit_graph()
    memo = StageMemo(maxsize=4)
    cases = []
    for budget in (0.1, 0.3):
        for reach in ([1.0, 0.5, 0.2], [1.0, 0.9, 0.1]):
            cfg = fold(g, strategy="optimised", device=PYNQ, budget=budget, reach=reach)
            for clk in (10.0, 5.0):
                cases.append((cfg, reach, clk))
    for cfg, reach, clk in cases + cases:  # the second round from the memo
        # a folding equal by content (a new object) is the same entry
        again = FoldingConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
        got = staged_performance(g, reach, device=PYNQ, folding=again, clk_ns=clk, memo=memo)
        want = staged_performance(g, reach, device=PYNQ, folding=cfg, clk_ns=clk)
        assert got == want
    assert len(memo._entries) == 4  # bounded: the oldest entries were dropped
    # another graph object with the same content is another entry, never the first one's
    other = two_exit_graph()
    other.layers[0].attrs["MH"] = 32
    cfg = fold(other, strategy="optimised", device=PYNQ, budget=0.3, reach=[1.0, 0.5, 0.2])
    got = staged_performance(other, [1.0, 0.5, 0.2], device=PYNQ, folding=cfg, memo=memo)
    assert got == staged_performance(other, [1.0, 0.5, 0.2], device=PYNQ, folding=cfg)


def test_a_report_stored_before_its_later_fields_reads_with_their_defaults():
    """A design stored by an older adapex has only the first fields of its report: the
    others read as what that adapex costed with (default buffer, no host cap, no limits)."""
    from hw_builders.stages import DEFAULT_BUFFER_DEPTH

    g = two_exit_graph()
    full = staged_performance(g, [1.0, 0.5, 0.2], device=PYNQ).to_dict()
    required = (
        "throughput_fps", "latency_s_per_exit", "mean_latency_s", "power_w",
        "energy_per_inference_j", "edp", "stages", "total", "utilisation", "fits",
    )  # fmt: skip
    old = StagedReport.from_dict(json.loads(json.dumps({k: full[k] for k in required})))
    assert old.buffer_depth == DEFAULT_BUFFER_DEPTH
    assert old.accelerator_fps == old.throughput_fps == full["throughput_fps"]
    assert old.host_fps == math.inf and old.host_bytes_per_inference == 0.0
    assert (old.reach, old.exit_fraction, old.exits, old.activity) == ([], [], [], [])
    assert (old.stage_throughput_fps, old.stage_dynamic_power_w) == ([], [])
    assert (old.static_power_w, old.unbuffered_bound_fps, old.clk_ns) == (0.0, 0.0, 0.0)
    assert (old.device, old.limited_by, old.host_link, old.limits) == ("", {}, {}, {})
    assert old.stages == StagedReport.from_dict(full).stages and old.fits == full["fits"]
    # a stored null buffer depth is an unbounded buffer
    assert StagedReport.from_dict({**full, "buffer_depth": None}).buffer_depth == math.inf
    for bad in ([], {"stages": {}}, {"throughput_fps": 1.0}):
        with pytest.raises(
            HwError, match=r"^staged report: expected an object with a 'stages' list$"
        ):
            StagedReport.from_dict(bad)  # type: ignore[arg-type]


def test_the_report_keeps_the_host_link_and_limits_it_was_costed_with(monkeypatch):
    """A report holds the host link, the traffic per inference, what limits it and the
    utilisation limits (the defaults with the ones given over them); a memo computes each
    (graph, device, folding, clock) once."""
    from hw_builders import stages as stages_mod
    from hw_builders.devices import DEFAULT_LIMITS
    from hw_builders.host import HostLink, host_traffic

    g = two_exit_graph()
    reach = [1.0, 0.5, 0.2]
    link = HostLink(bandwidth_bytes_s=2.0e5, decision_s=1e-6, source="test")
    rep = staged_performance(g, reach, device=PYNQ, host=link, limits={"LUT": 0.5})
    assert rep.host_link == link.to_dict()
    assert rep.limits == {**DEFAULT_LIMITS, "LUT": 0.5}
    bytes_per = host_traffic(g, reach).bytes_per_inference
    assert rep.host_bytes_per_inference == pytest.approx(bytes_per) and bytes_per > 0
    assert math.isfinite(rep.host_fps) and rep.host_fps < rep.accelerator_fps
    assert rep.throughput_fps <= rep.host_fps * (1 + 1e-9)
    assert (
        rep.limited_by
        and rep.limited_by
        == staged_performance(g, reach, device=PYNQ, host=link, limits={"LUT": 0.5}).limited_by
    )
    # the memo: one computation per (graph, device, folding, clock)
    calls = []
    real = stages_mod._costed_stages

    def counted(*args):  # noqa: ANN002, ANN202
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(stages_mod, "_costed_stages", counted)
    memo = StageMemo()
    cfg = fold(g, strategy="optimised", device=PYNQ, budget=0.3, reach=reach)
    for r in (reach, [1.0, 0.9, 0.1]):
        staged_performance(g, r, device=PYNQ, folding=cfg, memo=memo)
    assert calls == [10.0]  # the second reach read the memo
    staged_performance(g, reach, device=PYNQ, folding=cfg, clk_ns=5.0, memo=memo)
    staged_performance(two_exit_graph(), reach, device=PYNQ, folding=cfg, memo=memo)
    assert calls == [10.0, 5.0, 10.0]  # another clock, another graph object: computed

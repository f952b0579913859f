"""Simulator: conservation, hysteresis bounds, reconfiguration dead time, accuracy threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.runtime import (
    NO_HYSTERESIS,
    HysteresisPolicy,
    OperatingPoint,
    RuntimeManagerError,
    Trace,
    builtin_trace,
    simulate,
)

IDLE_W = 0.5


def point(design, acc, fps, dyn_j, thr=(), reconfig=0.0, latency=1e-3):
    power = IDLE_W + dyn_j * fps
    return OperatingPoint(
        design_id=design,
        thresholds=tuple(thr),
        exits=tuple(range(len(thr))),
        accuracy=acc,
        throughput_fps=fps,
        energy_per_inference_j=power / fps,
        power_w=power,
        idle_power_w=IDLE_W,
        latency_s=latency,
        reconfig_time_s=reconfig,
    )


# design 1: cheap and slow; design 2: fast and costly (both accurate); design 3: fast, inaccurate
SLOW = point(1, 0.95, 100.0, 1e-3, reconfig=0.4)
FAST = point(2, 0.95, 400.0, 4e-3, reconfig=0.4)
FAST_BAD = point(3, 0.80, 1000.0, 1e-4, reconfig=0.4)


def counts(values):
    return Trace("t", 1.0, counts=np.asarray(values, dtype=np.int64))


points_st = st.lists(
    st.builds(
        point,
        design=st.integers(1, 4),
        acc=st.sampled_from([0.8, 0.9, 0.95]),
        fps=st.sampled_from([20.0, 50.0, 120.0, 300.0]),
        dyn_j=st.floats(1e-4, 1e-2),
        reconfig=st.sampled_from([0.0, 0.3, 1.0, 2.5]),
    ),
    min_size=1,
    max_size=6,
)
policy_st = st.builds(
    HysteresisPolicy,
    hold_intervals=st.integers(1, 6),
    min_dwell_s=st.sampled_from([0.0, 3.0, 10.0]),
    energy_margin=st.sampled_from([0.0, 0.1, 0.5]),
    headroom=st.sampled_from([0.0, 0.2]),
    ewma_alpha=st.sampled_from([0.3, 1.0]),
)


@settings(max_examples=150, deadline=None)
@given(
    points_st,
    st.lists(st.one_of(st.just(0), st.integers(0, 400)), min_size=1, max_size=120),
    st.integers(0, 50),
    policy_st,
    st.sampled_from([0.0, 0.85, 0.93]),
)
def test_conservation_and_bounds(points, arrivals, buffer, policy, threshold):
    r = simulate(
        points, counts(arrivals), accuracy_threshold=threshold, policy=policy, buffer_size=buffer
    )
    m = r.metrics
    assert m["arrivals"] == sum(arrivals)
    assert m["arrivals"] == m["processed"] + m["dropped"] + m["queued_at_end"]
    # per interval too: what was queued plus what arrived is served, dropped or still queued
    q_prev = np.concatenate([[0], r.queue[:-1]])
    np.testing.assert_array_equal(q_prev + r.arrivals, r.served + r.dropped + r.queue)
    assert np.all(r.queue <= buffer)
    # never more served than the configuration's capacity (plus the carried fraction)
    thr = np.array([r.points[i].throughput_fps for i in r.point])
    assert np.all(r.served <= np.ceil(thr) + 1)
    # hysteresis bounds the number of reconfigurations
    n = len(arrivals)
    assert m["reconfigurations"] <= n // policy.hold_intervals
    if policy.min_dwell_s > 0:
        assert m["reconfigurations"] <= 1 + math.floor((n - 1) / policy.min_dwell_s)
    assert m["intervals_below_threshold"] == 0


def test_hysteresis_prevents_thrashing():
    # the load flips every 5 s between what SLOW and only FAST sustain
    trace = counts(([20] * 5 + [300] * 5) * 60)
    eager = simulate([SLOW, FAST], trace, policy=NO_HYSTERESIS, buffer_size=0)
    calm_policy = HysteresisPolicy(hold_intervals=5, min_dwell_s=60.0, ewma_alpha=1.0)
    calm = simulate([SLOW, FAST], trace, policy=calm_policy, buffer_size=0)
    assert eager.metrics["reconfigurations"] > 100
    assert calm.metrics["reconfigurations"] <= 1 + 600 // 60
    assert calm.metrics["reconfigurations"] < eager.metrics["reconfigurations"] / 10


def test_reconfiguration_dead_time_serves_nothing():
    # 10 s of light load on SLOW, then a heavy plateau that only FAST sustains
    trace = counts([50] * 10 + [300] * 20)
    slow = point(1, 0.95, 100.0, 1e-3, reconfig=2.5)
    fast = point(2, 0.95, 400.0, 4e-3, reconfig=2.5)
    policy = HysteresisPolicy(hold_intervals=1, min_dwell_s=0.0, headroom=0.0, ewma_alpha=1.0)
    r = simulate([slow, fast], trace, policy=policy, buffer_size=10_000, reconfig_power_w=2.0)
    assert r.metrics["reconfigurations"] == 1
    # the manager sees the jump at t=10 and reconfigures at t=11
    t = 11
    assert r.point[t - 1] == 0 and r.point[t] == 1
    assert r.served[t] == 0 and r.served[t + 1] == 0  # 2.5 s dead: two whole intervals ...
    assert r.served[t + 2] == 200  # ... and half of the third (400 fps x 0.5 s)
    assert r.metrics["reconfig_time_s"] == pytest.approx(2.5)
    assert r.metrics["energy_reconfig_j"] == pytest.approx(2.0 * 2.5)
    assert r.metrics["arrivals"] == r.metrics["processed"] + r.metrics["queued_at_end"]


def test_energy_of_a_static_design_is_exact():
    p = point(-1, 0.95, 100.0, 1e-3)
    r = simulate([p], counts([40] * 50), buffer_size=10)
    m = r.metrics
    assert m["processed"] == 2000 and m["dropped"] == 0 and m["reconfigurations"] == 0
    busy = 2000 / 100.0
    assert m["energy_j"] == pytest.approx(p.power_w * busy + IDLE_W * (50 - busy))
    assert m["energy_per_inference_j"] == pytest.approx(p.energy_at_rate(40.0))  # consistency
    # by hand: idle power for all 50 s, plus 1 mJ x 100/s dynamic for the 20 s it is busy,
    # over the 2000 inferences it served
    assert m["energy_per_inference_j"] == pytest.approx((50 * IDLE_W + 0.1 * 20) / 2000)
    assert m["latency_p50_s"] <= m["latency_p95_s"] <= m["latency_p99_s"]
    assert m["edp_js"] == pytest.approx(m["energy_per_inference_j"] * m["latency_mean_s"])


def test_accuracy_threshold_changes_are_obeyed_at_once():
    # the user raises the threshold at t=100; the cheap design is no longer acceptable
    trace = counts([200] * 300)
    threshold = np.where(np.arange(300) < 100, 0.75, 0.9)
    policy = HysteresisPolicy(hold_intervals=50, min_dwell_s=1000.0)
    r = simulate([SLOW, FAST, FAST_BAD], trace, accuracy_threshold=threshold, policy=policy)
    assert r.metrics["intervals_below_threshold"] == 0
    accs = np.array([r.points[i].accuracy for i in r.point])
    served = r.served > 0
    assert np.all(accs[served] >= threshold[served] - 1e-9)
    assert r.points[r.point[99]].design_id == 3  # cheapest while 0.75 is allowed
    assert r.points[r.point[100]].design_id == 2  # switched without waiting for the hold
    assert r.metrics["reconfigurations"] == 1


def test_never_below_threshold_on_a_day_trace():
    trace = builtin_trace("smart-iot", duration_s=4 * 3600, peak_fps=900.0, seed=2)
    r = simulate([SLOW, FAST, FAST_BAD], trace, accuracy_threshold=0.9, seed=2)
    assert r.metrics["intervals_below_threshold"] == 0
    assert {r.points[i].design_id for i in np.unique(r.point)} <= {1, 2}
    again = simulate([SLOW, FAST, FAST_BAD], trace, accuracy_threshold=0.9, seed=2)
    assert again.metrics == r.metrics  # same seed, same result
    tl = r.timeline
    assert len(tl["t_s"]) == 4 * 60 and len(tl["served_fps"]) == 4 * 60
    assert sum(tl["reconfigurations"]) == r.metrics["reconfigurations"]


def test_idle_periods_and_bursts():
    # nothing arrives for a while, then a burst only FAST sustains, then nothing again
    trace = counts([0] * 20 + [350] * 40 + [0] * 40)
    r = simulate([SLOW, FAST], trace, policy=HysteresisPolicy(hold_intervals=2, min_dwell_s=5))
    m = r.metrics
    assert m["arrivals"] == 350 * 40 == m["processed"] + m["dropped"] + m["queued_at_end"]
    assert r.points[r.point[0]].design_id == 1  # idle start: the cheap design
    assert 2 in {r.points[i].design_id for i in r.point[20:60]}
    assert m["queued_at_end"] == 0 and m["reconfigurations"] == 2  # up for the burst, back down
    assert m["energy_idle_j"] > 0
    eager = simulate([SLOW, FAST], trace, policy=NO_HYSTERESIS)  # sees exactly zero load
    assert eager.metrics["processed"] + eager.metrics["dropped"] == 350 * 40
    assert eager.points[eager.point[-1]].design_id == 1


def test_bad_options():
    with pytest.raises(RuntimeManagerError, match="hold_intervals"):
        HysteresisPolicy(hold_intervals=0)
    with pytest.raises(RuntimeManagerError, match="buffer_size"):
        simulate([SLOW], counts([1]), buffer_size=-1)
    line = r"^accuracy threshold must be in \[0, 1\]; e\.g\. 0\.9$"
    for bad in (1.5, -0.1, math.nan, [0.5, 1.01]):
        with pytest.raises(RuntimeManagerError, match=line):
            simulate([SLOW], counts([1, 1]), accuracy_threshold=bad)
    line = "^arrivals must be 2 counts >= 0, one per trace interval$"
    for arrivals in ([1], [1, -1], [1, 2, 3]):
        with pytest.raises(RuntimeManagerError, match=line):
            simulate([SLOW], counts([1, 1]), arrivals=np.asarray(arrivals))
    # explicit arrivals replace the trace's
    got = simulate([SLOW], counts([1, 1]), arrivals=np.asarray([30, 40])).metrics
    assert got["arrivals"] == 70


def test_timeline_by_hand() -> None:
    """A static 100 fps design, no buffer, 1 s intervals, 3 s timeline steps: 20/s for 3 s,
    150/s for 3 s, then 30/s for 2 s (a shorter last step). By hand: served 20, 100 and 30
    per second; 50/s dropped in the second step; the last step spans 2 s; the accuracy of
    what was served is the design's own."""
    p = point(7, 0.95, 100.0, 1e-3)
    trace = counts([20] * 3 + [150] * 3 + [30] * 2)
    tl = simulate([p], trace, buffer_size=0, timeline_step_s=3.0).timeline
    assert tl["step_s"] == 3.0
    assert tl["t_s"] == [0.0, 3.0, 6.0]
    assert tl["demand_fps"] == [20.0, 150.0, 30.0]
    assert tl["served_fps"] == [20.0, 100.0, 30.0]
    assert tl["dropped_fps"] == [0.0, 50.0, 0.0]
    assert tl["queue"] == [0, 0, 0]
    assert tl["design_id"] == [7, 7, 7] and tl["thresholds"] == [[], [], []]
    assert tl["accuracy"] == [0.95, 0.95, 0.95]
    assert tl["reconfigurations"] == [0, 0, 0]
    # a step with nothing served has no accuracy (NaN), not 0
    idle = simulate([p], counts([0] * 3 + [10] * 3), buffer_size=0, timeline_step_s=3.0)
    assert math.isnan(idle.timeline["accuracy"][0]) and idle.timeline["accuracy"][1] == 0.95


@pytest.mark.parametrize(
    ("cheap_dyn_j", "margin", "switches"),
    [
        (1.9e-3, 0.10, 0),  # 0.8 % cheaper at 50/s: within the margin, the manager stays
        (1.9e-3, 0.0, 1),  # no margin: it moves to the cheaper design
        (0.5e-3, 0.10, 1),  # 0.0105 against 0.012 J at 50/s: beyond the margin, it moves
    ],
)
def test_the_energy_margin_compares_energy_per_inference_at_the_wanted_rate(
    cheap_dyn_j: float, margin: float, switches: int
) -> None:
    """Hysteresis: once both designs sustain the load, the manager stays on the current one
    unless the desired one's energy per inference at the wanted rate (idle power / rate +
    dynamic energy) is lower by more than ``energy_margin``."""
    fast = point(1, 0.95, 400.0, 2.0e-3)
    cheap = point(2, 0.95, 200.0, cheap_dyn_j)
    trace = counts([300] * 10 + [50] * 30)  # only the fast design sustains the first phase
    policy = HysteresisPolicy(
        hold_intervals=1, min_dwell_s=0.0, energy_margin=margin, headroom=0.0, ewma_alpha=1.0
    )
    r = simulate([fast, cheap], trace, policy=policy, buffer_size=10_000)
    assert r.point[9] == 0  # the first phase on the fast design
    assert r.metrics["reconfigurations"] == switches
    at_50 = [p.energy_at_rate(50.0) for p in (fast, cheap)]
    assert (at_50[0] <= at_50[1] * (1 + margin)) == (switches == 0)


def test_every_metric_of_an_overloaded_two_exit_design_by_hand():
    """One design (100 fps, 0.6 W busy, 0.5 W idle; a quarter leave at exit 0 after 1 ms,
    the rest after 4 ms), 150 arrivals in each of the first two seconds, a 20-inference
    buffer: every summary metric worked out by hand."""
    import dataclasses

    p = dataclasses.replace(
        point(5, 0.9, 100.0, 1e-3), latency_s_per_exit=(0.001, 0.004), exit_fraction=(0.25, 0.75)
    )
    m = simulate([p], counts([150, 150, 0, 0]), buffer_size=20).metrics
    # 100 served a second; 20 wait in the buffer; the rest is dropped
    assert (m["arrivals"], m["processed"], m["dropped"], m["queued_at_end"]) == (300, 220, 80, 0)
    assert m["drop_rate"] == pytest.approx(80 / 300)
    assert m["mean_accuracy"] == pytest.approx(0.9)
    busy = 220 / 100.0
    assert m["energy_busy_j"] == pytest.approx(0.6 * busy)
    assert m["energy_idle_j"] == pytest.approx(IDLE_W * (4 - busy))
    assert m["energy_reconfig_j"] == 0.0 and m["reconfigurations"] == 0
    assert m["energy_j"] == pytest.approx(0.6 * busy + IDLE_W * (4 - busy))
    assert m["energy_per_inference_j"] == pytest.approx(m["energy_j"] / 220)
    service = 0.25 * 0.001 + 0.75 * 0.004
    assert m["latency_service_mean_s"] == pytest.approx(service)
    assert m["edp_service_js"] == pytest.approx(m["energy_per_inference_j"] * service)
    # waiting in the buffer comes on top: the mean queue over an interval over the
    # throughput (Little), 0.1 s in the first second (0 -> 20 queued), 0.2 s in the second
    # (20 -> 20), 0.1 s in the third (20 -> 0, 20 served)
    assert m["latency_mean_s"] == pytest.approx((100 * 0.1 + 100 * 0.2 + 20 * 0.1) / 220 + service)
    # sorted: 0.101 s (30 inferences), 0.104 s (90), 0.201 s (25), 0.204 s (75)
    assert m["latency_p50_s"] == pytest.approx(0.104)
    assert m["latency_p95_s"] == pytest.approx(0.204) == m["latency_p99_s"]
    assert m["edp_js"] == pytest.approx(m["energy_per_inference_j"] * m["latency_mean_s"])
    assert (m["duration_s"], m["dt_s"], m["buffer_size"], m["designs_used"]) == (4.0, 1.0, 20, 1)
    assert m["intervals_below_threshold"] == 0 and m["reconfig_time_s"] == 0.0
    assert m["policy"] == HysteresisPolicy().to_dict() and m["objective"] == "energy"
    # nothing arrives: nothing is processed, and per-inference figures are undefined
    none = simulate([p], counts([0, 0]), buffer_size=20).metrics
    assert (none["processed"], none["drop_rate"], none["designs_used"]) == (0, 0.0, 1)
    assert math.isnan(none["energy_per_inference_j"]) and math.isnan(none["mean_accuracy"])
    assert math.isnan(none["latency_mean_s"]) and math.isnan(none["edp_js"])


def test_headroom_and_the_measured_rate_decide_the_design():
    """The manager wants the EWMA of the arrival rate times (1 + headroom): at 95/s the
    slow design (100 fps) is enough without headroom and not with 10%; the rate is per
    second of trace, whatever the interval length."""

    def designs(policy, values, dt=1.0):
        trace = Trace("t", dt, counts=np.asarray(values, dtype=np.int64))
        r = simulate([SLOW, FAST], trace, buffer_size=1000, policy=policy)
        return {r.points[i].design_id for i in r.point.tolist()}

    steady = dict(hold_intervals=1, min_dwell_s=0.0, energy_margin=0.0, ewma_alpha=1.0)
    assert designs(HysteresisPolicy(headroom=0.0, **steady), [95] * 20) == {1}
    assert designs(HysteresisPolicy(headroom=0.1, **steady), [95] * 20) == {2}
    # 2-second intervals of 190 arrivals are the same 95/s
    assert designs(HysteresisPolicy(headroom=0.0, **steady), [190] * 10, dt=2.0) == {1}
    assert designs(HysteresisPolicy(headroom=0.1, **steady), [190] * 10, dt=2.0) == {2}


def test_selecting_by_accuracy_spends_spare_capacity_on_accuracy():
    """--select accuracy: the most accurate configuration that sustains the load runs, the
    fast inaccurate one only while the load needs it; by energy the cheap fast one always."""
    accurate = point(1, 0.97, 100.0, 4e-3, reconfig=0.5)
    fast = point(2, 0.91, 400.0, 1e-3, reconfig=0.5)
    trace = counts([50] * 60 + [300] * 60 + [50] * 60)
    policy = HysteresisPolicy(hold_intervals=2, min_dwell_s=5.0, headroom=0.0, ewma_alpha=1.0)
    by_acc = simulate(
        [accurate, fast], trace, accuracy_threshold=0.9, policy=policy, objective="accuracy"
    )
    designs = np.array([by_acc.points[i].design_id for i in by_acc.point])
    assert set(designs[5:60]) == {1} and set(designs[70:120]) == {2} and set(designs[130:]) == {1}
    assert by_acc.metrics["reconfigurations"] == 2
    assert by_acc.metrics["dropped"] == 0
    on_accurate = by_acc.served[designs == 1].sum()
    expected = (0.97 * on_accurate + 0.91 * (by_acc.metrics["processed"] - on_accurate)) / (
        by_acc.metrics["processed"]
    )
    assert by_acc.metrics["mean_accuracy"] == pytest.approx(expected)
    assert by_acc.metrics["mean_accuracy"] > 0.92  # above what the fast design alone gives
    assert [s["design_id"] for s in by_acc.time_shares()] == [1, 2]
    assert sum(s["share"] for s in by_acc.time_shares()) == pytest.approx(1.0)
    by_energy = simulate([accurate, fast], trace, accuracy_threshold=0.9, policy=policy)
    assert {by_energy.points[i].design_id for i in by_energy.point} == {2}
    assert by_energy.metrics["energy_per_inference_j"] < by_acc.metrics["energy_per_inference_j"]
    # a threshold above the fast design's accuracy leaves only the accurate one
    strict = simulate(
        [accurate, fast], trace, accuracy_threshold=0.95, policy=policy, objective="accuracy"
    )
    assert {strict.points[i].design_id for i in strict.point} == {1}


def test_latency_percentiles_sit_on_their_exits_by_hand():
    """Nothing waits (100 arrivals a second on a 1000 fps design), so the latency of an
    inference is its exit's: half leave after 1 ms, 45% after 2 ms, 4% after 3 ms, 1% after
    4 ms. The median is 1 ms, the 95th percentile 2 ms, the 99th 3 ms: each sits on the last
    inference of its share."""
    import dataclasses

    p = dataclasses.replace(
        point(1, 0.9, 1000.0, 1e-4, thr=(0.9, 0.9, 0.9)),
        latency_s_per_exit=(0.001, 0.002, 0.003, 0.004),
        exit_fraction=(0.5, 0.45, 0.04, 0.01),
    )
    m = simulate([p], counts([100] * 10), buffer_size=0).metrics
    assert m["processed"] == 1000 and m["dropped"] == 0
    assert (m["latency_p50_s"], m["latency_p95_s"], m["latency_p99_s"]) == (0.001, 0.002, 0.003)
    service = 0.5 * 0.001 + 0.45 * 0.002 + 0.04 * 0.003 + 0.01 * 0.004
    assert m["latency_mean_s"] == pytest.approx(service)


def test_the_result_names_what_ran_and_for_how_long():
    """time_shares and to_dict by hand: 6 intervals on design 1's 0.9 thresholds, 3 on
    design 2, 1 on design 1's 0.5 thresholds, most used first; to_dict carries the metrics,
    each configuration used once (by its index), the shares and the timeline."""
    from dse.runtime.simulator import SimulationResult

    pts = [
        point(1, 0.95, 100.0, 1e-3, thr=(0.9,)),
        point(2, 0.9, 400.0, 1e-3, thr=(0.8,)),
        point(1, 0.9, 120.0, 1e-3, thr=(0.5,)),
        point(3, 0.9, 50.0, 1e-3),  # never used
    ]
    used = np.array([1, 1, 1, 0, 0, 0, 0, 2, 0, 0])
    zeros = np.zeros(10, dtype=np.int64)
    res = SimulationResult({"processed": 7}, {"t_s": [0.0]}, zeros, zeros, zeros, used, zeros, pts)
    assert res.time_shares() == [
        {"design_id": 1, "thresholds": [0.9], "label": pts[0].label, "share": 0.6},
        {"design_id": 2, "thresholds": [0.8], "label": pts[1].label, "share": 0.3},
        {"design_id": 1, "thresholds": [0.5], "label": pts[2].label, "share": 0.1},
    ]
    d = res.to_dict()
    assert d["processed"] == 7 and d["timeline"] == {"t_s": [0.0]}
    assert [c["point"] for c in d["configurations_used"]] == [0, 1, 2]
    assert d["configurations_used"][1] == {"point": 1, **pts[1].to_dict()}
    assert d["time_share"] == res.time_shares()
    one = np.array([3])
    only = SimulationResult({}, {}, one, one, one, np.array([2]), one, pts)
    assert [s["design_id"] for s in only.time_shares()] == [1]  # one interval is a share too
    empty = np.zeros(0, dtype=np.int64)
    assert SimulationResult({}, {}, empty, empty, empty, empty, empty, pts).time_shares() == []


def test_the_backlog_counts_towards_the_wanted_rate_by_hand():
    """want = (EWMA of the rate + backlog / drain_s) x (1 + headroom). A burst of 180 on the
    100 fps design leaves 80 queued and the EWMA (alpha 0.1) at 63: draining in 4 s wants
    83/s (the slow design stays), in 1 s 143/s (the fast one is loaded at once)."""
    slow = point(1, 0.95, 100.0, 1e-3)
    fast = point(2, 0.95, 400.0, 4e-3)
    trace = counts([50, 50, 180, 50, 50, 50])

    def design_at_3(drain_s: float) -> int:
        policy = HysteresisPolicy(
            hold_intervals=1,
            min_dwell_s=0.0,
            energy_margin=0.0,
            headroom=0.0,
            ewma_alpha=0.1,
            drain_s=drain_s,
        )
        r = simulate([slow, fast], trace, policy=policy, buffer_size=1000)
        assert r.queue[2] == 80
        return r.points[r.point[3]].design_id

    assert design_at_3(4.0) == 1
    assert design_at_3(1.0) == 2


def test_the_margin_keeps_a_configuration_close_enough_by_own_figures():
    """Selecting by accuracy, the energy margin is a margin on the error: after the peak
    the fast design (error 0.051) stays while the accurate one (0.050) is within 10% of it,
    and is replaced when no margin is allowed. In overload the current design stays while
    its throughput is within the margin of the fastest one."""
    accurate = point(1, 0.95, 100.0, 1e-3)
    fast = point(2, 0.949, 400.0, 1e-3)
    trace = counts([300] * 20 + [50] * 40)

    def run(margin: float, pts, tr, objective="accuracy"):
        policy = HysteresisPolicy(
            hold_intervals=1, min_dwell_s=0.0, energy_margin=margin, headroom=0.0, ewma_alpha=1.0
        )
        return simulate(pts, tr, policy=policy, buffer_size=0, objective=objective)

    kept = run(0.1, [accurate, fast], trace)
    assert {kept.points[i].design_id for i in kept.point} == {2}
    assert kept.metrics["reconfigurations"] == 0
    back = run(0.0, [accurate, fast], trace)
    assert back.points[back.point[-1]].design_id == 1
    assert back.metrics["reconfigurations"] == 1
    # overload (1000/s against 400 and 420 fps): 400 is within 10% of 420, 380 is not
    load = counts([300] * 5 + [1000] * 10)
    near = run(0.1, [point(1, 0.9, 400.0, 1e-3), point(2, 0.9, 420.0, 2e-3)], load, "energy")
    assert near.metrics["reconfigurations"] == 0
    far = run(0.1, [point(1, 0.9, 380.0, 1e-3), point(2, 0.9, 420.0, 2e-3)], load, "energy")
    assert far.metrics["reconfigurations"] == 1


@pytest.mark.parametrize(
    ("field", "value", "line"),
    [
        ("hold_intervals", 0, "hold_intervals must be >= 1; use 1 for no hold"),
        ("min_dwell_s", -1.0, "min_dwell_s=-1.0 must be a number >= 0"),
        ("energy_margin", math.inf, "energy_margin=inf must be a number >= 0"),
        ("headroom", math.nan, "headroom=nan must be a number >= 0"),
        ("ewma_alpha", 0.0, "ewma_alpha=0.0 must be in (0, 1]"),
        ("ewma_alpha", 1.5, "ewma_alpha=1.5 must be in (0, 1]"),
        ("drain_s", 0.0, "drain_s=0.0 must be > 0"),
        ("drain_s", math.inf, "drain_s=inf must be > 0"),
    ],
)
def test_a_bad_policy_knob_is_one_line(field: str, value: float, line: str) -> None:
    with pytest.raises(RuntimeManagerError) as info:
        HysteresisPolicy(**{field: value})
    assert str(info.value) == line


def test_the_policy_edges_are_legal():
    HysteresisPolicy(ewma_alpha=1.0, drain_s=0.5, min_dwell_s=0.0, energy_margin=0.0)


def test_the_timeline_by_hand_with_half_second_intervals():
    """dt 0.5 s, a 2 s timeline step: buckets of 4 intervals starting at 0, 2 and 4 s (the
    last holds 2 intervals, 1 s); served_fps is served / bucket length, accuracy the mean
    of what was served (nan where nothing was), the threshold the bucket's first."""
    p = point(1, 0.9, 1000.0, 1e-3)
    trace = Trace("t", 0.5, counts=np.array([10, 10, 10, 10, 0, 0, 0, 0, 5, 7]))
    r = simulate([p], trace, buffer_size=10, timeline_step_s=2.0, accuracy_threshold=0.5)
    tl = r.timeline
    assert tl["step_s"] == 2.0
    assert tl["t_s"] == [0.0, 2.0, 4.0]
    assert tl["served_fps"] == [20.0, 0.0, 12.0]
    assert tl["accuracy"][0] == 0.9 and math.isnan(tl["accuracy"][1]) and tl["accuracy"][2] == 0.9
    assert tl["accuracy_threshold"] == [0.5, 0.5, 0.5]
    fine = simulate([p], trace, buffer_size=10, timeline_step_s=0.1).timeline
    assert fine["step_s"] == 0.5 and len(fine["t_s"]) == 10  # never finer than an interval


def test_serving_exactly_at_the_threshold_is_not_below_it():
    """A configuration whose accuracy equals the threshold meets it: no interval counts as
    served below the threshold; nor does one served where no configuration meets it."""
    exact = point(1, 0.9, 1000.0, 1e-3)
    r = simulate([exact], counts([10] * 5), accuracy_threshold=0.9)
    assert r.metrics["intervals_below_threshold"] == 0
    low = point(1, 0.9, 1000.0, 1e-3)
    both = simulate([low, point(2, 0.95, 10.0, 1e-3)], counts([100] * 5), accuracy_threshold=0.92)
    assert both.metrics["intervals_below_threshold"] == 0  # design 2 serves, short of capacity
    alone = simulate([low], counts([100, 0, 100, 100, 100]), accuracy_threshold=0.95)
    assert alone.metrics["intervals_below_threshold"] == 0  # nothing meets it: no compliant row

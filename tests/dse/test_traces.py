"""Workload traces: built-in smart-IoT traces and user CSV files (one-line errors)."""

from __future__ import annotations

import numpy as np
import pytest

from dse.runtime import BUILTIN_TRACES, TraceError, builtin_trace, get_trace, load_trace_csv


def test_builtin_traces_are_seeded_and_scaled():
    for name in BUILTIN_TRACES:
        a = builtin_trace(name, duration_s=6 * 3600, dt_s=1.0, seed=3, peak_fps=500.0)
        b = builtin_trace(name, duration_s=6 * 3600, dt_s=1.0, seed=3, peak_fps=500.0)
        assert a.n_intervals == 6 * 3600
        np.testing.assert_array_equal(a.rates, b.rates)
        assert a.peak_fps == pytest.approx(500.0)
        assert np.all(a.rates >= 0)
        np.testing.assert_array_equal(a.arrivals(7), b.arrivals(7))
    day = builtin_trace("smart-iot", seed=0, peak_fps=1000.0)
    assert day.n_intervals == 86_400
    other = builtin_trace("smart-iot", seed=1, peak_fps=1000.0)
    assert not np.array_equal(day.rates, other.rates)
    hourly = day.rates.reshape(24, 3600).mean(axis=1)
    assert hourly[2] < 0.5 * hourly[12]  # a daily pattern: quiet night, busy day
    arr = day.arrivals(0)
    assert arr.sum() == pytest.approx(day.rates.sum(), rel=0.01)  # Poisson around the rate


def test_unknown_builtin_name():
    with pytest.raises(TraceError, match="unknown; use one of smart-iot"):
        get_trace("no-such-trace")


def test_timestamp_csv(tmp_path):
    f = tmp_path / "ts.csv"
    f.write_text("timestamp\n0.1\n0.5\n# comment\n\n2.2\n2.9\n1.0\n")
    tr = load_trace_csv(f)
    assert tr.counts.tolist() == [2, 1, 2]
    assert tr.duration_s == 3.0


def test_start_rate_csv_integrates_exactly(tmp_path):
    f = tmp_path / "sr.csv"
    f.write_text("start,rate\n0,10\n1.5,20\n3,0\n")
    tr = get_trace(f)
    # 0-1.5 s at 10/s, 1.5-3 at 20/s, 3-4.5 at 0 -> per-second averages
    np.testing.assert_allclose(tr.rates, [10.0, 15.0, 20.0, 0.0, 0.0])
    g = tmp_path / "iv.csv"
    g.write_text("interval_s,rate\n2,5\n1,30\n")
    np.testing.assert_allclose(load_trace_csv(g).rates, [5.0, 5.0, 30.0])
    np.testing.assert_allclose(load_trace_csv(g, dt_s=3.0).rates, [40.0 / 3.0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "start,rate\n0,1\n1,2\n2,3\n3,4\n4,5\n5,abc\n",
            "trace bad.csv line 7: rate 'abc' is not a number; write inferences per second, e.g. 120",
        ),
        ("timestamp\n1\n-2\n", "trace bad.csv line 3: timestamp '-2' is negative"),
        ("timestamp\n1\nnope\n", "trace bad.csv line 3: timestamp 'nope' is not a number"),
        ("start,rate\n0,1\n5,2\n4,3\n", "trace bad.csv line 4: start '4' must be >= 0 and greater"),
        ("start,rate\n0,1\n1,-3\n", "trace bad.csv line 3: rate '-3' is negative"),
        ("interval_s,rate\n0,1\n", "trace bad.csv line 2: interval_s '0' must be > 0"),
        ("start,rate\n0,1,2\n", "trace bad.csv line 2: 3 fields; write start,rate"),
        ("time,value\n0,1\n", "trace bad.csv line 1: header 'time,value' is not a trace header"),
        ("start,rate\n", "trace bad.csv: no data rows after the header"),
        ("# only a comment\n", "trace bad.csv: empty"),
        ("start,rate\n0,inf\n", "trace bad.csv line 2: rate 'inf' is not finite"),
    ],
)
def test_bad_rows_give_one_line_errors(tmp_path, text, message):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(TraceError) as info:
        load_trace_csv(f)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(message)


def test_missing_file(tmp_path):
    with pytest.raises(TraceError, match="file not found"):
        get_trace(tmp_path / "nope.csv")

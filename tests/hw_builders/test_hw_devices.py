"""Device catalogue, fits/utilisation and power-model calibration."""

from __future__ import annotations

import numpy as np
import pytest

import hw_builders as hb
from hw_builders.power import RESOURCE_KEYS, PowerModel


def test_catalogue_facts() -> None:
    assert {"Pynq-Z1", "Pynq-Z2", "Ultra96", "AUP-ZU3", "ZCU104", "KV260_SOM", "U250"} <= set(
        hb.BOARDS
    )
    z1 = hb.get_device(board="pynq-z1")
    assert z1.part == "xc7z020clg400-1"
    assert dict(z1.resources) == {
        "LUT": 53200,
        "FF": 106400,
        "BRAM_18K": 280,
        "URAM": 0,
        "DSP": 220,
    }
    assert z1.default_clk_ns == 10.0 and not z1.versal
    assert hb.get_device(board="ZCU104").resources["URAM"] == 96
    assert hb.get_device(board="kv260").resources["DSP"] == 1248
    assert hb.get_device(board="U250").resources["BRAM_18K"] == 5376
    assert hb.get_device(board="U250").default_clk_ns in (3.33, 5.0)
    assert hb.get_device(board="Ultra96").resources["LUT"] == 70560
    for dev in hb.BOARDS.values():
        assert 0 < dev.reconfig_time_s < 1.0
    p = hb.get_device(part="xczu7ev-ffvc1156-2-e")
    assert p.board is None and p.resources["LUT"] == 230400


def test_unknown_device_lists_known() -> None:
    with pytest.raises(hb.HwError, match="board 'Zedboard' is unknown; use one of: .*Pynq-Z1"):
        hb.get_device(board="Zedboard")
    with pytest.raises(hb.HwError, match="part 'xc9foo' is unknown"):
        hb.get_device(part="xc9foo")
    with pytest.raises(hb.HwError):
        hb.get_device()


def test_fits_and_utilisation() -> None:
    dev = hb.get_device(board="Pynq-Z1")
    total = {"LUT": 47880, "BRAM_18K": 140, "URAM": 0, "DSP": 0}
    u = hb.utilisation(total, dev)
    assert u["LUT"] == pytest.approx(0.9) and u["BRAM_18K"] == pytest.approx(0.5)
    assert hb.fits(total, dev)
    assert hb.fits(total, dev, {"LUT": 0.9})
    assert not hb.fits(total, dev, {"LUT": 0.85})
    assert not hb.fits({"LUT": 1, "URAM": 1}, dev)  # no URAM on the xc7z020


def test_power_calibration_recovers_coefficients() -> None:
    truth = PowerModel(
        static_w=0.4,
        dynamic_w_per_mhz={
            "LUT": 2e-7,
            "FF": 5e-8,
            "BRAM_18K": 1.2e-5,
            "URAM": 3e-5,
            "DSP": 1.8e-5,
        },
    )
    rng = np.random.default_rng(0)
    pts = []
    for _ in range(40):
        res = {
            "LUT": int(rng.integers(1000, 200000)),
            "FF": int(rng.integers(1000, 300000)),
            "BRAM_18K": int(rng.integers(0, 600)),
            "URAM": int(rng.integers(0, 90)),
            "DSP": int(rng.integers(0, 1500)),
        }
        clk = float(rng.choice([3.33, 5.0, 10.0]))
        pts.append((res, clk, truth.power_w(res, clk)))
    fit = PowerModel().calibrate(pts)
    assert fit.static_w == pytest.approx(0.4, rel=1e-6)
    for k in RESOURCE_KEYS:
        assert fit.dynamic_w_per_mhz[k] == pytest.approx(truth.dynamic_w_per_mhz[k], rel=1e-6)
    with pytest.raises(hb.HwError, match="at least 2"):
        PowerModel().calibrate(pts[:1])


def test_power_model_scales_with_clock_and_activity() -> None:
    pm = PowerModel(static_w=1.0, dynamic_w_per_mhz={"LUT": 1e-6}, activity=0.5)
    # FF taken as LUT when absent, but its coefficient is 0 here
    assert pm.power_w({"LUT": 1000}, 10.0) == pytest.approx(1.0 + 0.5 * 100 * 1e-6 * 1000)
    assert pm.dynamic_w({"LUT": 1000}, 5.0) == pytest.approx(2 * pm.dynamic_w({"LUT": 1000}, 10.0))


def test_clock_limits_follow_finn_builds_per_family_and_speed_grade():
    """The shortest clock FINN's own builds close at, per part family and speed grade, each
    with its source; a faster clock gets one line, an allowed one none."""
    from hw_builders.devices import BOARDS, clock_limit, clock_note, get_device

    want = {"Pynq-Z1": 10.0, "Ultra96": 5.0, "ZCU104": 4.0, "KV260_SOM": 4.0, "U250": 3.0}
    for board, clk in want.items():
        limit = clock_limit(BOARDS[board])
        assert limit is not None and limit.clk_ns == clk, board
        assert "@" in limit.source or "assumption" in limit.source  # a file at a commit
        assert clock_note(BOARDS[board], clk) is None
        assert clock_note(BOARDS[board], clk * 2) is None
        note = clock_note(BOARDS[board], clk / 2)
        assert note is not None and "\n" not in note and f"{clk:g} ns" in note
    assert clock_limit(BOARDS["VCK190"]).clk_ns == 3.33
    # the grade of a bare part decides: -1 and -2 UltraScale+ differ
    one = get_device(part="xczu7ev-ffvc1156-1-e")
    two = get_device(part="xczu7ev-ffvc1156-2-e")
    assert clock_limit(one).clk_ns == 5.0 and clock_limit(two).clk_ns == 4.0
    assert clock_note(BOARDS["Pynq-Z1"], -1.0) is None  # a bad clock is refused elsewhere

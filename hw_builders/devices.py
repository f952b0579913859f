"""Catalogue of FPGA boards and parts: resources, default clock, reconfiguration time, power.

Resources: FINN_COST_MODEL.md "Device facts" (vendor data sheets). Added here from the
vendor product tables (DS190 Zynq-7000, DS891 Zynq UltraScale+, DS987 K26 SOM, DS962
Alveo U250): FF counts, URAM = 0 for parts without UltraRAM, and the K26/U250 FFs.

Default clock: 10 ns on the Zynq boards (FINN/finn-examples builds), 3.33 ns on Alveo U250
(finn-examples' Alveo builds).

Reconfiguration time = full bitstream size / configuration bandwidth. Assumptions (no
measurement here): bitstream sizes from UG470 (xc7z020: 32,364,512 bits = 4.05 MB) and
UG570 (xczu3eg ~ 5.4 MB, xczu7ev ~ 19.3 MB, xck26 (zu5ev-class) ~ 9.6 MB, xcu250 ~ 96 MB);
bandwidth: Zynq-7000 PCAP ~ 128 MB/s achieved (400 MB/s peak), Zynq UltraScale+ PCAP
~ 256 MB/s achieved, Alveo via ICAP/PCIe ~ 400 MB/s. Replace with measured values for a
given board when known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hw_builders.errors import HwError
from hw_builders.power import PowerModel

__all__ = ["Device", "BOARDS", "PARTS", "get_device", "fits", "utilisation", "DEFAULT_LIMITS"]

RES_KEYS = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")
DEFAULT_LIMITS: dict[str, float] = {"LUT": 1.0, "BRAM_18K": 1.0, "URAM": 1.0, "DSP": 1.0}


@dataclass(frozen=True)
class Device:
    """An FPGA target (board or bare part)."""

    name: str
    part: str
    board: str | None
    resources: Mapping[str, int]
    default_clk_ns: float
    reconfig_time_s: float
    versal: bool = False
    power: PowerModel = field(default_factory=PowerModel)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "part": self.part,
            "board": self.board,
            "resources": dict(self.resources),
            "default_clk_ns": self.default_clk_ns,
            "reconfig_time_s": self.reconfig_time_s,
            "versal": self.versal,
            "power": self.power.to_dict(),
        }


def _dev(name, part, board, res, clk, bitstream_mb, bw_mb_s, static_w):
    return Device(
        name=name,
        part=part,
        board=board,
        resources=dict(zip(RES_KEYS, res, strict=False)),
        default_clk_ns=clk,
        reconfig_time_s=bitstream_mb / bw_mb_s,
        versal=False,
        power=PowerModel(static_w=static_w),
    )


#             LUT        FF        BRAM18  URAM   DSP
_Z020 = (53_200, 106_400, 280, 0, 220)
_ZU3EG = (70_560, 141_120, 432, 0, 360)
_ZU7EV = (230_400, 460_800, 624, 96, 1_728)
_K26 = (117_120, 234_240, 288, 64, 1_248)
_U250 = (1_728_000, 3_456_000, 5_376, 1_280, 12_288)

# static power assumptions (W, XPE typical junction 25-50 C, PL only)
BOARDS: dict[str, Device] = {
    "Pynq-Z1": _dev("Pynq-Z1", "xc7z020clg400-1", "Pynq-Z1", _Z020, 10.0, 4.05, 128.0, 0.12),
    "Pynq-Z2": _dev("Pynq-Z2", "xc7z020clg400-1", "Pynq-Z2", _Z020, 10.0, 4.05, 128.0, 0.12),
    "Ultra96": _dev("Ultra96", "xczu3eg-sbva484-1-e", "Ultra96", _ZU3EG, 10.0, 5.4, 256.0, 0.3),
    "AUP-ZU3": _dev("AUP-ZU3", "xczu3eg-sfvc784-2-e", "AUP-ZU3", _ZU3EG, 10.0, 5.4, 256.0, 0.3),
    "ZCU104": _dev("ZCU104", "xczu7ev-ffvc1156-2-e", "ZCU104", _ZU7EV, 10.0, 19.3, 256.0, 0.6),
    "KV260": _dev("KV260", "xck26-sfvc784-2LV-c", "KV260", _K26, 10.0, 9.6, 256.0, 0.45),
    "U250": _dev("U250", "xcu250-figd2104-2L-e", "U250", _U250, 3.33, 96.0, 400.0, 12.0),
}

# bare parts (part -> a Device with board None), keyed by part prefix
PARTS: dict[str, Device] = {}
for _b in BOARDS.values():
    PARTS.setdefault(
        _b.part.lower(),
        Device(
            _b.part,
            _b.part,
            None,
            _b.resources,
            _b.default_clk_ns,
            _b.reconfig_time_s,
            _b.versal,
            _b.power,
        ),
    )


def get_device(*, board: str | None = None, part: str | None = None) -> Device:
    """Look a device up by board name or part number (case-insensitive).

    Args:
        board: e.g. "Pynq-Z1", "zcu104".
        part: e.g. "xc7z020clg400-1"; a part prefix such as "xczu7ev" matches too.

    Raises:
        HwError: neither given, or unknown (the message lists the known ones).
    """
    if board:
        for name, dev in BOARDS.items():
            if name.lower() == board.strip().lower():
                return dev
        raise HwError(f"board {board!r} is unknown; use one of: {', '.join(BOARDS)}")
    if part:
        p = part.strip().lower()
        if p in PARTS:
            return PARTS[p]
        for key, dev in PARTS.items():
            if key.startswith(p) or p.startswith(key.split("-")[0]):
                return Device(
                    part,
                    part,
                    None,
                    dev.resources,
                    dev.default_clk_ns,
                    dev.reconfig_time_s,
                    dev.versal,
                    dev.power,
                )
        raise HwError(
            f"part {part!r} is unknown; use one of: {', '.join(d.part for d in PARTS.values())}"
        )
    raise HwError("device: give --board (one of: " + ", ".join(BOARDS) + ") or --part")


def utilisation(total: Mapping[str, float], device: Device) -> dict[str, float]:
    """Share of each device resource used (0 for resources the device lacks but the design
    does not use; inf when used but absent)."""
    out = {}
    for k in ("LUT", "FF", "BRAM_18K", "URAM", "DSP"):
        used = float(total.get(k, 0) or 0)
        if k == "FF" and "FF" not in total:
            continue
        avail = device.resources.get(k, 0)
        out[k] = used / avail if avail else (0.0 if used == 0 else float("inf"))
    return out


def fits(
    total: Mapping[str, float], device: Device, limits: Mapping[str, float] | None = None
) -> bool:
    """Whether ``total`` fits ``device`` with each resource's share <= its limit.

    Args:
        total: used resources (LUT, BRAM_18K, URAM, DSP, optionally FF).
        device: the target.
        limits: maximum share per resource, e.g. {"LUT": 0.9}; default 1.0 each.
    """
    lim = dict(DEFAULT_LIMITS)
    if limits:
        lim.update(limits)
    u = utilisation(total, device)
    return all(u.get(k, 0.0) <= v for k, v in lim.items())

"""Catalogue of FPGA boards and parts: resources, default clock, reconfiguration time, power.

The boards are every board FINN's builder knows by name (``finn/util/basic.py``:
``pynq_part_map``, ``alveo_part_map`` and the two Versal entries of ``part_map``), with the
same board names and part strings, plus AUP-ZU3 (a PYNQ board FINN builds for by part).
A part FINN accepts but this catalogue lacks is usable by giving its resources:
``get_device(part=..., resources={...})`` (``adapex hw ... --part P --resources
LUT=..,BRAM_18K=..,URAM=..,DSP=..``; ``[hardware] resources`` in a study config).

Sources, per figure (the table rows below cite them by tag):

- Resources: vendor product tables. [DS190] Zynq-7000 SoC overview (xc7z020);
  [DS891] Zynq UltraScale+ MPSoC overview (xczu3eg, xczu7ev, xczu9eg); [DS889] Zynq
  UltraScale+ RFSoC overview (xczu28dr, xczu48dr); [DS987] Kria K26 SOM data sheet
  (xck26); [DS962] Alveo U200/U250 data sheet; [DS963] Alveo U280; [DS965] Alveo U50;
  [DS1019] Alveo U55C; [DS950] Versal AI Core series overview (xcvc1902); [DS958] Versal
  AI Edge series overview (xcve2802). BRAM_18K = 2 x the 36 Kb block RAMs listed there.
- Versal: ``finn.util.basic.is_versal`` (part prefix xcvc, xcve, xcvp, xcvm, xqvc, xqvm or
  xqrvc); it selects the DSP58 cost paths (``get_dsp_block``).
- Default clock: 10 ns on the Zynq/RFSoC boards (FINN's and finn-examples' PYNQ builds),
  3.33 ns on Alveo (finn-examples' Alveo builds) and on the Versal boards (an assumption:
  the 300 MHz PL clock of the vendors' VCK190/VEK280 base platforms).
- Reconfiguration time = full bitstream size / configuration bandwidth. Assumptions, not
  measurements: bitstream sizes from [UG470] (Zynq-7000), [UG570] (UltraScale+, Alveo)
  and, for Versal, the PL share of a full PDI estimated from its configuration frames;
  bandwidth: Zynq-7000 PCAP ~128 MB/s achieved, Zynq UltraScale+ PCAP ~256 MB/s achieved,
  Alveo via ICAP/PCIe ~400 MB/s, Versal PMC (SelectMAP-class DMA) ~800 MB/s.
- Static power: Xilinx Power Estimator typical-junction PL static power (assumptions,
  calibrate with :meth:`PowerModel.calibrate` from board measurements).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hw_builders.errors import HwError
from hw_builders.power import PowerModel

__all__ = [
    "BOARDS",
    "BOARD_ALIASES",
    "ClockLimit",
    "DEFAULT_BOARD",
    "DEFAULT_LIMITS",
    "PARTS",
    "RESOURCE_KEYS",
    "Device",
    "fits",
    "get_device",
    "is_versal",
    "clock_limit",
    "clock_note",
    "clock_ns",
    "parse_resources",
    "resolve_device",
    "utilisation",
]

RES_KEYS = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")
RESOURCE_KEYS = RES_KEYS
DEFAULT_LIMITS: dict[str, float] = {"LUT": 1.0, "BRAM_18K": 1.0, "URAM": 1.0, "DSP": 1.0}

#: The board a study or command targets when none is given.
DEFAULT_BOARD = "Pynq-Z1"

_VERSAL_PREFIXES4 = ("xcvc", "xcve", "xcvp", "xcvm", "xqvc", "xqvm")


def is_versal(part: str) -> bool:
    """Whether ``part`` is a Versal device, by FINN's rule (``finn.util.basic.is_versal``)."""
    p = part.strip().lower()
    return p[0:4] in _VERSAL_PREFIXES4 or p[0:5] == "xqrvc"


@dataclass(frozen=True)
class Device:
    """An FPGA target (board or bare part).

    Attributes:
        name: the board name, or the part for a bare part.
        part: the FPGA part string, as FINN takes it.
        board: the board name, None for a bare part.
        resources: LUT, FF, BRAM_18K, URAM, DSP available.
        default_clk_ns: the clock period used when none is given.
        reconfig_time_s: time to load a full bitstream.
        versal: whether FINN's Versal (DSP58) cost paths apply.
        power: the board's power model.
        source: where the figures come from (tags of this module's docstring).
    """

    name: str
    part: str
    board: str | None
    resources: Mapping[str, int]
    default_clk_ns: float
    reconfig_time_s: float
    versal: bool = False
    power: PowerModel = field(default_factory=PowerModel)
    source: str = ""

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
            "source": self.source,
        }


@dataclass(frozen=True)
class _Part:
    """One FPGA part's figures (one row of the table below)."""

    resources: tuple[int, int, int, int, int]  # LUT, FF, BRAM_18K, URAM, DSP
    clk_ns: float
    bitstream_mb: float
    bw_mb_s: float
    static_w: float
    source: str


#                        LUT        FF         BRAM18  URAM   DSP      clk   MB     MB/s  W
_PART_TABLE: dict[str, _Part] = {
    "xc7z020": _Part((53_200, 106_400, 280, 0, 220), 10.0, 4.05, 128.0, 0.12, "DS190, UG470"),
    "xczu3eg": _Part((70_560, 141_120, 432, 0, 360), 10.0, 5.4, 256.0, 0.3, "DS891, UG570"),
    "xczu7ev": _Part((230_400, 460_800, 624, 96, 1_728), 10.0, 19.3, 256.0, 0.6, "DS891, UG570"),
    "xczu9eg": _Part((274_080, 548_160, 1_824, 0, 2_520), 10.0, 26.5, 256.0, 0.7, "DS891, UG570"),
    "xczu28dr": _Part((425_280, 850_560, 2_160, 80, 4_272), 10.0, 33.9, 256.0, 1.0, "DS889, UG570"),
    "xczu48dr": _Part((425_280, 850_560, 2_160, 80, 4_272), 10.0, 33.9, 256.0, 1.0, "DS889, UG570"),
    "xck26": _Part((117_120, 234_240, 288, 64, 1_248), 10.0, 9.6, 256.0, 0.45, "DS987, UG570"),
    "xcu50": _Part((871_680, 1_743_360, 2_688, 640, 5_952), 3.33, 73.0, 400.0, 8.0, "DS965, UG570"),
    "xcu200": _Part(
        (1_182_240, 2_364_480, 4_320, 960, 6_840), 3.33, 80.2, 400.0, 10.0, "DS962, UG570"
    ),
    "xcu250": _Part(
        (1_728_000, 3_456_000, 5_376, 1_280, 12_288), 3.33, 96.0, 400.0, 12.0, "DS962, UG570"
    ),
    "xcu280": _Part(
        (1_303_680, 2_607_360, 4_032, 960, 9_024), 3.33, 90.0, 400.0, 10.0, "DS963, UG570"
    ),
    "xcu55c": _Part(
        (1_303_680, 2_607_360, 4_032, 960, 9_024), 3.33, 90.0, 400.0, 10.0, "DS1019, UG570"
    ),
    "xcvc1902": _Part(
        (899_840, 1_799_680, 1_934, 463, 1_968), 3.33, 60.0, 800.0, 6.0, "DS950, is_versal"
    ),
    "xcve2802": _Part(
        (520_704, 1_041_408, 1_200, 264, 1_312), 3.33, 36.0, 800.0, 4.0, "DS958, is_versal"
    ),
}

# board -> part string, verbatim from finn/util/basic.py (pynq_part_map, alveo_part_map,
# part_map's VEK280/VCK190), plus AUP-ZU3
_BOARD_PARTS: dict[str, str] = {
    "Ultra96": "xczu3eg-sbva484-1-e",
    "Ultra96-V2": "xczu3eg-sbva484-1-i",
    "Pynq-Z1": "xc7z020clg400-1",
    "Pynq-Z2": "xc7z020clg400-1",
    "ZCU102": "xczu9eg-ffvb1156-2-e",
    "ZCU104": "xczu7ev-ffvc1156-2-e",
    "ZCU111": "xczu28dr-ffvg1517-2-e",
    "RFSoC2x2": "xczu28dr-ffvg1517-2-e",
    "RFSoC4x2": "xczu48dr-ffvg1517-2-e",
    "KV260_SOM": "xck26-sfvc784-2LV-c",
    "AUP-ZU3": "xczu3eg-sfvc784-2-e",
    "U50": "xcu50-fsvh2104-2L-e",
    "U200": "xcu200-fsgd2104-2-e",
    "U250": "xcu250-figd2104-2L-e",
    "U280": "xcu280-fsvh2892-2L-e",
    "U55C": "xcu55c-fsvh2892-2L-e",
    "VEK280": "xcve2802-vsvh1760-2MP-e-S",
    "VCK190": "xcvc1902-vsva2197-2MP-e-S",
}

# other names a user may type for a catalogue board
BOARD_ALIASES: dict[str, str] = {"KV260": "KV260_SOM"}


def _family_key(part: str) -> str | None:
    """The table row of a part string: the longest row name the part starts with."""
    p = part.strip().lower()
    best = None
    for key in _PART_TABLE:
        if p.startswith(key) and (best is None or len(key) > len(best)):
            best = key
    return best


def _key_of(part: str) -> str:
    key = _family_key(part)
    if key is None:  # pragma: no cover - the table covers every catalogue board
        raise HwError(f"part {part!r} has no row in the device table")
    return key


def _make(name: str, part: str, board: str | None, row: _Part) -> Device:
    return Device(
        name=name,
        part=part,
        board=board,
        resources=dict(zip(RES_KEYS, row.resources, strict=True)),
        default_clk_ns=row.clk_ns,
        reconfig_time_s=row.bitstream_mb / row.bw_mb_s,
        versal=is_versal(part),
        power=PowerModel(static_w=row.static_w),
        source=row.source,
    )


BOARDS: dict[str, Device] = {}
for _board, _part in _BOARD_PARTS.items():
    BOARDS[_board] = _make(_board, _part, _board, _PART_TABLE[_key_of(_part)])

# bare parts (full part string -> a Device with board None)
PARTS: dict[str, Device] = {}
for _b in BOARDS.values():
    PARTS.setdefault(_b.part.lower(), _make(_b.part, _b.part, None, _PART_TABLE[_key_of(_b.part)]))


def parse_resources(text: str | Mapping[str, object]) -> dict[str, int]:
    """Device resources from ``"LUT=..,BRAM_18K=..,URAM=..,DSP=.."`` or a mapping.

    LUT, BRAM_18K, URAM and DSP are required (URAM may be 0); FF is optional (taken
    equal to LUT x 2 when absent, as on every part in the catalogue).

    Raises:
        HwError: a missing, unknown or non-integer entry (named, with the expected form).
    """
    form = (
        "give LUT=..,BRAM_18K=..,URAM=..,DSP=.. (FF optional), "
        "e.g. LUT=53200,BRAM_18K=280,URAM=0,DSP=220"
    )
    items: dict[str, object]
    if isinstance(text, str):
        items = {}
        for chunk in text.split(","):
            if not chunk.strip():
                continue
            if "=" not in chunk:
                raise HwError(f"resources: {chunk.strip()!r} is not KEY=VALUE; {form}")
            name, value = chunk.split("=", 1)
            items[name.strip()] = value.strip()
    else:
        items = {str(key): value for key, value in text.items()}
    out: dict[str, int] = {}
    for k, v in items.items():
        if k not in RES_KEYS:
            raise HwError(f"resources: unknown resource {k!r}; {form}")
        try:
            n = int(str(v))
        except ValueError:
            raise HwError(f"resources: {k}={v!r} is not a whole number; {form}") from None
        if n < 0:
            raise HwError(f"resources: {k}={n} must be >= 0; {form}")
        out[k] = n
    missing = [k for k in ("LUT", "BRAM_18K", "URAM", "DSP") if k not in out]
    if missing:
        raise HwError(f"resources: {', '.join(missing)} missing; {form}")
    if out["LUT"] <= 0:
        raise HwError(f"resources: LUT={out['LUT']} must be > 0; {form}")
    out.setdefault("FF", 2 * out["LUT"])
    return {k: out[k] for k in RES_KEYS}


def _custom_part(part: str, resources: Mapping[str, object] | str) -> Device:
    res = parse_resources(resources)
    versal = is_versal(part)
    # clock and reconfiguration by family: Versal/Alveo-class parts are fast-clocked
    clk = 3.33 if versal or part.lower().startswith("xcu") else 10.0
    return Device(
        name=part,
        part=part,
        board=None,
        resources=res,
        default_clk_ns=clk,
        # the bitstream grows with the logic: ~600 configuration bits per LUT on the
        # catalogue's parts (xc7z020: 32.4 Mbit / 53,200 LUT = 609; xczu7ev: 670)
        reconfig_time_s=res["LUT"] * 600 / 8e6 / (800.0 if versal else 256.0),
        versal=versal,
        power=PowerModel(static_w=0.5),
        source="resources given by the user",
    )


def get_device(
    *,
    board: str | None = None,
    part: str | None = None,
    resources: Mapping[str, object] | str | None = None,
) -> Device:
    """Look a device up by board name or part string (case-insensitive).

    Args:
        board: e.g. "Pynq-Z1", "zcu104", "VCK190" (FINN's board names).
        part: e.g. "xc7z020clg400-1"; any package/speed grade of a catalogue part (same
            family prefix, such as "xczu7ev-...") matches that part's figures.
        resources: with ``part``: the part's resources (``LUT``, ``BRAM_18K``, ``URAM``,
            ``DSP``, optionally ``FF``), for a part the catalogue lacks or to override its
            figures. Versal-ness follows FINN's rule on the part string.

    Raises:
        HwError: neither given, or unknown (the message lists the known ones and the fix).
    """
    if board:
        want = board.strip().lower()
        for alias, name in BOARD_ALIASES.items():
            if alias.lower() == want:
                want = name.lower()
        for name, dev in BOARDS.items():
            if name.lower() == want:
                if resources is not None:
                    raise HwError("resources: give them with a part, not a board")
                return dev
        raise HwError(f"board {board!r} is unknown; use one of: {', '.join(BOARDS)}")
    if part:
        p = part.strip()
        if resources is not None:
            return _custom_part(p, resources)
        if p.lower() in PARTS:
            return PARTS[p.lower()]
        key = _family_key(p)
        if key is not None:
            return _make(p, p, None, _PART_TABLE[key])
        raise HwError(
            f"part {part!r} is unknown; use one of: {', '.join(d.part for d in PARTS.values())}, "
            "or give its `resources` (LUT, BRAM_18K, URAM, DSP; [hardware] resources in a "
            "config)",
            arguments=("resources",),
        )
    raise HwError(
        "device: give `board` (one of: " + ", ".join(BOARDS) + ") or `part`",
        arguments=("board", "part"),
    )


def resolve_device(
    device: Device | str | None = None,
    *,
    board: str | None = None,
    part: str | None = None,
    resources: Mapping[str, object] | str | None = None,
) -> Device:
    """The one way every module turns what it was given into a :class:`Device`.

    Args:
        device: a Device (returned as is) or a board name; or None, then
        board, part, resources: as for :func:`get_device`.

    Raises:
        HwError: unknown board or part, or nothing given (the message says what to give).
    """
    if isinstance(device, Device):
        return device
    if isinstance(device, str):
        return get_device(board=device)
    if device is not None:
        raise HwError(f"device: {device!r} is not a Device or a board name; see `adapex hw boards`")
    return get_device(board=board, part=part, resources=resources)


def clock_ns(device: Device, clk_ns: float | None = None) -> float:
    """The clock period to use: ``clk_ns``, or the device's default when None.

    Raises:
        HwError: not a positive number of nanoseconds.
    """
    clk = device.default_clk_ns if clk_ns is None else clk_ns
    if isinstance(clk, bool) or not isinstance(clk, (int, float)) or not clk > 0:
        raise HwError(
            f"`clk_ns` {clk_ns!r} must be a positive clock period in ns (e.g. 10.0)",
            arguments=("clk_ns",),
        )
    return float(clk)


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


# -- the fastest clock a whole FINN accelerator is known to close at ---------------------


@dataclass(frozen=True)
class ClockLimit:
    """The shortest clock period FINN's own builds close at on a family and speed grade.

    Attributes:
        clk_ns: The period (ns); a design clocked faster is flagged.
        family: The part family and speed grade it holds for.
        source: Where the figure comes from (a FINN or finn-examples file at a commit).
    """

    clk_ns: float
    family: str
    source: str


#: The FINN commit the sources below are read at (finn-examples files: at their own commit).
_FINN = "Xilinx/finn@39f0c9a"

_ZYNQ7 = ClockLimit(
    10.0,
    "Zynq-7000",
    "Xilinx/finn-examples@087ad90 build/bnn-pynq/build.py (Pynq-Z1 at synth_clk_period_ns=10.0)",
)
_US_PLUS_1 = ClockLimit(
    5.0,
    "Zynq UltraScale+ speed grade -1",
    f"{_FINN} tests/fpgadataflow/test_fpgadataflow_thresholding.py (xczu3eg-sbva484-1-e, "
    "target_clk_ns = 5)",
)
_US_PLUS_2 = ClockLimit(
    4.0,
    "Zynq UltraScale+ speed grade -2",
    "Xilinx/finn-examples@1168db1 build/vgg10-radioml/build.py (ZCU104, xczu7ev-2, at 4.0 ns)",
)
_ALVEO = ClockLimit(
    3.0,
    "Alveo (UltraScale+)",
    f"Xilinx/finn-examples@0c68e2e build/mobilenet-v1/build.py (U50/U200/U250/U280 at 3.0 ns); "
    f"{_FINN} tests/end2end/test_end2end_mobilenet_v1.py (target_clk_ns = 3)",
)
_VERSAL = ClockLimit(
    3.33,
    "Versal",
    "no FINN example builds a Versal part; the 300 MHz PL clock of the vendors' VCK190/VEK280 "
    "base platforms (the catalogue's default clock; an assumption)",
)


def _speed_grade(part: str) -> int | None:
    """The speed grade digit of a part string (``xczu7ev-ffvc1156-2-e`` -> 2), or None."""
    import re

    got = re.search(r"-(\d)(?:[a-z]*)?(?:-|$)", part.strip().lower())
    return int(got.group(1)) if got else None


def clock_limit(device: Device) -> ClockLimit | None:
    """The shortest clock period FINN's own builds close at on ``device``'s part family and
    speed grade (None for a part family no FINN build covers)."""
    p = device.part.strip().lower()
    if device.versal:
        return _VERSAL
    if p.startswith("xc7z"):
        return _ZYNQ7
    if p.startswith(("xczu", "xck26", "xck24")):
        grade = _speed_grade(p)
        return _US_PLUS_1 if grade is None or grade <= 1 else _US_PLUS_2
    if p.startswith("xcu"):
        return _ALVEO
    return None


def clock_note(device: Device, clk_ns: float) -> str | None:
    """One line when ``clk_ns`` is faster than :func:`clock_limit` (None otherwise): the
    figures assume timing FINN's own builds do not show that part closing."""
    limit = clock_limit(device)
    if limit is None or not clk_ns > 0 or clk_ns >= limit.clk_ns - 1e-9:
        return None
    return (
        f"{clk_ns:g} ns ({1e3 / clk_ns:.0f} MHz) on {device.part} is faster than FINN's builds "
        f"close on {limit.family} ({limit.clk_ns:g} ns: {limit.source}); its throughput "
        "assumes timing closure there"
    )

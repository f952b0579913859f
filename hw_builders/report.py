"""HardwareReport: FINN's estimate report shape plus adapex's additions, and FINN's three
report files (estimate_layer_cycles.json, estimate_layer_resources.json,
estimate_network_performance.json) written and read back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hw_builders.atomic import atomic_write_text
from hw_builders.errors import HwError
from hw_builders.registry import LayerCost

__all__ = [
    "LayerReport",
    "HardwareReport",
    "write_finn_reports",
    "read_finn_reports",
    "FINN_REPORT_FILES",
]

FINN_REPORT_FILES = (
    "estimate_layer_cycles.json",
    "estimate_layer_resources.json",
    "estimate_network_performance.json",
)
TOTAL_KEYS = ("LUT", "BRAM_18K", "URAM", "DSP")


@dataclass(frozen=True, kw_only=True)
class LayerReport(LayerCost):
    """One layer's FINN estimates (a LayerCost with the layer it belongs to)."""

    name: str
    op_type: str
    exit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "op_type": self.op_type,
            "exit": self.exit,
            "cycles": self.cycles,
            **self.resources(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LayerReport:
        """The layer of :meth:`to_dict` (a stored report's row)."""
        try:
            return cls(
                name=str(d["name"]),
                op_type=str(d["op_type"]),
                exit=None if d.get("exit") is None else int(d["exit"]),
                cycles=int(d["cycles"]),
                LUT=int(d["LUT"]),
                BRAM_18K=int(d["BRAM_18K"]),
                BRAM_efficiency=float(d.get("BRAM_efficiency", 1)),
                URAM=int(d["URAM"]),
                URAM_efficiency=float(d.get("URAM_efficiency", 1)),
                DSP=int(d["DSP"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HwError(f"layer report {dict(d).get('name')!r}: bad or missing {exc}") from None


@dataclass
class HardwareReport:
    """A design's estimates: per layer, totals, FINN performance and our additions."""

    layers: list[LayerReport]
    total: dict[str, int]
    performance: dict[str, Any]
    utilisation: dict[str, float] = field(default_factory=dict)
    fits: bool | None = None
    power_w: float | None = None
    energy_per_inference_j: float | None = None
    device: str | None = None
    clk_ns: float | None = None

    def layer(self, name: str) -> LayerReport:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise HwError(f"report: no layer named {name!r}")

    def finn_layer_cycles(self) -> dict[str, int]:
        """estimate_layer_cycles.json content."""
        return {lay.name: lay.cycles for lay in self.layers}

    def finn_layer_resources(self) -> dict[str, Any]:
        """estimate_layer_resources.json content (FINN sums non-efficiency keys as floats)."""
        d: dict[str, Any] = {lay.name: lay.resources() for lay in self.layers}
        total: dict[str, float] = {}
        for lay in self.layers:
            for k, v in lay.resources().items():
                if "efficiency" not in k:
                    total[k] = total.get(k, 0.0) + float(v)
        d["total"] = total
        return d

    def to_dict(self) -> dict[str, Any]:
        """FINN's report shape plus utilisation, fits, power and energy."""
        return {
            "estimate_layer_cycles": self.finn_layer_cycles(),
            "estimate_layer_resources": self.finn_layer_resources(),
            "estimate_network_performance": dict(self.performance),
            "layers": [lay.to_dict() for lay in self.layers],
            "total": dict(self.total),
            "performance": dict(self.performance),
            "utilisation": dict(self.utilisation),
            "fits": self.fits,
            "power_w": self.power_w,
            "energy_per_inference_j": self.energy_per_inference_j,
            "device": self.device,
            "clk_ns": self.clk_ns,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HardwareReport:
        """The report of :meth:`to_dict` (a stored design's, or one stage's of it).

        Raises:
            HwError: a field is missing or has the wrong type.
        """
        if not isinstance(d, Mapping) or not isinstance(d.get("layers"), list):
            raise HwError("hardware report: expected an object with a 'layers' list")
        return cls(
            layers=[LayerReport.from_dict(x) for x in d["layers"]],
            total={k: int(v) for k, v in (d.get("total") or {}).items()},
            performance=dict(d.get("performance") or d.get("estimate_network_performance") or {}),
            utilisation={k: float(v) for k, v in (d.get("utilisation") or {}).items()},
            fits=d.get("fits"),
            power_w=d.get("power_w"),
            energy_per_inference_j=d.get("energy_per_inference_j"),
            device=d.get("device"),
            clk_ns=d.get("clk_ns"),
        )


def write_finn_reports(report: HardwareReport, out_dir: str | os.PathLike) -> list[Path]:
    """Write FINN's three estimate report files into ``out_dir`` (atomically each)."""
    out = Path(out_dir)
    contents = (report.finn_layer_cycles(), report.finn_layer_resources(), report.performance)
    paths = []
    for name, content in zip(FINN_REPORT_FILES, contents, strict=False):
        p = out / name
        atomic_write_text(p, json.dumps(content, indent=2) + "\n")
        paths.append(p)
    return paths


def read_finn_reports(report_dir: str | os.PathLike) -> HardwareReport:
    """Read FINN's three estimate report files (e.g. ``<build>/report``) into a report.

    Op types are inferred from node names (``MVAU_hls_3`` -> ``MVAU``); utilisation, fits
    and power are left empty (no device is known from the files).

    Raises:
        HwError: a file is missing or malformed.
    """
    d = Path(report_dir)
    data = []
    for name in FINN_REPORT_FILES:
        p = d / name
        try:
            data.append(json.loads(p.read_text()))
        except OSError:
            raise HwError(
                f"FINN report {p}: missing; run FINN's estimate step (GENERATE_ESTIMATE_REPORTS)"
            ) from None
        except json.JSONDecodeError as e:
            raise HwError(f"FINN report {p}: invalid JSON at line {e.lineno}: {e.msg}") from None
    cycles, resources, perf = data
    layers = []
    for node, c in cycles.items():
        r = resources.get(node, {})
        parts = node.rsplit("_", 2)
        op_type = (
            parts[0]
            if len(parts) == 3 and parts[1] in ("hls", "rtl", "vivado")
            else node.rsplit("_", 1)[0]
        )
        layers.append(
            LayerReport(
                name=node,
                op_type=op_type,
                cycles=int(c),
                LUT=int(r.get("LUT", 0)),
                BRAM_18K=int(r.get("BRAM_18K", 0)),
                BRAM_efficiency=float(r.get("BRAM_efficiency", 1)),
                URAM=int(r.get("URAM", 0)),
                URAM_efficiency=float(r.get("URAM_efficiency", 1)),
                DSP=int(r.get("DSP", 0)),
            )
        )
    total = {
        k: int(round(float(resources.get("total", {}).get(k, sum(getattr(x, k) for x in layers)))))
        for k in TOTAL_KEYS
    }
    clk = None
    if perf.get("critical_path_cycles"):
        clk = float(perf["estimated_latency_ns"]) / float(perf["critical_path_cycles"])
    return HardwareReport(layers, total, dict(perf), clk_ns=clk)

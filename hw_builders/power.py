"""A simple, calibratable FPGA power model.

P = static_w + activity * f_MHz * sum_r coeff_r * used_r   (r in LUT, FF, BRAM_18K, URAM, DSP)

Default coefficients are in the range of Xilinx Power Estimator (XPE) figures for
16/28 nm parts at typical toggle rates (12.5 %): roughly 0.1-0.2 uW/MHz per LUT (logic plus
routing), 0.05-0.1 uW/MHz per FF, ~10-20 uW/MHz per RAMB18 at 50 % enable, ~30-60 uW/MHz per
URAM, ~10-30 uW/MHz per DSP. They are assumptions, not measurements: call
:meth:`PowerModel.calibrate` with measured (resources, clock, watts) points from a board to
replace them. FF usage is not estimated by FINN; when absent it is taken as equal to LUT
(FINN designs typically use about as many FFs as LUTs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hw_builders.errors import HwError

__all__ = ["PowerModel", "RESOURCE_KEYS"]

RESOURCE_KEYS: tuple[str, ...] = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")

# watts per used unit per MHz (at activity 1.0)
DEFAULT_DYNAMIC_W_PER_MHZ: dict[str, float] = {
    "LUT": 1.5e-7,
    "FF": 7.5e-8,
    "BRAM_18K": 1.5e-5,
    "URAM": 4.5e-5,
    "DSP": 2.0e-5,
}


@dataclass(frozen=True)
class PowerModel:
    """Static plus per-resource dynamic power.

    Attributes:
        static_w: device static power (W), independent of the design.
        dynamic_w_per_mhz: W per used unit per MHz for LUT, FF, BRAM_18K, URAM, DSP.
        activity: scale factor of the dynamic part (1.0 = the coefficients as given).
    """

    static_w: float = 0.5
    dynamic_w_per_mhz: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_DYNAMIC_W_PER_MHZ)
    )
    activity: float = 1.0

    def _vector(self, resources: Mapping[str, float]) -> np.ndarray:
        r = dict(resources)
        if "FF" not in r:
            r["FF"] = r.get("LUT", 0)
        return np.array([float(r.get(k, 0) or 0) for k in RESOURCE_KEYS])

    def dynamic_w(self, resources: Mapping[str, float], clk_ns: float) -> float:
        """Dynamic power (W) of a design using ``resources`` at clock period ``clk_ns``."""
        mhz = 1e3 / clk_ns
        coeff = np.array([self.dynamic_w_per_mhz.get(k, 0.0) for k in RESOURCE_KEYS])
        return float(self.activity * mhz * coeff @ self._vector(resources))

    def power_w(self, resources: Mapping[str, float], clk_ns: float) -> float:
        """Total power (W): static plus dynamic."""
        return self.static_w + self.dynamic_w(resources, clk_ns)

    def calibrate(
        self,
        measurements: Sequence[tuple[Mapping[str, float], float, float]]
        | Sequence[Mapping[str, Any]],
    ) -> PowerModel:
        """Fit static and dynamic coefficients to measurements (non-negative least squares).

        Args:
            measurements: ``(resources, clk_ns, watts)`` tuples, or dicts with keys
                ``resources``, ``clk_ns``, ``watts``. Resource keys absent from every
                measurement keep coefficient 0.

        Returns:
            A new PowerModel (activity 1.0) fitted to the points.

        Raises:
            HwError: fewer than 2 measurements or non-positive clock/power values.
        """
        from scipy.optimize import nnls

        rows, y = [], []
        for m in measurements:
            if isinstance(m, Mapping):
                res, clk, watts = m.get("resources"), m.get("clk_ns"), m.get("watts")
            else:
                res, clk, watts = m
            if not isinstance(res, Mapping) or not clk or clk <= 0 or watts is None or watts < 0:
                raise HwError(
                    "power measurements: each needs resources {LUT: ..}, clk_ns > 0 and watts >= 0"
                )
            mhz = 1e3 / float(clk)
            rows.append(np.concatenate(([1.0], mhz * self._vector(res))))
            y.append(float(watts))
        if len(rows) < 2:
            raise HwError("power measurements: give at least 2 (resources, clk_ns, watts) points")
        A = np.array(rows)
        b = np.array(y)
        scale = np.where(A.max(axis=0) > 0, A.max(axis=0), 1.0)
        x, _ = nnls(A / scale, b)
        x = x / scale
        return replace(
            self,
            static_w=float(x[0]),
            dynamic_w_per_mhz={k: float(v) for k, v in zip(RESOURCE_KEYS, x[1:], strict=False)},
            activity=1.0,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "static_w": self.static_w,
            "dynamic_w_per_mhz": dict(self.dynamic_w_per_mhz),
            "activity": self.activity,
        }

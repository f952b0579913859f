"""Optional backend: run FINN's own builder on a build folder and read its reports back.

FINN (and Vivado / Vitis HLS, which it drives) cannot be installed here; when FINN is
absent :func:`run_finn_build` raises HwError saying so (never a made-up result).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from hw_builders.errors import HwError
from hw_builders.finn_build import read_build_config
from hw_builders.report import read_finn_reports

INSTALL_HINT = (
    "install FINN (https://finn.readthedocs.io/en/latest/getting_started.html: its Docker "
    "flow, or `pip install` of a FINN checkout with Vivado/Vitis HLS on PATH) to run FINN "
    "builds; adapex's analytical estimates (`adapex hw estimate`) need no FINN"
)


def finn_available() -> bool:
    """Whether FINN's builder (``finn.builder``) can be imported."""
    try:
        return importlib.util.find_spec("finn") is not None and (
            importlib.util.find_spec("finn.builder") is not None
        )
    except (ImportError, ValueError):
        return False


def run_finn_build(folder: str | os.PathLike[str]) -> Any:
    """Run FINN's ``build_dataflow_directory`` on a folder from ``write_build_folder``.

    Args:
        folder: the build folder (model.onnx and dataflow_build_config.json inside).

    Returns:
        The HardwareReport read from FINN's estimate reports (``<output_dir>/report``).

    Raises:
        HwError: FINN is not installed, the folder is incomplete, or the build failed.
    """
    if not finn_available():
        raise HwError(f"FINN is not installed (no module finn.builder); {INSTALL_HINT}")
    d = Path(folder).resolve()
    if not (d / "model.onnx").is_file():
        raise HwError(f"build folder {d}: no model.onnx; pass model_onnx= to write_build_folder")
    cfg = read_build_config(d)
    from finn.builder.build_dataflow import build_dataflow_directory

    rc = build_dataflow_directory(str(d))
    out = d / str(cfg.get("output_dir", "output"))
    if rc != 0:
        raise HwError(f"FINN build in {d} failed (status {rc}); see {out / 'build_dataflow.log'}")
    return read_finn_reports(out / "report")


__all__ = ["INSTALL_HINT", "finn_available", "run_finn_build"]

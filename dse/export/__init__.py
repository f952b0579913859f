"""Export: the design library of a study (FINN build folders, metrics, runtime table)."""

from __future__ import annotations

from dse.export.library import LIBRARY_VERSION, export_library, read_library, write_tar

__all__ = [
    "LIBRARY_VERSION",
    "export_library",
    "read_library",
    "write_tar",
]

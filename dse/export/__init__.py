"""Export: the design library of a study (FINN build folders, metrics, runtime table),
written by an export target registered by name (:mod:`dse.export.targets`)."""

from __future__ import annotations

from dse.export.library import LIBRARY_VERSION, export_library, read_library, write_tar
from dse.export.targets import ExportTarget, get_target, register_target, target_names

__all__ = [
    "LIBRARY_VERSION",
    "ExportTarget",
    "export_library",
    "get_target",
    "read_library",
    "register_target",
    "target_names",
    "write_tar",
]

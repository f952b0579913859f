"""Export: the design library of a study (FINN build folders, metrics, runtime table)."""

from __future__ import annotations

from dse.export.finn_names import finn_node_names, rename_folding, rename_graph
from dse.export.library import LIBRARY_VERSION, export_library, read_library, write_tar

__all__ = [
    "LIBRARY_VERSION",
    "export_library",
    "finn_node_names",
    "read_library",
    "rename_folding",
    "rename_graph",
    "write_tar",
]

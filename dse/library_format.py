"""An exported design library's format: its names and versions, and the digests that tie
every file to what the export wrote.

``adapex export`` writes these (:mod:`dse.export.library`) and the host runtime reads and
checks them (:mod:`dse.deploy.library`), both from here. numpy-free and torch-free: a board
that runs a library imports it.

Integrity: ``library.json`` records the sha256 of every other file of the library
(``digests``) and, per design, the sha256 of each top-level field of its deployment.json
(``deployment_fields``), so that a file changed after the export is refused in one line
naming the file (and, for deployment.json, the field).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "DEPLOYMENT_FORMAT",
    "LIBRARY_FORMAT",
    "LIBRARY_VERSION",
    "MIN_LIBRARY_VERSION",
    "field_digests",
    "file_digest",
    "library_entries",
    "stream_encoding",
]

#: ``library.json``'s ``format``.
LIBRARY_FORMAT = "adapex-design-library"

#: ``library.json``'s ``version``: 3 records the digests of every file and of each
#: deployment.json field; 2 is the first with one accelerator per design.
LIBRARY_VERSION = 3

#: The oldest library version the host runtime reads.
MIN_LIBRARY_VERSION = 2

#: ``deployment.json``'s ``format``.
DEPLOYMENT_FORMAT = 1


#: How model.onnx's integers of a stream map to the stream's own: ``"same"``, or
#: ``"bipolar_as_binary"`` where the model's -1/+1 travel as FINN's XNOR layers read them,
#: 0/1 (BINARY; the bit FINN's driver packs for BIPOLAR -1/+1 as well).
STREAM_ENCODINGS = ("same", "bipolar_as_binary")


def stream_encoding(onnx_datatype: str, stream_datatype: str) -> str:
    """How a stream carries model.onnx's integers (:data:`STREAM_ENCODINGS`).

    Raises:
        ValueError: the two datatypes do not carry the same values.
    """
    if onnx_datatype == stream_datatype:
        return "same"
    if (onnx_datatype, stream_datatype) == ("BIPOLAR", "BINARY"):
        return "bipolar_as_binary"
    raise ValueError(
        f"model.onnx holds {onnx_datatype} integers but the stream carries {stream_datatype}"
    )


def file_digest(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def field_digests(document: Mapping[str, Any]) -> dict[str, str]:
    """Per top-level field of a JSON document, the sha256 of its canonical JSON."""
    return {
        str(key): hashlib.sha256(
            json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        for key, value in document.items()
    }


def library_entries(folder: str | os.PathLike[str]) -> tuple[list[str], list[str], list[str]]:
    """Everything under ``folder``, without following links, as sorted POSIX paths relative
    to it: ``(files, folders, links)``."""
    root = Path(folder)
    files: list[str] = []
    folders: list[str] = []
    links: list[str] = []
    for here, dirs, names in os.walk(root, followlinks=False):
        base = Path(here)
        for name in dirs:
            path = base / name
            rel = path.relative_to(root).as_posix()
            (links if path.is_symlink() else folders).append(rel)
        for name in names:
            path = base / name
            rel = path.relative_to(root).as_posix()
            (links if path.is_symlink() else files).append(rel)
    return sorted(files), sorted(folders), sorted(links)

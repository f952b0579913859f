"""An exported design library as the host runs it: library.json, runtime_table.json and each
design's deployment.json, read and checked without the study database.

A damaged library (a missing file, a deployment.json that does not describe its model) is
refused with one line naming the file and what to do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dse.errors import DseError
from dse.library_format import (
    DEPLOYMENT_FORMAT,
    LIBRARY_FORMAT,
    MIN_LIBRARY_VERSION,
    field_digests,
    file_digest,
)


class DeployError(DseError):
    """A library, design, backend or run option of the host runtime is invalid."""


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(
            f"{path}: missing {what}; export the library again with `adapex export`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DeployError(f"{path}: unreadable {what} ({exc})") from None
    except json.JSONDecodeError as exc:
        raise DeployError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


@dataclass
class DeployedDesign:
    """One design of a library: its entry in library.json and its deployment.json.

    Attributes:
        id: The design's id.
        folder: Its build folder (absolute).
        entry: Its library.json entry (metrics, thresholds, exits, alias_of...).
        deployment: Its deployment.json.
    """

    id: int
    folder: Path
    entry: dict[str, Any]
    deployment: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.folder / str(self.deployment.get("model", "model.onnx"))

    @property
    def stages(self) -> list[dict[str, Any]]:
        return list(self.deployment["stages"])

    @property
    def thresholds(self) -> list[float]:
        """The thresholds the study stored for this design (one per exit in use)."""
        return [float(t) for t in self.entry.get("thresholds") or []]

    @property
    def build_id(self) -> int:
        """The design whose build this one shares (itself unless an alias)."""
        return int(self.entry.get("alias_of", self.id))


@dataclass
class DeployedLibrary:
    """An exported library, read for the host runtime.

    Attributes:
        folder: The library folder.
        index: library.json.
        runtime_table: runtime_table.json (None when the library has none).
    """

    folder: Path
    index: dict[str, Any]
    runtime_table: dict[str, Any] | None
    _designs: dict[int, DeployedDesign] = field(default_factory=dict, repr=False)

    @property
    def design_ids(self) -> list[int]:
        return [int(d["id"]) for d in self.index.get("designs", [])]

    def entry(self, design_id: int) -> dict[str, Any]:
        for d in self.index.get("designs", []):
            if int(d["id"]) == int(design_id):
                return d
        known = ", ".join(str(i) for i in self.design_ids) or "none"
        raise DeployError(
            f"`design` {design_id}: not in the library {self.folder} (designs: {known})",
            arguments=("design",),
        )

    def design(self, design_id: int) -> DeployedDesign:
        """The design ``design_id``: its files checked against the digests the export
        recorded, its deployment.json against its model."""
        design_id = int(design_id)
        if design_id not in self._designs:
            entry = self.entry(design_id)
            folder = self.folder / str(entry["folder"])
            self.check_file(f"{entry['folder']}/model.onnx")
            self.check_file(f"{entry['folder']}/deployment.json")
            deployment = _read_json(folder / "deployment.json", "deployment.json")
            if not isinstance(deployment, dict):
                raise DeployError(
                    f"{folder / 'deployment.json'}: not an object; export the library again "
                    "with `adapex export`"
                )
            design = DeployedDesign(design_id, folder, entry, deployment)
            check_deployment(design)
            self._designs[design_id] = design
        return self._designs[design_id]

    def check_file(self, relative: str) -> None:
        """Refuse a file of the library that is not what the export wrote (its sha256
        against library.json's); a deployment.json names the first changed field.

        Raises:
            DeployError: one line naming the file (and field) and the fix.
        """
        digests = self.index.get("digests")
        if not isinstance(digests, dict) or relative not in digests:
            return  # a library exported before digests were recorded
        path = self.folder / relative
        try:
            got = file_digest(path)
        except OSError as exc:
            raise DeployError(
                f"{path}: cannot be read ({exc.strerror}); export the library again"
            ) from None
        if got == digests[relative]:
            return
        field = self._changed_field(relative)
        what = f"its field `{field}` " if field else ""
        raise DeployError(
            f"{path}: {what}changed since the export (library.json records another sha256); "
            "export the library again with `adapex export`"
        )

    def _changed_field(self, relative: str) -> str | None:
        """The first top-level field of a design's deployment.json whose digest is not the
        export's (None for another file, or an unreadable one)."""
        entry = next(
            (d for d in self.index.get("designs", []) if d.get("deployment") == relative), None
        )
        want = (entry or {}).get("deployment_fields")
        if not isinstance(want, dict):
            return None
        try:
            have = field_digests(json.loads((self.folder / relative).read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError):
            return None
        for key in sorted(set(want) | set(have)):
            if want.get(key) != have.get(key):
                return key
        return None

    def dataset(self) -> dict[str, Any]:
        """The dataset the study used (library.json's, else the first design's
        provenance.json)."""
        if isinstance(self.index.get("dataset"), dict):
            return dict(self.index["dataset"])
        designs = self.index.get("designs") or []
        if not designs:
            raise DeployError(f"{self.folder}: the library holds no design")
        prov = _read_json(
            self.folder / str(designs[0]["folder"]) / "provenance.json", "provenance.json"
        )
        dataset = prov.get("dataset")
        if not isinstance(dataset, dict) or "name" not in dataset:
            raise DeployError(
                f"{self.folder}: provenance.json names no dataset; pass `data` (--data)",
                arguments=("data",),
            )
        return dataset


def load_deployed_library(library: str | os.PathLike[str]) -> DeployedLibrary:
    """Read an exported library (library.json and runtime_table.json).

    Raises:
        DeployError: the folder holds no exported library, or a file is unreadable.
    """
    folder = Path(library)
    if not folder.is_dir():
        raise DeployError(
            f"`library` {folder}: no such folder; export one with `adapex export`",
            arguments=("library",),
        )
    index = _read_json(folder / "library.json", "library.json")
    if not isinstance(index, dict) or index.get("format") != LIBRARY_FORMAT:
        raise DeployError(
            f"`library` {folder}: library.json is not an adapex design library's",
            arguments=("library",),
        )
    version = index.get("version", 1)
    if not isinstance(version, int) or not isinstance(index.get("designs"), list):
        raise DeployError(
            f"`library` {folder}: library.json is damaged (version or designs); export it "
            "again with `adapex export`",
            arguments=("library",),
        )
    if version < MIN_LIBRARY_VERSION:
        raise DeployError(
            f"`library` {folder}: exported before one accelerator per design (library "
            f"version {index.get('version', 1)}); export it again with `adapex export`",
            arguments=("library",),
        )
    lib = DeployedLibrary(folder, index, None)
    if index.get("runtime_table"):
        lib.check_file(str(index["runtime_table"]))
        lib.runtime_table = _read_json(folder / str(index["runtime_table"]), "runtime table")
    return lib


def _io(model: Any) -> tuple[list[tuple[str, list[int]]], list[tuple[str, list[int]]]]:
    def shape(vi: Any) -> list[int]:
        return [int(d.dim_value) for d in vi.type.tensor_type.shape.dim]

    return (
        [(vi.name, shape(vi)) for vi in model.graph.input],
        [(vi.name, shape(vi)) for vi in model.graph.output],
    )


def check_deployment(design: DeployedDesign) -> None:
    """Refuse a deployment.json that does not describe the design's model.

    Raises:
        DeployError: one line naming the file and the first difference (or the field that
            is missing or of the wrong kind).
    """
    try:
        _check_deployment(design)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        if isinstance(exc, DeployError):
            raise
        what = f"field {exc.args[0]!r} is missing" if isinstance(exc, KeyError) else str(exc)
        raise DeployError(
            f"{design.folder / 'deployment.json'}: malformed ({what}); export the library "
            "again with `adapex export`"
        ) from None
    _check_scales(design)


def _check_scales(design: DeployedDesign) -> None:
    """Every stream's scale is a positive finite number (``value = integer * scale``)."""
    import math

    path = design.folder / "deployment.json"
    for side in ("inputs", "outputs"):
        for stream in design.deployment[side]:
            for key in ("scale", "logits_scale"):
                value = stream.get(key)
                if value is None:
                    continue
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                if not ok or not math.isfinite(value) or value <= 0:
                    raise DeployError(
                        f"{path}: {side} stream {stream.get('index')} has {key} {value!r}; a "
                        "scale is a positive number: export the library again"
                    )


def _check_deployment(design: DeployedDesign) -> None:
    import onnx

    dep, path = design.deployment, design.folder / "deployment.json"
    if int(dep.get("format", 0)) != DEPLOYMENT_FORMAT:
        raise DeployError(
            f"{path}: format {dep.get('format')!r}, this runtime reads {DEPLOYMENT_FORMAT}; "
            "export the library again with `adapex export`"
        )
    if not design.model_path.is_file():
        raise DeployError(
            f"{design.model_path}: missing model of design {design.id}; export the library "
            "again with `adapex export`"
        )
    try:
        model = onnx.load(str(design.model_path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - a damaged file, whatever onnx says
        raise DeployError(
            f"{design.model_path}: not an ONNX model ({type(exc).__name__})"
        ) from None
    inputs, outputs = _io(model)
    for side, streams, have in (
        ("inputs", dep["inputs"], inputs),
        ("outputs", dep["outputs"], outputs),
    ):
        want = [(s["onnx"]["name"], list(s["onnx"]["shape"])) for s in streams]
        if want != have:
            raise DeployError(
                f"{path}: its {side} {want} do not match {design.model_path.name}'s {have}; "
                "export the library again with `adapex export`"
            )
    _check_stages(path, dep)


def _check_stages(path: Path, dep: Mapping[str, Any]) -> None:
    stages: Sequence[Mapping[str, Any]] = dep.get("stages") or []
    if not stages or "label" not in stages[-1]:
        raise DeployError(f"{path}: no final stage with a label output")
    n_in, n_out = len(dep["inputs"]), len(dep["outputs"])
    for st in stages:
        refs = [st["input"], *(st[k] for k in ("logits", "features", "label") if k in st)]
        if st["input"] >= n_in or any(r >= n_out for r in refs[1:]):
            raise DeployError(f"{path}: stage {st['stage']} names a stream that is not listed")

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

#: The deployment.json format this runtime reads.
DEPLOYMENT_FORMAT = 1


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
        """The design ``design_id``, its deployment.json checked against its model."""
        design_id = int(design_id)
        if design_id not in self._designs:
            entry = self.entry(design_id)
            folder = self.folder / str(entry["folder"])
            deployment = _read_json(folder / "deployment.json", "deployment.json")
            design = DeployedDesign(design_id, folder, entry, deployment)
            check_deployment(design)
            self._designs[design_id] = design
        return self._designs[design_id]

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
    if not isinstance(index, dict) or index.get("format") != "adapex-design-library":
        raise DeployError(
            f"`library` {folder}: library.json is not an adapex design library's",
            arguments=("library",),
        )
    if int(index.get("version", 1)) < 2:
        raise DeployError(
            f"`library` {folder}: exported before one accelerator per design (library "
            f"version {index.get('version', 1)}); export it again with `adapex export`",
            arguments=("library",),
        )
    table = None
    if index.get("runtime_table"):
        table = _read_json(folder / str(index["runtime_table"]), "runtime table")
    return DeployedLibrary(folder, index, table)


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
        DeployError: one line naming the file and the first difference.
    """
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

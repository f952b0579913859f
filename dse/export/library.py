"""The design library of a study: FINN build folders of its Pareto designs (docs/DESIGN.md).

Layout of ``DIR``::

    library.json                     index: study, designs, their stages and files
    runtime_table.json               the runtime selection table (stored, or computed)
    design_<id>/                     one FINN build per distinct design (one accelerator, one
                                     bitstream); designs that differ only in their exit
                                     thresholds (run-time registers) share it; library.json
                                     lists them with "alias_of" (and "aliases" on the first)
        model.onnx                   the design's QONNX model: every stage, each with its own
                                     input and output streams (dse.accuracy.design_model)
        deployment.json              the host's contract: every stream's index, datatype,
                                     shapes, packing and scale, which output feeds which
                                     stage, the exit thresholds, the bitfile's file names
        dataflow_build_config.json   FINN's estimate steps (the default build)
        dataflow_build_config.bitfile.json   the same through the bitfile (switch it on by
                                     using it as dataflow_build_config.json)
        build.py                     FINN's builder plus adapex's custom steps, when the
                                     design has exits or 1-bit layers (run ``python build.py``)
        folding_config.json          FINN's node names in the design's model
        specialize_layers_config.json  (when a layer uses a non-default impl)
        hw_graph.json                adapex's graph of the design as FINN builds it
        node_names.json              adapex's layer name -> FINN's node name
        adapex_report/               adapex's FINN-format estimates of the accelerator (to
                                     compare with FINN's output/report/)
        metrics.json                 the metrics stored for the design (identical)
        provenance.json              where it came from (trial, params, checkpoint, versions)
        hw_report.json               the stored staged hardware report (per stage)

The library is written to a temporary folder beside ``DIR`` and renamed into place; an
existing ``DIR`` is refused unless ``force``, and even then it is replaced only when it
holds an exported library and nothing more (the files its library.json lists), so an export
never deletes what it did not write. Every design model is executed with qonnx stage by
stage and compared with PyTorch before it is written, and the design's estimate is
recomputed from the written graph and folding and checked against the stored report,
layer by layer and in total, so the folders reproduce the stored numbers.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dse.errors import DseError, StateError
from dse.export.finn_design import design_entry
from dse.export.jsonfile import dump_json, utc_now
from dse.export.readme import README, library_readme
from dse.library_format import (
    LIBRARY_FORMAT,
    LIBRARY_VERSION,
    field_digests,
    file_digest,
    library_entries,
)
from hw_builders.atomic import atomic_directory, atomic_file, atomic_write_text


def _library_designs(store: Any, study: str, table: Mapping[str, Any] | None) -> list[Any]:
    """The Pareto designs, plus any stored design the runtime table selects."""
    records = {r.id: r for r in store.pareto(study)}
    wanted = {
        int(e["design_id"])
        for e in (table or {}).get("entries") or []
        if int(e.get("design_id", -1)) >= 0
    }
    for design_id in sorted(wanted - set(records)):
        records[design_id] = store.design(design_id)
    # the study's designs in trial order, then any baseline design (no trial of its own)
    return sorted(
        records.values(), key=lambda r: (r.trial_number is None, r.trial_number or 0, r.id)
    )


def _runtime_table(store: Any, study: str) -> tuple[dict[str, Any] | None, str]:
    """The stored runtime table, else one computed from the study's designs."""
    table = store.runtime_table(study)
    if table is not None:
        return table, "stored"
    from dse.runtime import build_selection_table
    from dse.runtime.errors import RuntimeManagerError
    from dse.runtime.library import load_library

    try:
        lib = load_library(store.url, study)
    except RuntimeManagerError:
        return None, "none"
    config = store.study_config(study)
    table = build_selection_table(
        lib.point_sets()["adapex"],
        objective=config.runtime.select,
        confidence=lib.state.get("confidence"),
    )
    return table.to_dict(), "computed"


def build_key(record: Any) -> str:
    """What decides a design's FINN build folders: weights, exits, graph, folding, target.

    Designs that differ only in their exit thresholds (run-time registers) or in how they
    were found build the same accelerator.
    """
    import hashlib

    key = {
        "arch": record.arch,
        "checkpoint": record.checkpoint,
        "exits": list(record.exits),
        "hw_graph": record.hw_graph,
        "folding": record.folding,
        "clk_ns": record.clk_ns,
        "board": record.board,
        "part": record.part,
    }
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _distinct(records: Sequence[Any]) -> list[tuple[Any, list[Any]]]:
    """Group records by :func:`build_key`: ``[(first record, [its aliases])]`` in order."""
    groups: dict[str, tuple[Any, list[Any]]] = {}
    for r in records:
        k = build_key(r)
        if k in groups:
            groups[k][1].append(r)
        else:
            groups[k] = (r, [])
    return list(groups.values())


def _check_writable(parent: Path, out: Path) -> None:
    """Fail early, writing nothing, when the library cannot be created beside ``out``."""
    if not parent.is_dir():
        raise DseError(
            f"`out` {out}: folder {parent} does not exist; create it or choose another",
            arguments=("out",),
        )
    try:
        probe = tempfile.mkdtemp(prefix=".adapex-probe-", dir=parent)
    except OSError as exc:
        raise DseError(
            f"`out` {out}: cannot write in {parent} ({exc.strerror or type(exc).__name__}); "
            "choose a writable folder",
            arguments=("out",),
        ) from None
    os.rmdir(probe)


def _library_files(folder: Path) -> list[str]:
    """Every file under ``folder``, as sorted POSIX paths relative to it."""
    return library_entries(folder)[0]


def _check_replaceable(out: Path) -> None:
    """With ``force``: ``out`` may be replaced only when it holds an adapex library and
    nothing else (the files its library.json lists, in the folders that hold them); any
    other file, folder or link is refused, so that nothing is deleted that an export did
    not write."""
    if not out.is_dir():
        raise DseError(
            f"`out` {out}: is a file, not a folder; choose a folder name", arguments=("out",)
        )
    index = out / "library.json"
    try:
        meta = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != LIBRARY_FORMAT:
        raise DseError(
            f"`out` {out}: exists and holds no adapex library (no library.json of an export); "
            "`force` replaces only an exported library: choose another folder",
            arguments=("out", "force"),
        )
    listed = meta.get("files")
    files, folders, links = library_entries(out)
    if isinstance(listed, list):  # libraries written before the manifest are replaced whole
        wanted = {str(f) for f in listed} | {"library.json"}
        parents = {a.as_posix() for f in wanted for a in Path(f).parents if a != Path(".")}
        extra = sorted({*(set(files) - wanted), *(f for f in folders if f not in parents), *links})
        if extra:
            more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
            raise DseError(
                f"`out` {out}: holds files the export did not write ({extra[0]}{more}); "
                "move them out of the folder, or choose another folder",
                arguments=("out",),
            )


def _check_tar_replaceable(out: Path) -> None:
    """With ``force``: an existing ``<out>.tar.gz`` is replaced only when it is the tarball
    of an exported library named like ``out``."""
    tar_path = Path(f"{out}.tar.gz")
    if not tar_path.exists():
        return
    try:
        with tarfile.open(tar_path, "r:gz") as tf:
            ours = f"{out.name}/library.json" in tf.getnames()
    except (OSError, tarfile.TarError, EOFError):
        ours = False
    if not ours:
        raise DseError(
            f"`out` {tar_path}: exists and is not the tarball of an exported library; "
            "move it away or choose another `out`",
            arguments=("out",),
        )


def _validate(store: Any, study: str, out: Path, *, tar: bool, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DseError(
            f"`out` {out}: is a file, not a folder; choose a folder name", arguments=("out",)
        )
    if not force:
        if out.exists():
            raise DseError(
                f"`out` {out}: already exists; choose another folder or pass `force`",
                arguments=("out", "force"),
            )
        if tar and Path(f"{out}.tar.gz").exists():
            raise DseError(
                f"`out` {out}.tar.gz: already exists; pass `force` to replace it",
                arguments=("out", "force"),
            )
    else:
        if out.exists():
            _check_replaceable(out)
        if tar:
            _check_tar_replaceable(out)
    _check_writable(out.parent, out)
    names = [s.name for s in store.list_studies()]
    if study not in names:
        raise DseError(
            f"`study` {study!r}: no such study (known: {', '.join(names) or 'none'})",
            arguments=("study",),
        )
    if not store.pareto(study):
        raise DseError(
            f"`study` {study!r}: no feasible Pareto design yet; run more trials first",
            arguments=("study",),
        )


def _check_records(records: Sequence[Any]) -> None:
    from hw_builders import check_buildable
    from hw_builders.errors import HwError

    for r in records:
        try:  # a design stored before the legality rules existed
            check_buildable(r.graph(), f"design {r.id}")
        except HwError as exc:
            raise DseError(f"{exc} (nothing was exported)") from None
        if not r.checkpoint or not Path(r.checkpoint).exists():
            raise StateError(
                f"design {r.id}: its weights {r.checkpoint!r} are not in the accuracy cache; "
                "run the study again in this folder (or set ADAPEX_CACHE_DIR) to rebuild them"
            )


def _write_designs(
    tmp: Path,
    groups: Sequence[tuple[Any, list[Any]]],
    export_target: Any,
    steps: str,
    n_verify: int,
    progress: Callable[[int, int, Any], None] | None,
) -> dict[int, dict[str, Any]]:
    """Every distinct design's folder through the target; its aliases share it. Returns
    the library.json entry of every design by id."""
    entries: dict[int, dict[str, Any]] = {}
    for i, (primary, aliases) in enumerate(groups):
        if progress is not None:
            progress(i, len(groups), primary)
        entry = export_target.write_design(
            primary, tmp / f"design_{primary.id}", steps=steps, n_verify=n_verify
        )
        entry["aliases"] = [a.id for a in aliases]
        entries[primary.id] = entry
        for alias in aliases:
            # the same folders; its own thresholds, metrics and identity
            entries[alias.id] = {
                **design_entry(alias, entry["folder"], entry["stages"]),
                "alias_of": primary.id,
            }
    if progress is not None:
        progress(len(groups), len(groups), None)
    return entries


def _add_table_thresholds(tmp: Path, groups: Sequence[tuple[Any, list[Any]]], table: Any) -> None:
    """Each design's deployment.json gets the exit thresholds the runtime table sets on it
    (per selection-table entry using the design or one of its aliases)."""
    for primary, aliases in groups:
        path = tmp / f"design_{primary.id}" / "deployment.json"
        if not path.is_file():
            continue
        ids = {primary.id, *(a.id for a in aliases)}
        settings = sorted(
            {
                tuple(float(t) for t in e.get("thresholds") or [])
                for e in table.get("entries") or []
                if int(e.get("design_id", -1)) in ids
            }
        )
        deployment = json.loads(path.read_text())
        deployment["runtime_table_thresholds"] = [list(t) for t in settings]
        dump_json(path, deployment)


def export_library(
    store: Any,
    study: str,
    out: str | os.PathLike[str],
    *,
    tar: bool = False,
    force: bool = False,
    progress: Callable[[int, int, Any], None] | None = None,
    steps: str = "estimate",
    n_verify: int = 8,
    target: str = "finn",
) -> Path:
    """Export the design library of a study (see the module doc for the layout).

    Args:
        store: An open :class:`dse.storage.Store` (read-only is enough).
        study: The study's name.
        out: The library folder to create.
        tar: Also write ``<out>.tar.gz``.
        force: Replace an existing ``out`` (and ``<out>.tar.gz``), only when it is an
            exported library holding nothing but what its library.json lists.
        progress: Called with (designs done, designs in all, the design about to be
            exported or None at the end).
        steps: ``"estimate"`` (FINN's estimate reports) or ``"bitfile"`` in every
            dataflow_build_config.json.
        n_verify: Random samples each stage model is executed on (qonnx vs PyTorch).
        target: The export target's name (:mod:`dse.export.targets`; ``"finn"``: FINN
            build folders).

    Returns:
        The library folder.

    Raises:
        DseError: unknown study, no Pareto design, ``out`` exists without ``force``, or a
            model that qonnx does not execute faithfully.
        StateError: what the study stored no longer holds: missing weights, a stored
            design that is inconsistent, or stored estimates that the cost model no longer
            reproduces (re-run the study). Nothing is left at ``out`` after either.
    """
    from dse.export.targets import get_target

    export_target = get_target(target)
    out = Path(out).absolute()
    _validate(store, study, out, tar=tar, force=force)
    table, table_source = _runtime_table(store, study)
    records = _library_designs(store, study, table)
    _check_records(records)
    groups = _distinct(records)
    with atomic_directory(out) as tmp:
        entries = _write_designs(tmp, groups, export_target, steps, n_verify, progress)
        if table is not None:
            dump_json(tmp / "runtime_table.json", table)
            _add_table_thresholds(tmp, groups, table)
        summary = next(s for s in store.list_studies() if s.name == study)
        index = {
            "format": LIBRARY_FORMAT,
            "version": LIBRARY_VERSION,
            "study": study,
            "target": export_target.name,
            "objectives": summary.objectives,
            "directions": summary.directions,
            "exported_at": utc_now(),
            "steps": steps,
            "dataset": records[0].dataset if records else None,
            "runtime_table": "runtime_table.json" if table is not None else None,
            "runtime_table_source": table_source,
            "distinct_designs": len(groups),
            "designs": [entries[r.id] for r in records],
        }
        atomic_write_text(tmp / README, library_readme(index))
        _seal(tmp, index)
        dump_json(tmp / "library.json", index)
    if tar:
        write_tar(out)
    return out


def _seal(folder: Path, index: dict[str, Any]) -> None:
    """Record in ``index`` every file the export wrote (``--force`` replaces a library
    holding only these), each file's digest, and each design's deployment.json fields'
    digests (:mod:`dse.library_format`): what the host runtime checks."""
    files = _library_files(folder)
    index["files"] = [*files, "library.json"]
    index["digests"] = {f: file_digest(folder / f) for f in files}
    for entry in index["designs"]:
        deployment = json.loads((folder / str(entry["deployment"])).read_text(encoding="utf-8"))
        entry["deployment_fields"] = field_digests(deployment)


def write_tar(folder: str | os.PathLike[str]) -> Path:
    """Write ``<folder>.tar.gz`` (atomically) holding the folder under its own name."""
    src = Path(folder)
    dst = src.parent / f"{src.name}.tar.gz"
    with atomic_file(dst) as tmp, tarfile.open(tmp, "w:gz") as tf:
        tf.add(src, arcname=src.name)
    return dst


def read_library(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The library.json of an exported library.

    Raises:
        DseError: the folder holds no readable library.json.
    """
    path = Path(folder) / "library.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise DseError(f"{path}: missing; export the library with `adapex export`") from None
    except json.JSONDecodeError as exc:
        raise DseError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None

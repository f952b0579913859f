"""The ``finn`` export target: a design as FINN build folders, one per stage.

Each stage folder holds the stage's QONNX model (made from the cached weights and checked
by executing it with qonnx against PyTorch), FINN's build configs, the folding and
specialisation configs under FINN's node names, adapex's graph of the stage, and
``adapex_report/``: adapex's FINN-format estimates, recomputed from the written graph and
folding and checked against the stored report, layer by layer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dse.errors import DseError
from dse.export.jsonfile import dump_json, utc_now
from hw_builders.naming import finn_node_names, rename_folding, rename_graph

#: Per-layer figures that must match between the stored report and the exported folders.
CHECKED_KEYS = ("cycles", "LUT", "BRAM_18K", "URAM", "DSP")


def _check_stage(
    design_id: int, k: int, stored: Any, report: Any, names: Mapping[str, str]
) -> None:
    """Raise DseError when the recomputed stage estimate (FINN's node names) differs from
    the stored one (a HardwareReport under adapex's layer names)."""
    got = {layer.name: layer for layer in report.layers}
    if len(stored.layers) != len(got):
        raise DseError(
            f"design {design_id} stage {k}: {len(stored.layers)} layers stored but {len(got)} "
            "in the stage graph; the stored design is inconsistent, re-run the study"
        )
    for row in stored.layers:
        layer = got.get(names.get(row.name, row.name))
        if layer is None:
            raise DseError(
                f"design {design_id} stage {k}: stored layer {row.name!r} is not in the "
                "stage graph; the stored design is inconsistent, re-run the study"
            )
        for key in CHECKED_KEYS:
            if int(getattr(layer, key)) != int(getattr(row, key)):
                raise DseError(
                    f"design {design_id} stage {k} layer {row.name}: {key}="
                    f"{getattr(layer, key)} now but {getattr(row, key)} stored; the cost model "
                    "changed since the study ran, re-run the study before exporting"
                )


def _stored_report(record: Any) -> Any:
    """The design's stored StagedReport; DseError when it is unreadable."""
    from hw_builders.errors import HwError

    try:
        return record.report()
    except HwError as exc:
        raise DseError(
            f"design {record.id}: its stored hardware report is unreadable ({exc}); re-run "
            "the study"
        ) from None


def _check_totals(record: Any, stored: Any) -> None:
    """Raise DseError unless the design, costed now on the one costing path
    (:func:`dse.design.cost`), has the resource totals it was stored with."""
    from dse.design import cost

    now = cost(record.hardware(), stored.reach or None)
    if now.total != stored.total:
        raise DseError(
            f"design {record.id}: resources {now.total} now but {stored.total} stored; the "
            "cost model changed since the study ran, re-run the study before exporting"
        )


def write_finn_design(
    record: Any, ddir: Path, *, steps: str = "estimate", n_verify: int = 8
) -> dict[str, Any]:
    """Write one design's folder of FINN builds; returns its library.json entry (paths
    relative to the library folder).

    Args:
        record: The stored design (``dse.design.DesignRecord``).
        ddir: Its folder (created).
        steps: ``"estimate"`` or ``"bitfile"`` in every dataflow_build_config.json.
        n_verify: Random samples each stage model is executed on (qonnx vs PyTorch).

    Raises:
        DseError: the stored design is inconsistent, or the cost model no longer
            reproduces its stored figures.
    """
    from dse.design import load_design_model
    from hw_builders.stages import split_stages

    model = load_design_model(record.arch, record.checkpoint, record.exits)
    stored = _stored_report(record)
    stages = split_stages(record.graph())
    if len(stages) != len(record.exits) + 1 or len(stored.stages) != len(stages):
        raise DseError(
            f"design {record.id}: its graph has {len(stages)} stages and its stored report "
            f"{len(stored.stages)} for exits {record.exits}; the stored design is "
            "inconsistent, re-run the study"
        )
    _check_totals(record, stored)
    ddir.mkdir(parents=True)
    stage_entries = [
        _write_stage(record, model, stage, k, stored.stages[k], ddir, steps, n_verify)
        for k, stage in enumerate(stages)
    ]
    _write_design_files(record, ddir)
    return design_entry(record, ddir.name, stage_entries)


def _write_stage(
    record: Any,
    model: Any,
    stage: Any,
    k: int,
    stored: Any,
    ddir: Path,
    steps: str,
    n_verify: int,
) -> dict[str, Any]:
    """Stage ``k``'s FINN build folder (model, configs, graph, adapex_report/), checked
    against its stored report; returns its library.json entry."""
    from dse.accuracy.finn_export import export_finn_stage
    from hw_builders import estimate, write_finn_reports
    from hw_builders.finn_build import build_config, write_build_folder

    device = record.device
    names = finn_node_names(stage)
    graph = rename_graph(stage, names)
    folding = rename_folding(record.folding or {}, names)
    sdir = ddir / f"stage_{k}"
    # the exporter leaves side files (external-data scratch) beside its output: keep them
    # out of the library
    with tempfile.TemporaryDirectory(prefix="adapex-export-") as scratch:
        onnx_path = Path(scratch) / "model.onnx"
        export_finn_stage(model, onnx_path, stage=k, exits=list(record.exits), n_verify=n_verify)
        write_build_folder(
            graph,
            sdir,
            folding=folding,
            device=device,
            clk_ns=record.clk_ns,
            model_onnx=onnx_path,
            steps=steps,
        )
    # the same build with FINN's bitfile steps, ready to switch on
    bitfile = build_config(
        device=device,
        clk_ns=record.clk_ns,
        steps="bitfile",
        specialize=(sdir / "specialize_layers_config.json").exists(),
    )
    dump_json(sdir / "dataflow_build_config.bitfile.json", bitfile)
    report = estimate(graph, device=device, clk_ns=record.clk_ns, folding=folding)
    _check_stage(record.id, k, stored, report, names)
    out = sdir / "adapex_report"
    out.mkdir(parents=True, exist_ok=True)
    write_finn_reports(report, out)
    dump_json(sdir / "node_names.json", names)
    return {
        "stage": k,
        "exit": record.exits[k] if k < len(record.exits) else None,
        "folder": f"{ddir.name}/stage_{k}",
        "model": f"{ddir.name}/stage_{k}/model.onnx",
        "estimate": report.performance,
    }


def _write_design_files(record: Any, ddir: Path) -> None:
    """The design's metrics, stored hardware report and provenance."""
    dump_json(ddir / "metrics.json", record.metrics)
    dump_json(ddir / "hw_report.json", record.hw_report)
    dump_json(
        ddir / "provenance.json",
        {
            **(record.provenance or {}),
            "study": record.study,
            "design_id": record.id,
            "trial_number": record.trial_number,
            "params": record.params,
            "arch": record.arch,
            "exits": record.exits,
            "thresholds": record.thresholds,
            "board": record.board,
            "part": record.part,
            "clk_ns": record.clk_ns,
            "checkpoint": record.checkpoint,
            "dataset": record.dataset,
            "exported_at": utc_now(),
        },
    )


def design_entry(record: Any, folder: str, stages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A design's library.json entry; ``stages`` get the design's own thresholds."""
    return {
        "id": record.id,
        "trial_number": record.trial_number,
        "folder": folder,
        "pareto": bool(record.pareto),
        "feasible": bool(record.feasible),
        "exits": list(record.exits),
        "thresholds": list(record.thresholds),
        "params": record.params,
        "objectives": record.objectives,
        "metrics": record.metrics,
        "board": record.board,
        "part": record.part,
        "clk_ns": record.clk_ns,
        "stages": [
            {**st, "threshold": record.thresholds[k] if k < len(record.thresholds) else None}
            for k, st in enumerate(stages)
        ],
    }

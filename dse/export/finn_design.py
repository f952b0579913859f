"""The ``finn`` export target: a design as one FINN build folder, one accelerator.

The folder holds the design's one QONNX model (every stage, each with its own input and
output streams; :mod:`dse.accuracy.design_model`, made from the cached weights and checked
stage by stage by executing it with qonnx against PyTorch), FINN's build configs, the
folding and specialisation configs under FINN's node names, adapex's graph of the design as
FINN builds it, ``deployment.json`` (:mod:`dse.export.deployment`) and ``adapex_report/``:
adapex's FINN-format estimates of the whole accelerator, recomputed from the written graph
and folding and checked against the stored report, layer by layer and in total.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dse.errors import StateError
from dse.export.deployment import deployment
from dse.export.jsonfile import dump_json, utc_now
from hw_builders.naming import finn_design_graph, rename_folding

#: Per-layer figures that must match between the stored report and the exported folders.
CHECKED_KEYS = ("cycles", "LUT", "BRAM_18K", "URAM", "DSP")


def _check_stage(
    design_id: int, k: int, stored: Any, report: Any, names: Mapping[str, str]
) -> None:
    """Raise StateError when the recomputed estimate of the design's model (FINN's node
    names) differs from stage ``k``'s stored one (a HardwareReport under adapex's names)."""
    got = {layer.name: layer for layer in report.layers}
    for row in stored.layers:
        layer = got.get(names.get(row.name, ""))
        if layer is None:
            raise StateError(
                f"design {design_id} stage {k}: stored layer {row.name!r} is not in the "
                "design's graph; the stored design is inconsistent, re-run the study"
            )
        for key in CHECKED_KEYS:
            if int(getattr(layer, key)) != int(getattr(row, key)):
                raise StateError(
                    f"design {design_id} stage {k} layer {row.name}: {key}="
                    f"{getattr(layer, key)} now but {getattr(row, key)} stored; the cost model "
                    "changed since the study ran, re-run the study before exporting"
                )


def _stored_report(record: Any) -> Any:
    """The design's stored StagedReport; StateError when it is unreadable."""
    from hw_builders.errors import HwError

    try:
        return record.report()
    except HwError as exc:
        raise StateError(
            f"design {record.id}: its stored hardware report is unreadable ({exc}); re-run "
            "the study"
        ) from None


def _check_totals(record: Any, stored: Any) -> None:
    """Raise StateError unless the design, costed now on the one costing path
    (:func:`dse.design.cost`), has the resource totals it was stored with."""
    from dse.design import cost

    now = cost(record.hardware(), stored.reach or None)
    if now.total != stored.total:
        raise StateError(
            f"design {record.id}: resources {now.total} now but {stored.total} stored; the "
            "cost model changed since the study ran, re-run the study before exporting"
        )


def write_finn_design(
    record: Any, ddir: Path, *, steps: str = "estimate", n_verify: int = 8
) -> dict[str, Any]:
    """Write one design's FINN build folder (one accelerator holding every stage); returns
    its library.json entry (paths relative to the library folder).

    Args:
        record: The stored design (``dse.design.DesignRecord``).
        ddir: Its folder (created).
        steps: ``"estimate"`` or ``"bitfile"`` in dataflow_build_config.json.
        n_verify: Random samples each stage of the model is executed on (qonnx vs PyTorch).

    Raises:
        StateError: the stored design is inconsistent, or the cost model no longer
            reproduces its stored figures.
    """
    from dse.design import load_design_model
    from hw_builders import estimate, write_finn_reports
    from hw_builders.finn_build import build_config, shell_flow_type, write_build_folder
    from hw_builders.stages import split_stages

    model = load_design_model(record.arch, record.checkpoint, record.exits)
    stored = _stored_report(record)
    stages = split_stages(record.graph())
    if len(stages) != len(record.exits) + 1 or len(stored.stages) != len(stages):
        raise StateError(
            f"design {record.id}: its graph has {len(stages)} stages and its stored report "
            f"{len(stored.stages)} for exits {record.exits}; the stored design is "
            "inconsistent, re-run the study"
        )
    _check_totals(record, stored)
    graph, names = finn_design_graph(stages, f"design_{record.id}")
    folding = rename_folding(record.folding or {}, names)
    with tempfile.TemporaryDirectory(prefix="adapex-export-") as scratch:
        onnx_path, io = _write_model(record, model, Path(scratch), n_verify)
        write_build_folder(
            graph,
            ddir,
            folding=folding,
            device=record.device,
            clk_ns=record.clk_ns,
            model_onnx=onnx_path,
            steps=steps,
        )
    # the same build with FINN's bitfile steps, ready to switch on
    bitfile = build_config(
        device=record.device,
        clk_ns=record.clk_ns,
        steps="bitfile",
        specialize=(ddir / "specialize_layers_config.json").exists(),
    )
    dump_json(ddir / "dataflow_build_config.bitfile.json", bitfile)
    report = estimate(graph, device=record.device, clk_ns=record.clk_ns, folding=folding)
    if len(report.layers) != sum(len(st.layers) for st in stored.stages):
        raise StateError(
            f"design {record.id}: {len(report.layers)} layers in its graph but "
            f"{sum(len(st.layers) for st in stored.stages)} stored; the stored design is "
            "inconsistent, re-run the study"
        )
    for k, st in enumerate(stored.stages):
        _check_stage(record.id, k, st, report, names)
    out = ddir / "adapex_report"
    out.mkdir(parents=True, exist_ok=True)
    write_finn_reports(report, out)
    dump_json(ddir / "node_names.json", names)
    dump_json(
        ddir / "deployment.json",
        deployment(record, _folded(record), names, io, shell_flow_type(record.device)),
    )
    _write_design_files(record, ddir)
    stage_entries = [
        {
            "stage": k,
            "exit": record.exits[k] if k < len(record.exits) else None,
            "input": k,
            "estimate": stored.stages[k].performance,
        }
        for k in range(len(stages))
    ]
    return design_entry(record, ddir.name, stage_entries)


def _folded(record: Any) -> list[Any]:
    """The stage graphs with the design's folding applied (its streams' widths)."""
    from hw_builders.folding.config import FoldingConfig
    from hw_builders.stages import split_stages

    return split_stages(FoldingConfig.from_dict(record.folding or {}).apply(record.graph()))


def _write_model(
    record: Any, model: Any, scratch: Path, n_verify: int
) -> tuple[Path, list[dict[str, Any]]]:
    """The design's one model (every stage, checked with qonnx against PyTorch stage by
    stage) in ``scratch``, and per stage what deployment.json needs of its tensors."""
    from dse.accuracy.finn_export import write_design_onnx

    out = scratch / "model.onnx"
    io = write_design_onnx(model, record.exits, out, name=f"design_{record.id}", n_verify=n_verify)
    return out, io


def _checkpoint_fields(checkpoint: str) -> dict[str, Any]:
    """``checkpoint``: the file's path inside the checkpoint cache (``<xx>/<key>/model.pt``);
    ``checkpoint_sha256``: its digest (None where the file is gone)."""
    from dse.library_format import file_digest

    path = Path(checkpoint)
    return {
        "checkpoint": "/".join(path.parts[-3:]),
        "checkpoint_sha256": file_digest(path) if path.is_file() else None,
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
            # the checkpoint's place in the checkpoint cache and its digest: no path of the
            # machine that trained it
            **_checkpoint_fields(record.checkpoint),
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
        "model": f"{folder}/model.onnx",
        "deployment": f"{folder}/deployment.json",
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

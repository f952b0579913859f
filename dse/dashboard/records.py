"""Design records as the dashboard and the report read them: accessors and the tables they
show. No plotly here: :mod:`dse.dashboard.figures` draws the figures from these.

Text that comes from the database is HTML-escaped (:func:`esc`) before it reaches a title,
a hover label or a table cell.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from dse.design import clock_note_of, pruning_rate_of

#: Axis titles of the figures a design stores besides its objectives'.
_OTHER_LABELS: dict[str, str] = {"URAM": "URAM", "pruning_rate": "pruning rate"}


def metric_labels() -> dict[str, str]:
    """Human-readable axis titles: the default objectives' first (the axes a study shows
    first), then every other registered objective's (dse.objectives), then the other
    stored figures'."""
    from dse.objectives import get_objective, objective_names

    first = _default_objectives()
    names = first + [n for n in objective_names() if n not in first]
    return {**{name: get_objective(name).title for name in names}, **_OTHER_LABELS}


@functools.cache
def _default_objectives() -> list[str]:
    """A study's objectives when its config names none (``[objectives] names``)."""
    from dse.config import ObjectivesSection

    return list(ObjectivesSection().names)


RESOURCE_KEYS = ("LUT", "BRAM_18K", "URAM", "DSP")


def design_dict(design: Any) -> dict[str, Any]:
    """The dict form of a design (a DesignRecord or a mapping of its fields), not copied deeply.

    Figures only read it; a record's fields are taken as they are (no ``asdict`` deep copy of
    its exit profile and reports).
    """
    if isinstance(design, Mapping):
        return dict(design)
    fields = getattr(design, "__dataclass_fields__", None)
    if fields is not None:
        return {name: getattr(design, name) for name in fields}
    raise TypeError(f"design: expected a DesignRecord or a dict, got {type(design).__name__}")


def esc(value: Any) -> str:
    """HTML-escape any value for a plotly title or hover label.

    ``<``, ``>`` and ``&`` are escaped, so no tag can form; quotes stay as they are (plotly
    shows ``&quot;`` literally, and outside a tag a quote is plain text).
    """
    return html.escape(str(value), quote=False)


def design_kind(design: Mapping[str, Any]) -> str:
    """``pareto``, ``dominated`` (feasible, not on the front) or ``infeasible``."""
    if not design.get("feasible", True):
        return "infeasible"
    return "pareto" if design.get("pareto") else "dominated"


def finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def pruning_rate(design: Mapping[str, Any]) -> float | None:
    """Mean pruning rate of a design (dict form; None when its parameters name none)."""
    return pruning_rate_of(design.get("params") or {})


def metric_value(design: Mapping[str, Any], key: str) -> float | None:
    """A numeric figure of a design: from metrics, objectives, or the pruning rate."""
    if key == "pruning_rate" and key not in (design.get("metrics") or {}):
        return pruning_rate(design)
    for source in ("metrics", "objectives"):
        value = finite((design.get(source) or {}).get(key))
        if value is not None:
            return value
    return None


def axis_options(designs: Iterable[Any]) -> list[str]:
    """Metrics that every given design has as a finite number (known ones first)."""
    dicts = [design_dict(d) for d in designs]
    if not dicts:
        return [k for k in metric_labels() if k != "pruning_rate"]
    keys: list[str] = []
    for d in dicts:
        for source in ("metrics", "objectives"):
            for k in d.get(source) or {}:
                if k not in keys:
                    keys.append(k)
    keys.append("pruning_rate")
    ok = [k for k in keys if all(metric_value(d, k) is not None for d in dicts)]
    labels = metric_labels()
    known = [k for k in labels if k in ok]
    return known + [k for k in ok if k not in labels]


def axis_label(key: str) -> str:
    """Axis title of a metric."""
    return metric_labels().get(key, key)


def columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The keys of table rows, in first-seen order (the columns of a table of them)."""
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    return list(cols)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def folding_summary(folding: Mapping[str, Any], limit: int = 8) -> list[str]:
    """One ``node: PE=.. SIMD=..`` line per folded node (at most ``limit`` and a count)."""
    lines = []
    nodes = [(k, v) for k, v in folding.items() if k != "Defaults" and isinstance(v, Mapping)]
    for name, attrs in nodes[:limit]:
        knobs = " ".join(f"{k}={fmt(v)}" for k, v in attrs.items() if k in ("PE", "SIMD"))
        lines.append(f"{name}: {knobs}" if knobs else str(name))
    if len(nodes) > limit:
        lines.append(f"... {len(nodes) - limit} more")
    return lines


def hover_text(design: Mapping[str, Any]) -> str:
    """Hover label of a design: id, metrics, pruning, exits, thresholds and folding (escaped)."""
    params = design.get("params") or {}
    pr = params.get("pruning", pruning_rate(design))
    lines = [
        f"<b>design {esc(design.get('id'))}</b> (trial {esc(design.get('trial_number'))}, "
        f"{esc(design_kind(design))})",
    ]
    for key in ("accuracy", "throughput_fps", "energy_per_inference_j", "LUT"):
        value = metric_value(design, key)
        if value is not None:
            lines.append(f"{esc(axis_label(key))}: {esc(fmt(value))}")
        test = (design.get("metrics") or {}).get("test")
        if (
            key == "accuracy"
            and isinstance(test, Mapping)
            and finite(test.get("accuracy")) is not None
        ):
            lines.append(f"accuracy (held-out test split): {esc(fmt(test['accuracy']))}")
    lines.append(f"pruning: {esc(fmt(pr))}")
    lines.append(f"exits: {esc(fmt(list(design.get('exits') or [])))}")
    lines.append(f"thresholds: {esc(fmt(list(design.get('thresholds') or [])))}")
    fold = folding_summary(design.get("folding") or {}, limit=6)
    if fold:
        lines.append("folding: " + "<br>  ".join(esc(x) for x in fold))
    note = clock_note_of(design.get("board"), design.get("part"), design.get("clk_ns"))
    if note:
        lines.append(f"clock: {esc(note)}")
    return "<br>".join(lines)


def layer_table(design: Any) -> list[dict[str, Any]]:
    """Per layer of a design's staged hardware report: stage, name, op type, cycles, resources."""
    d = design_dict(design)
    report = d.get("hw_report") or {}
    stages = report.get("stages") or ([report] if report.get("layers") else [])
    rows = []
    for k, stage in enumerate(stages):
        for layer in stage.get("layers") or []:
            row = {"stage": k, "name": str(layer.get("name")), "op_type": layer.get("op_type")}
            row["cycles"] = int(layer.get("cycles", 0))
            for key in RESOURCE_KEYS:
                row[key] = layer.get(key, 0)
            rows.append(row)
    return rows


def stage_table(design: Any) -> list[dict[str, Any]]:
    """Per stage: reach, exit fraction, own throughput, activity, dynamic power, resources."""
    d = design_dict(design)
    report = d.get("hw_report") or {}
    stages = report.get("stages") or []
    reach = list(report.get("reach") or [1.0] * len(stages))
    frac = list(report.get("exit_fraction") or [])
    thr = list(report.get("stage_throughput_fps") or [])
    act = list(report.get("activity") or [])
    dyn = list(report.get("stage_dynamic_power_w") or [])
    lat = list(report.get("latency_s_per_exit") or [])
    exits = list(report.get("exits") or d.get("exits") or [])

    def at(seq: Sequence[Any], k: int) -> Any:
        return seq[k] if k < len(seq) else None

    rows = []
    for k, stage in enumerate(stages):
        total = stage.get("total") or {}
        rows.append(
            {
                "stage": k,
                "exit": exits[k] if k < len(exits) and exits[k] is not None else "final",
                "reach": at(reach, k),
                "exit_fraction": at(frac, k),
                "throughput_fps": at(thr, k),
                "activity": at(act, k),
                "dynamic_power_w": at(dyn, k),
                "latency_s": at(lat, k),
                **{key: total.get(key, 0) for key in RESOURCE_KEYS},
                "utilisation": dict(stage.get("utilisation") or {}),
            }
        )
    return rows


def folding_rows(folding: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The folding config as table rows: node, then each attribute (``Defaults`` left out)."""
    rows = []
    for name, attrs in folding.items():
        if name == "Defaults" or not isinstance(attrs, Mapping):
            continue
        rows.append({"node": str(name), **{str(k): fmt(v) for k, v in attrs.items()}})
    return rows


def runtime_design_ids(table: Mapping[str, Any] | None) -> list[int]:
    """Ids of the stored designs the runtime selection table uses (baselines left out)."""
    if not table:
        return []
    ids = {int(e["design_id"]) for e in table.get("entries", []) if "design_id" in e}
    return sorted(i for i in ids if i >= 0)


def studies_rows(summaries: Iterable[Any]) -> list[dict[str, Any]]:
    """Study summaries as table rows (name, counts, objectives, hypervolume)."""
    rows = []
    for s in summaries:
        d = s.to_dict() if hasattr(s, "to_dict") else dict(s)
        rows.append(
            {
                "study": str(d.get("name")),
                "trials": d.get("n_trials", 0),
                "complete": d.get("n_complete", 0),
                "running": d.get("n_running", 0),
                "designs": d.get("n_designs", 0),
                "pareto": d.get("n_pareto", 0),
                "objectives": ", ".join(
                    f"{o} ({dr})"
                    for o, dr in zip(
                        d.get("objectives") or [], d.get("directions") or [], strict=False
                    )
                )
                or ", ".join(d.get("directions") or []),
                "hypervolume": fmt(d["hypervolume"]) if d.get("hypervolume") is not None else "",
            }
        )
    return rows


def design_summary(design: Any) -> list[tuple[str, str]]:
    """Key facts of a design as (label, value) pairs (plain text, for any renderer)."""
    d = design_dict(design)
    params = d.get("params") or {}
    metrics = d.get("metrics") or {}
    facts = [
        ("design", str(d.get("id"))),
        ("study", str(d.get("study"))),
        ("trial", str(d.get("trial_number"))),
        ("status", design_kind(d)),
        ("device", f"{d.get('board') or ''} {d.get('part') or ''}".strip()),
        ("clock (ns)", fmt(d.get("clk_ns"))),
        ("pruning", fmt(params.get("pruning", pruning_rate(d)))),
        ("exits", fmt(list(d.get("exits") or []))),
        ("thresholds", fmt(list(d.get("thresholds") or []))),
    ]
    note = clock_note_of(d.get("board"), d.get("part"), d.get("clk_ns"))
    if note:
        facts.append(("clock check", note))
    if "accuracy" in metrics:
        split = "calibration" if d.get("model_id") is not None else "test only"
        facts.append((f"accuracy ({split} split)", fmt(metrics["accuracy"])))
    test = metrics.get("test")
    if isinstance(test, Mapping) and test.get("accuracy") is not None:
        facts.append(("accuracy (held-out test split)", fmt(test["accuracy"])))
    for key in (
        "throughput_fps",
        "latency_s",
        "power_w",
        "energy_per_inference_j",
        "edp",
        *RESOURCE_KEYS,
        "fits",
    ):
        if key in metrics:
            facts.append((axis_label(key), fmt(metrics[key])))
    bound = metrics.get("limited_by") or (d.get("hw_report") or {}).get("limited_by")
    if bound:
        facts.append(("limited by", str(bound.get("detail") or bound.get("kind"))))
    return facts

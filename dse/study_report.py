"""The offline HTML report of a study: the dashboard's figures in one self-contained file.

plotly.js is embedded inline once (no CDN, no network access when the file is opened);
every figure comes from :mod:`dse.dashboard.figures`, the builders the dashboard uses.
Text from the database is HTML-escaped.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dse.dashboard import figures as F
from dse.errors import DseError

#: Axis pairs of the report's 2D Pareto plots (each drawn when every design has both metrics).
REPORT_AXES_2D: tuple[tuple[str, str], ...] = (
    ("throughput_fps", "accuracy"),
    ("energy_per_inference_j", "accuracy"),
    ("LUT", "throughput_fps"),
)

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
div.facts { max-width: 100%; overflow-x: auto; margin: .5em 0 1em; }
table.facts { border-collapse: collapse; font-size: .9em; }
table.facts td, table.facts th { border: 1px solid #ddd; padding: .2em .5em; text-align: left;
  vertical-align: top; white-space: nowrap; }
table.facts th { background: #f4f4f4; }
table.facts td.text { white-space: normal; min-width: 22em; max-width: 36em; }
details { margin: .6em 0; } summary { cursor: pointer; font-weight: 600; }
.muted { color: #666; }
"""


def _cell(value: Any) -> str:
    """One table cell: figures and short words on one line (never broken mid-word), a
    sentence wrapped at its spaces (the table scrolls sideways instead of squeezing)."""
    text = html.escape(str(value))
    return f'<td class="text">{text}</td>' if len(text) > 40 and " " in text else f"<td>{text}</td>"


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    cols = F.columns(rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(_cell(r.get(c, "")) for c in cols) + "</tr>" for r in rows)
    return f'<div class="facts"><table class="facts"><tr>{head}</tr>{body}</table></div>'


class _FigureWriter:
    """Renders figures as HTML fragments; plotly.js goes inline with the first one only."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig: Any) -> str:
        import plotly.io as pio

        self.count += 1
        return pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=self.count == 1,
            include_mathjax=False,
            div_id=f"fig{self.count}",
            config={"displaylogo": False, "responsive": True},
        )


def _pareto_section(study: str, dicts: list[dict[str, Any]], fig_html: _FigureWriter) -> list[str]:
    """The Pareto front in every 2-D projection of REPORT_AXES_2D the designs have, and 3-D."""
    parts = ["<h2>Pareto front</h2>"]
    options = F.axis_options(dicts)
    for x, y in REPORT_AXES_2D:
        if x in options and y in options:
            title = f"{study}: {F.axis_label(y)} vs {F.axis_label(x)}"
            parts.append(fig_html(F.pareto_figure(dicts, x, y, title=title)))
    if all(a in options for a in F.DEFAULT_AXES_3D):
        parts.append(fig_html(F.pareto_figure_3d(dicts, F.DEFAULT_AXES_3D, title=f"{study} (3D)")))
    if fig_html.count == 0:
        parts.append(fig_html(F.pareto_figure(dicts)))
    return parts


def _designs_table(shown: list[dict[str, Any]], used: set[int]) -> list[str]:
    """The shown designs' summaries, marking those the runtime table uses."""
    rows = [
        {**dict(F.design_summary(d)), "in runtime table": "yes" if int(d["id"]) in used else "no"}
        for d in shown
    ]
    return ["<h2>Pareto designs and the designs the runtime table uses</h2>", _table(rows)]


def _design_details(shown: list[dict[str, Any]], fig_html: _FigureWriter) -> list[str]:
    """A folded section per shown design: its summary and its figures."""
    parts = ["<h2>Design details</h2>"]
    for d in shown:
        parts.append(
            f"<details><summary>design {html.escape(str(d.get('id')))} "
            f"(trial {html.escape(str(d.get('trial_number')))})</summary>"
        )
        parts.append(_table([dict(F.design_summary(d))]))
        for fig in F.design_figures(d).values():
            parts.append(fig_html(fig))
        parts.append("</details>")
    return parts


def render_report(
    study: str,
    designs: Iterable[Any],
    *,
    summary: Any = None,
    runtime_table: Mapping[str, Any] | None = None,
    simulation: Mapping[str, Any] | None = None,
    sweep: Mapping[str, Any] | None = None,
    generated_at: str | None = None,
) -> str:
    """The report of one study as a self-contained HTML document.

    Args:
        study: The study's name.
        designs: Every design of the study (DesignRecords or their dicts).
        summary: The study's ``StudySummary`` (optional).
        runtime_table: The stored runtime selection table (optional).
        simulation: The stored runtime simulation result (optional).
        sweep: The stored load sweep (optional).
        generated_at: Timestamp shown in the header (default: now, UTC).

    Returns:
        The HTML text.
    """
    dicts = [F.design_dict(d) for d in designs]
    pareto = [d for d in dicts if F.design_kind(d) == "pareto"]
    # every design the runtime selection table uses is shown, on the front or not
    used = set(F.runtime_design_ids(runtime_table))
    shown = pareto + [d for d in dicts if int(d["id"]) in used and F.design_kind(d) != "pareto"]
    fig_html = _FigureWriter()
    stamp = generated_at or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    name = html.escape(study)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>adapex report: {name}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>adapex study <code>{name}</code></h1>",
        f'<p class="muted">generated {html.escape(stamp)}; {len(dicts)} designs, '
        f"{len(pareto)} on the feasible Pareto front, "
        f"{sum(1 for d in dicts if F.design_kind(d) == 'infeasible')} infeasible.</p>",
    ]
    if summary is not None:
        parts.append(_table(F.studies_rows([summary])))
    parts += _pareto_section(study, dicts, fig_html)
    parts += _designs_table(shown, used)
    parts.append("<h2>Runtime selection table</h2>")
    parts.append(fig_html(F.runtime_heatmap(runtime_table)))
    parts.append("<h2>Runtime simulation</h2>")
    parts.append(fig_html(F.simulation_figure(simulation)))
    parts.append("<h2>Load sweep against the baselines</h2>")
    parts.append(fig_html(F.sweep_figure(sweep)))
    parts += _design_details(shown, fig_html)
    parts.append("</body></html>")
    return "\n".join(parts)


def stored_sweep(store: Any, study: str) -> dict[str, Any] | None:
    """The most recent load sweep stored for the study's current designs, or None."""
    cache = store.runtime_cache(study) or {}
    sweeps = cache.get("sweeps") or {}
    return list(sweeps.values())[-1] if sweeps else None


def write_report(storage: str | None, study: str, out: str | os.PathLike[str]) -> Path:
    """Read a study from the database (read-only) and write its HTML report atomically.

    Args:
        storage: The storage URL (default ``sqlite:///studies.db``).
        study: The study's name.
        out: The HTML file to write.

    Returns:
        The written path.

    Raises:
        DseError: the study does not exist, or ``out`` is not an ``.html`` file in an
            existing folder.
    """
    from dse.storage import Store
    from hw_builders import check_output_file
    from hw_builders.graph import atomic_write_text

    path = Path(out)
    if path.suffix.lower() not in (".html", ".htm"):
        raise DseError(
            f"`out` {path}: the report is HTML; give a file name ending in .html",
            arguments=("out",),
        )
    check_output_file(path, "out")
    with Store(storage, read_only=True) as store:
        summaries = {s.name: s for s in store.list_studies()}
        if study not in summaries:
            known = ", ".join(sorted(summaries)) or "none"
            raise DseError(
                f"`study` {study!r}: no such study (known: {known})", arguments=("study",)
            )
        text = render_report(
            study,
            store.designs(study),
            summary=summaries[study],
            runtime_table=store.runtime_table(study),
            simulation=store.simulation(study),
            sweep=stored_sweep(store, study),
        )
    atomic_write_text(path, text)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)  # the temporary file was private; give the usual mode
    return path

"""Figures and the report laid out in a real browser (Debian's Chromium): nothing that a
reader must read overlaps or is cut, checked on the rendered page's boxes, with a screenshot
of each kept beside the test's files.

The figures are drawn from small made-up inputs (a load sweep with every baseline and basis,
three exits with close thresholds, a design table of twenty columns): the layouts, not the
figures, are under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

from dse.dashboard import figures as F

pytestmark = [pytest.mark.browser]


def _boxes(page: Any, selector: str) -> list[dict[str, float]]:
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, w: r.width, h: r.height}; }).filter(b => b.w > 0 && b.h > 0)",
    )


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["w"] <= b["x"]
        or b["x"] + b["w"] <= a["x"]
        or a["y"] + a["h"] <= b["y"]
        or b["y"] + b["h"] <= a["y"]
    )


def _show(page: Any, fig: Any, path: Path) -> None:
    path.write_text(fig.to_html(include_plotlyjs=True, full_html=True))
    page.goto(path.as_uri())
    page.wait_for_selector(".main-svg")
    page.screenshot(path=str(path.with_suffix(".png")))


@pytest.fixture(scope="module")
def page() -> Any:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser.new_page(viewport={"width": 1280, "height": 900})
        browser.close()


def _sweep() -> dict[str, Any]:
    from dse.runtime.policies import baseline_names

    rows = []
    for trace in ("smart-iot", "camera"):
        for basis in ("static_finn", "static_best", "max"):
            for load in (0.5, 1.0, 2.0, 4.0):
                for base in baseline_names():
                    rows.append(
                        {
                            "trace": trace,
                            "load_basis": basis,
                            "load": load,
                            "baseline": base,
                            "processed_ratio": 1.0 + load / 10,
                            "service_edp_ratio": 1.5 + load / 5,
                            "attribution": {"folding": 1.2, "pruning": 1.1, "exits": 1.05},
                            "limited_by": {"detail": "host link"},
                        }
                    )
    return {"rows": rows, "accuracy_threshold": 0.9, "select": "energy"}


def test_the_sweep_legend_clears_the_axis_titles(page: Any, tmp_path: Path) -> None:
    _show(page, F.sweep_figure(_sweep()), tmp_path / "sweep.html")
    legend = _boxes(page, "g.legend")
    titles = _boxes(page, "g.infolayer text[class*='title']:not(.gtitle)")
    plots = _boxes(page, "g.cartesianlayer g.subplot rect.nsewdrag, rect.nsewdrag")
    assert len(legend) == 1 and len(_boxes(page, "g.legend g.traces")) >= 12
    assert len(titles) == 5 and plots  # two x titles, three y titles
    for box in titles + plots:
        assert not _overlap(legend[0], box), (legend[0], box)


def test_close_thresholds_get_labels_that_do_not_overlap(page: Any, tmp_path: Path) -> None:
    from dse.accuracy.profile import ExitProfile

    rng = np.random.default_rng(0)
    n = 200
    profile = ExitProfile(
        exits=[0, 1, 2, -1],
        confidences=rng.uniform(0.3, 1.0, size=(4, n)),
        predictions=rng.integers(0, 10, size=(4, n)),
        labels=rng.integers(0, 10, size=n),
    )
    design = {
        "exit_profile": profile.to_dict(),
        "exits": [0, 1, 2],
        "thresholds": [0.9, 0.92, 0.95],
    }
    _show(page, F.exit_profile_figure(design), tmp_path / "exits.html")
    labels = _boxes(page, "g.annotation")
    assert len(labels) == 3
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert not _overlap(a, b), (a, b)


def test_the_report_table_keeps_headers_and_figures_on_one_line(page: Any, tmp_path: Path) -> None:
    from dse.study_report import _table

    row = {f"column {i} of the design table": f"{1234.5678 * (i + 1):.6g}" for i in range(20)}
    row["clock check"] = (
        "5 ns (200 MHz) on xc7z020clg400-1 is faster than FINN's builds close on Zynq-7000"
    )
    css = (Path(__file__).resolve().parents[2] / "dse" / "study_report.py").read_text()
    style = css.split('_CSS = """', 1)[1].split('"""', 1)[0]
    html = f"<html><head><style>{style}</style></head><body>{_table([row, row])}</body></html>"
    path = tmp_path / "table.html"
    path.write_text(html)
    page.goto(path.as_uri())
    page.screenshot(path=str(tmp_path / "table.png"), full_page=True)
    # every header and figure on one line (its text in one line box), the sentence wrapped
    lines = page.evaluate(
        "() => [...document.querySelectorAll('th, td')].map(c => {"
        " const r = document.createRange(); r.selectNodeContents(c);"
        " const tops = new Set([...r.getClientRects()].map(b => Math.round(b.top)));"
        " return [c.tagName + (c.className ? '.' + c.className : ''), tops.size]; })"
    )
    assert {n for tag, n in lines if tag in ("TH", "TD")} == {1}, lines
    assert {n for tag, n in lines if tag == "TD.text"} != {1}
    # the table scrolls sideways inside its box instead of squeezing its columns
    scroll = page.evaluate(
        "() => { const d = document.querySelector('div.facts'); "
        "return [d.scrollWidth, d.clientWidth]; }"
    )
    assert scroll[0] > scroll[1]


def test_the_runtime_heatmap_never_repeats_a_colour() -> None:
    colours = F.distinct_colours(80)
    assert len(set(colours)) == 80 and colours[:10] == list(F._PALETTE)
    table = {
        "entries": [
            {
                "accuracy_threshold": 0.9,
                "rate_min_fps": 10.0 * i,
                "rate_max_fps": 10.0 * (i + 1),
                "design_id": i,
                "thresholds": [],
                "accuracy": 0.95,
                "throughput_fps": 100.0,
                "energy_per_inference_j": 1e-6,
            }
            for i in range(40)
        ]
    }
    scale = F.runtime_heatmap(table).data[0].colorscale
    used = [c for _, c in scale][::2]
    assert len(used) == 40 and len(set(used)) == 40

"""`adapex report`: one self-contained HTML file with the dashboard's figures, offline."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fixtures_study import SmallStudy

from dse.storage import Store
from dse.study_report import render_report

pytestmark = pytest.mark.slow  # trains real models


@pytest.fixture(scope="module")
def report(small_study: SmallStudy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dse.cli.main import main

    out = tmp_path_factory.mktemp("report") / "report.html"
    with pytest.raises(SystemExit) as done:
        main(
            ["report", "--study", small_study.name, "--out", str(out), "--storage", small_study.url]
        )
    assert done.value.code == 0
    return out


def test_report_is_self_contained(report: Path, small_study: SmallStudy) -> None:
    text = report.read_text(encoding="utf-8")
    # no external script or stylesheet: nothing to fetch when the file is opened
    srcs = re.findall(
        r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?([^\"'\s>]+)", text
    )
    assert not [s for s in srcs if re.match(r"(?i)(https?:)?//", s)], srcs
    # plotly.js is inline exactly once, and every figure is drawn with it
    assert text.count("window.PlotlyConfig") == 1
    assert len(text) > 3_000_000  # the library itself is in the file
    with Store(small_study.url, read_only=True) as store:
        pareto = store.pareto(small_study.name)
        designs = store.designs(small_study.name)
        table = store.runtime_table(small_study.name)
    n = len(designs)
    used = {int(e["design_id"]) for e in table["entries"] if int(e["design_id"]) >= 0}
    assert used  # the fixture stored the runtime table
    shown = [d for d in designs if d.pareto or d.id in used]
    n_figures = text.count("Plotly.newPlot(")
    # 3 Pareto views + 3D + runtime table + simulation + sweep + 5 figures per design shown
    # (the Pareto designs and every design the runtime table uses)
    assert n_figures == 7 + 5 * len(shown)
    assert f"{n} designs, {len(pareto)} on the feasible Pareto front" in text
    for d in shown:
        assert f"design {d.id} (trial {d.trial_number})" in text


def test_database_text_is_escaped(small_study: SmallStudy) -> None:
    nasty = "<script>alert('x')</script>"
    with Store(small_study.url, read_only=True) as store:
        designs = store.designs(small_study.name)
    text = render_report(nasty, designs, generated_at="2026-01-01T00:00:00+00:00")
    assert nasty not in text
    assert html.escape(nasty) in text


def test_bad_arguments_exit_2_without_writing(
    small_study: SmallStudy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dse.cli.main import main

    cases = [
        (["--study", "nope", "--out", str(tmp_path / "r.html")], "--study nope: not found"),
        (["--study", small_study.name, "--out", str(tmp_path / "r.pdf")], ".html"),
        (["--study", small_study.name, "--out", str(tmp_path / "no" / "r.html")], "does not exist"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exc:
            main(["report", *args, "--storage", small_study.url])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.browser
def test_report_renders_offline_in_chromium(report: Path) -> None:
    from playwright.sync_api import sync_playwright
    from test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            fetched: list[str] = []

            def block(route) -> None:  # the network is off: any request fails
                fetched.append(route.request.url)
                route.abort()

            page.route(re.compile(r"^(?!file:).*"), block)
            page.goto(report.as_uri())
            page.locator("#fig1 .main-svg").first.wait_for(timeout=30_000)
            drawn = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')).length")
            points = page.locator("#fig1 .scatterlayer path.point").count()
            # a design's figures, drawn while closed, fill the page width once opened
            page.locator("details summary").first.click()
            inner = page.locator("details[open] .js-plotly-plot .main-svg").first
            inner.wait_for(timeout=10_000)
            page.wait_for_timeout(300)
            width = inner.evaluate("e => e.getBoundingClientRect().width")
            page_width = page.evaluate("document.body.getBoundingClientRect().width")
        finally:
            browser.close()
    assert fetched == []
    assert drawn == report.read_text(encoding="utf-8").count("Plotly.newPlot(")
    assert points > 0
    assert width > 0.9 * page_width

"""The dashboard in headless Chromium against a small real study.

`adapex dashboard` runs in a subprocess on a free port; playwright drives Debian's
/usr/bin/chromium (never a downloaded browser). The study page must show the Pareto plot;
clicking a Pareto point must open that design's page. Screenshots are kept under
test-artifacts/. The database file must be byte-identical afterwards (read-only use).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from fixtures_study import SmallStudy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: A study name that would run script if any page rendered database text as HTML.
NASTY = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@dataclass
class Server:
    url: str
    db: Path
    study: str
    pareto_ids: set[int]
    design_ids: set[int]
    cache_dir: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def server(
    small_study: SmallStudy,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """The dashboard over a copy of the small study, plus a study with a hostile name."""
    from fixtures_study import small_config

    from dse.config import parse_config
    from dse.storage import Store
    from dse.study.run import run_study

    folder = tmp_path_factory.mktemp("dashboard")
    db = folder / "studies.db"
    with (
        contextlib.closing(sqlite3.connect(small_study.db)) as src,
        contextlib.closing(sqlite3.connect(db)) as dst,
    ):
        src.backup(dst)
    config = small_config(small_study.db.parent)
    config["study"] = {**config["study"], "name": NASTY, "trials": 2}
    config["storage"] = {"url": f"sqlite:///{db}"}
    run_study(parse_config(config))  # reuses the trained weights of the small study's cache
    with Store(f"sqlite:///{db}", read_only=True) as store:
        pareto_ids = {r.id for r in store.pareto(small_study.name)}
        design_ids = {r.id for r in store.designs(small_study.name)}
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dse", "dashboard", "--storage", f"sqlite:///{db}"]
        + ["--port", str(port), "--refresh-s", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"the dashboard did not start: {out[-2000:]}")
            time.sleep(0.3)
        yield Server(url, db, small_study.name, pareto_ids, design_ids, small_study.cache_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def test_click_on_a_pareto_point_opens_its_design_page(server: Server, browser) -> None:
    before = _sha256(server.db)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server.url}/?study={quote(server.study)}")
    points = page.locator("#pareto-2d .scatterlayer .trace .points path.point")
    points.first.wait_for(timeout=60_000)
    # every design of the study is drawn once; the front is a trace of its own
    assert points.count() == len(server.design_ids)
    legend = page.locator("#pareto-2d .legend").text_content() or ""
    assert f"Pareto front ({len(server.pareto_ids)})" in legend
    page.locator("#runtime-table .heatmaplayer image").first.wait_for(timeout=30_000)
    page.locator("#simulation .scatterlayer .trace").first.wait_for(timeout=30_000)
    assert "demand" in (page.locator("#simulation .legend").text_content() or "")
    assert "runtime selection table" in (
        page.locator("#runtime-table .gtitle").text_content() or ""
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    front = page.locator("#pareto-2d .scatterlayer .trace").filter(has=page.locator("path.point"))
    # the Pareto trace is drawn last (on top); hover shows pruning, exits, thresholds, folding
    box = front.last.locator("path.point").first.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    hover = page.locator(".hoverlayer .hovertext")
    hover.first.wait_for(timeout=10_000)
    text = hover.first.text_content() or ""
    for word in ("pruning:", "exits:", "thresholds:", "folding:"):
        assert word in text, text
    # designs with the same two metrics coincide: the label names the one under the mouse
    hovered = int(text.split()[1])
    assert hovered in server.design_ids
    page.mouse.click(x, y)
    title = page.locator("#design-title")
    title.wait_for(timeout=30_000)
    design_id = int(page.url.rsplit("/", 1)[1])
    assert design_id == hovered
    assert title.inner_text() == f"Design {design_id}"
    for graph in ("cycles", "resources", "stages", "exit-profile", "folding"):
        page.locator(f"#design-{graph} .main-svg").first.wait_for(timeout=30_000)
    bars = page.locator("#design-cycles .barlayer .point")
    assert bars.count() > 5  # one bar per hardware layer
    assert "stage 0" in (page.locator("#design-cycles .legend").text_content() or "")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "dashboard_design.png"), full_page=True)
    page.close()
    # nothing but the dashboard itself was fetched (no CDN), no script ran from the database
    assert requests and all(r.startswith(server.url + "/") for r in requests), requests
    assert dialogs == []
    assert _sha256(server.db) == before


def test_names_from_the_database_are_escaped(server: Server, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server.url}/?study={quote(NASTY)}")
    page.locator("#pareto-2d .scatterlayer .trace .points path.point").first.wait_for(
        timeout=60_000
    )
    # the name is shown as text (study list and plot title), never parsed as HTML
    assert NASTY in page.locator("#studies-table").inner_text()
    assert NASTY in (page.locator("#pareto-2d .gtitle").text_content() or "")
    assert page.locator("#studies-table img, #studies-table script").count() == 0
    page.wait_for_timeout(500)
    page.close()
    assert dialogs == []


def test_study_page_refreshes_while_the_study_runs(server: Server, browser) -> None:
    from fixtures_study import small_config

    from dse.config import parse_config
    from dse.storage import Store
    from dse.study.run import run_study

    # a study of its own in the served database: one trained model first
    config = small_config(server.db.parent)
    config["study"] = {**config["study"], "name": "growing", "trials": 1}
    config["storage"] = {"url": f"sqlite:///{server.db}"}
    config["cache_dir"] = str(server.cache_dir)
    run_study(parse_config(config))
    with Store(f"sqlite:///{server.db}", read_only=True) as store:
        n = len(store.designs("growing"))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server.url}/?study=growing")
    points = page.locator("#pareto-2d .scatterlayer .trace .points path.point")
    points.first.wait_for(timeout=60_000)
    assert points.count() == n
    # the second model trained by the real engine while the page is open
    run_study(parse_config(config), trials=2)
    with Store(f"sqlite:///{server.db}", read_only=True) as store:
        m = len(store.designs("growing"))
    assert m > n
    page.wait_for_function(
        "n => document.querySelectorAll('#pareto-2d .scatterlayer .trace .points path.point')"
        ".length === n",
        arg=m,
        timeout=30_000,
    )
    # the studies table's own "designs" cell of this study (not any other number on the page)
    page.wait_for_function(
        """([study, n]) => {
            const table = document.querySelector('#studies-table table');
            if (!table) return false;
            const heads = [...table.querySelectorAll('th')].map(th => th.innerText.trim());
            const col = heads.indexOf('designs');
            const row = [...table.querySelectorAll('tr')].find(
                tr => tr.cells.length && tr.cells[0].innerText.trim() === study);
            return col >= 0 && row !== undefined && row.cells[col].innerText.trim() === String(n);
        }""",
        arg=["growing", m],
        timeout=30_000,
    )
    page.close()


def test_dashboard_refuses_a_missing_database(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dse",
            "dashboard",
            "--storage",
            f"sqlite:///{tmp_path / 'none.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: storage: ") and "does not exist" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_no_write_endpoint_and_no_file_served(server: Server) -> None:
    from dse.dashboard import Dashboard

    app = Dashboard(f"sqlite:///{server.db}").app
    posts = {r.rule for r in app.server.url_map.iter_rules() if "POST" in (r.methods or ())}
    assert posts == {"/_dash-update-component"}  # callbacks only: they read the database
    client = app.server.test_client()
    for path in ("/assets/app.py", "/assets/../figures.py", "/static/figures.py"):
        body = client.get(path).get_data(as_text=True)
        assert "def " not in body  # no source file comes back
    index = client.get("/").get_data(as_text=True)
    assert "https://" not in index.split('id="_dash-config"')[0]
    assert 'src="http' not in index

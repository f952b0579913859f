"""Real signals to real `adapex` processes: Ctrl-C (SIGINT) and SIGKILL mid-export, Ctrl-C to
the dashboard. A command stopped by Ctrl-C says "interrupted" and exits 130; what it was writing
is not left half-written; what a killed one left is cleaned up by the next; a reader leaves
no file beside the database it read."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from cli_checks import ADAPEX, copy_sqlite
from fixtures_study import SmallStudy
from tiny_study import subprocess_env

from dse.export import read_library

pytestmark = pytest.mark.slow


def _default_sigint() -> None:
    """In the child: Ctrl-C as a shell gives it (a test runner may have it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ADAPEX + args,
        cwd=cwd,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def _partial(out: Path) -> list[Path]:
    """What an export to ``out`` holds while it runs, beside ``out``."""
    return sorted(out.parent.glob(f".{out.name}.tmp-*"))


def _wait_mid_export(proc: subprocess.Popen[str], out: Path, timeout: float = 300) -> None:
    """Until the export has written a design's files into its temporary folder."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        if any(p.is_file() for h in _partial(out) for p in h.rglob("*.onnx")):
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"the export wrote no design in {timeout} s")


def test_export_stopped_by_ctrl_c_or_sigkill_leaves_no_partial_library(
    small_study: SmallStudy, tmp_path: Path
) -> None:
    url = copy_sqlite(small_study.db, tmp_path / "db" / "studies.db")
    out = tmp_path / "lib"
    args = ["export", "--study", small_study.name, "--storage", url, "--out", str(out)]

    proc = _start(args, tmp_path)
    _wait_mid_export(proc, out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]  # nothing at --out, no temp

    proc = _start(args, tmp_path)
    _wait_mid_export(proc, out)
    proc.kill()
    proc.communicate(timeout=60)
    assert not out.exists() and len(_partial(out)) == 1  # what a SIGKILL cannot clean up

    done = subprocess.run(
        ADAPEX + args, cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "design/s" not in done.stderr and "\r" not in done.stderr  # no bar into a pipe
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db", "lib"]  # the leftover is gone
    assert read_library(out)["study"] == small_study.name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dashboard_stopped_by_ctrl_c_leaves_the_database_as_it_was(
    small_study: SmallStudy, tmp_path: Path
) -> None:
    import urllib.request

    url = copy_sqlite(small_study.db, tmp_path / "studies.db")
    before = (tmp_path / "studies.db").read_bytes()
    port = _free_port()
    proc = _start(["dashboard", "--storage", url, "--port", str(port)], tmp_path)
    try:
        end = time.monotonic() + 120
        while True:  # until it serves a page that read the database
            assert proc.poll() is None, proc.communicate()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    assert page.status == 200
                break
            except OSError:
                assert time.monotonic() < end, "the dashboard did not start"
                time.sleep(0.2)
        # the page callback, as the browser calls it: it reads the study list
        body = {
            "output": "page.children",
            "outputs": {"id": "page", "property": "children"},
            "inputs": [
                {"id": "url", "property": "pathname", "value": "/"},
                {"id": "url", "property": "search", "value": ""},
            ],
            "changedPropIds": ["url.pathname"],
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_dash-update-component",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as page:
            assert f'"value":"{small_study.name}"' in page.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130)
    # one line says where it serves; no development-server banner, no line per request
    assert "development server" not in err and "_dash-update-component" not in err, err
    assert err.startswith("adapex dashboard on http://127.0.0.1:"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["studies.db"]  # no -wal, no -shm
    assert (tmp_path / "studies.db").read_bytes() == before

"""Bad input that once gave a traceback: each gives one line naming the problem and the
fix, exit status 2, and leaves every file as it was (hashes compared)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from cli_checks import ADAPEX, one_line_exit_2, tree_digest
from tiny_study import subprocess_env, write_tiny


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "t.db").write_text("hi\n")
    before = tree_digest(tmp_path)
    url = "sqlite:///t.db"
    for args in (
        ["study", "list", "--storage", url],
        ["study", "status", "--study", "x", "--storage", url],
        ["worker", "--study", "x", "--storage", url],
        ["run", "--storage", url, "--trials", "1"],
        ["runtime", "table", "--study", "x", "--storage", url],
    ):
        line = one_line_exit_2(args, tmp_path, "t.db is not a SQLite database")
        assert "--storage" in line
    assert tree_digest(tmp_path) == before


def test_dashboard_port_in_use(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        line = one_line_exit_2(
            ["dashboard", "--port", str(port), "--storage", "sqlite:///studies.db"],
            tmp_path,
            f"--port {port}: 127.0.0.1:{port} is already in use",
        )
    assert "pass another port" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_truncated_checkpoint_stops_the_run_before_any_write(tmp_path: Path) -> None:
    cfg = write_tiny(tmp_path, "trunc", trials=1)
    cache = tmp_path / "cache"
    first = subprocess.run(
        [*ADAPEX, "run", "--config", str(cfg), "--storage", "sqlite:///studies.db"],
        cwd=tmp_path,
        env=subprocess_env(cache),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    models = sorted(cache.rglob("model.pt"))
    assert models
    victim = models[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 3])
    before = tree_digest(tmp_path)
    line = one_line_exit_2(
        ["run", "--config", str(cfg), "--storage", "sqlite:///studies.db", "--trials", "4"],
        tmp_path,
        f"checkpoint {victim} is corrupt",
        cache,
    )
    assert f"rm -r {victim.parent}" in line and "--no-cache" not in line
    assert tree_digest(tmp_path) == before

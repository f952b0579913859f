"""`adapex train` as a subprocess: the quickstart point with --json, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ADAPEX = [sys.executable, "-m", "dse"]


def _run(args: list[str], cwd: Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("ADAPEX_CACHE_DIR", None)
    return subprocess.run(
        ADAPEX + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def quickstart(
    tmp_path_factory: pytest.TempPathFactory, quickstart_cache: Path
) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("cli_train")
    cache = quickstart_cache  # shared with test_training: the model is trained once
    proc = _run(["train", "--json", "--torch-device", "cpu", "--cache-dir", str(cache)], work)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return cache, json.loads(proc.stdout)


def test_quickstart_json(quickstart: tuple[Path, dict]) -> None:
    cache, out = quickstart
    assert set(out) == {"exits", "accuracy", "checkpoint", "qonnx"}
    assert [e["index"] for e in out["exits"]] == [0, 1, 2, -1]
    for row in out["exits"]:
        assert set(row) == {"index", "threshold", "exit_fraction", "accuracy"}
    assert sum(e["exit_fraction"] for e in out["exits"]) == pytest.approx(1.0)
    assert out["accuracy"] >= 0.93
    ckpt, qonnx = Path(out["checkpoint"]), Path(out["qonnx"])
    assert ckpt.is_file() and qonnx.is_file()
    assert cache in ckpt.parents and (ckpt.parent / "profile.json").is_file()


def test_config_file_subset_of_exits_and_pruning(
    quickstart: tuple[Path, dict], tmp_path: Path
) -> None:
    cache, _ = quickstart
    cfg = tmp_path / "point.toml"
    # the quickstart's size, so its joint training is reused: only the pruning step trains
    cfg.write_text(
        "[study]\nname = 'ignored'\n\n[train]\nimage_size = 16\nexits = [1]\npruning = 0.25\n"
        "thresholds = [0.8]\n"
    )
    proc = _run(["train", "--json", "--config", str(cfg), "--cache-dir", str(cache)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert [e["index"] for e in out["exits"]] == [1, -1]
    assert out["exits"][0]["threshold"] == 0.8
    assert Path(out["qonnx"]).name == "design_exits_1.onnx"
    meta = json.loads((Path(out["checkpoint"]).parent / "meta.json").read_text())
    assert meta["rates"] == 0.25


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("family = 'resnet'", "family"),
        ("pruning = 1.0", "pruning"),
        ("pruning = -0.1", "pruning"),
        ("exits = [0, 7]", "exits"),
        ("weight_bits = 3", "weight_bits"),
        ("colour = 'red'", "colour"),
        ("epochs = 0", "epochs"),
        ("thresholds = [0.9, 0.9]\nexits = [0]", "thresholds"),
    ],
)
def test_bad_config_exits_2_and_writes_nothing(tmp_path: Path, body: str, field: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f"[train]\n{body}\n")
    cache = tmp_path / "cache"
    proc = _run(["train", "--json", "--config", str(cfg), "--cache-dir", str(cache)], tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr[-1000:])
    # the whole of stderr is the one line: a traceback (or anything else) fails this
    err_lines = proc.stderr.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("error:"), proc.stderr[-1000:]
    assert field in err_lines[0], proc.stderr[-1000:]
    assert proc.stdout == ""
    assert not cache.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_corrupt_checkpoint_exits_2(quickstart: tuple[Path, dict], tmp_path: Path) -> None:
    cache, out = quickstart
    ckpt = Path(out["checkpoint"])
    copy = tmp_path / "cache"
    import shutil

    shutil.copytree(cache, copy)
    bad = copy / ckpt.relative_to(cache)
    bad.write_bytes(b"not a checkpoint")
    proc = _run(["train", "--json", "--cache-dir", str(copy)], tmp_path)
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "and run again" in proc.stderr
    assert proc.stdout == ""


def test_the_shipped_example_point(quickstart: tuple[Path, dict], tmp_path: Path) -> None:
    """examples/point.toml, as the README runs it: the quickstart model pruned by half with
    exits 0 and 2 at their own thresholds (the quickstart's checkpoints are reused)."""
    cache, base = quickstart
    example = Path(__file__).resolve().parents[2] / "examples" / "point.toml"
    proc = _run(["train", "--json", "--config", str(example), "--cache-dir", str(cache)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert [e["index"] for e in out["exits"]] == [0, 2, -1]
    assert [e["threshold"] for e in out["exits"][:2]] == [0.9, 0.8]
    assert sum(e["exit_fraction"] for e in out["exits"]) == pytest.approx(1.0)
    assert Path(out["checkpoint"]).is_file() and cache in Path(out["checkpoint"]).parents
    assert out["checkpoint"] != base["checkpoint"]  # the pruned model, not the quickstart's
    assert out["accuracy"] >= 0.85


def test_out_on_a_full_disk_leaves_nothing(quickstart: tuple[Path, dict], tmp_path: Path) -> None:
    """The QONNX file does not fit: one line naming the fix, and no ``--out`` folder (nor a
    temporary file) left on the disk."""
    from cli_checks import small_disk

    cache, out = quickstart
    needed = Path(out["qonnx"]).stat().st_size
    with small_disk(tmp_path / "disk", max(needed // 1024 // 2, 8)) as disk:
        proc = _run(
            ["train", "--json", "--cache-dir", str(cache), "--out", str(disk / "model" / "q")],
            tmp_path,
        )
        assert proc.returncode == 2, proc.stderr[-2000:]
        lines = proc.stderr.strip().splitlines()
        assert lines[-1].startswith("error: ") and "free some space" in lines[-1], lines
        assert "Traceback" not in proc.stderr
        assert list(disk.iterdir()) == []

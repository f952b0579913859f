"""Benchmark: `adapex export` of one study's library, this checkout against an earlier commit.

Both export the same stored study into fresh folders in the same run: the earlier commit's
``dse``, ``hw_builders`` and ``search_spaces`` (``git archive``) in a subprocess, then this
checkout's, also in a subprocess, so each pays its own imports. Prints the seconds of each,
their ratio, and whether the two libraries hold the same designs, folders and hardware files.

The default study is the quickstart's (``adapex run`` with no arguments): pass its database
with ``--storage``, or let the benchmark run the quickstart first in a temporary folder
(minutes; ``$ADAPEX_CACHE_DIR`` reuses trained checkpoints).

Usage: .venv/bin/python benchmarks/bench_export.py [--storage sqlite:///studies.db]
       [--study NAME] [--before REF]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The commit before the stages were exported through TorchScript.
BEFORE = "b5a4f13"

#: The files of a design folder that describe its accelerator (not dates or provenance).
HARDWARE_FILES = (
    "hw_graph.json",
    "folding_config.json",
    "dataflow_build_config.json",
    "hw_report.json",
    "deployment.json",
)


def _export(code_root: Path, storage: str, study: str | None, out: Path) -> float:
    """Seconds of one export, in a subprocess importing from ``code_root``."""
    args = [
        sys.executable,
        "-c",
        "import sys; from dse.cli.main import main; main(sys.argv[1:])",
        "export",
        "--storage",
        storage,
        "--out",
        str(out),
    ]
    if study:
        args += ["--study", study]
    env = {**os.environ, "PYTHONPATH": str(code_root), "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=code_root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"export from {code_root} failed:\n{done.stderr[-3000:]}")
    return seconds


def _quickstart(folder: Path) -> str:
    """Run the quickstart study in ``folder``; its database URL."""
    print("running the quickstart study (adapex run) ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "dse", "run", "--no-progress"],
        cwd=folder,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=True,
        capture_output=True,
    )
    return f"sqlite:///{folder / 'studies.db'}"


def _same_hardware(a: Path, b: Path) -> bool:
    ia = json.loads((a / "library.json").read_text())
    ib = json.loads((b / "library.json").read_text())
    if [d["id"] for d in ia["designs"]] != [d["id"] for d in ib["designs"]]:
        return False
    for entry in ia["designs"]:
        folder = entry["folder"]
        for name in HARDWARE_FILES:
            if json.loads((a / folder / name).read_text()) != json.loads(
                (b / folder / name).read_text()
            ):
                return False
    return True


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", help="the study database (default: run the quickstart)")
    parser.add_argument("--study", help="the study (default: the database's only one)")
    parser.add_argument("--before", default=BEFORE, help="git ref to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
        work = Path(tmp)
        storage = args.storage or _quickstart(work)
        old_code = work / "before"
        old_code.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.before, "dse", "hw_builders", "search_spaces"],
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(old_code)], input=archive.stdout, check=True)
        before = _export(old_code, storage, args.study, work / "lib_before")
        now = _export(ROOT, storage, args.study, work / "lib_now")
        index = json.loads((work / "lib_now" / "library.json").read_text())
        print(
            f"export of study {index['study']}: {len(index['designs'])} designs, "
            f"{index['distinct_designs']} FINN builds"
        )
        print(f"  {args.before}: {before:.1f} s; this checkout: {now:.1f} s")
        print(f"  this checkout / {args.before}: {before / now:.2f}x faster")
        same = _same_hardware(work / "lib_before", work / "lib_now")
        print(f"  the same designs and hardware files: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()

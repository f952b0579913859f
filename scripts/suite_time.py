"""Time the test suite at this checkout against an earlier commit, back to back here.

    .venv/bin/python scripts/suite_time.py --base 5d9a760

Both suites run as ``make test`` runs them (``pytest -n 2 --dist loadgroup``, one torch
thread), with this checkout's ``.venv``: the base from a git worktree of its commit, its own
code first on ``PYTHONPATH`` (so the ``python -m dse`` subprocesses of its tests run its code
too). Each runs against a PostgreSQL database of its own, created for the run and dropped
after it, so that neither meets tables of the other's schema. Prints each suite's wall time,
its test counts and the ratio of this checkout's time to the base's (below 1: faster).
Needs what ``make test`` needs (PostgreSQL, Chromium); takes two suites' time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgresql+psycopg2://root@127.0.0.1:5432"
SUMMARY = re.compile(r"^=*\s*(\d+ \w+.*?) in [\d.]+s", re.MULTILINE)


def _database(name: str, action: str) -> None:
    """Create or drop a database on the test server (the test role is a superuser)."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"{SERVER}/test", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'{action} DATABASE "{name}"'))
    finally:
        engine.dispose()


def run_suite(folder: Path, label: str) -> tuple[float, str]:
    """Run the suite in ``folder`` and return its wall time and pytest's summary line."""
    name = f"suite_{label}_{uuid.uuid4().hex[:8]}"
    _database(name, "CREATE")
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(folder),
        ADAPEX_TEST_PG_URL=f"{SERVER}/{name}",
    )
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q"]
    command += ["-p", "no:cacheprovider"]
    print(f"{label}: running the suite in {folder} ...", flush=True)
    try:
        t0 = time.perf_counter()
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    finally:
        _database(name, "DROP")
    found = SUMMARY.findall(done.stdout)
    return seconds, found[-1] if found else f"no summary (exit {done.returncode})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare with")
    args = parser.parse_args()
    base = subprocess.run(
        ["git", "rev-parse", "--verify", f"{args.base}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if base.returncode != 0:
        print(f"error: --base {args.base}: not a commit of this repository", file=sys.stderr)
        return 2
    commit = base.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="adapex-suite-") as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), commit],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            base_s, base_summary = run_suite(tree, "base")
            head_s, head_summary = run_suite(ROOT, "head")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    print(f"base {commit[:10]}: {base_s:7.1f} s  ({base_summary})")
    print(f"this checkout:   {head_s:7.1f} s  ({head_summary})")
    print(f"wall time, this checkout / base: {head_s / base_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

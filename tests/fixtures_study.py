"""A small real study shared by the dashboard, report and export tests.

Built once per test session with the real study engine (Brevitas training on the bundled
digits, a real Optuna study in a real SQLite file), then the real runtime manager commands
store its selection table and a one-hour simulation, as a user would run them.
The ``small_study`` fixture (tests/conftest.py) builds it once per session.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STUDY = "small"


@dataclass(frozen=True)
class SmallStudy:
    """Where the study lives."""

    name: str
    url: str
    db: Path
    cache_dir: Path


def small_config(folder: Path) -> dict:
    """The tiny study config: CNV W2A2 on 16x16 digits, two candidate exits, two pruning
    rates: two trained models (trials count trainings), each searched over its 32 designs."""
    return {
        "study": {"name": STUDY, "seed": 0, "sampler": "random", "trials": 2},
        "storage": {"url": f"sqlite:///{folder / 'studies.db'}"},
        "dataset": {"name": "digits", "image_size": 16, "seed": 0},
        "model": {
            "family": "cnv",
            "width_mult": 0.25,
            "weight_bits": [2],
            "act_bits": [2],
            "candidate_exits": [0, 1],
        },
        "training": {"epochs": 4, "finetune_epochs": 1, "batch_size": 32},
        "pruning": {"mode": "uniform", "rates": [0.0, 0.5]},
        "exits": {"thresholds": [0.8, 0.95]},
        "folding": {"strategies": ["optimised"], "budget": [0.25, 1.0]},
        "hardware": {"board": "Pynq-Z1", "clk_ns": [10.0]},
        "cache_dir": str(folder / "cache"),
    }


def build_small_study(folder: Path) -> SmallStudy:
    """Run the study, then `adapex runtime table` and `adapex runtime simulate` on it."""
    import torch
    from typer.testing import CliRunner

    from dse.cli.main import app
    from dse.config import parse_config
    from dse.study.run import run_study

    torch.set_num_threads(1)
    cfg = parse_config(small_config(folder))
    summary = run_study(cfg)
    assert summary.n_complete == 2
    url = cfg.storage.url
    runner = CliRunner()
    for args in (
        ["runtime", "table", "--study", STUDY, "--storage", url, "--json"],
        [
            "runtime",
            "simulate",
            "--study",
            STUDY,
            "--storage",
            url,
            "--duration-s",
            "3600",
            "--json",
        ],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output, result.exception)
    return SmallStudy(STUDY, url, folder / "studies.db", folder / "cache")

"""A design FINN cannot build is refused before anything is trained or written: the study
(every bit-width combination of its config), `adapex train` and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_checks import one_line, tree_digest


def _config(folder: Path, act_bits: str) -> Path:
    cfg = folder / "a1.toml"
    cfg.write_text(
        f"cache_dir = '{folder / 'cache'}'\n\n"
        "[study]\nname = 'a1'\ntrials = 2\n\n"
        f"[storage]\nurl = 'sqlite:///{folder / 'studies.db'}'\n\n"
        "[dataset]\nname = 'digits'\nimage_size = 16\n\n"
        f"[model]\nfamily = 'cnv'\nweight_bits = [2]\nact_bits = {act_bits}\n"
    )
    return cfg


def test_a_study_with_a_1_bit_activation_before_padding_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, "[2, 1]")
    before = tree_digest(tmp_path)
    line = one_line(["run", "--config", str(cfg)], capsys, "model.act_bits: W2A1 of cnv")
    assert "on digits at 16x16 (padding 'same'): FINN cannot zero-pad a BIPOLAR" in line
    assert "use act_bits of 2 or more" in line
    assert tree_digest(tmp_path) == before  # no database, no cache, nothing trained


def test_adapex_train_refuses_the_same_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    point = tmp_path / "p.toml"
    point.write_text("[train]\nact_bits = 1\nweight_bits = 2\nimage_size = 16\n")
    before = tree_digest(tmp_path)
    args = ["train", "--config", str(point), "--cache-dir", str(tmp_path / "cache")]
    line = one_line(args, capsys, "train.act_bits: W2A1 of cnv on digits at 16x16")
    assert "FINN cannot zero-pad" in line
    assert tree_digest(tmp_path) == before

"""Library errors name the function's arguments; the CLI turns them into its flags."""

from __future__ import annotations

import pytest

import hw_builders as hb
from dse.config import load_config
from dse.errors import DseError
from dse.study.run import run_study
from hw_builders.errors import HwError, InputError


def test_for_cli_turns_named_arguments_into_flags() -> None:
    exc = InputError(
        "`out` /x: exists; pass `force` (see `adapex export`)", arguments=("out", "force")
    )
    assert exc.for_cli() == "--out /x: exists; pass --force (see `adapex export`)"
    assert exc.for_cli({"out": "-o"}) == "-o /x: exists; pass --force (see `adapex export`)"
    assert InputError("two\nlines").for_cli() == "two"  # one line, and nothing named
    assert InputError().for_cli() == "InputError"
    snake = InputError("`clk_ns`=0: must be > 0", arguments=("clk_ns",))
    assert snake.for_cli() == "--clk-ns=0: must be > 0"


def test_library_functions_name_their_own_arguments(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(HwError) as no_device:
        hb.get_device()
    assert "`board`" in str(no_device.value) and "--board" not in str(no_device.value)
    assert no_device.value.for_cli().startswith("device: give --board (one of: ")
    cfg = load_config()
    with pytest.raises(DseError) as bad_trials:
        run_study(cfg, storage=f"sqlite:///{tmp_path / 's.db'}", trials=0)
    assert str(bad_trials.value).startswith("`trials`=0:")
    assert bad_trials.value.for_cli().startswith("--trials=0: give a number")
    assert list(tmp_path.iterdir()) == []  # refused before anything was written

"""Every design point a study can sample either builds with FINN or its config is refused
before anything is trained, with one line (hw_builders.legality).

A hypothesis property over whole study configs (family, mixed weight and activation bit
widths, input size, uniform or per-block pruning, candidate exits, folding strategies) and
the design points a real Optuna study samples from them: the study's own check (the
Evaluator, before training) refuses the config with one line naming the combination, or
every sampled point's hardware graph (its pruned widths and exits in use) passes every
legality rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dse.accuracy.prune import normalise_rates, target_widths
from dse.config import parse_config
from dse.errors import DseError
from hw_builders import HwError, refusals
from search_spaces import get_family

BITS = st.lists(st.sampled_from([1, 2, 4, 8]), min_size=1, max_size=3, unique=True).map(sorted)


def _config(
    folder: Path,
    family: str,
    wb: list[int],
    ab: list[int],
    size: int,
    mode: str,
    exits: list[int],
    folding: list[str],
) -> dict:
    return {
        "study": {"name": "legal", "seed": 0, "sampler": "random", "trials": 4},
        "storage": {"url": f"sqlite:///{folder / 'studies.db'}"},
        "dataset": {"name": "digits", "image_size": size, "seed": 0},
        "model": {
            "family": family,
            "width_mult": 0.25,
            "weight_bits": wb,
            "act_bits": ab,
            "candidate_exits": exits,
        },
        "training": {"epochs": 1, "finetune_epochs": 1, "batch_size": 32},
        "pruning": {"mode": mode, "rates": [0.0, 0.25, 0.5, 0.75]},
        "exits": {"thresholds": [0.8, 0.95]},
        "folding": {"strategies": folding, "budget": [0.25, 1.0]},
        "hardware": {"board": "Pynq-Z1", "clk_ns": [10.0]},
        "cache_dir": str(folder / "cache"),
    }


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    family=st.sampled_from(["cnv", "tfc"]),
    wb=BITS,
    ab=BITS,
    size=st.sampled_from([8, 16, 32]),
    mode=st.sampled_from(["uniform", "per_block"]),
    exits=st.lists(st.sampled_from([0, 1]), max_size=2, unique=True).map(sorted),
    folding=st.sampled_from([["optimised"], ["sampled"], ["optimised", "sampled"]]),
)
def test_a_sampled_design_point_builds_or_its_config_is_refused_in_one_line(
    tmp_path: Path,
    family: str,
    wb: list[int],
    ab: list[int],
    size: int,
    mode: str,
    exits: list[int],
    folding: list[str],
) -> None:
    import optuna

    from dse.study.evaluate import Evaluator

    cfg = parse_config(_config(tmp_path, family, wb, ab, size, mode, exits, folding))
    try:
        evaluator = Evaluator(cfg)
    except (HwError, DseError) as exc:
        line = str(exc)
        # refused before anything is trained: one line naming the field, the combination,
        # what FINN cannot build and the fix
        assert "\n" not in line and line.startswith("model.act_bits")
        assert "FINN cannot" in line and "; use " in line
        assert not (tmp_path / "cache").exists()
        event("refused before training")
        return
    fam = get_family(family)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=size))
    for _ in range(6):
        trial = study.ask()
        point = evaluator.space.sample(trial)
        base = evaluator.archs[(point.weight_bits, point.act_bits)]
        rates = normalise_rates(point.pruning, len(base.widths))
        arch = base.replace(widths=target_widths(base.widths, rates))
        graph = fam.lower(arch, exits=list(point.exits))
        assert refusals(graph) == [], (point, [r.line() for r in refusals(graph)])
        study.tell(trial, [0.0] * len(study.directions))
    event("every sampled point builds")


@pytest.mark.parametrize(
    ("family", "wb", "ab", "size", "exits", "needle"),
    [
        ("cnv", [2], [1], 16, [], "FMPadding's datatype must hold 0"),
        ("cnv", [1], [1], 16, [0], "its XNOR layers read a padded bit as -1"),
        ("cnv", [2, 4], [1, 2], 16, [], "W2A1"),
        ("cnv", [1, 2], [1, 2], 16, [], "W1A1"),
    ],
)
def test_the_refusal_names_the_combination(
    tmp_path: Path,
    family: str,
    wb: list[int],
    ab: list[int],
    size: int,
    exits: list[int],
    needle: str,
) -> None:
    from dse.study.evaluate import Evaluator

    cfg = parse_config(_config(tmp_path, family, wb, ab, size, "uniform", exits, ["optimised"]))
    with pytest.raises((HwError, DseError)) as exc:
        Evaluator(cfg)
    line = str(exc.value)
    assert "\n" not in line and needle in line, line

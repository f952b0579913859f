"""Study config: TOML validated with pydantic, the built-in quickstart and the example."""

from __future__ import annotations

from pathlib import Path

import pytest

from dse.config import (
    Range,
    StudyConfig,
    knob_values,
    load_config,
    parse_config,
    quickstart_text,
)
from dse.errors import DseError
from dse.study.space import DesignSpace
from hw_builders.errors import InputError

REPO = Path(__file__).resolve().parents[2]


def test_quickstart_is_the_default_and_matches_the_issue() -> None:
    cfg = load_config()
    assert cfg == load_config("quickstart")
    assert cfg.dataset.name == "digits"
    assert cfg.model.family == "cnv"
    assert cfg.model.weight_bits == [2] and cfg.model.act_bits == [2]
    assert cfg.model.candidate_exits == [0, 1, 2]
    assert len(knob_values(cfg.pruning.rates) or []) >= 3
    assert len(knob_values(cfg.exits.thresholds) or []) >= 2
    assert len(knob_values(cfg.folding.budget) or []) >= 2
    assert cfg.hardware.board == "Pynq-Z1"
    assert cfg.study.sampler == "tpe"
    assert [s.name for s in cfg.objectives.specs()] == [
        "accuracy",
        "throughput_fps",
        "energy_per_inference_j",
    ]
    assert [s.direction for s in cfg.objectives.specs()] == ["maximize", "maximize", "minimize"]
    assert "[study]" in quickstart_text()


def test_example_file_is_valid_and_documents_every_section() -> None:
    path = REPO / "examples" / "study.toml"
    cfg = load_config(path)
    text = path.read_text()
    for section in StudyConfig.model_fields:
        if section != "cache_dir":
            assert f"[{section}]" in text
    # same space as the quickstart, another name
    assert cfg.study.name != "quickstart"
    assert cfg.pruning == load_config().pruning


def test_quickstart_space_is_finite_and_small_enough_to_enumerate() -> None:
    cfg = load_config()
    space = DesignSpace(cfg, n_prunable=8, candidate_exits=[0, 1, 2])
    n = space.size()
    assert n == sum(1 for _ in space.enumerate())
    assert 500 <= n <= 5000
    points = list(space.enumerate())
    assert len(set(points)) == n  # distinct
    assert all(len(p.thresholds) == len(p.exits) for p in points)


def test_sampler_parameters_map_one_to_one_onto_designs() -> None:
    """With grid thresholds every exit is one gene ("off" or its threshold): the samplers'
    parameter space is exactly the design space, with no genes that change nothing."""
    import math

    import optuna

    cfg = load_config()
    space = DesignSpace(cfg, n_prunable=8, candidate_exits=[0, 1, 2])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    designs: dict = {}
    for _ in range(400):
        trial = study.ask()
        point = space.sample(trial)
        key = tuple(sorted(trial.params.items()))
        assert designs.setdefault(key, point) == point
        study.tell(trial, 0.0)
    dists = study.trials[0].distributions
    n_params = math.prod(len(d.choices) for d in dists.values())
    assert n_params == space.size()
    assert len({*designs.values()}) == len(designs)  # distinct parameters, distinct designs


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"pruning": {"ratez": [0.1]}}, "unknown key 'ratez' in [pruning]"),
        ({"bogus": 1}, "unknown key 'bogus' in the top level"),
        ({"exits": {"thresholds": {"low": 0.5, "high": 0.9, "stp": 0.1}}}, "'stp'"),
        ({"pruning": {"rates": [0.5, 1.0]}}, "pruning.rates: 1.0 is out of range"),
        ({"exits": {"thresholds": [1.5]}}, "exits.thresholds: 1.5 is out of range"),
        (
            {"exits": {"thresholds": {"low": 0.9, "high": 0.5}}},
            "exits.thresholds: needs finite low <= high",
        ),
        ({"study": {"sampler": "cmaes"}}, "study.sampler: 'cmaes' is not a sampler; choose one of"),
        ({"model": {"family": "resnet"}}, "model.family: 'resnet' is not a model family"),
        ({"study": {"population_size": 1}}, "study.population_size"),
        ({"model": {"weight_bits": [3]}}, "model.weight_bits: 3 bits is not supported"),
        ({"hardware": {"board": None}}, 'hardware: give board = "..."'),
        (
            {"hardware": {"board": "Pynq-Z1", "part": "xc7z020clg400-1"}},
            "board 'Pynq-Z1' and part 'xc7z020clg400-1' both given; keep one of them",
        ),
        ({"model": {"options": {"bogus": 1}}}, "model.options: unknown option 'bogus'"),
        (
            {"objectives": {"names": ["accuracy", "speed"]}},
            "objectives.names: 'speed' is not an objective; choose one of accuracy",
        ),
        ({"objectives": {"reference": {"edp": 1.0}}}, "reference for 'edp'"),
        ({"training": {"epochz": 3}}, "training: epochz: unknown field"),
        ({"training": {"epochs": 0}}, "epochs"),
        ({"folding": {"strategies": ["greedy"]}}, "folding.strategies"),
        ({"hardware": {"max_utilisation": {"FF": 0.5}}}, "unknown resource 'FF'"),
        ({"hardware": {"max_utilisation": {"LUT": 1.5}}}, "LUT=1.5: must be a share in (0, 1]"),
        (
            {"hardware": {"board": None, "part": "xcvp1202-vsva2785-2MHP-e-S"}},
            "give its `resources`",
        ),
        (
            {"hardware": {"resources": {"LUT": 1, "BRAM_18K": 1, "URAM": 0, "DSP": 1}}},
            "resources describe a part",
        ),
        (
            {"hardware": {"board": None, "part": "xcvp1202", "resources": {"LUT": 1}}},
            "BRAM_18K, URAM, DSP missing",
        ),
    ],
)
def test_bad_values_give_one_line_naming_the_key(data: dict, needle: str) -> None:
    with pytest.raises(DseError) as info:
        parse_config(data, "bad.toml")
    message = str(info.value)
    assert isinstance(info.value, InputError)
    assert "\n" not in message
    assert message.startswith("config bad.toml: ")
    assert needle in message


def test_a_part_the_catalogue_lacks_given_by_its_resources() -> None:
    cfg = parse_config(
        {
            "hardware": {
                "board": None,
                "part": "xcvp1202-vsva2785-2MHP-e-S",
                "resources": {"LUT": 400000, "BRAM_18K": 1000, "URAM": 100, "DSP": 1000},
            }
        },
        "part.toml",
    )
    assert cfg.hardware.resources == {
        "LUT": 400000,
        "FF": 800000,
        "BRAM_18K": 1000,
        "URAM": 100,
        "DSP": 1000,
    }


def test_files(tmp_path: Path) -> None:
    with pytest.raises(DseError, match="no such file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nname = 1")
    with pytest.raises(DseError, match="not valid TOML"):
        load_config(bad)
    good = tmp_path / "good.toml"
    good.write_text(
        '[study]\nname = "x"\n[pruning]\nrates = {low = 0.0, high = 0.5, step = 0.25}\n'
    )
    cfg = load_config(good)
    assert cfg.study.name == "x"
    assert isinstance(cfg.pruning.rates, Range)
    assert knob_values(cfg.pruning.rates) == [0.0, 0.25, 0.5]
    # unspecified sections take the defaults
    assert cfg.hardware.board == "Pynq-Z1"


def test_with_overrides_are_validated_and_roundtrip() -> None:
    cfg = load_config().with_(study={"name": "other", "sampler": "tpe"})
    assert cfg.study.name == "other" and cfg.study.sampler == "tpe"
    assert cfg.study.seed == 0  # untouched keys kept
    assert parse_config(cfg.to_dict()) == cfg
    with pytest.raises(DseError, match="study.sampler"):
        load_config().with_(study={"sampler": "nope"})


def test_a_family_and_a_sampler_registered_from_python_are_accepted_by_toml(
    tmp_path: Path,
) -> None:
    """Extension points by name: a family added with register_family and a sampler added
    with register_sampler are valid TOML values, and the study builds that sampler."""
    import optuna

    from dse.study import samplers
    from search_spaces.families import registry
    from search_spaces.families.tfc import TfcFamily

    class WideTfc(TfcFamily):
        name = "wide_tfc"

    family_before = dict(registry._FAMILIES)  # noqa: SLF001 - restored below
    sampler_before = dict(samplers._SAMPLERS)  # noqa: SLF001
    try:
        registry.register_family(WideTfc())
        samplers.register_sampler("qmc", lambda seed, pop: optuna.samplers.QMCSampler(seed=seed))
        toml = tmp_path / "ext.toml"
        toml.write_text('[study]\nsampler = "qmc"\n\n[model]\nfamily = "wide_tfc"\n')
        cfg = load_config(toml)
        assert cfg.model.family == "wide_tfc" and cfg.study.sampler == "qmc"
        built = samplers.make_sampler(cfg.study.sampler, seed=3)
        assert isinstance(built.base, optuna.samplers.QMCSampler)
        with pytest.raises(DseError, match="'qmc' is registered already"):
            samplers.register_sampler("qmc", lambda seed, pop: optuna.samplers.RandomSampler())
    finally:
        registry._FAMILIES.clear()  # noqa: SLF001
        registry._FAMILIES.update(family_before)  # noqa: SLF001
        samplers._SAMPLERS.clear()  # noqa: SLF001
        samplers._SAMPLERS.update(sampler_before)  # noqa: SLF001
    # unregistered again: both names are refused, each with its own line
    with pytest.raises(DseError, match="study.sampler: 'qmc' is not a sampler"):
        load_config(toml)
    toml.write_text('[model]\nfamily = "wide_tfc"\n')
    with pytest.raises(DseError, match="model.family: 'wide_tfc' is not a model family"):
        load_config(toml)


def test_the_objective_registry_refuses_a_taken_name_and_unknown_direction_or_scale() -> None:
    from dse.objectives import Objective, get_objective, objective_names, register_objective

    names = objective_names()
    assert names == sorted(names, key=str.lower)  # every registry lists its names sorted
    assert {"accuracy", "throughput_fps", "energy_per_inference_j"} <= set(names)
    latency = get_objective("latency_s")
    assert (latency.direction, latency.unit, latency.scale) == ("minimize", "s", "log")
    assert latency.spec(5.0).reference == 5.0 and latency.spec().reference == 1.0
    with pytest.raises(DseError, match="'edp' is registered already"):
        register_objective(Objective("edp", "minimize"))
    with pytest.raises(DseError, match="direction='up'; choose one of maximize, minimize"):
        register_objective(Objective("new_one", "up"))
    with pytest.raises(DseError, match="scale='cubic'"):
        register_objective(Objective("new_one", "minimize", scale="cubic"))
    with pytest.raises(DseError, match="reference=0.0 must be > 0 on a log scale"):
        register_objective(Objective("new_one", "minimize", reference=0.0))
    with pytest.raises(DseError, match="objective 'nope' is not registered; choose one of"):
        get_objective("nope")
    assert "new_one" not in objective_names()


def test_export_targets_by_name() -> None:
    from dse.export import ExportTarget, get_target, register_target, target_names

    assert target_names()[0] == "finn" and get_target("finn").name == "finn"
    with pytest.raises(DseError, match="'finn' is registered already"):
        register_target(ExportTarget("finn", "again", lambda *a, **k: {}))
    with pytest.raises(DseError, match="`target` 'vivado' is not an export target") as info:
        get_target("vivado")
    assert info.value.for_cli().startswith("--target 'vivado' is not an export target")

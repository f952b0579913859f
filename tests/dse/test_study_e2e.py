"""A small end-to-end study: real Brevitas training on digits, the real FINN cost model,
real Optuna (NSGA-II) on a real SQLite file; a trial per trained model and one per further
design of its front, the Pareto front, hypervolume, resume."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState
from tiny_study import write_tiny

from dse.config import load_config
from dse.errors import DseError
from dse.pareto import dominates, to_min_space
from dse.storage import Store
from dse.study import DesignPoint, Evaluator, run_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def first_run(study_dir: Path) -> dict:
    cfg = write_tiny(study_dir, "e2e", trials=3)
    url = f"sqlite:///{study_dir}/studies.db"
    seen: list[int] = []
    summary = run_study(
        cfg,
        storage=url,
        cache_dir=study_dir / "cache",
        on_trial=lambda frozen, n: seen.append(frozen.number),
    )
    return {"cfg": cfg, "url": url, "summary": summary, "seen": seen}


def test_every_trial_carries_one_design_of_a_trained_model(first_run: dict) -> None:
    summary, url = first_run["summary"], first_run["url"]
    assert summary.created and summary.n_complete == 3 and summary.trials_run == 3
    # its repr is one line naming the front's designs, not the designs in full
    shown = repr(summary)
    assert "\n" not in shown and len(shown) < 400 and "trained=3/3" in shown
    assert f"pareto_ids={[d.id for d in summary.pareto]}" in shown
    seen = first_run["seen"]
    assert len(seen) == 3 and seen[0] == 0  # the training trials, the unpruned model first
    study = optuna.load_study(study_name="e2e", storage=url)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    by_number = {t.number: t for t in complete}
    trainings = [t for t in complete if t.user_attrs["kind"] == "training"]
    assert sorted(t.number for t in trainings) == sorted(seen)
    assert trainings[0].params == {"weight_bits": 4, "pruning": 0.0}
    # the sampler never trained a model twice
    assert len({tuple(sorted(t.params.items())) for t in trainings}) == 3
    with Store(url, read_only=True) as store:
        designs = store.designs("e2e")
        models = {m.id: m for m in store.models("e2e")}
    assert len(models) == 3 and len({m.key for m in models.values()}) == 3
    # every COMPLETE trial carries exactly one design, and every design one trial
    assert sorted(d.trial_number for d in designs) == sorted(by_number)
    assert len(designs) == summary.n_designs == len(complete) > 3
    for d in designs:
        t = by_number[d.trial_number]
        model = models[d.model_id]
        training = by_number[model.trial_number]
        assert t.user_attrs["design_id"] == d.id
        assert training.user_attrs["kind"] == "training"
        assert training.user_attrs["model_id"] == d.model_id
        if t.user_attrs["kind"] == "design":
            assert t.user_attrs["training_trial"] == model.trial_number
        # a design trial has its model's training parameters and its own values
        assert t.params == training.params
        assert d.params["weight_bits"] == model.params["weight_bits"]
        assert d.params["pruning"] == model.params["pruning"]
        assert t.values == pytest.approx(
            [d.objectives[k] for k in ("accuracy", "throughput_fps", "energy_per_inference_j")]
        )
        assert t.constraints["fits_device"] <= 0 if d.feasible else t.constraints["fits_device"] > 0
        # real components: trained profiles, lowered FINN graph, legal folding, staged report
        assert 0.0 <= d.metrics["accuracy"] <= 1.0
        assert d.metrics["accuracy"] == pytest.approx(d.objectives["accuracy"])
        assert 0.0 <= d.metrics["test"]["accuracy"] <= 1.0
        assert d.exit_profile["exits"][-1] == -1 and d.test_profile["exits"][-1] == -1
        assert len(d.exit_profile["labels"]) != len(d.test_profile["labels"])  # two splits
        assert any(layer["op_type"] == "MVAU" for layer in d.hw_graph["layers"])
        assert {e for e in d.exits} <= {0, 1} and len(d.thresholds) == len(d.exits)
        assert len(d.hw_report["stages"]) == len(d.exits) + 1
        assert d.hw_report["reach"][0] == 1.0
        assert "Defaults" in d.folding
        assert d.metrics["LUT"] > 0 and d.metrics["throughput_fps"] > 0
        # optimised folding stays inside the usable device (default LUT 85%, others 90%)
        limits = {"LUT": 0.85, "BRAM_18K": 0.9, "URAM": 0.9, "DSP": 0.9}
        over = {k: u for k, u in d.metrics["utilisation"].items() if u > limits[k] + 1e-9}
        assert d.feasible == (not over), (d.id, d.metrics["utilisation"])
        assert d.part and d.board == "Pynq-Z1" and d.clk_ns == 10.0
        assert Path(d.checkpoint).is_file()
        assert d.dataset["name"] == "digits"
        prov = d.provenance
        assert prov["seed"] == 0 and isinstance(prov["trial_seed"], int)
        assert {"optuna", "torch", "brevitas"} <= set(prov["packages"])
        assert "git_commit" in prov
        assert DesignPoint.from_params(d.params).to_params() == d.params
    # each model's designs are its inner front: none dominates another
    for model_id in models:
        mine = [d for d in designs if d.model_id == model_id and d.feasible]
        specs = SPECS()
        pts = to_min_space([d.objectives for d in mine], specs)
        for i in range(len(mine)):
            assert not any(dominates(pts[j], pts[i]) for j in range(len(mine)))
    # the unpruned model learned the digits
    best = max(d.metrics["final_accuracy"] for d in designs)
    assert best > 0.8


def SPECS() -> list:  # noqa: N802 - the study's objectives
    from dse.config import parse_config

    return parse_config({}).objectives.specs()


def test_front_and_hypervolume_are_stored_after_each_trial(first_run: dict) -> None:
    with Store(first_run["url"], read_only=True) as store:
        designs = store.designs("e2e")
        specs = store.study_info("e2e")["objective_specs"]
        pts = to_min_space([d.objectives for d in designs], specs)
        for i, d in enumerate(designs):
            dominated = any(
                designs[j].feasible and dominates(pts[j], pts[i]) for j in range(len(designs))
            )
            assert d.pareto == (d.feasible and not dominated)
        assert store.pareto("e2e")
        history = [h["hypervolume"] for h in store.hypervolume_history("e2e")]
        assert len(history) == len(store.models("e2e"))  # one front update per training
        assert all(b >= a - 1e-12 for a, b in zip(history, history[1:], strict=False))
        assert history[-1] > 0


def test_resume_continues_and_a_different_config_is_refused(
    first_run: dict, study_dir: Path
) -> None:
    url, cfg = first_run["url"], first_run["cfg"]
    summary = run_study(cfg, storage=url, trials=5, cache_dir=study_dir / "cache")
    assert not summary.created and summary.n_complete == 5 and summary.trials_run == 2
    # nothing to do when the target is reached
    again = run_study(cfg, storage=url, trials=5, cache_dir=study_dir / "cache")
    assert again.trials_run == 0
    # a target past the space's eight models stops when every one is trained
    full = run_study(cfg, storage=url, trials=20, cache_dir=study_dir / "cache")
    assert full.n_complete == 8 and full.exhausted and full.space_size == 8
    changed = cfg.with_name("changed.toml")
    changed.write_text(cfg.read_text().replace("thresholds = [0.8, 0.95]", "thresholds = [0.7]"))
    db = study_dir / "studies.db"
    before = sqlite3.connect(db).execute("SELECT COUNT(*) FROM trials").fetchone()
    with pytest.raises(DseError, match=r"different config \(exits.thresholds\)"):
        run_study(changed, storage=url, trials=9, cache_dir=study_dir / "cache")
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM trials").fetchone() == before


def test_same_seed_same_trials(first_run: dict, study_dir: Path) -> None:
    """Per-trial seeds: a second study with the same seed trains the same models, in the
    same order, and stores the same designs."""
    url2 = f"sqlite:///{study_dir}/again.db"
    run_study(first_run["cfg"], storage=url2, trials=3, cache_dir=study_dir / "cache")
    a = optuna.load_study(study_name="e2e", storage=first_run["url"]).trials
    b = optuna.load_study(study_name="e2e", storage=url2).trials
    n = len(b)
    assert [t.params for t in a[:n]] == [t.params for t in b]
    assert [t.values for t in a[:n]] == [t.values for t in b]


def test_sampled_folding_and_tpe(study_dir: Path) -> None:
    """Sampled PE/SIMD per layer (legal divisors) and the TPE sampler on the same space."""
    cfg = load_config(write_tiny(study_dir, "sampled", trials=2, sampler="tpe")).with_(
        folding={"strategies": ["optimised", "sampled"]}, study={"inner_limit": 48}
    )
    ev = Evaluator(cfg, cache_dir=study_dir / "cache")
    point = DesignPoint(2, 2, 0.0, (1,), (0.9,), "sampled", None, None, 10.0)
    result = ev.evaluate(point, lambda name, n: n - 1)  # the largest legal value everywhere
    from hw_builders import check_folding, legal_values
    from hw_builders.folding.config import FoldingConfig

    folded = FoldingConfig.from_dict(result.folding.to_dict()).apply(result.graph)
    check_folding(folded)
    for layer in result.graph.layers:
        for attr, values in legal_values(layer).items():
            assert folded.layer(layer.name).attrs.get(attr, 1) == max(values)
    assert result.point.fold_choices
    # a study of sampled folding only: the inner step's optimiser draws PE/SIMD per layer
    cfg = cfg.with_(folding={"strategies": ["sampled"]})
    summary = run_study(cfg, storage=f"sqlite:///{study_dir}/tpe.db", cache_dir=study_dir / "cache")
    assert summary.n_complete == 2
    from hw_builders import load_graph

    with Store(summary.url, read_only=True) as store:
        designs = store.designs("sampled")
    assert designs and {d.provenance["sampler"] for d in designs} == {"tpe"}
    assert {d.params["folding"] for d in designs} == {"sampled"}, [d.params for d in designs]
    for d in designs:
        # each design's stored folding is FINN-legal on its stored graph, and a sampled one
        # records the position drawn for every layer attribute it folds
        stored = FoldingConfig.from_dict(d.folding).apply(load_graph(d.hw_graph))
        check_folding(stored)
        assert d.params["folding"] in ("optimised", "sampled")
        if d.params["folding"] == "sampled":
            assert d.params["fold_choices"]
            for key, value in d.params["fold_choices"].items():
                name, attr = key.rsplit(".", 1)
                assert stored.layer(name).attrs[attr] == value


def test_an_objective_registered_from_python_is_optimised_and_stored(
    first_run: dict, study_dir: Path
) -> None:
    """Objectives by name: one registered with its reader is a valid ``[objectives]`` name;
    the study hands Optuna its direction and stores its value, read from the design's
    staged report; unregistered again, the same config is refused in one line."""
    from dse import objectives

    before = dict(objectives._OBJECTIVES)  # noqa: SLF001 - restored below
    toml = write_tiny(study_dir, "custom_objective", trials=2)
    text = Path(toml).read_text()
    Path(toml).write_text(text + '\n[objectives]\nnames = ["accuracy", "stage0_fps"]\n')
    try:
        objectives.register_objective(
            objectives.Objective(
                "stage0_fps",
                "maximize",
                unit="inferences/s",
                label="stage 0 throughput",
                read=lambda report, _metrics: report.stage_throughput_fps[0],
            )
        )
        cfg = load_config(toml)
        assert [(s.name, s.direction) for s in cfg.objectives.specs()] == [
            ("accuracy", "maximize"),
            ("stage0_fps", "maximize"),
        ]
        url = f"sqlite:///{study_dir}/custom_objective.db"
        run_study(cfg, storage=url, cache_dir=study_dir / "cache")
        study = optuna.load_study(study_name="custom_objective", storage=url)
        assert [d.name for d in study.directions] == ["MAXIMIZE", "MAXIMIZE"]
        with Store(url, read_only=True) as store:
            designs = store.designs("custom_objective")
        assert designs
        for d in designs:
            stage0 = d.report().stage_throughput_fps[0]
            assert d.objectives["stage0_fps"] == pytest.approx(stage0)
            assert d.metrics["stage0_fps"] == pytest.approx(stage0)
            assert d.objectives["stage0_fps"] >= d.metrics["throughput_fps"] * (1 - 1e-9)
    finally:
        objectives._OBJECTIVES.clear()  # noqa: SLF001
        objectives._OBJECTIVES.update(before)  # noqa: SLF001
    with pytest.raises(DseError, match="objectives.names: 'stage0_fps' is not an objective"):
        load_config(toml)

"""Config features the README promises, in one real study (real training, a real SQLite
file) on a Versal board: per-block pruning, two weight widths sampled in one study, a
minimum accuracy, a hypervolume reference and a target fps for the optimised folding; then
its library exported for the Versal part."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dse.config import parse_config
from dse.objectives import get_objective
from dse.pareto import front_hypervolume
from dse.storage import Store
from dse.study.run import run_study

pytestmark = pytest.mark.slow

TARGET_FPS = 2000.0
MIN_ACCURACY = 0.9
VERSAL_PART = "xcvc1902-vsva2197-2MP-e-S"


def _config(folder: Path) -> dict:
    return {
        "study": {"name": "features", "seed": 0, "sampler": "random", "trials": 5},
        "storage": {"url": f"sqlite:///{folder / 'studies.db'}"},
        "dataset": {"name": "digits", "seed": 0},
        "model": {
            "family": "cnv",
            "width_mult": 0.25,
            "weight_bits": [2, 4],
            "act_bits": [4],
            "candidate_exits": [0],
        },
        "training": {"epochs": 3, "finetune_epochs": 1, "batch_size": 32, "prune_step": 0.5},
        "pruning": {"mode": "per_block", "rates": [0.0, 0.5]},
        "exits": {"thresholds": [0.9]},
        "folding": {"strategies": ["optimised"], "budget": [1.0], "target_fps": [TARGET_FPS]},
        "hardware": {"board": "VCK190", "clk_ns": [10.0]},
        "objectives": {"min_accuracy": MIN_ACCURACY, "reference": {"accuracy": 0.5}},
        "cache_dir": str(folder / "cache"),
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list]:
    import torch

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("features")
    summary = run_study(parse_config(_config(folder)))
    assert summary.n_complete == 5
    with Store(summary.url, read_only=True) as store:
        return summary.url, store.designs("features")


def test_per_block_pruning_prunes_each_block_at_its_own_rate(study: tuple[str, list]) -> None:
    from search_spaces.families.registry import get_family

    _, designs = study
    arch = designs[0].arch
    base = get_family("cnv").default_arch(arch["input_shape"], 10, width_mult=0.25).widths
    mixed = 0
    for d in designs:
        rates = d.params["pruning"]
        assert isinstance(rates, list) and len(rates) == len(base) and set(rates) <= {0.0, 0.5}
        mixed += len(set(rates)) == 2
        # each block keeps its channels at rate 0 and about half of them at rate 0.5
        for width, rate, full in zip(d.arch["widths"], rates, base, strict=True):
            assert width == full if rate == 0.0 else 0.25 * full <= width < full
    assert mixed, "no design drew different rates for different blocks"


def test_two_weight_widths_are_sampled_and_costed_as_such(study: tuple[str, list]) -> None:
    _, designs = study
    assert {d.params["weight_bits"] for d in designs} == {2, 4}  # both, in one study
    for d in designs:
        mvaus = [layer for layer in d.hw_graph["layers"] if layer["op_type"].startswith("MVAU")]
        assert mvaus
        for layer in mvaus:  # FINN's minimised weight type never needs more bits than trained
            bits = int("".join(c for c in layer["weightDataType"] if c.isdigit()) or 1)
            assert bits <= d.params["weight_bits"], (layer["name"], layer["weightDataType"])


def test_min_accuracy_is_a_constraint(study: tuple[str, list]) -> None:
    _, designs = study
    for d in designs:
        constraints = d.metrics["constraints"]
        assert constraints["min_accuracy"] == pytest.approx(MIN_ACCURACY - d.metrics["accuracy"])
        assert d.feasible == (d.metrics["accuracy"] >= MIN_ACCURACY and d.metrics["fits"])
        if d.pareto:
            assert d.metrics["accuracy"] >= MIN_ACCURACY


def test_the_hypervolume_reference_is_used(study: tuple[str, list]) -> None:
    """Moving the accuracy reference from 0 to 0.5 removes, from the dominated volume, a slab
    0.5 thick over the front's 2-D (throughput, energy) dominated area: computed here by
    hand (a staircase), not by the code under test."""
    url, designs = study
    with Store(url, read_only=True) as store:
        info = store.study_info("features")
    specs = info["objective_specs"]
    assert {s.name: s.reference for s in specs}["accuracy"] == 0.5
    front = [d for d in designs if d.pareto]
    assert front and all(d.objectives["accuracy"] >= 0.5 for d in front)
    # the 2-D area dominated by the front in (log10 fps above 1/s, log10 J below 1 J)
    pts = sorted(
        (
            (
                math.log10(d.objectives["throughput_fps"]),
                -math.log10(d.objectives["energy_per_inference_j"]),
            )
            for d in front
        ),
        reverse=True,
    )
    area, best_y, prev_x = 0.0, 0.0, None
    for x, y in pts:
        if prev_x is not None:
            area += (prev_x - x) * best_y
        best_y, prev_x = max(best_y, y), x
    area += prev_x * best_y
    default = [get_objective(s.name).spec() for s in specs]
    hv_default = front_hypervolume([d.objectives for d in front], default)
    assert info["hypervolume"] == pytest.approx(hv_default - 0.5 * area, rel=1e-9)


def test_target_fps_is_reached(study: tuple[str, list]) -> None:
    _, designs = study
    for d in designs:
        assert d.params["target_fps"] == TARGET_FPS
        assert d.metrics["throughput_fps"] >= TARGET_FPS


def test_versal_costs_and_export(study: tuple[str, list], tmp_path: Path) -> None:
    """On Versal, FINN's MVAU_rtl uses DSP58s: P * ceil(Q / 3) DSPs (finn mvau_rtl.py,
    ``dsp_estimation`` on a Versal part; elsewhere ceil(P / 4) * Q)."""
    url, designs = study
    assert {d.part for d in designs} == {VERSAL_PART} and {d.board for d in designs} == {"VCK190"}
    rtl = 0
    for d in designs:
        for layer in d.hw_graph["layers"]:
            if layer["op_type"] != "MVAU" or layer.get("impl") != "rtl":
                continue
            name = layer["name"]
            fold = d.folding[name]
            stage = next(
                st for st in d.hw_report["stages"] if name in st["estimate_layer_resources"]
            )
            dsp = stage["estimate_layer_resources"][name]["DSP"]
            assert dsp == fold["PE"] * math.ceil(fold["SIMD"] / 3), (d.id, name, fold, dsp)
            rtl += 1
    assert rtl, "no MVAU_rtl (4-bit signed weights and inputs, no activation) in the study"
    from dse.export import export_library, read_library

    with Store(url, read_only=True) as store:
        out = export_library(store, "features", tmp_path / "lib", n_verify=2)
    index = read_library(out)
    assert index["designs"]
    for entry in index["designs"]:
        folder = out / entry["folder"]
        assert (folder / "model.onnx").is_file() and (folder / "deployment.json").is_file()
        build = json.loads((folder / "dataflow_build_config.json").read_text())
        assert build["fpga_part"] == VERSAL_PART and build["board"] == "VCK190"

"""Export round trip: the design library of a small real study against its database."""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path

import pytest
from fixtures_study import SmallStudy

from dse.errors import DseError
from dse.export import export_library, read_library
from dse.storage import Store
from hw_builders import finn_node_names

pytestmark = pytest.mark.slow  # trains real models

_LAYER_KEYS = ("cycles", "LUT", "BRAM_18K", "URAM", "DSP")


@pytest.fixture(scope="module")
def library(small_study: SmallStudy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The study's library, exported once through the CLI with --tar."""
    from typer.testing import CliRunner

    from dse.cli.main import app

    out = tmp_path_factory.mktemp("export") / "lib"
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--study",
            small_study.name,
            "--out",
            str(out),
            "--storage",
            small_study.url,
            "--tar",
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return out


def _records(small_study: SmallStudy) -> dict[int, object]:
    with Store(small_study.url, read_only=True) as store:
        return {r.id: r for r in store.designs(small_study.name)}


def test_library_json_matches_the_database(library: Path, small_study: SmallStudy) -> None:
    index = read_library(library)
    with Store(small_study.url, read_only=True) as store:
        pareto = {r.id for r in store.pareto(small_study.name)}
        table = store.runtime_table(small_study.name)
        records = {r.id: r for r in store.designs(small_study.name)}
    selected = {int(e["design_id"]) for e in table["entries"] if int(e["design_id"]) >= 0}
    assert index["study"] == small_study.name
    assert {d["id"] for d in index["designs"]} == pareto | selected
    assert pareto  # the study has a front to export
    for entry in index["designs"]:
        rec = records[entry["id"]]
        assert entry["metrics"] == rec.metrics
        assert entry["objectives"] == rec.objectives
        assert entry["exits"] == rec.exits and entry["thresholds"] == rec.thresholds
        assert entry["pareto"] == rec.pareto and entry["trial_number"] == rec.trial_number
        folder = library / entry["folder"]
        assert json.loads((folder / "metrics.json").read_text()) == rec.metrics
        prov = json.loads((folder / "provenance.json").read_text())
        assert prov["design_id"] == rec.id and prov["checkpoint"] == rec.checkpoint
        assert prov["packages"] == rec.provenance["packages"]
        assert len(entry["stages"]) == len(rec.exits) + 1
    # the runtime table is the stored one, unchanged
    assert index["runtime_table_source"] == "stored"
    assert json.loads((library / "runtime_table.json").read_text()) == table


def test_every_stage_model_executes_like_pytorch(library: Path, small_study: SmallStudy) -> None:
    import torch

    from dse.accuracy.export import load_pruned_model, verify_qonnx

    torch.set_num_threads(1)
    records = _records(small_study)
    n_models = 0
    for entry in read_library(library)["designs"]:
        rec = records[entry["id"]]
        model = load_pruned_model(rec.arch, rec.checkpoint)
        x = torch.rand((3, *model.arch.input_shape), generator=torch.Generator().manual_seed(7))
        inputs = model.stage_inputs(x, rec.exits)
        for stage in entry["stages"]:
            k = stage["stage"]
            path = library / stage["model"]
            checked = verify_qonnx(path, model.stage(k, rec.exits), inputs[k])
            assert checked["samples"] == 3
            assert len(checked["outputs"]) == (2 if k < len(rec.exits) else 1)
            n_models += 1
    assert n_models >= 2


def test_folding_configs_name_only_finn_nodes_of_the_stage(library: Path) -> None:
    from hw_builders import load_graph

    for entry in read_library(library)["designs"]:
        for stage in entry["stages"]:
            folder = library / stage["folder"]
            graph = load_graph(folder / "hw_graph.json")
            names = [layer.name for layer in graph.layers]
            # FINN's names for the stage built on its own: per specialised op type, from 0
            assert finn_node_names(graph) == {n: n for n in names}
            folding = json.loads((folder / "folding_config.json").read_text())
            nodes = set(folding) - {"Defaults"}
            assert nodes <= set(names), nodes - set(names)
            assert nodes == set(names)  # every layer's folding is explicit
            config = json.loads((folder / "dataflow_build_config.json").read_text())
            assert config["folding_config_file"] == "folding_config.json"
            assert config["generate_outputs"] == ["estimate_reports"]
            bitfile = json.loads((folder / "dataflow_build_config.bitfile.json").read_text())
            assert "bitfile" in bitfile["generate_outputs"]
            assert bitfile["steps"][: len(config["steps"])] == config["steps"]


def test_exported_folders_reproduce_the_stored_estimates(
    library: Path,
    small_study: SmallStudy,
) -> None:
    from hw_builders import estimate, get_device, load_graph, read_finn_reports

    records = _records(small_study)
    for entry in read_library(library)["designs"]:
        rec = records[entry["id"]]
        device = get_device(board=rec.board)
        stored = rec.hw_report
        totals = dict.fromkeys(("LUT", "BRAM_18K", "URAM", "DSP"), 0)
        for stage in entry["stages"]:
            k = stage["stage"]
            folder = library / stage["folder"]
            graph = load_graph(folder / "hw_graph.json")
            folding = json.loads((folder / "folding_config.json").read_text())
            report = estimate(graph, device=device, clk_ns=rec.clk_ns, folding=folding)
            names = json.loads((folder / "node_names.json").read_text())
            # per layer, the estimate from the exported files equals the stored one
            got = {layer.name: layer for layer in report.layers}
            stored_layers = stored["stages"][k]["layers"]
            assert len(stored_layers) == len(report.layers)
            for row in stored_layers:
                layer = got[names[row["name"]]]
                for key in _LAYER_KEYS:
                    assert getattr(layer, key) == row[key], (rec.id, k, row["name"], key)
            # FINN-format reports written beside equal the recomputed ones
            written = read_finn_reports(folder / "adapex_report")
            assert written.performance == report.performance
            assert written.total == report.total
            fps = (1e9 / rec.clk_ns) / report.performance["max_cycles"]
            assert math.isclose(fps, stored["stage_throughput_fps"][k], rel_tol=1e-12)
            for key in totals:
                totals[key] += report.total[key]
        # the design's resources (what the study stored as its metrics) add up
        for key, value in totals.items():
            assert value == rec.metrics[key], (rec.id, key)


def test_existing_folder_is_refused_then_replaced_with_force(
    library: Path,
    small_study: SmallStudy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dse.cli.main import main

    before = read_library(library)["exported_at"]
    args = [
        "export",
        "--study",
        small_study.name,
        "--out",
        str(library),
        "--storage",
        small_study.url,
    ]
    with pytest.raises(SystemExit) as refused:
        main(args)
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and "already exists" in err and "--force" in err
    assert read_library(library)["exported_at"] == before  # untouched
    with Store(small_study.url, read_only=True) as store:
        with pytest.raises(DseError, match="no such study"):
            export_library(store, "nope", library.parent / "other")
        assert not (library.parent / "other").exists()
        export_library(store, small_study.name, library, force=True)
    again = read_library(library)
    assert again["exported_at"] >= before
    assert [d["metrics"] for d in again["designs"]] == [
        d["metrics"] for d in json.loads(_first_index(library))["designs"]
    ]
    # no temporary folder is left beside the library
    assert sorted(p.name for p in library.parent.iterdir()) == ["lib", "lib.tar.gz"]


def _first_index(library: Path) -> str:
    """library.json as the first export (the tarball) holds it."""
    with tarfile.open(f"{library}.tar.gz") as tf:
        member = tf.extractfile("lib/library.json")
        assert member is not None
        return member.read().decode()


def test_tarball_holds_the_library(library: Path) -> None:
    with tarfile.open(f"{library}.tar.gz") as tf:
        names = set(tf.getnames())
    assert "lib/library.json" in names and "lib/runtime_table.json" in names
    index = read_library(library)
    for entry in index["designs"]:
        for stage in entry["stages"]:
            assert f"lib/{stage['model']}" in names
            assert f"lib/{stage['folder']}/folding_config.json" in names


def test_study_without_runtime_table_and_missing_weights(
    small_study: SmallStudy,
    tmp_path: Path,
) -> None:
    import shutil

    from fixtures_study import small_config

    from dse.config import parse_config
    from dse.study.run import run_study

    cache = tmp_path / "cache"
    shutil.copytree(small_study.cache_dir, cache)  # trained weights: no training again
    config = small_config(tmp_path)
    config["study"] = {**config["study"], "name": "second", "trials": 3}
    run_study(parse_config(config))
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    with Store(url, read_only=True) as store:
        assert store.runtime_table("second") is None
        pareto = store.pareto("second")
        out = export_library(store, "second", tmp_path / "lib2", n_verify=2)
        # no stored table: the library's own table is computed from its designs
        index = read_library(out)
        assert index["runtime_table_source"] == "computed"
        table = json.loads((out / "runtime_table.json").read_text())
        assert {e["design_id"] for e in table["entries"]} <= {r.id for r in pareto}
        assert {d["id"] for d in index["designs"]} == {r.id for r in pareto}
        # weights gone from the cache: refused before anything is written
        shutil.rmtree(cache)
        with pytest.raises(DseError, match="not in the accuracy cache"):
            export_library(store, "second", tmp_path / "lib3")
    assert not (tmp_path / "lib3").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".lib")]


def test_stored_estimates_that_the_cost_model_does_not_reproduce_are_refused(
    small_study: SmallStudy,
    tmp_path: Path,
) -> None:
    import copy

    class Tampered:
        """The real store, with one stored layer estimate changed after the study ran."""

        def __init__(self, store: Store) -> None:
            self.store = store

        def __getattr__(self, name: str) -> object:
            return getattr(self.store, name)

        def pareto(self, study: str) -> list:
            records = [copy.deepcopy(r) for r in self.store.pareto(study)]
            records[0].hw_report["stages"][0]["layers"][0]["cycles"] += 1
            return records

    with (
        Store(small_study.url, read_only=True) as store,
        pytest.raises(DseError, match="cost model changed"),
    ):
        export_library(Tampered(store), small_study.name, tmp_path / "lib", n_verify=1)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_out_is_one_line(
    small_study: SmallStudy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dse.cli.main import main

    for out, needle in (
        ("/proc/x", "--out /proc/x: cannot write in /proc"),
        (str(tmp_path / "no" / "such" / "lib"), "does not exist; create it"),
    ):
        with pytest.raises(SystemExit) as refused:
            main(
                ["export", "--study", small_study.name, "--out", out, "--storage", small_study.url]
            )
        assert refused.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
    assert list(tmp_path.iterdir()) == []

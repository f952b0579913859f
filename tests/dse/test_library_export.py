"""Export round trip: the design library of a small real study against its database."""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest
from cli_checks import copy_sqlite
from fixtures_study import SmallStudy

from dse.errors import DseError, StateError
from dse.export import export_library, read_library
from dse.export.library import build_key
from dse.library_format import file_digest
from dse.storage import Store

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
        assert len(entry["stages"]) == len(rec.exits) + 1
        assert [st["input"] for st in entry["stages"]] == list(range(len(rec.exits) + 1))
        assert entry["model"] == f"{entry['folder']}/model.onnx"
        assert entry["deployment"] == f"{entry['folder']}/deployment.json"
        if "alias_of" in entry:
            # the same build as another design: only the thresholds differ
            primary = records[entry["alias_of"]]
            assert (
                build_key(primary) == build_key(rec) and entry["folder"] == f"design_{primary.id}"
            )
            continue
        assert json.loads((folder / "metrics.json").read_text()) == rec.metrics
        prov = json.loads((folder / "provenance.json").read_text())
        assert prov["design_id"] == rec.id
        # where it sits in the checkpoint cache and its digest, not the machine's path
        assert rec.checkpoint.endswith("/" + prov["checkpoint"]) and not prov[
            "checkpoint"
        ].startswith("/")
        assert prov["checkpoint_sha256"] == file_digest(Path(rec.checkpoint))
        assert str(Path(rec.checkpoint).parent) not in (folder / "provenance.json").read_text()
        assert prov["packages"] == rec.provenance["packages"]
    # every distinct build once
    keys = [build_key(records[d["id"]]) for d in index["designs"] if "alias_of" not in d]
    assert len(keys) == len(set(keys)) == index["distinct_designs"]
    assert sorted(p.name for p in library.glob("design_*")) == sorted(
        f"design_{d['id']}" for d in index["designs"] if "alias_of" not in d
    )
    # the runtime table is the stored one, unchanged
    assert index["runtime_table_source"] == "stored"
    assert json.loads((library / "runtime_table.json").read_text()) == table


def test_the_readme_says_what_the_library_holds_and_how_it_is_checked(library: Path) -> None:
    from dse.library_format import file_digest

    index = read_library(library)
    readme = (library / "README.md").read_text()
    assert "README.md" in index["files"]
    assert index["digests"]["README.md"] == file_digest(library / "README.md")
    assert f"study `{index['study']}`" in readme
    assert f"{len(index['designs'])} designs of the study" in readme
    assert f"{index['distinct_designs']} FINN builds" in readme
    for needle in ("sha256", "deployment_fields", "adapex deploy verify", "build.py"):
        assert needle in readme, needle
    assert any(f"cd {d['folder']}\n" in readme for d in index["designs"])  # a real folder
    # every field of a design's metrics.json is explained
    metrics = json.loads((library / index["designs"][0]["folder"] / "metrics.json").read_text())
    missing = [k for k in metrics if f"`{k}" not in readme]
    assert not missing, missing


def _distinct_entries(library: Path) -> list[dict]:
    return [e for e in read_library(library)["designs"] if "alias_of" not in e]


def test_every_stage_of_the_design_model_executes_like_pytorch(
    library: Path, small_study: SmallStudy
) -> None:
    """The design's one model, each stage executed with qonnx on its own input stream
    (the other stages' nodes left out), equals PyTorch's stage on integer inputs."""
    import torch
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from dse.accuracy.design_model import stage_submodel
    from dse.accuracy.finn_export import (
        _execute_batch,
        finn_stage,
        stage_integer_inputs,
        verify_finn_stage,
    )
    from dse.design import load_design_model
    from dse.errors import DseError

    torch.set_num_threads(1)
    records = _records(small_study)
    n_stages = 0
    for entry in _distinct_entries(library):
        rec = records[entry["id"]]
        model = load_design_model(rec.arch, rec.checkpoint, rec.exits)
        x = torch.randint(
            0, 256, (3, *model.arch.input_shape), generator=torch.Generator().manual_seed(7)
        )
        inputs = stage_integer_inputs(model, x / 255.0, rec.exits)
        design = ModelWrapper(str(library / entry["model"]))
        assert len(design.graph.input) == len(entry["stages"])
        for stage in entry["stages"]:
            k = stage["stage"]
            last = k == len(rec.exits)
            module, _, _ = finn_stage(model, k, rec.exits)
            xi, xf = inputs[k]
            # the integer-input stage is the trained stage on integers * scale
            with torch.no_grad():
                want, got = model.stage(k, rec.exits)(xf), module(xi)
            for a, b in zip(want if not last else [want], got if not last else [got], strict=True):
                assert torch.allclose(a, b, atol=1e-5)
            sub = stage_submodel(design, k)
            assert all(n.output[0].startswith(f"s{k}_") for n in sub.graph.node)
            checked = verify_finn_stage(sub, module, xi, last=last)
            assert checked["samples"] == 3
            assert len(checked["outputs"]) == (1 if last else 2)
            # the samples run as one batch give what each gives alone (to float rounding)
            names = [o.name for o in sub.graph.output]
            batch = _execute_batch(sub, sub.graph.input[0].name, names, xi)
            assert batch is not None and len(batch) == 3
            with torch.no_grad():
                ref = module(xi.float())
            for i in range(3):
                alone = execute_onnx(sub, {sub.graph.input[0].name: xi[i : i + 1].numpy()})
                if last:  # a label: PyTorch's top logit, up to a tie within float rounding
                    logits = ref[i].numpy()
                    label = int(np.asarray(batch[i][names[0]]).reshape(-1)[0])
                    assert logits[label] >= logits.max() - 1e-4, (i, label)
                    continue
                for name in names:
                    assert np.allclose(batch[i][name], alone[name], rtol=1e-5, atol=1e-6)
            # and a stage that disagrees with PyTorch is refused
            with pytest.raises(DseError, match="not faithful"):
                verify_finn_stage(sub, _Negated(module, last), xi, last=last)
            n_stages += 1
    assert n_stages >= 2


class _Negated:
    """A stage module whose logits are negated (a wrong export's reference)."""

    def __init__(self, module: object, last: bool) -> None:
        self.module, self.last = module, last

    def __call__(self, x: object) -> object:
        out = self.module(x)  # type: ignore[operator]
        return -out if self.last else (-out[0], out[1])


def _serve_like_the_host(design: object, deploy: dict, pixels: object) -> tuple[list, list]:
    """Run a design model as the host does, by deployment.json alone: stage 0 on every image
    (raw pixels), the exit decision on each exit's integer logits, the integer features of
    the samples it does not answer on forwarded to the next stage's input. Each stage is
    executed on integers, exactly (dse.integer_exec, the software backend's executor).
    Returns (label, exit stage) per image."""
    import numpy as np

    from dse.accuracy.design_model import stage_submodel
    from dse.integer_exec import CompiledGraph, exit_confidence, exit_prediction, output_integers

    stages = deploy["stages"]
    graphs = [CompiledGraph(stage_submodel(design, st["stage"])) for st in stages]
    labels, answered = [], []
    for img in pixels:
        x = np.asarray(img[None], dtype=np.int64)
        for st, graph in zip(stages, graphs, strict=True):
            inp = deploy["inputs"][st["input"]]
            out = graph.run({inp["onnx"]["name"]: x})
            if "label" in st:
                name = deploy["outputs"][st["label"]]["onnx"]["name"]
                label, _ = output_integers(out[name], name)
                labels.append(int(label.reshape(-1)[0]))
                answered.append(st["stage"])
                break
            spec = deploy["outputs"][st["logits"]]
            q, scale = output_integers(out[spec["onnx"]["name"]], spec["onnx"]["name"])
            assert scale == pytest.approx(spec["scale"], rel=1e-6)  # float32 in the file
            if exit_confidence(q, spec["scale"])[0] >= st["threshold"]:
                labels.append(int(exit_prediction(q)[0]))
                answered.append(st["stage"])
                break
            feats = deploy["outputs"][st["features"]]
            nxt = deploy["inputs"][st["feeds"]["input"]]
            q, scale = output_integers(out[feats["onnx"]["name"]], feats["onnx"]["name"])
            assert feats["scale"] == nxt["scale"] and scale == pytest.approx(nxt["scale"], rel=1e-6)
            x = q.reshape(nxt["onnx"]["shape"])  # flattened when the next stage reads it flat
    return labels, answered


def test_the_design_model_served_like_the_host_gives_the_integer_models_labels_and_exits(
    library: Path, small_study: SmallStudy
) -> None:
    """Exit decisions and forwarded features through the exported design model (stage by
    stage, as the host runs the accelerator, by deployment.json) give the labels and
    answering exits that the study's exit profile gives: the whole multi-exit integer model
    at the design's thresholds. Both sides are exact integer arithmetic, so the check is
    the same on every machine."""
    import numpy as np
    import torch

    from dse.accuracy.profile import integer_profiles
    from dse.design import load_design_model
    from dse.integer_exec import image_integers
    from search_spaces import load_dataset

    torch.set_num_threads(1)
    data = load_dataset("digits", seed=0, image_size=16)  # the small study's data
    images, truth = data.x_test[:48], data.y_test[:48]
    records = _records(small_study)
    with_exit = 0
    for entry in _distinct_entries(library):
        rec = records[entry["id"]]
        if not rec.exits:
            continue
        with_exit += 1
        from qonnx.core.modelwrapper import ModelWrapper

        deploy = json.loads((library / entry["deployment"]).read_text())
        pixel_scale = deploy["inputs"][deploy["stages"][0]["input"]]["scale"]
        pixels = image_integers(images, pixel_scale)
        # the study's rule: the whole model's integer profile at the design's thresholds
        model = load_design_model(rec.arch, rec.checkpoint, rec.exits)
        prof = integer_profiles(model, {"x": ((pixels * pixel_scale).astype(np.float32), truth)})[
            "x"
        ]
        want_label, want_exit = [], []
        for i in range(len(truth)):
            for k, e in enumerate(prof.exits):
                if e == -1 or prof.confidences[k, i] >= rec.thresholds[k]:
                    want_label.append(int(prof.predictions[k, i]))
                    want_exit.append(k)
                    break
        got_label, got_exit = _serve_like_the_host(
            ModelWrapper(str(library / entry["model"])), deploy, pixels
        )
        assert got_exit == want_exit, (rec.id, got_exit, want_exit)
        assert got_label == want_label, (rec.id, got_label, want_label)
        assert np.mean(np.asarray(got_label) == truth) > 0.5  # a trained model, not noise
    assert with_exit >= 1


def _onnx_weight_layers(model: object) -> list[tuple[str, object]]:
    """(node name, integer (MW, MH) weights) of every Conv / MatMul / Gemm, in graph order,
    computed with qonnx's own Quant execution from the exported file."""
    import numpy as np
    from qonnx.core.onnx_exec import execute_node

    out = []
    for node in model.graph.node:
        if node.op_type not in ("Conv", "MatMul", "Gemm"):
            continue
        q = model.find_producer(node.input[1])
        ctx = {name: model.get_initializer(name) for name in q.input}
        execute_node(q, ctx, model.graph, opset_version=model.model.opset_import[0].version)
        scale = float(np.asarray(model.get_initializer(q.input[1])).reshape(-1)[0])
        w = np.round(np.asarray(ctx[q.output[0]]) / scale).astype(np.int64)
        if node.op_type == "Conv":
            w = w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0])
        elif node.op_type == "Gemm":
            w = w.T
        out.append((node.name, w))
    return out


def _stage_of_finn_layer(rec: object, folder: Path) -> dict[str, int]:
    """Per FINN node name of a design's folder, its stage."""
    from hw_builders import split_stages

    names = json.loads((folder / "node_names.json").read_text())
    return {
        names[layer.name]: k
        for k, stage in enumerate(split_stages(rec.graph()))
        for layer in stage.layers
    }


def test_design_models_take_finns_form_and_match_the_hardware_graph(
    library: Path, small_study: SmallStudy
) -> None:
    """What FINN's first steps need (qonnx's own transformations run on every design
    model), and the layers, datatypes and names adapex costs follow from the exported
    weights, stage by stage."""
    import numpy as np
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    from dse.accuracy.design_model import input_name, output_names
    from hw_builders import load_graph, minimize_bit_widths

    records = _records(small_study)
    for entry in _distinct_entries(library):
        rec = records[entry["id"]]
        folder = library / entry["folder"]
        model = ModelWrapper(str(folder / "model.onnx"))
        n = len(rec.exits) + 1
        # one input per stage, the outputs of every stage in stage order
        assert [i.name for i in model.graph.input] == [input_name(k) for k in range(n)]
        assert [o.name for o in model.graph.output] == [
            name for k in range(n) for name in output_names(k, k == n - 1)
        ]
        for k in range(n):
            in_dt = model.get_tensor_datatype(input_name(k))
            assert in_dt.is_integer()
            assert in_dt == DataType["UINT8"] if k == 0 else in_dt.bitwidth() <= 8
        label = output_names(n - 1, True)[0]
        assert model.find_producer(label).op_type == "TopK"
        assert len(model.get_nodes_by_op_type("TopK")) == 1
        for node in model.graph.node:
            if node.op_type == "Gemm":
                assert len(node.input) == 3  # biases present
            if node.op_type == "Quant" and model.find_producer(node.input[0]) is not None:
                signed = next(a.i for a in node.attribute if a.name == "signed")
                producer = model.find_producer(node.input[0])
                # FINN converts an unsigned activation quantiser only after a ReLU
                assert signed or producer.op_type == "Relu"
        # qonnx's own transformations that FINN's first steps call, on the whole model
        m = cleanup_model(model)
        for t in (
            GemmToMatMul(),
            InferShapes(),
            FoldConstants(),
            GiveUniqueNodeNames(),
            GiveReadableTensorNames(),
            InferDataTypes(),
        ):
            m = m.transform(t)
        assert not m.get_nodes_by_op_type("Gemm")
        assert len(m.graph.input) == n and len(m.graph.output) == len(model.graph.output)
        # the hardware graph's MVAUs are the model's weight layers, stage by stage, with
        # FINN's minimised datatypes for these very weights
        graph = load_graph(folder / "hw_graph.json")
        stage_of = _stage_of_finn_layer(rec, folder)
        weights = _onnx_weight_layers(model)
        by_layer = {}
        for k in range(n):
            mvaus = [la for la in graph.layers if la.op_type == "MVAU" and stage_of[la.name] == k]
            ws = [w for name, w in weights if name.startswith(f"s{k}_")]
            assert len(mvaus) == len(ws)
            for layer, w in zip(mvaus, ws, strict=True):
                assert (layer.attrs["MW"], layer.attrs["MH"]) == w.shape
                by_layer[layer.name] = w
        again = minimize_bit_widths(graph, by_layer)
        assert again.to_dict() == graph.to_dict()
        assert np.all([layer.name.startswith(layer.specialized_op_type) for layer in graph.layers])
        # build.py exactly where a stage forks to an exit (this study is W2A2)
        dup = any(layer.op_type == "DuplicateStreams" for layer in graph.layers)
        assert (folder / "build.py").exists() == dup == bool(rec.exits)
        if dup:
            _check_build_script(folder)


def test_deployment_json_matches_the_model_and_the_hardware_graph(
    library: Path, small_study: SmallStudy
) -> None:
    """deployment.json: every stream of model.onnx, in order, with its datatype and shapes;
    each features stream is exactly what the next stage's input stream reads."""
    import numpy as np
    from qonnx.core.modelwrapper import ModelWrapper

    from hw_builders import bitwidth, load_graph

    records = _records(small_study)
    for entry in _distinct_entries(library):
        rec = records[entry["id"]]
        folder = library / entry["folder"]
        deploy = json.loads((folder / "deployment.json").read_text())
        model = ModelWrapper(str(folder / "model.onnx"))
        layers = {la.name: la for la in load_graph(folder / "hw_graph.json").layers}
        assert deploy["design_id"] == rec.id and deploy["model"] == "model.onnx"
        for side, vis, kind in (
            ("inputs", model.graph.input, "s_axis"),
            ("outputs", model.graph.output, "m_axis"),
        ):
            streams = deploy[side]
            assert [s["onnx"]["name"] for s in streams] == [vi.name for vi in vis]
            for i, st in enumerate(streams):
                assert st["index"] == i and st["stream"] == f"{kind}_{i}"
                shape = list(model.get_tensor_shape(st["onnx"]["name"]))
                assert st["onnx"]["shape"] == shape
                nhwc = [shape[0], *shape[2:], shape[1]] if len(shape) == 4 else shape
                if st["role"] != "label":
                    assert st["shape_normal"] == nhwc
                assert np.prod(st["shape_normal"]) == np.prod(st["shape_folded"])
                bits = st["shape_folded"][-1] * bitwidth(st["datatype"])
                assert st["shape_packed"] == [*st["shape_folded"][:-1], -(-bits // 8)]
                assert st["layer"] in layers
                if side == "inputs":
                    annotated = model.get_tensor_datatype(st["onnx"]["name"]).name
                    assert st["datatype"] == annotated
        rows = deploy["stages"]
        assert [r["exit"] for r in rows] == [*rec.exits, None]
        assert [r["threshold"] for r in rows[:-1]] == list(rec.thresholds)
        for r in rows[:-1]:
            feats = deploy["outputs"][r["features"]]
            nxt = deploy["inputs"][r["feeds"]["input"]]
            assert r["feeds"]["stage"] == r["stage"] + 1 == nxt["stage"]
            for key in ("datatype", "scale"):
                assert feats[key] == nxt[key]
            if "reshape" in r["feeds"]:  # the next stage reads the features flattened
                assert r["feeds"]["reshape"] == nxt["onnx"]["shape"] == nxt["shape_normal"]
                assert np.prod(feats["onnx"]["shape"]) == np.prod(nxt["onnx"]["shape"])
            else:
                assert feats["shape_normal"] == nxt["shape_normal"]
                assert feats["onnx"]["shape"] == nxt["onnx"]["shape"]
            assert deploy["outputs"][r["logits"]]["scale"] > 0
        assert deploy["outputs"][rows[-1]["label"]]["role"] == "label"
        assert deploy["bitfile"]["bitfile"].endswith(("finn-accel.bit", "finn-accel.xclbin"))
        # the settings the runtime table selects for this design (the study stored a table)
        table = json.loads((library / "runtime_table.json").read_text())
        ids = {rec.id, *entry.get("aliases", [])}
        want = {tuple(e["thresholds"]) for e in table["entries"] if int(e["design_id"]) in ids}
        assert {tuple(t) for t in deploy["runtime_table_thresholds"]} == want
        assert all(len(t) == len(rec.exits) for t in want)


def _check_build_script(folder: Path) -> None:
    """build.py compiles, defines its custom steps and inserts each beside the FINN step it
    is keyed by, and those steps are in the folder's build configs."""
    import ast

    text = (folder / "build.py").read_text()
    tree = ast.parse(compile(text, str(folder / "build.py"), "exec", ast.PyCF_ONLY_AST))
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {
        "step_adapex_split_exit_fork",
        "step_adapex_duplicate_streams",
        "step_adapex_order_streams",
        "main",
    } <= functions
    custom = next(
        n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "CUSTOM_STEPS"
    )
    assert isinstance(custom, ast.Dict)
    inserted = {
        ast.literal_eval(k): v.id
        for k, v in zip(custom.keys, custom.values, strict=True)
        if k is not None and isinstance(v, ast.Name)
    }
    assert inserted == {
        "step_streamline": "step_adapex_split_exit_fork",
        "step_convert_to_hw": "step_adapex_duplicate_streams",
        "step_create_dataflow_partition": "step_adapex_order_streams",
    }
    for name in ("dataflow_build_config.json", "dataflow_build_config.bitfile.json"):
        steps = json.loads((folder / name).read_text())["steps"]
        assert set(inserted) <= set(steps), (name, steps)
    # and the conversion of a 1-bit model, before FINN's step_qonnx_to_finn
    before = next(
        n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "BEFORE_STEPS"
    )
    # and the mark of a W1A1 later stage's binary input, before FINN's step_streamline
    assert {ast.literal_eval(k): v.id for k, v in zip(before.keys, before.values, strict=True)} == {
        "step_qonnx_to_finn": "step_adapex_bipolar_qonnx_to_finn",
        "step_streamline": "step_adapex_mark_binary_inputs",
    }
    for name in ("dataflow_build_config.json", "dataflow_build_config.bitfile.json"):
        steps = json.loads((folder / name).read_text())["steps"]
        assert {"step_qonnx_to_finn", "step_streamline"} <= set(steps)


def test_folding_configs_name_every_finn_node_of_the_design(
    library: Path, small_study: SmallStudy
) -> None:
    from hw_builders import finn_design_names, load_graph, split_stages

    records = _records(small_study)
    for entry in _distinct_entries(library):
        rec = records[entry["id"]]
        folder = library / entry["folder"]
        graph = load_graph(folder / "hw_graph.json")
        names = [layer.name for layer in graph.layers]
        # FINN's names for the design's one model, every stage in it
        design_names = finn_design_names(split_stages(rec.graph()))
        assert json.loads((folder / "node_names.json").read_text()) == design_names
        assert sorted(design_names.values()) == sorted(names)
        assert len(set(names)) == len(names) == len(rec.graph().layers)
        folding = json.loads((folder / "folding_config.json").read_text())
        assert set(folding) - {"Defaults"} == set(names)  # every layer's folding is explicit
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
    from hw_builders import HwGraph, estimate, get_device, load_graph, read_finn_reports

    records = _records(small_study)
    for entry in _distinct_entries(library):
        rec = records[entry["id"]]
        device = get_device(board=rec.board)
        stored = rec.hw_report
        folder = library / entry["folder"]
        graph = load_graph(folder / "hw_graph.json")
        folding = json.loads((folder / "folding_config.json").read_text())
        report = estimate(graph, device=device, clk_ns=rec.clk_ns, folding=folding)
        names = json.loads((folder / "node_names.json").read_text())
        got = {layer.name: layer for layer in report.layers}
        # per layer, the estimate of the one accelerator equals the stored stage's
        assert len(got) == sum(len(st["layers"]) for st in stored["stages"])
        for k, st in enumerate(stored["stages"]):
            for row in st["layers"]:
                layer = got[names[row["name"]]]
                for key in _LAYER_KEYS:
                    assert getattr(layer, key) == row[key], (rec.id, k, row["name"], key)
            # each stage's own throughput, from its layers in the accelerator
            members = {names[r["name"]] for r in st["layers"]}
            stage = HwGraph(f"s{k}", [la for la in graph.layers if la.name in members])
            own = {n: f for n, f in folding.items() if n == "Defaults" or n in members}
            sub = estimate(stage, device=device, clk_ns=rec.clk_ns, folding=own)
            fps = (1e9 / rec.clk_ns) / sub.performance["max_cycles"]
            assert math.isclose(fps, stored["stage_throughput_fps"][k], rel_tol=1e-12)
        # FINN-format reports written beside equal the recomputed ones
        written = read_finn_reports(folder / "adapex_report")
        assert written.performance == report.performance
        assert written.total == report.total
        # the design's resources (what the study stored as its metrics) are the accelerator's
        for key in ("LUT", "BRAM_18K", "URAM", "DSP"):
            assert report.total[key] == rec.metrics[key] == stored["total"][key], (rec.id, key)


def _hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its bytes."""
    import hashlib

    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _export_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from dse.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["export", *args])
    return int(info.value.code or 0), capsys.readouterr().err


def test_existing_folder_is_refused_then_replaced_with_force(
    library: Path,
    small_study: SmallStudy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--study", small_study.name, "--out", str(library), "--storage", small_study.url]
    before = _hashes(library)
    code, err = _export_cli(args, capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: --out ") and "already exists" in err and "--force" in err
    assert _hashes(library) == before  # untouched
    with Store(small_study.url, read_only=True) as store:
        with pytest.raises(DseError, match="no such study"):
            export_library(store, "nope", library.parent / "other")
        assert not (library.parent / "other").exists()
    # a file of the library changed by hand: --force writes the library anew, so the file
    # is the export's again (a --force that did nothing would leave the edit)
    metrics = next(library.glob("design_*/metrics.json"))
    original = metrics.read_bytes()
    metrics.write_text("edited by hand\n")
    with Store(small_study.url, read_only=True) as store:
        export_library(store, small_study.name, library, force=True)
    assert metrics.read_bytes() == original
    again = read_library(library)
    assert [d["metrics"] for d in again["designs"]] == [
        d["metrics"] for d in json.loads(_first_index(library))["designs"]
    ]
    assert sorted(again["files"]) == sorted(_hashes(library))  # the manifest is complete
    # no temporary folder is left beside the library
    assert sorted(p.name for p in library.parent.iterdir()) == ["lib", "lib.tar.gz"]


def test_force_never_deletes_what_the_export_did_not_write(
    library: Path,
    small_study: SmallStudy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--force` replaces an exported library holding nothing else, and refuses (one line,
    exit 2, every file as it was) any other folder: a working folder holding the study
    database itself, the current folder (`--out .`), a library beside which a user put a
    file of their own, and a tarball that is not an exported library's."""
    work = tmp_path / "work"
    work.mkdir()
    db = work / "bars.db"
    copy_sqlite(small_study.db, db)
    (work / "myfile.txt").write_text("mine\n")
    url = f"sqlite:///{db}"
    for out in (str(work), "."):
        monkeypatch.chdir(work)
        before = _hashes(work)
        code, err = _export_cli(
            ["--study", small_study.name, "--storage", url, "--out", out, "--force"], capsys
        )
        assert code == 2 and err.count("\n") == 1, err
        assert "holds no adapex library" in err and str(work) in err
        assert _hashes(work) == before
    monkeypatch.chdir(tmp_path)
    # an exported library with a user's file in it
    notes = library / "design_notes.txt"
    notes.write_text("my measurements\n")
    try:
        before = _hashes(library)
        code, err = _export_cli(
            ["--study", small_study.name, "--storage", url, "--out", str(library), "--force"],
            capsys,
        )
        assert code == 2 and "did not write (design_notes.txt)" in err, err
        assert _hashes(library) == before
    finally:
        notes.unlink()
    # an exported library with a user's link and an empty folder of their own in it
    (library / "mine").mkdir()
    (library / "latest").symlink_to(library / "library.json")
    try:
        for extra in ("latest", "mine"):
            before = _hashes(library)
            code, err = _export_cli(
                ["--study", small_study.name, "--storage", url, "--out", str(library), "--force"],
                capsys,
            )
            assert code == 2 and err.count("\n") == 1 and "did not write" in err, err
            assert _hashes(library) == before
            assert (library / "mine").is_dir()
            assert (library / "latest").is_symlink() == (extra == "latest")
            (library / extra).unlink() if extra == "latest" else (library / extra).rmdir()
    finally:
        if (library / "latest").is_symlink():
            (library / "latest").unlink()
        if (library / "mine").is_dir():
            (library / "mine").rmdir()
    # a tarball at <out>.tar.gz that the export did not write
    tar_path = tmp_path / "fresh.tar.gz"
    tar_path.write_bytes(b"not a tarball")
    code, err = _export_cli(
        [
            "--study",
            small_study.name,
            "--storage",
            url,
            "--out",
            str(tmp_path / "fresh"),
            "--tar",
            "--force",
        ],
        capsys,
    )
    assert code == 2 and "not the tarball of an exported library" in err, err
    assert tar_path.read_bytes() == b"not a tarball" and not (tmp_path / "fresh").exists()


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
        for key in ("model", "deployment"):
            assert f"lib/{entry[key]}" in names
        assert f"lib/{entry['folder']}/folding_config.json" in names


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
        with pytest.raises(StateError, match="not in the accuracy cache"):
            export_library(store, "second", tmp_path / "lib3")
    assert not (tmp_path / "lib3").exists()
    # through the CLI: state to restore, not bad input: exit status 1, one line
    from dse.cli.main import main

    with pytest.raises(SystemExit) as refused:
        main(["export", "--study", "second", "--storage", url, "--out", str(tmp_path / "lib3")])
    assert refused.value.code == 1
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
        pytest.raises(StateError, match="cost model changed"),
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


def _build_py_functions(*names: str, **imports: object) -> dict:
    """The functions ``names`` of the exported build.py, with its literal module constants
    and ``imports`` (the qonnx names they use), run without FINN."""
    import ast

    from hw_builders.build_script import BUILD_PY

    def literal(node: ast.stmt) -> bool:
        if not isinstance(node, ast.Assign):
            return False
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return False
        return True

    tree = ast.parse(BUILD_PY)
    body = [
        n for n in tree.body if literal(n) or (isinstance(n, ast.FunctionDef) and n.name in names)
    ]
    namespace: dict = dict(imports)
    exec(compile(ast.Module(body, []), "build.py", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_build_script_forks_a_graph_output_that_a_node_also_reads() -> None:
    """A 1-bit stage's features leave a MultiThreshold directly: build.py gives that graph
    output a DuplicateStreams of its own (FINN's InferDuplicateStreamsLayer counts
    consumers only, not graph outputs). Run on a real qonnx model, without FINN."""

    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import SortGraph

    namespace = _build_py_functions("_fork_graph_outputs", SortGraph=SortGraph)

    shape = [1, 16]
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["features"], name="act"),
            helper.make_node("Neg", ["features"], ["logits"], name="exit_head"),
        ],
        "stage",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, shape),
        ],
    )
    model = ModelWrapper(helper.make_model(graph))
    model.set_tensor_datatype("features", DataType["BIPOLAR"])
    model = namespace["_fork_graph_outputs"](model)
    (dup,) = [n for n in model.graph.node if n.op_type == "DuplicateStreams"]
    assert dup.output[0] == "features" and [o.name for o in model.graph.output][0] == "features"
    head = model.find_consumers(dup.output[1])
    assert [n.name for n in head] == ["exit_head"]
    assert model.find_producer(dup.input[0]).name == "act"
    attrs = {a.name: helper.get_attribute_value(a) for a in dup.attribute}
    assert attrs["NumChannels"] == 16 and attrs["NumOutputStreams"] == 2
    assert attrs["inputDataType"] == b"BIPOLAR"
    # a graph output no node reads is left alone
    again = namespace["_fork_graph_outputs"](model)
    assert sum(n.op_type == "DuplicateStreams" for n in again.graph.node) == 1


def test_the_build_script_keeps_a_flattened_fork_output_four_dimensional() -> None:
    """Streamlining moves a stage's fork past its exit head's Flatten, so the features would
    leave flattened through a Transpose + Flatten that FINN's RemoveCNVtoFCFlatten fails on
    (no MVAU reads it). Once the head has its own copy, build.py drops the output's Flatten:
    the features leave as model.onnx declares them, 4-D. Run on a real qonnx model."""

    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper

    namespace = _build_py_functions("_unflatten_output")

    def model_with(op: str, shape: list[int]) -> ModelWrapper:
        perm = [0, 3, 1, 2] if len(shape) == 4 else [0, 1]
        graph = helper.make_graph(
            [
                helper.make_node("Relu", ["x"], ["nhwc"], name="pool"),
                helper.make_node("Transpose", ["nhwc"], ["nchw"], name="to_nchw", perm=perm),
                helper.make_node(op, ["nchw"], ["features"], name="flatten"),
            ],
            "stage",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 128])],
        )
        model = ModelWrapper(helper.make_model(graph))
        model.set_tensor_shape(
            "nchw", [shape[0], shape[3], shape[1], shape[2]] if len(shape) == 4 else shape
        )
        return model

    for size in ([1, 2, 2, 32], [1, 1, 1, 128]):
        model = model_with("Flatten", size)
        chain = [model.find_producer("features"), model.find_producer("nchw")]
        namespace["_unflatten_output"](model, "features", chain)
        assert [n.op_type for n in model.graph.node] == ["Relu", "Transpose"]
        assert model.find_producer("features").name == "to_nchw"
        assert model.get_tensor_shape("features") == [1, size[3], size[1], size[2]]
    # a flat stage's features (a vector) and an output chain with no flatten are left alone
    flat = model_with("Flatten", [1, 128])
    namespace["_unflatten_output"](flat, "features", [flat.find_producer("features")])
    assert [n.op_type for n in flat.graph.node] == ["Relu", "Transpose", "Flatten"]
    plain = model_with("Relu", [1, 2, 2, 32])
    namespace["_unflatten_output"](plain, "features", [plain.find_producer("features")])
    assert len(plain.graph.node) == 3


def test_the_build_script_keeps_a_1_bit_fork_out_of_streamlining() -> None:
    """A 1-bit stage's features leave its pooling with no scale between, and its exit head
    reads the same tensor; FINN's MakeMaxPoolNHWC would hand that graph output the head's
    pooled map. build.py takes such an output out before step_streamline (tagging its
    producer) and puts it back after, in model.onnx's layout. Run on real qonnx models."""

    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import SortGraph
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    namespace = _build_py_functions(
        "_detach_integer_forks",
        "_reattach_integer_forks",
        SortGraph=SortGraph,
        InferShapes=InferShapes,
        InferDataTypes=InferDataTypes,
        InferDataLayouts=InferDataLayouts,
    )

    def stage(shape: list[int]) -> ModelWrapper:
        graph = helper.make_graph(
            [
                helper.make_node("Relu", ["x"], ["features"], name="pool"),
                helper.make_node("Neg", ["features"], ["logits"], name="exit_head"),
            ],
            "stage",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
            [
                helper.make_tensor_value_info("logits", TensorProto.FLOAT, shape),
                helper.make_tensor_value_info("features", TensorProto.FLOAT, shape),
            ],
        )
        model = ModelWrapper(helper.make_model(graph))
        model.set_tensor_datatype("features", DataType["BIPOLAR"])
        return model

    before = namespace["_detach_integer_forks"](stage([1, 3, 2, 2]))
    assert [o.name for o in before.graph.output] == ["logits"]
    assert before.find_producer("features").doc_string == "adapex_features=1;features;1,3,2,2"
    # streamlining made the pooling channels-last: the output comes back through a Transpose
    after = stage([1, 2, 2, 3])
    after.graph.output.remove(after.graph.output[1])
    after.find_producer("features").doc_string = "adapex_features=1;features;1,3,2,2"
    after = namespace["_reattach_integer_forks"](after)
    out = after.graph.output[1]
    transpose = after.find_producer(out.name)
    assert transpose.op_type == "Transpose" and transpose.input[0] == "features"
    assert after.get_tensor_shape(out.name) == [1, 3, 2, 2]
    assert after.get_tensor_datatype(out.name) == DataType["BIPOLAR"]
    assert after.find_producer("features").doc_string == ""
    # still in model.onnx's layout: the tensor itself is the output again
    same = stage([1, 3, 2, 2])
    same.graph.output.remove(same.graph.output[1])
    same.find_producer("features").doc_string = "adapex_features=1;features;1,3,2,2"
    same = namespace["_reattach_integer_forks"](same)
    assert [o.name for o in same.graph.output] == ["logits", "features"]
    # a float output (scaled features: step_adapex_split_exit_fork's case) is left alone
    scaled = stage([1, 3, 2, 2])
    scaled.set_tensor_datatype("features", DataType["FLOAT32"])
    assert len(namespace["_detach_integer_forks"](scaled).graph.output) == 2


def test_a_baseline_design_the_table_selects_is_exported(
    small_study: SmallStudy, tmp_path: Path
) -> None:
    """A design the runtime table selects is exported even when it is one of the baselines
    (a trained model's pruning-only design, with no trial of its own)."""
    url = copy_sqlite(small_study.db, tmp_path / "studies.db")
    with Store(url) as store:
        (baseline, *_) = store.designs(small_study.name, role="baseline")
        assert baseline.trial_number is None
        table = store.runtime_table(small_study.name)
        table["entries"][0]["design_id"] = baseline.id
        store.save_runtime_table(small_study.name, table)
    with Store(url, read_only=True) as store:
        out = export_library(store, small_study.name, tmp_path / "lib", n_verify=2)
    index = read_library(out)
    ids = [d["id"] for d in index["designs"]]
    assert baseline.id in ids and ids[-1] == baseline.id  # after the study's own designs
    entry = index["designs"][-1]
    assert entry["trial_number"] is None and len(entry["stages"]) == len(baseline.exits) + 1

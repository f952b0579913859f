"""The host runtime on a real small study's exported library (dse.deploy, adapex deploy)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures_study import SmallStudy

from dse.deploy import (
    AdaptiveRunner,
    DeployError,
    get_backend,
    load_deployed_library,
    load_split,
    pack_stream,
    serve_trace,
    unpack_stream,
)

pytestmark = pytest.mark.slow  # trains real models


@pytest.fixture(scope="module")
def library(small_study: SmallStudy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dse.export import export_library
    from dse.storage import Store

    out = tmp_path_factory.mktemp("deploy") / "lib"
    with Store(small_study.url, read_only=True) as store:
        export_library(store, small_study.name, out, n_verify=2)
    return out


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from dse.cli.main import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_deploy_verify_measures_what_the_study_stored(
    library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(["deploy", "verify", "--library", str(library), "--json"], capsys)
    assert code == 0, (out, err)
    report = json.loads(out)
    index = json.loads((library / "library.json").read_text())
    assert report["ok"] is True
    assert [d["design_id"] for d in report["designs"]] == [d["id"] for d in index["designs"]]
    for d in report["designs"]:
        n = d["samples"]
        assert n == index["dataset"]["n_calibration"]
        assert round(d["stored"]["accuracy"] * n) == round(d["measured"]["accuracy"] * n)
        for a, b in zip(d["stored"]["exit_fraction"], d["measured"]["exit_fraction"], strict=True):
            assert round(a * n) == round(b * n)
        assert d["differences"] == []


def test_the_runner_gives_the_labels_and_exits_of_the_integer_multi_exit_model(
    library: Path, small_study: SmallStudy
) -> None:
    """AdaptiveRunner (the library's stages, stage by stage) against the whole multi-exit
    integer model of the design's checkpoint with the same thresholds and the study's exit
    rule (dse.accuracy.profile: top-1 softmax >= threshold, ties to the lowest class). Both
    are exact integer arithmetic: the same on every machine, where PyTorch's float model
    rounds differently at quantiser boundaries."""
    import torch

    from dse.accuracy.profile import integer_profiles
    from dse.design import load_design_model
    from dse.storage import Store

    torch.set_num_threads(1)
    lib = load_deployed_library(library)
    x, y, _ = load_split(lib)
    x, y = x[:96], y[:96]
    with Store(small_study.url, read_only=True) as store:
        records = {r.id: r for r in store.designs(small_study.name)}
    checked = 0
    for design_id in lib.design_ids:
        rec = records[design_id]
        model = load_design_model(rec.arch, rec.checkpoint, rec.exits)
        prof = integer_profiles(model, {"x": (x, y)})["x"]
        # thresholds where some samples leave early: the median confidence of each exit
        thresholds = [float(np.median(prof.confidences[k])) for k in range(len(rec.exits))]
        for thr in (list(rec.thresholds), thresholds):
            want = prof.evaluate(thr, list(rec.exits)) if rec.exits else None
            res = AdaptiveRunner(lib, design_id, thr).serve(x)
            leaves = np.ones(len(y), dtype=np.int64) * len(rec.exits)
            for k in reversed(range(len(rec.exits))):
                leaves[prof.confidences[k] >= thr[k]] = k
            label = prof.predictions[leaves, np.arange(len(y))]
            assert res.stage.tolist() == leaves.tolist(), (design_id, thr)
            assert res.labels.tolist() == label.tolist(), (design_id, thr)
            assert res.entered[0] == len(y) and sum(res.answered) == len(y)
            if want is not None:
                assert res.exit_fraction() == pytest.approx(want.exit_fraction)
            checked += 1
    assert checked >= 2


def test_the_live_manager_switches_as_the_runtime_table_and_the_simulator_say(
    library: Path,
) -> None:
    """A stepped load and an accuracy threshold that rises halfway: the live manager's
    configuration in every interval is the simulator's for the same arrivals, every
    configuration it runs meets the threshold, and every switch is logged."""
    from dse.runtime import SelectionTable, Trace, simulate

    lib = load_deployed_library(library)
    x, y, _ = load_split(lib)
    table = SelectionTable.from_dict(lib.runtime_table)
    accs = sorted(lib.runtime_table["accuracy_thresholds"])
    peak = max(p.throughput_fps for p in table.points if p.design_id in lib.design_ids)
    counts = np.array([0.05, 0.5, 1.5, 0.5, 0.05] * 8) * peak
    trace = Trace("steps", 1.0, counts=counts.astype(np.int64))
    acc = np.array([accs[0]] * 20 + [accs[-1]] * 20)
    result = serve_trace(lib, trace, x, y, accuracy_threshold=acc, execute=2)
    sim = simulate(table, trace, accuracy_threshold=acc, arrivals=trace.counts)
    predicted = [
        {"design": sim.points[p].design_id, "thresholds": list(sim.points[p].thresholds)}
        for p in sim.point
    ]
    assert result.configurations == predicted
    by_config = {(p.design_id, tuple(p.thresholds)): p for p in table.points}
    for t, conf in enumerate(result.configurations):
        point = by_config[(conf["design"], tuple(conf["thresholds"]))]
        assert point.accuracy >= acc[t] - 1e-9 or not table.row(float(acc[t])).compliant
    m = result.metrics
    assert m["processed"] == sim.metrics["processed"] and m["dropped"] == sim.metrics["dropped"]
    assert m["reconfigurations"] == sim.metrics["reconfigurations"]
    assert m["executed"] == sum(min(int(s), 2) for s in sim.served)
    switches = [s for s in result.switches if s["kind"] == "reconfigure"]
    assert len(switches) == m["reconfigurations"]
    changes = sum(a != b for a, b in zip(predicted, predicted[1:], strict=False))
    assert len(result.switches) == changes
    assert all(s["load_s"] >= 0 for s in switches)
    assert 0.0 <= m["mean_accuracy"] <= 1.0 and abs(sum(m["exit_fraction"].values()) - 1) < 1e-9


def test_deploy_run_serves_one_design(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = json.loads((library / "library.json").read_text())
    entry = next(d for d in index["designs"] if d["exits"])
    args = ["deploy", "run", "--library", str(library), "--design", str(entry["id"]), "--json"]
    code, out, err = _cli(args, capsys)
    assert code == 0, err
    got = json.loads(out)
    # `deploy run` serves the held-out test split: the figures stored for it beside the
    # calibration ones
    test = entry["metrics"]["test"]
    assert got["samples"] == index["dataset"]["n_test"]
    assert got["accuracy"] == pytest.approx(test["accuracy"], abs=0.5 / got["samples"])
    assert got["exit_fraction"] == pytest.approx(test["exit_fraction"], abs=1e-9)
    # bad thresholds: one line, exit 2
    code, _, err = _cli([*args[:-1], "--thresholds", "0.5,0.5,0.5,0.5"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--thresholds" in err


def _edit_deployment(folder: Path, edit: Any) -> None:
    dep = json.loads((folder / "deployment.json").read_text())
    dep = edit(dep)
    (folder / "deployment.json").write_text(json.dumps(dep))


def _first_feed(dep: dict) -> dict:
    return next(st for st in dep["stages"] if "feeds" in st)["feeds"]


#: Edits of a design's files after the export, and what the one-line refusal names.
DAMAGES: dict[str, tuple[Any, str]] = {
    "model removed": (lambda f: (f / "model.onnx").unlink(), "model.onnx: cannot be read"),
    "model changed": (
        lambda f: (f / "model.onnx").write_bytes((f / "model.onnx").read_bytes() + b"\0"),
        "model.onnx: changed since the export",
    ),
    "stream shape": (
        lambda f: _edit_deployment(
            f, lambda d: {**d, "inputs": [{**d["inputs"][0], "shape": [1, 2, 3]}, *d["inputs"][1:]]}
        ),
        "field `inputs` changed since the export",
    ),
    "exit threshold": (
        lambda f: _edit_deployment(
            f,
            lambda d: {
                **d,
                "stages": [
                    {**st, "threshold": 0.123} if "threshold" in st else st for st in d["stages"]
                ],
            },
        ),
        "field `stages` changed since the export",
    ),
    "reshape feed": (
        lambda f: _edit_deployment(f, lambda d: (_first_feed(d).update(reshape=[1, 2, 3]), d)[1]),
        "field `stages` changed since the export",
    ),
    "design id": (
        lambda f: _edit_deployment(f, lambda d: {**d, "design_id": 999}),
        "field `design_id` changed since the export",
    ),
    "inputs removed": (
        lambda f: _edit_deployment(f, lambda d: {k: v for k, v in d.items() if k != "inputs"}),
        "field `inputs` changed since the export",
    ),
    "null file": (
        lambda f: (f / "deployment.json").write_text("null"),
        "deployment.json: changed since the export",
    ),
    "index": (lambda f: (f.parent / "library.json").write_text("{not json"), "invalid JSON"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_library_is_one_line_and_exit_2(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    """A library file edited after the export is refused, naming the file (and the field
    of a deployment.json), in one line with exit 2; nothing is written."""
    lib = tmp_path / "lib"
    shutil.copytree(library, lib)
    folder = next(
        f for f in sorted(lib.glob("design_*")) if "feeds" in (f / "deployment.json").read_text()
    )
    edit, needle = DAMAGES[damage]
    edit(folder)
    before = {p: p.read_bytes() for p in lib.rglob("*") if p.is_file()}
    for command in (["deploy", "verify"], ["deploy", "run", "--design", folder.name.split("_")[1]]):
        code, out, err = _cli([*command, "--library", str(lib)], capsys)
        assert code == 2 and err.count("\n") == 1 and needle in err, (command, err)
        assert "Traceback" not in err
    assert {p: p.read_bytes() for p in lib.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda d: {k: v for k, v in d.items() if k != "inputs"}, "field 'inputs' is missing"),
        (
            lambda d: {**d, "stages": [{**d["stages"][0], "input": "0"}, *d["stages"][1:]]},
            "malformed",
        ),
        (
            lambda d: {**d, "outputs": [{**d["outputs"][0], "scale": "big"}, *d["outputs"][1:]]},
            "scale 'big'",
        ),
        (
            lambda d: {**d, "outputs": [{**d["outputs"][0], "scale": 0}, *d["outputs"][1:]]},
            "scale 0",
        ),
    ],
)
def test_a_malformed_deployment_is_one_line_without_digests(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: Any, needle: str
) -> None:
    """A library exported without digests (or with them removed) still refuses a malformed
    deployment.json in one line naming the field, never with a traceback."""
    lib = tmp_path / "lib"
    shutil.copytree(library, lib)
    index = json.loads((lib / "library.json").read_text())
    index.pop("digests")
    (lib / "library.json").write_text(json.dumps(index))
    folder = next(lib.glob("design_*"))
    _edit_deployment(folder, damage)
    code, out, err = _cli(["deploy", "verify", "--library", str(lib)], capsys)
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert "Traceback" not in err and "RuntimeWarning" not in err


def test_stream_packing_round_trips_and_matches_finns_layout(library: Path) -> None:
    """pack_stream/unpack_stream on every stream of the library, from deployment.json alone,
    with values from the software backend's own outputs; and FINN's packing on a hand
    example (element 0 in the low bits, little-endian bytes, BIPOLAR -1 as 0)."""
    lib = load_deployed_library(library)
    x, _, _ = load_split(lib)
    rng = np.random.default_rng(0)
    backend = get_backend("software")
    for design_id in lib.design_ids:
        design = lib.design(design_id)
        backend.load(design)
        dep = design.deployment
        runner = AdaptiveRunner(lib, design_id, backend=backend)
        batch = runner.stage0_input(x[:3])
        for row in dep["stages"]:
            inp = dep["inputs"][row["input"]]
            packed = pack_stream(inp, batch)
            assert packed.dtype == np.uint8 and list(packed.shape[1:]) == inp["shape_packed"][1:]
            assert np.array_equal(unpack_stream(inp, packed), batch)
            out = backend.run_stage(row["stage"], batch)
            for role, values in out.items():
                stream = dep["outputs"][row[role]]
                if role == "logits":  # an accumulator: any value of its datatype
                    continue
                assert np.array_equal(unpack_stream(stream, pack_stream(stream, values)), values)
            if "features" in out:
                batch = out["features"]
        for stream in dep["outputs"]:
            from hw_builders import datatype

            dt = datatype(stream["datatype"])
            shape = [2, *stream["onnx"]["shape"][1:]]
            lo, hi = int(dt.min), int(dt.max)
            values = rng.integers(lo, hi + 1, size=shape)
            if dt.name == "BIPOLAR":
                values = np.where(values > 0, 1, -1)
            assert np.array_equal(unpack_stream(stream, pack_stream(stream, values)), values)
    word = {
        "stream": "s_axis_0",
        "onnx": {"layout": "NC"},
        "layout": "NC",
        "shape_normal": [1, 4],
        "shape_folded": [1, 1, 4],
        "shape_packed": [1, 1, 1],
    }
    assert pack_stream({**word, "datatype": "UINT2"}, np.array([[1, 2, 3, 0]])).tolist() == [
        [[0b00111001]]
    ]
    bipolar = {**word, "datatype": "BIPOLAR"}
    assert pack_stream(bipolar, np.array([[-1, 1, 1, -1]])).tolist() == [[[0b0110]]]
    signed = {**word, "datatype": "INT4", "shape_packed": [1, 1, 2]}
    packed = pack_stream(signed, np.array([[-1, 2, -8, 7]]))
    assert packed.tolist() == [[[0x2F, 0x78]]]
    assert unpack_stream(signed, packed).tolist() == [[-1, 2, -8, 7]]
    # a W1A1 later stage's input: model.onnx's -1/+1 on a BINARY stream, the same bits as
    # BIPOLAR's (what FINN's XNOR layer reads), and back to -1/+1
    xnor = {**word, "datatype": "BINARY", "onnx": {"layout": "NC", "datatype": "BIPOLAR"}}
    packed = pack_stream(xnor, np.array([[-1, 1, 1, -1]]))
    assert packed.tolist() == [[[0b0110]]]
    assert unpack_stream(xnor, packed).tolist() == [[-1, 1, 1, -1]]
    assert unpack_stream({**word, "datatype": "BINARY"}, packed).tolist() == [[0, 1, 1, 0]]
    with pytest.raises(DeployError, match="values 0..1 outside BIPOLAR"):
        pack_stream(xnor, np.array([[0, 1, 1, 0]]))
    with pytest.raises(DeployError, match="model.onnx holds UINT2 integers but the stream"):
        pack_stream({**xnor, "onnx": {"layout": "NC", "datatype": "UINT2"}}, np.array([[1]]))


def test_backends_by_name_and_a_missing_pynq_is_one_line() -> None:
    from dse.deploy import backend_names

    assert {"software", "pynq"} <= set(backend_names())
    with pytest.raises(DeployError, match="`backend` 'nope': unknown"):
        get_backend("nope")
    try:
        import pynq  # noqa: F401
    except ImportError:
        with pytest.raises(DeployError) as exc:
            get_backend("pynq")
        assert "\n" not in str(exc.value) and "pynq package is not installed" in str(exc.value)


@pytest.mark.slow
def test_deploy_run_defaults_to_the_runtime_commands_accuracy_threshold(
    library: Path, small_study: SmallStudy, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --accuracy-threshold, `deploy run` serves the threshold `runtime simulate`
    defaults to: static FINN's served accuracy minus 0.01, read from the library."""
    from cli_checks import cli

    from dse.deploy.manager import default_accuracy_threshold

    code, out, err = cli(
        ["runtime", "simulate", "--storage", small_study.url, "--duration-s", "60", "--json"],
        capsys,
    )
    assert code == 0, err
    runtime_default = json.loads(out)["accuracy_threshold"]
    lib = load_deployed_library(library)
    assert default_accuracy_threshold(lib) == pytest.approx(runtime_default, abs=1e-12)
    assert 0.0 < runtime_default < 1.0


def test_deploy_run_peak_as_a_load_or_a_rate(
    library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """deploy run scales a built-in trace as the runtime commands do: --peak-load times
    static FINN's throughput (default 1.5), or --peak-fps in inferences/s, never both."""
    from dse.deploy import load_deployed_library
    from dse.deploy.manager import peak_rate
    from dse.runtime import SelectionTable
    from dse.runtime.scenario import Scenario

    lib = load_deployed_library(library)
    assert lib.runtime_table is not None
    points = SelectionTable.from_dict(lib.runtime_table).points
    static = next(p for p in points if p.is_static_finn).throughput_fps
    assert peak_rate(lib, None, None) == pytest.approx(Scenario.peak_load * static)
    assert peak_rate(lib, 2.0, None) == pytest.approx(2.0 * static)
    assert peak_rate(lib, None, 123.0) == 123.0
    args = ["deploy", "run", "--library", str(library), "--trace", "constant"]
    code, _, err = _cli([*args, "--peak-load", "2", "--peak-fps", "100"], capsys)
    assert code == 2 and err.count("\n") == 1 and "not both" in err
    code, _, err = _cli([*args, "--peak-load", "0"], capsys)
    assert code == 2 and "--peak-load" in err


#: Runs the CLI where only the standard library, adapex's own packages and the modules of the
#: distributions `pip install adapex` installs (ALLOWED, given as the first argument) can be
#: imported: any other import fails as a missing module does.
DEPLOY_ONLY = r"""
import importlib.abc, sys
ALLOWED = set(sys.stdlib_module_names) | {"dse", "hw_builders", "search_spaces"}
ALLOWED |= set(sys.argv.pop(1).split(","))
class DeployOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.split(".")[0]
        if top not in ALLOWED and not top.startswith("_sysconfigdata"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, DeployOnly())
from dse.cli.main import main
sys.argv = ["adapex", *sys.argv[1:]]
main()
"""


def _base_install_modules(*more: str) -> set[str]:
    """The top-level modules of every distribution `pip install adapex` installs (with
    ``more`` distributions installed beside it): the requirements pyproject.toml gives
    without extras, and theirs (installed metadata)."""
    import tomllib
    from importlib.metadata import PackageNotFoundError, packages_distributions, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    root = Path(__file__).resolve().parents[2]
    base = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    seen = {canonicalize_name(m) for m in more}
    todo: list[str | None] = [None, *more]  # None: adapex, as pyproject.toml declares it
    while todo:
        name = todo.pop()
        try:
            reqs = base if name is None else (requires(name) or [])
        except PackageNotFoundError:
            continue
        for text in reqs:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue  # an extra's requirement, or another platform's
            dist = canonicalize_name(req.name)
            if dist not in seen:
                seen.add(dist)
                todo.append(dist)
    return {
        module
        for module, dists in packages_distributions().items()
        if any(canonicalize_name(d) in seen for d in dists)
    }


def test_deploy_runs_with_the_deploy_only_install(library: Path, tmp_path: Path) -> None:
    """`pip install adapex` (no torch, Dash, database driver, Optuna, qonnx or onnxruntime;
    scikit-learn beside it for the digits) verifies and serves a library through the
    software backend; a study command then says in one line what to install."""
    import subprocess
    import sys

    heavy = {"torch", "dash", "sqlalchemy", "psycopg2", "optuna", "onnxruntime", "brevitas"}
    assert not _base_install_modules() & (heavy | {"sklearn"})
    # the library's digits come with scikit-learn: installed beside adapex on the board
    allowed = _base_install_modules("scikit-learn")
    assert {"numpy", "onnx", "sklearn"} <= allowed and not allowed & heavy

    def adapex(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", DEPLOY_ONLY, ",".join(sorted(allowed)), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )

    verify = adapex("deploy", "verify", "--library", str(library))
    assert verify.returncode == 0, verify.stderr[-3000:]
    index = json.loads((library / "library.json").read_text())
    design = str(index["designs"][0]["id"])
    served = adapex("deploy", "run", "--library", str(library), "--design", design, "--json")
    assert served.returncode == 0, served.stderr[-3000:]
    assert json.loads(served.stdout)["samples"] == index["dataset"]["n_test"]
    study = adapex("study", "list", "--storage", f"sqlite:///{tmp_path / 'x.db'}")
    assert study.returncode == 2 and study.stderr.count("\n") == 1, study.stderr
    assert "pip install 'adapex[study]'" in study.stderr

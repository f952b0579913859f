"""`adapex hw estimate | fold | boards` on the bundled example graphs and on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hw_builders
from dse.cli.main import app
from hw_builders import estimate, get_device, load_graph

EXAMPLES = Path(hw_builders.__file__).parent / "examples"
CNV = EXAMPLES / "cnv_w2a2.json"
CNV_FOLD = EXAMPLES / "cnv_w2a2_folding.json"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_estimate_table_and_json():
    r = run("hw", "estimate", CNV, "--folding", CNV_FOLD, "--board", "Pynq-Z1")
    assert r.exit_code == 0, r.output
    assert "MVAU_hls_0" in r.stdout and "total" in r.stdout and "fits" in r.stdout
    r = run("hw", "estimate", CNV, "--folding", CNV_FOLD, "--board", "Pynq-Z1", "--json")
    assert r.exit_code == 0
    got = json.loads(r.stdout)
    want = estimate(load_graph(CNV), board="Pynq-Z1", folding=json.loads(CNV_FOLD.read_text()))
    assert got["total"] == want.total  # consistency: the CLI prints the library's report
    assert got["performance"]["max_cycles"] == want.performance["max_cycles"]
    assert got["power_w"] == pytest.approx(want.power_w)
    # by hand: 1e8 / max_cycles at 100 MHz; energy = power / throughput; utilisation against
    # the xc7z020 of DS190 (53,200 LUTs, 140 BRAM36 = 280 BRAM_18K, 220 DSPs), fitting
    # when every share is at most 1
    fps = got["performance"]["estimated_throughput_fps"]
    assert fps == pytest.approx(1e8 / got["performance"]["max_cycles"])
    assert got["energy_per_inference_j"] == pytest.approx(got["power_w"] / fps)
    assert got["utilisation"]["LUT"] == pytest.approx(got["total"]["LUT"] / 53200)
    assert got["utilisation"]["BRAM_18K"] == pytest.approx(got["total"]["BRAM_18K"] / 280)
    assert got["fits"] is (got["total"]["LUT"] <= 53200 and got["total"]["BRAM_18K"] <= 280)
    static = get_device(board="Pynq-Z1").power.static_w
    assert static < got["power_w"]  # a design draws more than the idle device
    # a device too small for it: the same design does not fit, and says so
    small = run(
        "hw", "estimate", CNV, "--folding", CNV_FOLD, "--part", "xc7z020clg400-1",
        "--resources", "LUT=1000,BRAM_18K=10,URAM=0,DSP=10", "--json",
    )  # fmt: skip
    assert small.exit_code == 0 and json.loads(small.stdout)["fits"] is False
    r = run("hw", "estimate", CNV, "--part", "xczu7ev-ffvc1156-2-e", "--clk-ns", "5", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["clk_ns"] == 5.0


def test_estimate_on_versal_and_on_a_part_given_by_its_resources():
    fold = json.loads(CNV_FOLD.read_text())
    r = run("hw", "estimate", CNV, "--folding", CNV_FOLD, "--board", "VCK190", "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    want = estimate(load_graph(CNV), board="VCK190", folding=fold)
    assert got["total"] == want.total and got["device"] == "VCK190"
    res = "LUT=400000,BRAM_18K=1000,URAM=100,DSP=1000"
    part = "xcvp1202-vsva2785-2MHP-e-S"
    r = run("hw", "estimate", CNV, "--folding", CNV_FOLD, "--part", part, "--resources", res)
    assert r.exit_code == 0, r.output
    r = run(
        "hw", "estimate", CNV, "--folding", CNV_FOLD, "--part", part, "--resources", res, "--json"
    )
    got = json.loads(r.stdout)
    assert got["total"]["LUT"] == want.total["LUT"]
    assert got["utilisation"]["LUT"] == pytest.approx(want.total["LUT"] / 400000)


def test_estimate_without_folding_says_so():
    r = run("hw", "estimate", CNV)
    assert r.exit_code == 0, r.output
    assert "no --folding given" in r.stderr and "Pynq-Z1" in r.stdout


def test_fold_budget_and_target_fps(tmp_path):
    out = tmp_path / "f.json"
    r = run("hw", "fold", CNV, "--budget", "0.9", "--board", "Pynq-Z1", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    cfg = json.loads(r.stdout)
    assert json.loads(out.read_text()) == cfg
    rep = estimate(load_graph(CNV), board="Pynq-Z1", folding=cfg)
    assert rep.fits and rep.utilisation["LUT"] <= 0.9
    r = run("hw", "fold", CNV, "--target-fps", "500", "--strategy", "finn", "--json")
    assert r.exit_code == 0, r.output
    rep = estimate(load_graph(CNV), board="Pynq-Z1", folding=json.loads(r.stdout))
    assert rep.performance["estimated_throughput_fps"] >= 500
    r = run(
        "hw", "fold", CNV, "--max-lut", "40000", "--max-bram", "270", "--max-uram", "0",
        "--max-dsp", "0", "--board", "Pynq-Z1",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "throughput" in r.stdout and "fits: yes" in r.stdout


def test_estimate_staged_with_reach(tmp_path):
    g = {
        "name": "ee",
        "layers": [
            {"name": "a", "op_type": "MVAU", "inputs": [], "MW": 27, "MH": 16, "numInputVectors": 64,
             "inputDataType": "UINT2", "weightDataType": "INT2", "outputDataType": "UINT2"},
            {"name": "d", "op_type": "DuplicateStreams", "inputs": ["a"], "NumChannels": 16,
             "numInputVectors": 64, "inputDataType": "UINT2"},
            {"name": "e", "op_type": "MVAU", "inputs": ["d"], "exit": 0, "MW": 1024, "MH": 10,
             "inputDataType": "UINT2", "weightDataType": "INT2", "outputDataType": "INT16"},
            {"name": "b", "op_type": "MVAU", "inputs": ["d"], "MW": 1024, "MH": 10,
             "inputDataType": "UINT2", "weightDataType": "INT2", "outputDataType": "INT16"},
        ],
    }  # fmt: skip
    p = tmp_path / "ee.json"
    p.write_text(json.dumps(g))
    r = run("hw", "estimate", p, "--board", "Pynq-Z1", "--reach", "1,0.3", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["reach"] == [1.0, 0.3] and len(d["latency_s_per_exit"]) == 2
    r = run("hw", "estimate", p, "--board", "Pynq-Z1", "--reach", "1,0.3", "--buffer-depth", "4")
    assert r.exit_code == 0 and "sustained throughput" in r.stdout


def test_boards():
    r = run("hw", "boards", "--json")
    assert r.exit_code == 0
    assert set(json.loads(r.stdout)) >= {
        "Pynq-Z1",
        "ZCU104",
        "U250",
        "KV260_SOM",
        "VCK190",
        "VEK280",
    }
    r = run("hw", "boards")
    assert r.exit_code == 0 and "xczu7ev" in r.stdout


def _graph_file(tmp_path, text):
    p = tmp_path / "g.json"
    p.write_text(text)
    return p


MVAU = {"name": "m", "op_type": "MVAU", "inputs": [], "MW": 8, "MH": 16,
        "inputDataType": "UINT2", "weightDataType": "INT2", "outputDataType": "UINT2"}  # fmt: skip


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        ('{"name": "x", "layers": [', ["--board", "Pynq-Z1"], "invalid JSON"),
        (json.dumps({"layers": [{**MVAU, "op_type": "Conv"}]}), ["--board", "Pynq-Z1"], "'Conv'"),
        (
            json.dumps({"layers": [{k: v for k, v in MVAU.items() if k != "MH"}]}),
            ["--board", "Pynq-Z1"],
            "MH",
        ),
        (
            json.dumps({"layers": [{**MVAU, "PE": 3}]}),
            ["--board", "Pynq-Z1"],
            "PE=3 does not divide MH=16",
        ),
        (json.dumps({"layers": [MVAU]}), ["--board", "Pynq-Z9"], "board 'Pynq-Z9'"),
        (json.dumps({"layers": [MVAU]}), ["--resources", "LUT=9"], "give it with --part"),
        (
            json.dumps({"layers": [MVAU]}),
            ["--part", "xcvp1202-vsva2785-2MHP-e-S"],
            "give its --resources (LUT, BRAM_18K",
        ),
        (
            json.dumps({"layers": [MVAU]}),
            ["--part", "xcvp1202", "--resources", "LUT=9,DSP=1"],
            "BRAM_18K, URAM missing",
        ),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, content, args, needle):
    p = _graph_file(tmp_path, content)
    r = run("hw", "estimate", p, *args)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
    assert r.stdout == ""


def test_fold_bad_input_writes_nothing(tmp_path):
    p = _graph_file(tmp_path, json.dumps({"layers": [MVAU]}))
    out = tmp_path / "fold.json"
    r = run("hw", "fold", p, "--budget", "0.00001", "--out", out)
    assert r.exit_code == 2 and "smallest folding" in r.stderr and not out.exists()
    r = run("hw", "fold", p, "--strategy", "best", "--out", out)
    assert r.exit_code == 2 and "strategy 'best'" in r.stderr and not out.exists()
    f = tmp_path / "bad_fold.json"
    f.write_text(json.dumps({"nope": {"PE": 2}}))
    r = run("hw", "estimate", p, "--folding", f, "--board", "Pynq-Z1")
    assert r.exit_code == 2 and "'nope'" in r.stderr


def test_usage_errors_exit_2():
    assert run("hw", "estimate").exit_code == 2  # missing GRAPH.json
    assert run("hw", "estimate", CNV, "--board", "Pynq-Z1", "--bogus").exit_code == 2
    assert run("hw", "fold", CNV, "--budget", "lots").exit_code == 2


def test_budgets_beyond_the_device_are_refused():
    r = run("hw", "fold", CNV, "--budget", "1.5", "--board", "Pynq-Z1")
    assert r.exit_code == 2 and "--budget 1.5" in r.stderr and "[0, 1]" in r.stderr
    r = run("hw", "fold", CNV, "--max-lut", "60000", "--board", "Pynq-Z1")
    assert r.exit_code == 2 and "--max-lut 60000" in r.stderr and "53200" in r.stderr


def test_real_program_exit_status(tmp_path):
    p = _graph_file(tmp_path, json.dumps({"layers": [{**MVAU, "PE": 3}]}))
    proc = subprocess.run(
        [sys.executable, "-m", "dse", "hw", "estimate", str(p), "--board", "Pynq-Z1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and proc.stderr.startswith(
        "error: layer m: PE=3"
    )


def test_fold_budget_is_a_share_of_the_usable_amount():
    """--budget is a share of each resource's usable amount, as a study's [folding] budget
    is: the device times --max-utilisation (the whole device when it is not given)."""
    dev = get_device(board="Pynq-Z1")
    r = run(
        "hw", "fold", CNV, "--budget", "1.0", "--max-utilisation", "LUT=0.3",
        "--board", "Pynq-Z1", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    rep = estimate(load_graph(CNV), board="Pynq-Z1", folding=json.loads(r.stdout))
    assert rep.total["LUT"] <= 0.3 * dev.resources["LUT"]
    whole = run("hw", "fold", CNV, "--budget", "1.0", "--board", "Pynq-Z1", "--json")
    rep = estimate(load_graph(CNV), board="Pynq-Z1", folding=json.loads(whole.stdout))
    assert rep.total["LUT"] > 0.3 * dev.resources["LUT"]  # the whole device is usable
    for bad in ("LUT=1.5", "LUT", "FF=0.5", "LUT=0"):
        r = run("hw", "fold", CNV, "--budget", "1", "--max-utilisation", bad)
        assert r.exit_code == 2 and "--max-utilisation" in r.stderr, (bad, r.stderr)
        assert r.stderr.count("\n") == 1


def test_estimate_flags_a_clock_beyond_finn_builds():
    """hw estimate and fold say on stderr when the clock is faster than FINN's builds close
    on the part; the JSON on stdout is the same."""
    fast = run("hw", "estimate", CNV, "--board", "Pynq-Z1", "--clk-ns", "5", "--json")
    assert fast.exit_code == 0 and "bnn-pynq/build.py" in fast.stderr
    assert fast.stderr.startswith("note: 5 ns (200 MHz) on xc7z020clg400-1")
    assert json.loads(fast.stdout)["clk_ns"] == 5.0
    ok = run("hw", "estimate", CNV, "--board", "ZCU104", "--clk-ns", "5", "--json")
    assert ok.exit_code == 0 and ok.stderr == ""
    folded = run("hw", "fold", CNV, "--budget", "0.9", "--board", "Pynq-Z1", "--clk-ns", "4")
    assert folded.exit_code == 0 and "note: 4 ns (250 MHz)" in folded.stderr

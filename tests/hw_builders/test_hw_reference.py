"""CNV-W1A1 / CNV-W2A2 with the finn-examples Pynq-Z1 folding: every per-layer figure and
the network performance must equal FINN's (see tests/hw_builders/data/finn_reference/README.md for
where the reference numbers come from)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hw_builders as hb

EXAMPLES = Path(hb.__file__).parent / "examples"
REF = Path(__file__).parent / "data" / "finn_reference"


def _load(tag: str):
    graph = hb.load_graph(EXAMPLES / f"cnv_{tag}.json")
    folding = json.loads((EXAMPLES / f"cnv_{tag}_folding.json").read_text())
    ref = json.loads((REF / f"cnv_{tag}_pynq_z1.json").read_text())
    return graph, folding, ref


@pytest.mark.parametrize("tag", ["w1a1", "w2a2"])
def test_layers_match_finn(tag: str) -> None:
    graph, folding, ref = _load(tag)
    rep = hb.estimate(graph, board="Pynq-Z1", folding=folding)
    assert rep.finn_layer_cycles() == ref["estimate_layer_cycles"]
    res = rep.finn_layer_resources()
    assert set(res) == set(ref["estimate_layer_resources"])
    for node, exp in ref["estimate_layer_resources"].items():
        got = res[node]
        for key in ("LUT", "BRAM_18K", "URAM", "DSP"):
            assert got[key] == exp[key], (node, key)
        if node != "total":
            assert got["BRAM_efficiency"] == pytest.approx(exp["BRAM_efficiency"], rel=1e-12)
            assert got["URAM_efficiency"] == pytest.approx(exp["URAM_efficiency"], rel=1e-12)


@pytest.mark.parametrize("tag", ["w1a1", "w2a2"])
def test_performance_matches_finn(tag: str) -> None:
    graph, folding, ref = _load(tag)
    rep = hb.estimate(graph, board="Pynq-Z1", folding=folding)
    assert rep.performance == ref["estimate_network_performance"]


@pytest.mark.parametrize("tag", ["w1a1", "w2a2"])
def test_finn_report_files_roundtrip(tag: str, tmp_path: Path) -> None:
    graph, folding, ref = _load(tag)
    rep = hb.estimate(graph, board="Pynq-Z1", folding=folding)
    hb.write_finn_reports(rep, tmp_path)
    on_disk = json.loads((tmp_path / "estimate_layer_resources.json").read_text())
    assert on_disk == json.loads(json.dumps(ref["estimate_layer_resources"]))
    back = hb.read_finn_reports(tmp_path)
    assert back.performance == rep.performance
    assert back.total == rep.total
    assert back.clk_ns == pytest.approx(10.0)
    assert [(x.name, x.cycles, x.LUT, x.BRAM_18K) for x in back.layers] == [
        (x.name, x.cycles, x.LUT, x.BRAM_18K) for x in rep.layers
    ]
    assert back.layer("MVAU_hls_0").op_type == "MVAU"


def test_folding_names_match_graph_names() -> None:
    for tag in ("w1a1", "w2a2"):
        graph, folding, _ = _load(tag)
        names = {lay.name for lay in graph.layers}
        assert set(folding) - {"Defaults"} <= names

"""Every op model against FINN's own cost functions on random attributes.

``data/finn_reference/op_costs.json`` holds, per FINN op and implementation, random legal
attribute sets and what FINN's custom op returned for them: ``get_exp_cycles``,
``lut_estimation``, ``bram_estimation``, ``uram_estimation`` and
``dsp_estimation("xc7z020clg400-1")`` of ``finn/custom_op/fpgadataflow/{hls,rtl}/*.py`` at
the commit the file names (the estimates FINN's ``step_generate_estimate_reports`` writes,
layer by layer). Each attribute set is costed by ``hw_builders`` and must give every figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hw_builders as hb
from hw_builders.graph import HwLayer

DATA = json.loads((Path(__file__).parent / "data" / "finn_reference" / "op_costs.json").read_text())
FIELDS = ("cycles", "LUT", "BRAM_18K", "URAM", "DSP")


def test_the_reference_is_finns_at_a_stated_commit() -> None:
    assert len(DATA["finn_commit"]) == 40 and DATA["part"] == "xc7z020clg400-1"
    assert sum(len(cases) for cases in DATA["cases"].values()) >= 700


@pytest.mark.parametrize("finn_op", sorted(DATA["cases"]))
def test_every_figure_is_finns(finn_op: str) -> None:
    op_type, impl = finn_op.rsplit("_", 1)
    device = hb.get_device(part=DATA["part"])
    wrong = []
    for attrs, want in DATA["cases"][finn_op]:
        c = hb.layer_cost(HwLayer("L", op_type, [], dict(attrs), impl), device)
        got = [c.cycles, c.LUT, c.BRAM_18K, c.URAM, c.DSP]
        if got != want:
            wrong.append(
                (attrs, dict(zip(FIELDS, got, strict=True)), dict(zip(FIELDS, want, strict=True)))
            )
    assert not wrong, f"{len(wrong)} of {len(DATA['cases'][finn_op])} differ; first: {wrong[0]}"


MEMORY = json.loads(
    (Path(__file__).parent / "data" / "finn_reference" / "op_memory.json").read_text()
)


@pytest.mark.parametrize("finn_op", sorted(MEMORY["cases"]))
def test_memory_and_its_efficiency_are_finns(finn_op: str) -> None:
    """``op_memory.json``: attribute sets drawn for the weight, threshold and window
    memories (every ram_style and mem_mode, URAM, uniform thresholds and depth triggers,
    deep and wide memories, every 1-D HLS window variant) with FINN's
    ``node_res_estimation`` (efficiencies included)."""
    assert MEMORY["finn_commit"] == DATA["finn_commit"] and MEMORY["part"] == DATA["part"]
    op_type, impl = finn_op.rsplit("_", 1)
    device = hb.get_device(part=MEMORY["part"])
    wrong = []
    for attrs, want in MEMORY["cases"][finn_op]:
        c = hb.layer_cost(HwLayer("L", op_type, [], dict(attrs), impl), device)
        got = [c.cycles, c.LUT, c.BRAM_18K, c.URAM, c.DSP, c.BRAM_efficiency, c.URAM_efficiency]
        if got[:5] != want[:5] or got[5:] != pytest.approx(want[5:], rel=1e-12, abs=1e-15):
            wrong.append((attrs, dict(zip(MEMORY["fields"], got, strict=True)), want))
    assert not wrong, f"{len(wrong)} of {len(MEMORY['cases'][finn_op])} differ; first: {wrong[0]}"
    assert len(MEMORY["cases"][finn_op]) >= 100

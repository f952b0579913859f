"""QONNX export: executed with qonnx, compared with PyTorch, whole model and per stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from dse.accuracy import (
    TrainRecipe,
    export_qonnx,
    export_stages,
    train_model,
    verify_qonnx,
)
from dse.accuracy.cache import CheckpointCache
from dse.design import load_design_model, load_pruned_model
from dse.errors import DseError
from search_spaces import get_family, load_dataset, prune_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained():  # noqa: ANN201
    torch.set_num_threads(1)
    data = load_dataset("digits", seed=0)
    family = get_family("cnv")
    arch = family.default_arch(data.input_shape, data.num_classes, width_mult=0.25)
    torch.manual_seed(0)
    model = family.build(arch)
    train_model(model, data, TrainRecipe(epochs=2, lr=0.02, batch_size=32), seed=0)
    return model, data


def _op_types(path: Path) -> set[str]:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def test_whole_model_matches_torch(trained, tmp_path: Path) -> None:  # noqa: ANN001
    model, data = trained
    sample = torch.from_numpy(data.x_test[:8])
    path = export_qonnx(model, tmp_path / "whole.onnx", sample=sample)
    assert path.is_file()
    assert "Quant" in _op_types(path)  # quantisers are kept as QONNX Quant nodes
    report = verify_qonnx(path, model, sample)
    assert report["samples"] == 8
    assert len(report["outputs"]) == 4  # exits 0, 1, 2 and the final
    assert max(report["max_abs_diff"]) < 1e-3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_every_stage_matches_torch(trained, tmp_path: Path) -> None:  # noqa: ANN001
    model, data = trained
    sample = torch.from_numpy(data.x_test[:6])
    paths = export_stages(model, tmp_path, [0, 2], sample=sample)
    assert [p.name for p in paths] == ["stage_0.onnx", "stage_1.onnx", "stage_2.onnx"]
    inputs = model.stage_inputs(sample, [0, 2])
    for k, path in enumerate(paths):
        stage = model.stage(k, [0, 2])
        report = verify_qonnx(path, stage, inputs[k])
        # early stages output (exit logits, features); the last only logits
        assert len(report["outputs"]) == (1 if k == 2 else 2)
        assert max(report["max_abs_diff"]) < 1e-3


def test_mismatch_is_detected(trained, tmp_path: Path) -> None:  # noqa: ANN001
    model, data = trained
    sample = torch.from_numpy(data.x_test[:4])
    path = export_qonnx(model, tmp_path / "m.onnx", sample=sample)

    class Negated(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            return [-z for z in self.inner(x)]

    with pytest.raises(DseError, match="argmax"):
        verify_qonnx(path, Negated(model), sample)
    with pytest.raises(DseError, match="stage"):
        export_qonnx(model, tmp_path / "bad.onnx", stage=5, exits=[0])
    assert not (tmp_path / "bad.onnx").exists()


def test_pruned_checkpoint_roundtrip_and_design_export(trained, tmp_path: Path) -> None:  # noqa: ANN001
    model, data = trained
    pruned = prune_model(model, 0.5)
    cache = CheckpointCache(tmp_path / "cache")
    entry = cache.save("ab" * 32, pruned.state_dict(), pruned.arch.to_dict(), {})
    again = load_pruned_model(pruned.arch.to_dict(), entry.dir)
    x = torch.from_numpy(data.x_test[:16])
    with torch.no_grad():
        for a, b in zip(pruned.eval()(x), again(x), strict=True):
            assert torch.equal(a, b)
    design = load_design_model(pruned.arch, entry.model_path, [1])
    assert design.arch.exits == (1,)
    with torch.no_grad():
        full_out = again(x)
        design_out = design(x)
    assert torch.equal(design_out[0], full_out[1]) and torch.equal(design_out[1], full_out[3])
    path = export_qonnx(design, tmp_path / "design.onnx", sample=x[:4])
    assert len(onnx.load(str(path)).graph.output) == 2
    # a corrupt checkpoint names the file and the fix
    entry.model_path.write_bytes(b"\x00garbage")
    with pytest.raises(DseError, match="corrupt.*and run again"):
        load_pruned_model(pruned.arch, entry.model_path)
    assert np.isfinite(x.numpy()).all()

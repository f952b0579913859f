"""Real Brevitas QAT on digits: accuracy targets, pruning schedule, reuse, seeds."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dse.accuracy import AccuracyPipeline, TrainRecipe, train_model
from dse.accuracy.cache import CheckpointCache
from dse.accuracy.profile import calibrate, integer_profiles
from dse.design import load_pruned_model
from dse.errors import DseError
from search_spaces import get_family, load_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits():  # noqa: ANN201 - DataSplits
    # the quickstart's data (16x16), so the model is the one `adapex train` trains too
    return load_dataset("digits", seed=0, image_size=16)


@pytest.fixture(scope="module")
def arch(digits):  # noqa: ANN001, ANN201
    return get_family("cnv").default_arch(
        digits.input_shape, digits.num_classes, width_mult=0.25, weight_bits=2, act_bits=2
    )


@pytest.fixture(scope="module")
def cache_dir(quickstart_cache: Path) -> Path:
    return quickstart_cache


@pytest.fixture(scope="module")
def results(digits, arch, cache_dir):  # noqa: ANN001, ANN201
    torch.set_num_threads(1)
    pipe = AccuracyPipeline(
        digits, cache_dir=cache_dir, device="cpu", seed=0, recipe=TrainRecipe.quickstart()
    )
    return {r: pipe.evaluate(arch, r) for r in (0.0, 0.5)}


def test_final_exit_reaches_95_percent_at_w2a2(results, digits) -> None:  # noqa: ANN001
    unpruned = results[0.0]
    assert unpruned.arch.weight_bits == 2 and unpruned.arch.act_bits == 2
    acc = unpruned.profile.exit_accuracies()
    assert acc[-1] >= 0.95, acc
    # the profile was measured on the whole calibration split, the test profile on the whole
    # held-out test split, and every candidate exit is trained
    assert unpruned.profile.exits == [0, 1, 2, -1]
    assert unpruned.profile.n_samples == len(digits.y_val)
    assert unpruned.test_profile.n_samples == len(digits.y_test) == 359
    np.testing.assert_array_equal(unpruned.test_profile.labels, digits.y_test)
    assert all(a > 0.5 for a in acc.values()), acc


def _final_accuracy(result) -> float:  # noqa: ANN001
    """The final exit's accuracy over the calibration and the test split together (628
    digits: one sample is 0.16 points, half what the calibration split alone gives)."""
    cal, test = result.profile, result.test_profile
    hits = (cal.predictions[-1] == cal.labels).sum() + (test.predictions[-1] == test.labels).sum()
    return float(hits) / (cal.n_samples + test.n_samples)


def test_half_pruning_stays_within_four_points(results) -> None:  # noqa: ANN001
    half = results[0.5]
    assert half.arch.widths == (8, 8, 16, 16, 32, 32, 64, 64)
    # the quickstart's promise on its data (digits at 16x16, README): measured 0.990 unpruned
    # and 0.963 at half pruning with fine-tuning. Training is reproducible on one CPU, not
    # across CPUs (torch's kernels round differently), and the gap moved by about a point
    # between machines: the bound leaves that room
    base, pruned = _final_accuracy(results[0.0]), _final_accuracy(half)
    assert pruned >= base - 0.04, (base, pruned, half.metrics)


def test_checkpoint_reload_reproduces_the_profile(results, digits) -> None:  # noqa: ANN001
    half = results[0.5]
    model = load_pruned_model(half.arch, half.checkpoint)
    again = integer_profiles(model, {"calibration": (digits.x_val, digits.y_val)})
    # the integer model's profile is reproduced bit for bit
    np.testing.assert_array_equal(again["calibration"].predictions, half.profile.predictions)
    np.testing.assert_array_equal(again["calibration"].confidences, half.profile.confidences)
    # and PyTorch's float model agrees with it but for rounding at quantiser boundaries
    flt = calibrate(model, digits.x_val, digits.y_val)
    assert np.mean(flt.predictions == half.profile.predictions) >= 0.98


def test_schedule_reuses_cached_steps(results, digits, arch, cache_dir) -> None:  # noqa: ANN001
    cache = CheckpointCache(cache_dir)
    half = results[0.5]
    meta = cache.entry(half.metrics["key"]).meta()
    # 0.5 was pruned from the 0.25 step, which was pruned from the joint training
    parent = cache.entry(meta["parent"]).meta()
    assert parent["rates"] == 0.25 and meta["rates"] == 0.5
    assert cache.entry(parent["parent"]).meta()["kind"] == "joint"
    # a fresh pipeline (another process would do the same) reuses everything
    pipe = AccuracyPipeline(
        digits, cache_dir=cache_dir, device="cpu", seed=0, recipe=TrainRecipe.quickstart()
    )
    t0 = time.perf_counter()
    again = pipe.evaluate(arch, 0.5)
    assert time.perf_counter() - t0 < 5.0
    assert again.metrics["reused"] is True
    assert again.checkpoint == half.checkpoint
    np.testing.assert_array_equal(again.profile.predictions, half.profile.predictions)
    both = pipe.evaluate_many(arch, [0.5, 0.0])
    assert [b.checkpoint for b in both] == [half.checkpoint, results[0.0].checkpoint]
    # a deeper rate continues from the cached 0.5 step: only one new step is trained
    n_before = len(list(Path(cache_dir).glob("??/*/meta.json")))
    deeper = pipe.evaluate(arch, 0.625)
    n_after = len(list(Path(cache_dir).glob("??/*/meta.json")))
    assert n_after == n_before + 1
    assert cache.entry(deeper.metrics["key"]).meta()["parent"] == half.metrics["key"]
    assert deeper.arch.widths == (8, 8, 12, 12, 24, 24, 48, 48)


def test_bad_pruning_and_arch_raise(digits, arch, tmp_path: Path) -> None:  # noqa: ANN001
    pipe = AccuracyPipeline(digits, cache_dir=tmp_path, device="cpu", recipe=TrainRecipe())
    with pytest.raises(DseError, match=r"\[0, 1\)"):
        pipe.evaluate(arch, 1.0)
    with pytest.raises(DseError, match="prunable layers"):
        pipe.evaluate(arch, [0.5, 0.5])
    other = get_family("cnv").default_arch((3, 8, 8), 10, width_mult=0.25)
    with pytest.raises(DseError, match="input_shape"):
        pipe.evaluate(other, 0.0)
    assert not any(tmp_path.iterdir())  # nothing written on bad input


def test_same_seed_same_weights_different_seed_differs(digits, arch) -> None:  # noqa: ANN001
    torch.set_num_threads(1)
    family = get_family("cnv")
    recipe = TrainRecipe(epochs=1, batch_size=64)

    def run(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        model = family.build(arch)
        train_model(model, digits, recipe, device="cpu", seed=seed)
        return model.state_dict()

    a, b, c = run(3), run(3), run(4)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_torch_threads_limits_and_restores() -> None:
    from dse.accuracy.train import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(DseError, match="threads=0"), torch_threads(0):
        pass

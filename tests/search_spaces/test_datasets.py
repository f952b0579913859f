"""Datasets: real loaders on tiny fake files of every format, splits, resizing, errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from search_spaces import DataSplits, SpaceError, load_dataset
from search_spaces.datasets import resize_bilinear, stratified_indices


def _check_splits(d: DataSplits, n_classes: int, shape: tuple[int, int, int]) -> None:
    for x, y in ((d.x_train, d.y_train), (d.x_val, d.y_val), (d.x_test, d.y_test)):
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.ndim == 4 and x.shape[1:] == shape and x.shape[0] == y.shape[0]
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert d.num_classes == n_classes and d.input_shape == shape


# -- digits -------------------------------------------------------------------------------


def test_digits_default_splits_are_stratified_and_deterministic() -> None:
    d = load_dataset("digits", seed=3)
    _check_splits(d, 10, (1, 8, 8))
    total = len(d.y_train) + len(d.y_val) + len(d.y_test)
    assert total == 1797
    assert abs(len(d.y_test) / total - 0.2) < 0.01 and abs(len(d.y_val) / total - 0.15) < 0.01
    # stratified: every class has about 20 % of its samples in test
    counts = np.bincount(d.y_test, minlength=10) / (
        np.bincount(d.y_train, minlength=10)
        + np.bincount(d.y_val, minlength=10)
        + np.bincount(d.y_test, minlength=10)
    )
    assert np.all(np.abs(counts - 0.2) < 0.02)
    # pixel values 0..16 map to [0, 1] exactly
    assert set(np.unique(d.x_train * 16).round(4)) <= {float(v) for v in range(17)}
    again = load_dataset("digits", seed=3)
    assert np.array_equal(d.x_train, again.x_train) and np.array_equal(d.y_test, again.y_test)
    other = load_dataset("digits", seed=4)
    assert not np.array_equal(d.y_train, other.y_train)


def test_digits_are_scikit_learns_read_without_importing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The digits file is read where ``load_digits`` reads it, image for image and label for
    label, without importing scikit-learn; where the file is not found, ``load_digits``
    gives the same data."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    import search_spaces.datasets.digits as digits

    bunch = load_digits()
    direct = digits.load_digits_raw()
    assert np.array_equal(direct.x, (bunch.images / 16.0).astype(np.float32)[:, None])
    assert np.array_equal(direct.y, bunch.target) and direct.y.dtype == np.int64
    monkeypatch.setattr(digits, "_digits_file", lambda: None)
    fallback = digits.load_digits_raw()
    assert np.array_equal(fallback.x, direct.x) and np.array_equal(fallback.y, direct.y)
    code = (
        "import sys; from search_spaces import load_dataset; load_dataset('digits'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_digits_upsampling_and_limit() -> None:
    d16 = load_dataset("digits", image_size=16, limit=200)
    _check_splits(d16, 10, (1, 16, 16))
    assert len(d16.y_train) + len(d16.y_val) + len(d16.y_test) == 200
    d8 = load_dataset("digits", limit=200)
    # same seed, same subsample: the upsampled images are the resized 8x8 ones
    assert np.allclose(d16.x_train, resize_bilinear(d8.x_train, 16), atol=1e-6)
    d32 = load_dataset("digits", image_size=32, limit=100)
    assert d32.input_shape == (1, 32, 32)


def test_resize_matches_torch_bilinear() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 8, 8), dtype=np.float32)
    for size in (16, 32, 12, 5):
        ref = torch.nn.functional.interpolate(
            torch.from_numpy(x), size=(size, size), mode="bilinear", align_corners=False
        ).numpy()
        assert np.allclose(resize_bilinear(x, size), ref, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    value=st.floats(0.0, 1.0),
    h=st.integers(1, 9),
    size=st.integers(1, 20),
)
def test_resize_keeps_constant_images_constant(value: float, h: int, size: int) -> None:
    x = np.full((1, 1, h, h), value, dtype=np.float32)
    out = resize_bilinear(x, size)
    assert out.shape == (1, 1, size, size)
    assert np.allclose(out, value, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    labels=st.lists(st.integers(0, 4), min_size=1, max_size=60),
    seed=st.integers(0, 2**16),
    val=st.floats(0.0, 0.4),
    test=st.floats(0.0, 0.4),
)
def test_stratified_indices_partition(
    labels: list[int], seed: int, val: float, test: float
) -> None:
    y = np.asarray(labels)
    parts = stratified_indices(y, (test, val), np.random.default_rng(seed))
    joined = np.sort(np.concatenate(parts))
    assert np.array_equal(joined, np.arange(y.size))  # a partition
    # the last (train) part keeps every class
    assert set(y[parts[-1]].tolist()) == set(labels)
    again = stratified_indices(y, (test, val), np.random.default_rng(seed))
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


# -- CIFAR-10 -----------------------------------------------------------------------------


def _write_cifar(root: Path, per_batch: int = 10, n_test: int = 10) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        n = n_test if name == "test_batch" else per_batch
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [i % 10 for i in range(n)]
        with (folder / name).open("wb") as fh:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, fh)
    return folder


def test_cifar10_loads_pickle_batches(tmp_path: Path) -> None:
    folder = _write_cifar(tmp_path)
    d = load_dataset("cifar10", str(folder), val_fraction=0.2)
    _check_splits(d, 10, (3, 32, 32))
    assert len(d.y_train) + len(d.y_val) == 50 and len(d.y_test) == 10
    with (folder / "test_batch").open("rb") as fh:
        raw = pickle.load(fh, encoding="bytes")
    # the official test batch is the test split, in order; rows are R, G, B planes
    assert np.array_equal(d.y_test, np.asarray(raw[b"labels"]))
    expected = raw[b"data"][3].reshape(3, 32, 32).astype(np.float32) / 255.0
    assert np.allclose(d.x_test[3], expected)
    # the parent folder works too
    d2 = load_dataset("cifar10", str(tmp_path), val_fraction=0.2)
    assert np.array_equal(d.x_train, d2.x_train)


class _Payload:
    """Pickles as a call of ``Path.touch(marker)``: what a crafted batch could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_cifar10_crafted_batch_runs_nothing(tmp_path: Path) -> None:
    folder = _write_cifar(tmp_path)
    marker = tmp_path / "ran"
    with (folder / "data_batch_2").open("wb") as fh:
        pickle.dump({b"data": _Payload(marker), b"labels": [0]}, fh)
    with pytest.raises(SpaceError) as err:
        load_dataset("cifar10", str(folder))
    assert "not a CIFAR-10 python batch (UnpicklingError)" in str(err.value)
    assert "\n" not in str(err.value)
    assert not marker.exists()  # plain pickle.load would have created it


def test_cifar10_missing_batch_names_the_layout(tmp_path: Path) -> None:
    folder = _write_cifar(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(SpaceError) as err:
        load_dataset("cifar10", str(folder))
    msg = str(err.value)
    assert "\n" not in msg and "has no data_batch_3" in msg
    assert "cifar-10-batches-py/ with data_batch_1..5 and test_batch" in msg
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(SpaceError, match="not a CIFAR-10 python batch"):
        load_dataset("cifar10", str(folder))
    with pytest.raises(SpaceError, match="is not a folder"):
        load_dataset("cifar10", str(tmp_path / "nowhere"))


# -- SVHN ---------------------------------------------------------------------------------


def _write_svhn(root: Path) -> None:
    from scipy.io import savemat

    rng = np.random.default_rng(2)
    for name, n in (("train_32x32.mat", 30), ("test_32x32.mat", 10)):
        x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # labels 1..10
        savemat(root / name, {"X": x, "y": y})


def test_svhn_loads_mat_files_and_maps_label_10(tmp_path: Path) -> None:
    from scipy.io import loadmat

    _write_svhn(tmp_path)
    d = load_dataset("svhn", str(tmp_path), val_fraction=0.2)
    _check_splits(d, 10, (3, 32, 32))
    raw = loadmat(tmp_path / "test_32x32.mat")
    y = raw["y"].reshape(-1).astype(np.int64)
    assert np.array_equal(d.y_test, np.where(y == 10, 0, y))
    assert 0 in d.y_test and 10 not in d.y_test
    assert np.allclose(d.x_test[4], raw["X"][:, :, :, 4].transpose(2, 0, 1) / 255.0)


def test_svhn_missing_file(tmp_path: Path) -> None:
    _write_svhn(tmp_path)
    (tmp_path / "test_32x32.mat").unlink()
    with pytest.raises(SpaceError, match="has no test_32x32.mat; expected a folder with"):
        load_dataset("svhn", str(tmp_path))


# -- npz ----------------------------------------------------------------------------------


def test_npz_layouts(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x_nhwc = rng.integers(0, 256, size=(40, 6, 6, 3), dtype=np.uint8)
    y = np.arange(40) % 4
    xt = rng.integers(0, 256, size=(8, 6, 6, 3), dtype=np.uint8)
    yt = np.arange(8) % 4
    f1 = tmp_path / "a.npz"
    np.savez(f1, x_train=x_nhwc, y_train=y, x_test=xt, y_test=yt)
    d = load_dataset("npz", str(f1), val_fraction=0.25)
    _check_splits(d, 4, (3, 6, 6))
    assert np.allclose(d.x_test, xt.transpose(0, 3, 1, 2) / 255.0)
    assert np.array_equal(d.y_test, yt)
    # NCHW float in [0, 1], keys x / y, no official test split
    x_nchw = rng.random((40, 1, 5, 5)).astype(np.float32)
    f2 = tmp_path / "b.npz"
    np.savez(f2, x=x_nchw, y=y.reshape(-1, 1))
    d2 = load_dataset("npz", str(f2))
    _check_splits(d2, 4, (1, 5, 5))
    assert len(d2.y_train) + len(d2.y_val) + len(d2.y_test) == 40
    # (N, H, W) grayscale
    f3 = tmp_path / "c.npz"
    np.savez(f3, x=rng.integers(0, 256, size=(40, 7, 7), dtype=np.uint8), y=y)
    assert load_dataset("npz", str(f3), image_size=14).input_shape == (1, 14, 14)


def test_npz_malformed(tmp_path: Path) -> None:
    f = tmp_path / "bad.npz"
    np.savez(f, images=np.zeros((4, 3, 3)), labels=np.zeros(4))
    with pytest.raises(SpaceError, match="has keys .*expected an .npz with x_train, y_train"):
        load_dataset("npz", str(f))
    np.savez(f, x=np.zeros((4, 3, 3), dtype=np.uint8), y=np.zeros(5))
    with pytest.raises(SpaceError, match="5 labels for 4 images"):
        load_dataset("npz", str(f))
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(SpaceError, match="not a readable .npz"):
        load_dataset("npz", str(tmp_path / "text.npz"))


# -- image folders ------------------------------------------------------------------------


def _write_images(root: Path, sizes: dict[str, tuple[int, int]] | None = None) -> None:
    from PIL import Image

    rng = np.random.default_rng(4)
    for cls in ("cat", "dog", "emu"):
        (root / cls).mkdir(parents=True)
        for i in range(6):
            size = (sizes or {}).get(f"{cls}{i}", (8, 8))
            arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")


def test_imagefolder_loads_classes(tmp_path: Path) -> None:
    from PIL import Image

    _write_images(tmp_path)
    (tmp_path / "notes.txt").write_text("ignored")
    d = load_dataset("imagefolder", str(tmp_path), val_fraction=0.2, test_fraction=0.2)
    _check_splits(d, 3, (3, 8, 8))
    assert d.classes == ["cat", "dog", "emu"]
    assert len(d.y_train) + len(d.y_val) + len(d.y_test) == 18
    pixels = np.asarray(Image.open(tmp_path / "dog" / "0.png"), dtype=np.float32) / 255.0
    pool = np.concatenate([d.x_train, d.x_val, d.x_test])
    labels = np.concatenate([d.y_train, d.y_val, d.y_test])
    match = [i for i in range(len(pool)) if np.allclose(pool[i], pixels.transpose(2, 0, 1))]
    assert len(match) == 1 and labels[match[0]] == 1


def test_imagefolder_sizes_and_errors(tmp_path: Path) -> None:
    _write_images(tmp_path, sizes={"cat0": (10, 12)})
    with pytest.raises(SpaceError, match="different sizes; pass image_size"):
        load_dataset("imagefolder", str(tmp_path))
    d = load_dataset("imagefolder", str(tmp_path), image_size=8)
    assert d.input_shape == (3, 8, 8)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SpaceError, match="expected root/<class name>/"):
        load_dataset("imagefolder", str(empty))


# -- options ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"name": "mnist"}, "'mnist' is unknown"),
        ({"name": "cifar10"}, "needs a path"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "leaves no training data"),
        ({"val_fraction": -0.1}, "val_fraction=-0.1 must be in"),
        ({"image_size": 0}, "image_size=0 must be a positive integer"),
        ({"limit": 2}, "limit=2 must be an integer >= 4"),
    ],
)
def test_bad_options(kwargs: dict, pattern: str) -> None:
    with pytest.raises(SpaceError, match=pattern) as err:
        load_dataset(**kwargs)
    assert "\n" not in str(err.value)

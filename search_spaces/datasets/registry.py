"""load_dataset: the one entry point to every local dataset source."""

from __future__ import annotations

from pathlib import Path

from search_spaces.datasets.splits import DataSplits, RawData, make_splits
from search_spaces.errors import SpaceError

DATASET_NAMES = ("digits", "cifar10", "svhn", "npz", "imagefolder")


def _check_options(
    name: str,
    image_size: int | None,
    val_fraction: float,
    test_fraction: float,
    limit: int | None,
) -> None:
    if image_size is not None and (
        isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1
    ):
        raise SpaceError(f"dataset {name}: image_size={image_size!r} must be a positive integer")
    for field, val in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not isinstance(val, (int, float)) or not 0.0 <= float(val) < 1.0:
            raise SpaceError(f"dataset {name}: {field}={val!r} must be in [0, 1)")
    if val_fraction + test_fraction >= 1.0:
        raise SpaceError(
            f"dataset {name}: val_fraction + test_fraction = {val_fraction + test_fraction:g} "
            "leaves no training data; keep the sum below 1"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 4):
        raise SpaceError(f"dataset {name}: limit={limit!r} must be an integer >= 4 (or unset)")


def load_dataset(
    name: str = "digits",
    path: str | Path | None = None,
    *,
    seed: int = 0,
    image_size: int | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    limit: int | None = None,
) -> DataSplits:
    """Load a local dataset and split it (stratified, seeded, deterministic).

    Args:
        name: "digits" (bundled with scikit-learn), "cifar10", "svhn", "npz" or
            "imagefolder".
        path: Where the data lies (unused for digits): the cifar-10-batches-py folder (or
            its parent), the SVHN folder with train_32x32.mat / test_32x32.mat, the .npz
            file, or the image-folder root.
        seed: Seed of the split (and of the ``limit`` subsample).
        image_size: Resize every image to image_size x image_size (bilinear).
        val_fraction: Share of the training pool held out for validation.
        test_fraction: Share held out for test when the source has no official test set
            (CIFAR-10, SVHN and npz files with x_test keep theirs).
        limit: Use at most this many images in total (stratified subsample), for quick runs.

    Returns:
        DataSplits with float32 NCHW images in [0, 1] and int64 labels.

    Raises:
        SpaceError: Unknown name, missing path, bad option or malformed data (one line,
            with the expected layout).
    """
    if name not in DATASET_NAMES:
        raise SpaceError(f"dataset: {name!r} is unknown; choose one of {', '.join(DATASET_NAMES)}")
    _check_options(name, image_size, val_fraction, test_fraction, limit)
    if name != "digits" and path is None:
        raise SpaceError(f"dataset {name}: needs a path to the local data (nothing is downloaded)")
    raw: RawData
    if name == "digits":
        from search_spaces.datasets.digits import load_digits_raw

        raw = load_digits_raw()
    elif name == "cifar10":
        from search_spaces.datasets.cifar10 import load_cifar10_raw

        raw = load_cifar10_raw(path)  # type: ignore[arg-type]
    elif name == "svhn":
        from search_spaces.datasets.svhn import load_svhn_raw

        raw = load_svhn_raw(path)  # type: ignore[arg-type]
    elif name == "npz":
        from search_spaces.datasets.npz import load_npz_raw

        raw = load_npz_raw(path)  # type: ignore[arg-type]
    else:
        from search_spaces.datasets.imagefolder import load_imagefolder_raw

        raw = load_imagefolder_raw(path, image_size=image_size)  # type: ignore[arg-type]
    return make_splits(
        name,
        raw.x,
        raw.y,
        x_test=raw.x_test,
        y_test=raw.y_test,
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        limit=limit,
        image_size=image_size,
        num_classes=raw.num_classes,
        classes=raw.classes,
    )

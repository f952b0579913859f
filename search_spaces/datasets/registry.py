"""load_dataset: the one entry point to every local dataset source, by name.

The sources are a :class:`hw_builders.plugins.Registry`: the built-in ones, those given to
:func:`register_dataset`, and installed packages' (entry-point group ``adapex.datasets``,
naming a :class:`DatasetSource`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hw_builders.plugins import Registry, named_entry
from search_spaces.datasets.splits import DataSplits, RawData, make_splits
from search_spaces.errors import SpaceError

#: The built-in sources.
DATASET_NAMES = ("digits", "cifar10", "svhn", "npz", "imagefolder")


@dataclass(frozen=True)
class DatasetSource:
    """One kind of local dataset (nothing is downloaded).

    Attributes:
        name: The ``[dataset] name`` that selects it.
        read: ``read(path, image_size)``: every image and label of the source.
        needs_path: Whether ``[dataset] path`` must be given.
    """

    name: str
    read: Callable[[str | Path | None, int | None], RawData]
    needs_path: bool = True


_DATASETS: Registry[DatasetSource] = Registry(
    "register_dataset",
    lambda name, choices: f"dataset: {name!r} is unknown; choose one of {choices}",
    group="adapex.datasets",
    adopt=lambda name, obj: register_dataset(
        named_entry(name, obj, DatasetSource, "a DatasetSource", SpaceError)
    ),
    error=SpaceError,
)


def register_dataset(source: DatasetSource) -> DatasetSource:
    """Make ``source.name`` usable as ``[dataset] name``.

    Raises:
        SpaceError: the name is taken.
    """
    return _DATASETS.register(source.name, source)


def dataset_names() -> list[str]:
    """Every dataset source's name (installed plugins' included), sorted."""
    return _DATASETS.names()


def _digits(path: str | Path | None, image_size: int | None) -> RawData:
    from search_spaces.datasets.digits import load_digits_raw

    return load_digits_raw()


def _cifar10(path: str | Path | None, image_size: int | None) -> RawData:
    from search_spaces.datasets.cifar10 import load_cifar10_raw

    return load_cifar10_raw(path)  # type: ignore[arg-type]


def _svhn(path: str | Path | None, image_size: int | None) -> RawData:
    from search_spaces.datasets.svhn import load_svhn_raw

    return load_svhn_raw(path)  # type: ignore[arg-type]


def _npz(path: str | Path | None, image_size: int | None) -> RawData:
    from search_spaces.datasets.npz import load_npz_raw

    return load_npz_raw(path)  # type: ignore[arg-type]


def _imagefolder(path: str | Path | None, image_size: int | None) -> RawData:
    from search_spaces.datasets.imagefolder import load_imagefolder_raw

    return load_imagefolder_raw(path, image_size=image_size)  # type: ignore[arg-type]


for _source in (
    DatasetSource("digits", _digits, needs_path=False),
    DatasetSource("cifar10", _cifar10),
    DatasetSource("svhn", _svhn),
    DatasetSource("npz", _npz),
    DatasetSource("imagefolder", _imagefolder),
):
    register_dataset(_source)


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
        name: "digits" (bundled with scikit-learn), "cifar10", "svhn", "npz",
            "imagefolder", or a registered source's name (:func:`register_dataset`).
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
    source = _DATASETS.lookup(name)
    _check_options(name, image_size, val_fraction, test_fraction, limit)
    if source.needs_path and path is None:
        raise SpaceError(f"dataset {name}: needs a path to the local data (nothing is downloaded)")
    raw = source.read(path, image_size)
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

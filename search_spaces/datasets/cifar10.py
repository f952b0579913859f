"""CIFAR-10 from the local python-version folder ``cifar-10-batches-py/``."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from search_spaces.datasets.splits import RawData
from search_spaces.errors import SpaceError

LAYOUT = (
    "expected the python version folder cifar-10-batches-py/ with data_batch_1..5 and test_batch"
)
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


def _folder(path: str | Path) -> Path:
    root = Path(path).expanduser()
    if (root / "cifar-10-batches-py").is_dir() and not (root / "data_batch_1").exists():
        root = root / "cifar-10-batches-py"
    if not root.is_dir():
        raise SpaceError(f"dataset cifar10: {path} is not a folder; {LAYOUT}")
    for name in (*TRAIN_BATCHES, "test_batch"):
        if not (root / name).is_file():
            raise SpaceError(f"dataset cifar10: {path} has no {name}; {LAYOUT}")
    return root


# What a CIFAR-10 python batch holds: a dict of bytes, lists and one numpy uint8 array.
# Unpickling may call only numpy's array reconstruction, never anything a crafted file names.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that admits only the numpy types the CIFAR-10 format uses."""

    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")
        return super().find_class(module, name)


def _read_batch(file: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with file.open("rb") as fh:
            batch = _BatchUnpickler(fh, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
        x = data.reshape(-1, 3, 32, 32)
    except Exception as exc:  # noqa: BLE001 - any unreadable batch is the same user error
        raise SpaceError(
            f"dataset cifar10: {file} is not a CIFAR-10 python batch ({type(exc).__name__}); {LAYOUT}"
        ) from None
    if labels.shape[0] != x.shape[0]:
        raise SpaceError(
            f"dataset cifar10: {file} has {x.shape[0]} images but {labels.shape[0]} labels"
        )
    return x, labels


def load_cifar10_raw(path: str | Path) -> RawData:
    """The 50,000 training images (pool) and the 10,000 test images, NCHW in [0, 1].

    Args:
        path: The ``cifar-10-batches-py`` folder, or a folder that contains it.
    """
    root = _folder(path)
    xs, ys = zip(*(_read_batch(root / n) for n in TRAIN_BATCHES), strict=True)
    xt, yt = _read_batch(root / "test_batch")
    x = np.concatenate(xs).astype(np.float32) / 255.0
    y = np.concatenate(ys)
    return RawData(
        x=x.astype(np.float32),
        y=y,
        x_test=(xt.astype(np.float32) / 255.0).astype(np.float32),
        y_test=yt,
        num_classes=10,
    )

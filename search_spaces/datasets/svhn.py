"""SVHN (cropped digits) from the local ``train_32x32.mat`` / ``test_32x32.mat`` files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from search_spaces.datasets.splits import RawData
from search_spaces.errors import SpaceError

LAYOUT = "expected a folder with train_32x32.mat and test_32x32.mat (format 2, cropped digits)"


def _read_mat(file: Path) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat

    try:
        mat = loadmat(str(file))
        x = np.asarray(mat["X"])
        y = np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise SpaceError(
            f"dataset svhn: {file} is not an SVHN .mat file with X and y ({type(exc).__name__}); {LAYOUT}"
        ) from None
    if x.ndim != 4 or x.shape[2] != 3 or x.shape[3] != y.shape[0]:
        raise SpaceError(
            f"dataset svhn: {file} has X of shape {x.shape} for {y.shape[0]} labels; "
            "expected X (32, 32, 3, N)"
        )
    y = np.where(y == 10, 0, y)
    if y.size and (y.min() < 0 or y.max() > 9):
        raise SpaceError(f"dataset svhn: {file} has labels outside 1..10")
    x = np.ascontiguousarray(x.transpose(3, 2, 0, 1)).astype(np.float32) / 255.0
    return x.astype(np.float32), y


def load_svhn_raw(path: str | Path) -> RawData:
    """SVHN train (pool) and test sets, NCHW in [0, 1], label 10 mapped to 0.

    Args:
        path: Folder holding ``train_32x32.mat`` and ``test_32x32.mat``.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise SpaceError(f"dataset svhn: {path} is not a folder; {LAYOUT}")
    for name in ("train_32x32.mat", "test_32x32.mat"):
        if not (root / name).is_file():
            raise SpaceError(f"dataset svhn: {path} has no {name}; {LAYOUT}")
    x, y = _read_mat(root / "train_32x32.mat")
    xt, yt = _read_mat(root / "test_32x32.mat")
    return RawData(x=x, y=y, x_test=xt, y_test=yt, num_classes=10)

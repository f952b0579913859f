"""scikit-learn's bundled 8x8 handwritten digits (the embedded default dataset)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from search_spaces.datasets.splits import RawData
from search_spaces.errors import SpaceError

DIGITS_FILE = ("datasets", "data", "digits.csv.gz")
"""Where scikit-learn keeps the digits, under its package folder: one row per image, its
64 pixel values (0..16) then its label, comma-separated (what ``load_digits`` reads)."""


def _digits_file() -> Path | None:
    """scikit-learn's digits file, found without importing scikit-learn (whose import costs
    most of a second of every command's start), or None where it is not there."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise SpaceError(
            "dataset digits: its images come with scikit-learn, which is not installed; "
            "pip install scikit-learn"
        )
    for folder in spec.submodule_search_locations or ():
        path = Path(folder).joinpath(*DIGITS_FILE)
        if path.is_file():
            return path
    return None


def load_digits_raw() -> RawData:
    """All 1,797 digits as (N, 1, 8, 8) float32 in [0, 1] (pixel values 0..16 / 16).

    Read from scikit-learn's own file, where ``load_digits`` reads it; through
    ``load_digits`` where that file is not found (the same images and labels either way).
    """
    path = _digits_file()
    if path is not None:
        with gzip.open(path, "rt") as f:
            data = np.loadtxt(f, delimiter=",")
        images, target = data[:, :-1].reshape(-1, 8, 8), data[:, -1]
    else:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images, target = bunch.images, bunch.target
    x = (images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = target.astype(np.int64)
    return RawData(x=x, y=y, num_classes=10)

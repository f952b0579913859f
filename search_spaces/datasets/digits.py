"""scikit-learn's bundled 8x8 handwritten digits (the embedded default dataset)."""

from __future__ import annotations

import numpy as np

from search_spaces.datasets.splits import RawData
from search_spaces.errors import SpaceError


def load_digits_raw() -> RawData:
    """All 1,797 digits as (N, 1, 8, 8) float32 in [0, 1] (pixel values 0..16 / 16)."""
    try:
        from sklearn.datasets import load_digits
    except ModuleNotFoundError:
        raise SpaceError(
            "dataset digits: its images come with scikit-learn, which is not installed; "
            "pip install scikit-learn"
        ) from None

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    return RawData(x=x, y=y, num_classes=10)

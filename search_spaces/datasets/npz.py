"""Any image classification set stored as one NumPy ``.npz`` file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from search_spaces.datasets.splits import RawData, to_labels, to_nchw, to_unit_float
from search_spaces.errors import SpaceError

LAYOUT = (
    "expected an .npz with x_train, y_train (and optionally x_test, y_test) or x, y; "
    "images NHWC, NCHW or (N, H, W), uint8 0..255 or float in [0, 1]"
)


def _images(arr: np.ndarray, labels: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = to_unit_float(to_nchw(np.asarray(arr), what=what), what=what)
    y = to_labels(labels, x.shape[0], what=what)
    return x, y


def load_npz_raw(path: str | Path) -> RawData:
    """Images and labels from an .npz file (see LAYOUT for the keys and formats).

    Args:
        path: The .npz file.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise SpaceError(f"dataset npz: {path} is not a file; {LAYOUT}")
    try:
        with np.load(file, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise SpaceError(
            f"dataset npz: {path} is not a readable .npz ({type(exc).__name__}); {LAYOUT}"
        ) from None
    if "x_train" in arrays and "y_train" in arrays:
        x, y = _images(arrays["x_train"], arrays["y_train"], f"dataset npz: {path} x_train")
        if ("x_test" in arrays) != ("y_test" in arrays):
            raise SpaceError(f"dataset npz: {path} has only one of x_test / y_test; {LAYOUT}")
        if "x_test" in arrays:
            xt, yt = _images(arrays["x_test"], arrays["y_test"], f"dataset npz: {path} x_test")
            if xt.shape[1:] != x.shape[1:]:
                raise SpaceError(
                    f"dataset npz: {path} x_test images are {xt.shape[1:]} but x_train images are {x.shape[1:]}"
                )
            return RawData(x=x, y=y, x_test=xt, y_test=yt)
        return RawData(x=x, y=y)
    if "x" in arrays and "y" in arrays:
        x, y = _images(arrays["x"], arrays["y"], f"dataset npz: {path} x")
        return RawData(x=x, y=y)
    raise SpaceError(f"dataset npz: {path} has keys {sorted(arrays)}; {LAYOUT}")

"""DataSplits and the shared array helpers: layout, scaling, resizing, stratified splits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from search_spaces.errors import SpaceError


@dataclass
class DataSplits:
    """Train / validation / test arrays of one dataset.

    Images are float32 NCHW in [0, 1]; labels are int64 in [0, num_classes).

    Attributes:
        name: Dataset name ("digits", "cifar10", ...).
        x_train, y_train, x_val, y_val, x_test, y_test: The splits.
        num_classes: Number of classes.
        input_shape: (C, H, W) of one image.
        classes: Class names when the source has them (image folders), else None.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    input_shape: tuple[int, int, int]
    classes: list[str] | None = field(default=None)


def _interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) bilinear interpolation weights, half-pixel centres (as PIL / torch)."""
    mat = np.zeros((n_out, n_in), dtype=np.float64)
    scale = n_in / n_out
    for i in range(n_out):
        src = min(max((i + 0.5) * scale - 0.5, 0.0), n_in - 1)
        lo = int(np.floor(src))
        hi = min(lo + 1, n_in - 1)
        frac = src - lo
        mat[i, lo] += 1.0 - frac
        mat[i, hi] += frac
    return mat


def resize_bilinear(x: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an (N, C, H, W) batch to ``size`` (deterministic, numpy only)."""
    oh, ow = (size, size) if isinstance(size, int) else size
    _, _, h, w = x.shape
    if (h, w) == (oh, ow):
        return x.astype(np.float32, copy=False)
    rh = _interp_matrix(h, oh)
    rw = _interp_matrix(w, ow)
    out = np.einsum("oh,nchw,pw->ncop", rh, x.astype(np.float64), rw, optimize=True)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def to_unit_float(x: np.ndarray, *, what: str) -> np.ndarray:
    """Scale images to float32 in [0, 1]: integers / 255, floats in [0, 1] as they are,
    floats in (1, 255] / 255; anything else is a SpaceError naming ``what``."""
    if x.size == 0:
        raise SpaceError(f"{what}: has no images")
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        ilo, ihi = int(x.min()), int(x.max())
        if ilo < 0 or ihi > 255:
            raise SpaceError(f"{what}: integer pixels span [{ilo}, {ihi}]; expected 0..255 (uint8)")
        return (x.astype(np.float32) / 255.0).astype(np.float32)
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)):
            raise SpaceError(f"{what}: contains NaN or infinite pixels")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 255.0:
            raise SpaceError(
                f"{what}: float pixels span [{lo:g}, {hi:g}]; expected [0, 1] or [0, 255]"
            )
        if hi > 1.0:
            return (x / 255.0).astype(np.float32)
        return x.astype(np.float32)
    raise SpaceError(f"{what}: pixel dtype {x.dtype} is not numeric")


def to_nchw(x: np.ndarray, *, what: str) -> np.ndarray:
    """Bring an image batch to NCHW: (N, H, W) gains a channel axis; 4-D arrays are NHWC
    when the last axis has 1, 3 or 4 entries and the second does not, else NCHW when the
    second axis has 1, 3 or 4; (N, D) with D a square becomes (N, 1, s, s)."""
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise SpaceError(
                f"{what}: flat images of {x.shape[1]} values are not square; store (N, H, W[, C])"
            )
        return x.reshape(x.shape[0], 1, side, side)
    if x.ndim == 3:
        return x[:, None, :, :]
    if x.ndim == 4:
        chans = (1, 3, 4)
        if x.shape[3] in chans and x.shape[1] not in chans:
            return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        if x.shape[1] in chans:
            return x
        if x.shape[3] in chans:
            return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        raise SpaceError(
            f"{what}: cannot tell the channel axis of shape {x.shape}; store NHWC or NCHW with 1, 3 or 4 channels"
        )
    raise SpaceError(f"{what}: images have shape {x.shape}; expected (N, H, W), NHWC or NCHW")


def to_labels(y: np.ndarray, n: int, *, what: str) -> np.ndarray:
    """Labels as int64 (N,); SpaceError when not integral, negative or of the wrong length."""
    y = np.asarray(y).reshape(-1)
    if y.shape[0] != n:
        raise SpaceError(f"{what}: {y.shape[0]} labels for {n} images; give one label per image")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise SpaceError(f"{what}: labels of dtype {y.dtype} are not integers")
    yi = y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating) and not np.array_equal(yi, y):
        raise SpaceError(f"{what}: labels are not integers")
    if yi.size and yi.min() < 0:
        raise SpaceError(f"{what}: labels must be >= 0, found {int(yi.min())}")
    return yi


def _class_counts(n: int, fraction: float) -> int:
    return int(round(n * fraction))


def stratified_indices(
    y: np.ndarray, fractions: tuple[float, ...], rng: np.random.Generator
) -> list[np.ndarray]:
    """Split indices per class into len(fractions) + 1 parts (the last takes the rest).

    Each class is shuffled with ``rng`` and cut into parts with rounded per-class counts;
    the remainder part keeps at least one sample of every class that has one. Every part
    is shuffled again at the end. Deterministic for a given generator state.
    """
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        idx = idx[rng.permutation(idx.size)]
        start = 0
        for p, frac in enumerate(fractions):
            take = min(_class_counts(idx.size, frac), max(0, idx.size - start - 1))
            parts[p].append(idx[start : start + take])
            start += take
        parts[-1].append(idx[start:])
    out = []
    for chunks in parts:
        arr = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
        out.append(arr[rng.permutation(arr.size)])
    return out


def subsample(y: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified subset of exactly ``count`` indices (ascending).

    Per-class quotas are proportional to the class sizes (largest-remainder rounding, so
    they sum to ``count``); each class contributes the first indices of a seeded shuffle.
    """
    if count >= y.size:
        return np.arange(y.size)
    classes, sizes = np.unique(y, return_counts=True)
    exact = sizes * (count / y.size)
    quota = np.floor(exact).astype(int)
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: count - int(quota.sum())]] += 1
    chosen = []
    for cls, q in zip(classes, quota, strict=True):
        idx = np.flatnonzero(y == cls)
        chosen.append(idx[rng.permutation(idx.size)][:q])
    return np.sort(np.concatenate(chosen))


def make_splits(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    limit: int | None,
    image_size: int | None,
    num_classes: int | None = None,
    classes: list[str] | None = None,
) -> DataSplits:
    """Build DataSplits from a pool (and an optional official test set).

    Without an official test set, the pool is split stratified into train / val / test by
    ``val_fraction`` and ``test_fraction``. With one, it is the test split (``test_fraction``
    unused) and val is carved from the pool. ``limit`` caps the number of images used in
    total (stratified, before splitting; shared between pool and official test set in
    proportion ``1 - test_fraction`` : ``test_fraction``). Images are resized to
    ``image_size`` after splitting.
    """
    rng = np.random.default_rng(seed)
    if limit is not None:
        if x_test is None:
            keep = subsample(y, limit, rng)
            x, y = x[keep], y[keep]
        else:
            n_test = max(1, int(round(limit * test_fraction)))
            keep = subsample(y, max(1, limit - n_test), rng)
            x, y = x[keep], y[keep]
            assert y_test is not None  # given with x_test
            keep_t = subsample(y_test, n_test, rng)
            x_test, y_test = x_test[keep_t], y_test[keep_t]
    if x_test is None:
        test_idx, val_idx, train_idx = stratified_indices(y, (test_fraction, val_fraction), rng)
        xt, yt = x[test_idx], y[test_idx]
    else:
        val_idx, train_idx = stratified_indices(y, (val_fraction,), rng)
        xt, yt = x_test, y_test
    xtr, ytr, xv, yv = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    if image_size is not None:
        xtr, xv, xt = (resize_bilinear(a, image_size) for a in (xtr, xv, xt))
    all_y = [a for a in (ytr, yv, yt) if a.size]
    n_cls = num_classes if num_classes is not None else int(max(int(a.max()) for a in all_y)) + 1
    if n_cls < 2:
        raise SpaceError(f"dataset {name}: found {n_cls} class; a classifier needs at least 2")
    if ytr.size == 0:
        raise SpaceError(
            f"dataset {name}: no training images left; lower val/test fractions or raise limit"
        )
    for split, labels in (("validation", yv), ("test", yt)):
        if labels.size == 0:
            n = int(y.size) + (0 if y_test is None else int(y_test.size))
            raise SpaceError(
                f"dataset {name}: {n} images leave the {split} split empty; give more images "
                "(a few per class at least) or raise val_fraction/test_fraction"
            )
    return DataSplits(
        name=name,
        x_train=np.ascontiguousarray(xtr, dtype=np.float32),
        y_train=ytr.astype(np.int64),
        x_val=np.ascontiguousarray(xv, dtype=np.float32),
        y_val=yv.astype(np.int64),
        x_test=np.ascontiguousarray(xt, dtype=np.float32),
        y_test=yt.astype(np.int64),
        num_classes=n_cls,
        input_shape=tuple(int(v) for v in xtr.shape[1:]),  # type: ignore[arg-type]
        classes=classes,
    )


@dataclass
class RawData:
    """What a source loader returns: a pool of NCHW float32 images in [0, 1] with int64
    labels, an optional official test set, and optional class metadata."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    num_classes: int | None = None
    classes: list[str] | None = None

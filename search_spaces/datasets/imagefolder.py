"""Class-per-folder images: ``root/<class>/*.png|jpg|jpeg|bmp`` (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from search_spaces.datasets.splits import RawData, resize_bilinear
from search_spaces.errors import SpaceError

LAYOUT = "expected root/<class name>/*.png|jpg|jpeg|bmp with one folder per class"
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def load_imagefolder_raw(path: str | Path, *, image_size: int | None = None) -> RawData:
    """Every image of every class folder (classes sorted by name -> label 0, 1, ...).

    Images are grayscale (1 channel) when every file is grayscale, else RGB. Images of
    different sizes need ``image_size`` (each is then resized bilinearly to it).

    Args:
        path: The root folder.
        image_size: Common square size to resize to (required when sizes differ).
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(path).expanduser()
    if not root.is_dir():
        raise SpaceError(f"dataset imagefolder: {path} is not a folder; {LAYOUT}")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir())
    files: list[tuple[Path, int]] = []
    classes: list[str] = []
    for d in class_dirs:
        imgs = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in EXTENSIONS)
        if imgs:
            files += [(f, len(classes)) for f in imgs]
            classes.append(d.name)
    if len(classes) < 2:
        raise SpaceError(
            f"dataset imagefolder: {path} has {len(classes)} class folder(s) with images; {LAYOUT} (at least 2)"
        )
    images: list[Image.Image] = []
    for f, _ in files:
        try:
            with Image.open(f) as im:
                im.load()
                images.append(im.copy())
        except (UnidentifiedImageError, OSError) as exc:
            raise SpaceError(
                f"dataset imagefolder: {f} is not a readable image ({type(exc).__name__}); {LAYOUT}"
            ) from None
    gray = all(im.mode in ("1", "L", "I;16", "I", "F") for im in images)
    mode = "L" if gray else "RGB"
    sizes = {im.size for im in images}
    if len(sizes) > 1 and image_size is None:
        raise SpaceError(
            f"dataset imagefolder: {path} has images of {len(sizes)} different sizes; pass image_size"
        )
    arrays = []
    for image in images:
        arr = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if image_size is not None:
            arr = resize_bilinear(arr[None], image_size)[0]
        arrays.append(arr)
    x = np.stack(arrays).astype(np.float32)
    y = np.asarray([label for _, label in files], dtype=np.int64)
    return RawData(x=x, y=y, num_classes=len(classes), classes=classes)

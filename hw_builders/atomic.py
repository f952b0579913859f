"""Atomic file and folder writes, shared by every adapex package.

A write goes to a temporary sibling first and is renamed into place with ``os.replace``, so a
crash or kill leaves either the old content or the new, never a torn file. Temporary files
get the permissions an ordinary ``open()`` would give (0666 and 0777 less the umask), not
``mkstemp``'s private 0600, so exported libraries can be shared.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hw_builders.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary file beside ``path`` for the block to write (by name, e.g. with tarfile);
    renamed to ``path``, with the ordinary permissions, when the block succeeds, and
    removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    path = Path(path)
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (newline-terminated) to ``path`` atomically; returns the path."""
    return atomic_write_text(path, json.dumps(obj, indent=indent) + "\n")


@contextlib.contextmanager
def atomic_directory(out: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Build a folder in a temporary sibling and rename it to ``out`` when the block succeeds.

    On an exception nothing at ``out`` changes and the temporary folder is removed. An existing
    ``out`` is replaced (moved aside, then deleted) when ``overwrite`` is true; otherwise
    FileExistsError is raised before anything is written.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        mask = _umask()
        for root, dirs, files in os.walk(tmp):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o777 & ~mask)
            for f in files:
                p = os.path.join(root, f)
                os.chmod(p, (os.stat(p).st_mode & 0o777) | (0o666 & ~mask))
        os.chmod(tmp, 0o777 & ~mask)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "x")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _field_error(field: str, message: str) -> InputError:
    """An InputError whose message starts with ``field``: a library argument (an identifier,
    shown between backticks so the CLI names its flag) or a label as it is (``--out``)."""
    if field.isidentifier():
        return InputError(f"`{field}` {message}", arguments=(field,))
    return InputError(f"{field} {message}")


def _probe(folder: Path, field: str, out: Path) -> None:
    """Create and remove a file in ``folder``: the one sure test that it takes a new file
    (permissions, ``chattr +i``, a read-only mount or ``/proc``)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".adapex-probe-")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _field_error(
            field, f"{out}: cannot write in {folder} ({reason}); choose a writable folder"
        ) from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(path: str | os.PathLike[str], field: str = "out") -> Path:
    """Check, writing nothing that stays, that a file can be written atomically at ``path``:
    its folder exists and takes a new file, and ``path`` is not a folder. Call it before any
    work whose result goes there.

    Args:
        path: the file to be written.
        field: the argument (or CLI flag) that named it, for the message.

    Returns:
        ``path`` as a Path.

    Raises:
        InputError: one line naming ``field`` and the fix.
    """
    out = Path(path)
    if out.is_dir():
        raise _field_error(field, f"{out}: is a folder; give a file name, e.g. {out / 'out.json'}")
    parent = out.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise _field_error(field, f"{out}: {parent} {what}; create the folder or choose another")
    if out.exists() and not out.is_file():
        raise _field_error(field, f"{out}: is not a regular file; choose another file name")
    _probe(parent, field, out)
    return out


def check_output_dir(path: str | os.PathLike[str], field: str = "out") -> Path:
    """Check, creating nothing that stays, that ``path`` is (or can become) a writable folder:
    it is not a file, does not lie under one, and its nearest existing folder takes a new file.

    Raises:
        InputError: one line naming ``field`` and the fix.
    """
    out = Path(path)
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        at = "is a file" if existing == out else f"lies under the file {existing}"
        raise _field_error(field, f"{out}: {at}; give a folder")
    _probe(existing, field, out)
    return out

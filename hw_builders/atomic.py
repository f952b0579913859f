"""Atomic file and folder writes, shared by every adapex package.

A write goes to a temporary sibling first and is renamed into place with ``os.replace``, so a
crash or kill leaves either the old content or the new, never a torn file. Temporary files
get the permissions an ordinary ``open()`` would give (0666 and 0777 less the umask), not
``mkstemp``'s private 0600, so exported libraries can be shared.

A writer holds an advisory lock (``flock``) on its temporary file or folder while it works. A
process killed mid-write (SIGKILL, a power cut) leaves its temporary behind unlocked; the next
write to the same path removes it (and, for a folder killed between moving the old one aside
and renaming the new one in, puts the old one back first). Only temporaries that carry this
module's names (and, for folders, its marker file) are touched; a live writer's never.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
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


#: the file inside a temporary folder (and an old one moved aside) that marks it as this
#: module's; removed before the folder is renamed into place
_MARKER = ".adapex-partial"
#: the random part of a ``tempfile.mkstemp``/``mkdtemp`` name
_RANDOM = r"[a-z0-9_]{8}"


@contextlib.contextmanager
def new_parents(path: str | os.PathLike[str]) -> Iterator[Path]:
    """The folder of ``path``, created with its missing parents for the block; when the block
    fails, the folders it created are removed again where they are still empty (a full disk
    leaves no empty ``--out`` folder behind)."""
    parent = Path(path).parent
    missing: list[Path] = []
    p = parent
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    parent.mkdir(parents=True, exist_ok=True)
    try:
        yield parent
    except BaseException:
        for folder in missing:  # the deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _try_lock(path: Path) -> int | None:
    """An open descriptor of ``path`` holding its exclusive lock, or None when a live writer
    holds it (or it cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _lock(path: Path) -> int:
    """An open descriptor of ``path`` holding its exclusive lock, for a writer's lifetime."""
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _stale_files(path: Path) -> None:
    """Remove the temporaries of :func:`atomic_file` for ``path`` whose writer is dead."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.{_RANDOM}\.tmp")
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if not pattern.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            fd = _try_lock(Path(entry.path))
            if fd is None:
                continue
            try:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
            finally:
                os.close(fd)


def _stale_folders(out: Path) -> None:
    """Remove the temporary folders of :func:`atomic_directory` for ``out`` whose writer is
    dead; an old ``out`` moved aside by a writer killed before the new one was renamed in
    is put back first."""
    tmp_name = re.compile(rf"\.{re.escape(out.name)}\.(tmp|old)-{_RANDOM}")
    try:
        entries = sorted(os.scandir(out.parent), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        m = tmp_name.fullmatch(entry.name)
        if m is None or not entry.is_dir(follow_symlinks=False):
            continue
        folder = Path(entry.path)
        if not (folder / _MARKER).is_file():
            continue  # not (or no longer) a partial write of this module: not ours to touch
        fd = _try_lock(folder)
        if fd is None:
            continue  # a live writer
        try:
            kept = folder / "x"
            if m.group(1) == "old" and kept.is_dir() and not out.exists():
                os.replace(kept, out)
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary file beside ``path`` for the block to write (by name, e.g. with tarfile);
    renamed to ``path``, with the ordinary permissions, when the block succeeds, and
    removed when it fails. Temporaries of ``path`` left by a killed writer are removed first."""
    path = Path(path)
    with new_parents(path):
        _stale_files(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield Path(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        finally:
            os.close(fd)


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
    FileExistsError is raised before anything is written. Temporary folders of ``out`` left by
    a killed writer are cleaned up first (see the module's docstring).

    The block gets an empty folder ``x`` inside a locked holder ``.<out>.tmp-XXXXXXXX`` that
    also holds the marker; an old ``out`` is moved into a holder ``.<out>.old-XXXXXXXX`` the
    same way while the new one is renamed in.
    """
    out = Path(out)
    with new_parents(out):
        _stale_folders(out)
        if out.exists() and not overwrite:
            raise FileExistsError(out)
        holder = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        lock = _lock(holder)
        try:
            (holder / _MARKER).touch()
            tmp = holder / "x"
            tmp.mkdir()
            yield tmp
            mask = _umask()
            for root, dirs, files in os.walk(tmp):
                for d in dirs:
                    os.chmod(os.path.join(root, d), 0o777 & ~mask)
                for f in files:
                    p = os.path.join(root, f)
                    os.chmod(p, (os.stat(p).st_mode & 0o777) | (0o666 & ~mask))
            os.chmod(tmp, 0o777 & ~mask)
            _swap_in(tmp, out)
        finally:
            shutil.rmtree(holder, ignore_errors=True)
            os.close(lock)


def _swap_in(new: Path, out: Path) -> None:
    """Rename ``new`` to ``out``, an existing ``out`` moved aside into a locked, marked holder
    first (put back if the rename fails, or by the next writer if this one is killed)."""
    if not out.exists():
        os.replace(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    lock = _lock(old)
    try:
        (old / _MARKER).touch()
        os.replace(out, old / "x")
        try:
            os.replace(new, out)
        except BaseException:
            os.replace(old / "x", out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        os.close(lock)


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

"""Content-addressed checkpoint cache shared by worker processes.

An entry is a directory ``<root>/<key[:2]>/<key>/`` holding ``model.pt`` (a plain
``state_dict``, loaded with ``torch.load(..., weights_only=True)``; never a pickled
module), ``arch.json``, ``meta.json`` and optional extra JSON files (``profile.json``).
The key is the sha256 of a canonical JSON of everything that affects the weights.
Writes are atomic (``hw_builders.atomic``: a temporary file in the same directory, then
``os.replace``), and a per-key file lock (``filelock``) makes a second process that asks
for the same entry wait for the first one and then reuse its result instead of training
again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dse.design.weights import MODEL_FILE, load_state_dict
from dse.errors import DseError
from hw_builders.atomic import atomic_write_bytes

ENV_VAR = "ADAPEX_CACHE_DIR"
DEFAULT_DIRNAME = ".adapex_cache"
ARCH_FILE = "arch.json"
META_FILE = "meta.json"


def _canonical(obj: Any) -> Any:
    """Normalise an object for hashing (tuples -> lists, floats rounded, keys sorted)."""
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return repr(obj)
        return float(f"{obj:.12g}")
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if hasattr(obj, "to_dict"):
        return _canonical(obj.to_dict())
    if hasattr(obj, "item"):  # numpy scalars
        return _canonical(obj.item())
    raise DseError(f"cache key: cannot hash a value of type {type(obj).__name__}")


def cache_key(**parts: Any) -> str:
    """sha256 (hex) of a canonical JSON of ``parts``.

    Args:
        **parts: Everything that affects the weights (arch, recipe, dataset identity,
            pruning rates, parent key, seed, library versions).

    Returns:
        A 64-character hex digest.
    """
    text = json.dumps(_canonical(parts), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose numerics affect the trained weights."""
    import brevitas
    import torch

    return {"torch": torch.__version__, "brevitas": brevitas.__version__}


def default_cache_dir(near: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory: ``$ADAPEX_CACHE_DIR``, else ``.adapex_cache`` next to ``near``.

    Args:
        near: A file (e.g. the SQLite database) or directory beside which the cache lives;
            the current directory when ``None``.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    if near is None:
        return Path.cwd() / DEFAULT_DIRNAME
    p = Path(near)
    base = p if p.is_dir() else p.parent
    return base / DEFAULT_DIRNAME


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as compact JSON to ``path`` atomically."""
    atomic_write_bytes(path, json.dumps(obj, indent=None, separators=(",", ":")).encode())


@dataclass
class CacheEntry:
    """One cached checkpoint directory."""

    key: str
    dir: Path

    @property
    def model_path(self) -> Path:
        """The ``state_dict`` file."""
        return self.dir / MODEL_FILE

    def exists(self) -> bool:
        """True when the checkpoint is complete (model, arch and metadata written)."""
        return all((self.dir / f).is_file() for f in (MODEL_FILE, ARCH_FILE, META_FILE))

    def read_json(self, name: str) -> Any:
        """Read one JSON file of the entry.

        Raises:
            DseError: the file is unreadable (names the file and the fix).
        """
        path = self.dir / name
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DseError(
                f"cache file {path} is corrupt ({type(exc).__name__}); delete it "
                f"(rm -r {self.dir}) and run again: that step is retrained"
            ) from exc

    def has(self, name: str) -> bool:
        """True when the entry holds the file ``name``."""
        return (self.dir / name).is_file()

    def write_json(self, name: str, obj: Any) -> Path:
        """Atomically write one JSON file into the entry."""
        path = self.dir / name
        atomic_write_json(path, obj)
        return path

    def arch(self) -> dict[str, Any]:
        """The architecture dict stored with the weights."""
        return self.read_json(ARCH_FILE)

    def meta(self) -> dict[str, Any]:
        """The metadata stored with the weights."""
        return self.read_json(META_FILE)

    def load_state_dict(self) -> dict[str, Any]:
        """Load the weights (``weights_only=True``).

        Raises:
            DseError: the checkpoint is corrupt (names the file and the fix).
        """
        return load_state_dict(self.model_path)


class CheckpointCache:
    """A directory of content-addressed checkpoints, safe for concurrent processes.

    Args:
        root: Cache directory (created on first write). ``None``: :func:`default_cache_dir`.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def verify(self) -> None:
        """Check every complete entry of the cache reads back (weights and JSON files).

        Run before a study starts so that a damaged checkpoint (a truncated file, a disk
        that filled up) stops it before anything is written.

        Raises:
            DseError: the first damaged entry, with the command that removes it.
        """
        self.check_usable()
        if not self.root.is_dir():
            return
        for meta in sorted(self.root.glob(f"*/*/{META_FILE}")):
            entry = CacheEntry(meta.parent.name, meta.parent)
            if not entry.exists():
                continue
            entry.arch()  # each raises a one-line DseError naming the file and the fix
            entry.meta()
            entry.load_state_dict()

    def check_usable(self) -> None:
        """Check, creating nothing, that the cache directory is (or can become) a writable
        folder.

        Raises:
            DseError: it is a file, lies under a file, or cannot be written (one line naming
                ``--cache-dir`` and ``$ADAPEX_CACHE_DIR``, the two ways to set it).
        """
        from hw_builders import InputError, check_output_dir

        try:
            check_output_dir(self.root, "cache_dir")
        except InputError as exc:
            raise DseError(
                f"{exc} (the cache folder: `cache_dir` or ${ENV_VAR})", arguments=exc.arguments
            ) from None

    def entry(self, key: str) -> CacheEntry:
        """The entry of ``key`` (which may not exist yet)."""
        return CacheEntry(key, self.root / key[:2] / key)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive inter-process lock on ``key`` (blocks until it is free)."""
        from filelock import FileLock

        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_dir / f"{key}.lock")):
            yield

    def save(
        self,
        key: str,
        state_dict: Mapping[str, Any],
        arch: Mapping[str, Any],
        meta: Mapping[str, Any],
    ) -> CacheEntry:
        """Store weights, architecture and metadata under ``key`` (each file atomic).

        ``meta.json`` is written last, so an entry is complete exactly when it exists.
        """
        import io

        import torch

        entry = self.entry(key)
        entry.dir.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, buf)
        atomic_write_bytes(entry.model_path, buf.getvalue())
        atomic_write_json(entry.dir / ARCH_FILE, dict(arch))
        atomic_write_json(entry.dir / META_FILE, dict(meta))
        return entry

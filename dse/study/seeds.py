"""Seeds: one study seed, and per-trial seeds derived from it and the trial number."""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, *parts: int | str) -> int:
    """A 31-bit seed derived deterministically from ``seed`` and ``parts`` (e.g. a trial number).

    Uses sha256, so nearby inputs give unrelated seeds and every process derives the same one.
    """
    text = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def trial_seed(seed: int, trial_number: int) -> int:
    """The seed of trial ``trial_number`` in a study seeded with ``seed``."""
    return derive_seed(seed, "trial", trial_number)

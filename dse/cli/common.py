"""What the commands share: which study a command reads when ``--study`` is not given."""

from __future__ import annotations

from typing import Any

__all__ = [
    "STORAGE_HELP",
    "STORAGE_REQUIRED_HELP",
    "STUDY_HELP",
    "resolve_study",
    "resolve_study_at",
]

STUDY_HELP = "Study name (default: the only study in the database)."
# one wording of the storage option for every command
STORAGE_HELP = (
    "Study database URL: sqlite:///studies.db (default, in this directory) or "
    "postgresql://user@host/db."
)
STORAGE_REQUIRED_HELP = (
    "Study database URL of the study to join: sqlite:///studies.db or postgresql://user@host/db."
)


def resolve_study(store: Any, study: str | None) -> str:
    """The study a reading command works on: ``study``, or the database's only study.

    Raises:
        DseError: no such study, no study at all, or several and none named (one line
            listing them).
    """
    from dse.errors import DseError
    from dse.storage.engine import redact

    names = [s.name for s in store.list_studies()]
    if study is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise DseError(f"--study: {redact(store.url)} holds no study; run `adapex run` first")
        raise DseError(
            f"--study: {redact(store.url)} holds several studies ({', '.join(names)}); "
            "name one with --study"
        )
    if study not in names:
        known = f" (studies: {', '.join(names)})" if names else ""
        raise DseError(f"--study {study}: not found in {redact(store.url)}{known}; check the name")
    return study


def resolve_study_at(storage: str | None, study: str | None) -> str:
    """:func:`resolve_study` on the database at ``storage`` (opened read-only)."""
    from dse.storage import DEFAULT_STORAGE, Store

    with Store(storage or DEFAULT_STORAGE, read_only=True) as store:
        return resolve_study(store, study)

"""What the commands share: which study a command reads when ``--study`` is not given."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import typer

__all__ = [
    "STORAGE_HELP",
    "STUDY_HELP",
    "flags",
    "resolve_study_at",
]

STUDY_HELP = "Study name (default: the only study in the database)."
# one wording of the storage option for every command
STORAGE_HELP = (
    "Study database URL: sqlite:///studies.db (default, in this directory) or "
    "postgresql://user@host/db."
)


def resolve_study_at(storage: str | None, study: str | None) -> str:
    """:func:`dse.study.resolve_study` on the database at ``storage`` (opened read-only)."""
    from dse.storage import DEFAULT_STORAGE, Store
    from dse.study.status import resolve_study

    with Store(storage or DEFAULT_STORAGE, read_only=True) as store:
        return resolve_study(store, study)


@contextlib.contextmanager
def flags(mapping: Mapping[str, str]) -> Iterator[None]:
    """Within the block, a library error naming its arguments names this command's flags
    instead: ``mapping`` gives the flags whose names differ from ``--<argument>``
    (``{"buffer_size": "--buffer"}``)."""
    from hw_builders.errors import InputError

    try:
        yield
    except InputError as exc:
        if not exc.arguments:
            raise
        raise type(exc)(exc.for_cli(mapping)) from None


PEAK_LOAD_OPT = typer.Option(
    None,
    "--peak-load",
    help="Built-in traces: peak input rate as a multiple of static FINN's throughput "
    "(default 1.5).",
)
PEAK_FPS_OPT = typer.Option(
    None,
    "--peak-fps",
    help="Built-in traces: peak input rate in inferences/s (instead of --peak-load).",
)

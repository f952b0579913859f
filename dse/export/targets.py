"""Export targets by name: how one design of a library is written.

A target writes a design's folder and returns its ``library.json`` entry; the library's
index, runtime table, aliases, atomic write and ``--force`` rules are the same for every
target (:func:`dse.export.export_library`). Built in: ``finn``, one FINN build folder per design
(:mod:`dse.export.finn_design`). Add one with :func:`register_target`::

    from dse.export.targets import ExportTarget, register_target

    register_target(ExportTarget("mine", "my toolchain's folders", write_design=my_writer))

where ``my_writer(record, folder, *, steps, n_verify) -> entry`` returns at least the
entry's ``folder`` and ``stages`` (use :func:`dse.export.finn_design.design_entry`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dse.errors import DseError
from hw_builders.plugins import Registry, named_entry

#: ``write_design(record, folder, *, steps, n_verify) -> library.json entry``
DesignWriter = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class ExportTarget:
    """One export target.

    Attributes:
        name: Its name (``export_library(target=...)``, ``adapex export --target``).
        description: One line for ``--help``.
        write_design: Writes one design's folder; returns its library.json entry.
    """

    name: str
    description: str
    write_design: DesignWriter


_TARGETS: Registry[ExportTarget] = Registry(
    "register_target",
    lambda name, choices: f"`target` {name!r} is not an export target; choose one of {choices}",
    group="adapex.export_targets",
    adopt=lambda name, target: register_target(
        named_entry(name, target, ExportTarget, "an ExportTarget", DseError)
    ),
    error=DseError,
    arguments=("target",),
)


def register_target(target: ExportTarget) -> ExportTarget:
    """Make ``target.name`` an export target.

    Raises:
        DseError: the name is taken or is not an identifier.
    """
    return _TARGETS.register(target.name, target)


def get_target(name: str) -> ExportTarget:
    """The registered target ``name``.

    Raises:
        DseError: naming the argument ``target`` and the targets there are.
    """
    return _TARGETS.lookup(name)


def target_names() -> list[str]:
    """The registered targets' names, installed plugins' included, sorted."""
    return _TARGETS.names()


def _finn(record: Any, folder: Path, *, steps: str, n_verify: int) -> dict[str, Any]:
    from dse.export.finn_design import write_finn_design

    return write_finn_design(record, folder, steps=steps, n_verify=n_verify)


register_target(
    ExportTarget("finn", "one FINN build folder per design (every stage in one accelerator)", _finn)
)

__all__ = ["DesignWriter", "ExportTarget", "get_target", "register_target", "target_names"]

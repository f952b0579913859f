"""Registries by name: the one mechanism behind every extension point of dse.

A :class:`Registry` maps names to entries of one kind (objectives, samplers, runtime
policies, export targets) in registration order, built-ins first. A name is registered once;
looking up an unknown one raises the registry's own one-line error, naming the choices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from dse.errors import DseError

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """Named entries of one kind.

    Args:
        register_name: The registering function's name, for its errors
            (``"register_objective"``).
        unknown: The message for an unknown name: ``unknown(name, "a, b, c")``.
        error: The error class raised (a DseError).
        arguments: The library arguments the unknown-name message names between backticks.
    """

    def __init__(
        self,
        register_name: str,
        unknown: Callable[[str, str], str],
        *,
        error: type[DseError] = DseError,
        arguments: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.register_name = register_name
        self.unknown = unknown
        self.error = error
        self.arguments = tuple(arguments)

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name``.

        Raises:
            DseError: ``name`` is not an identifier, or is registered already.
        """
        if not name.isidentifier():
            raise self.error(f"{self.register_name}: name={name!r} is not an identifier")
        if name in self:
            raise self.error(
                f"{self.register_name}: {name!r} is registered already; choose another name"
            )
        self[name] = entry
        return entry

    def lookup(self, name: str) -> T:
        """The entry registered as ``name``.

        Raises:
            DseError: no entry has that name (the message names the ones there are).
        """
        try:
            return self[name]
        except KeyError:
            raise self.error(
                self.unknown(name, ", ".join(self)), arguments=self.arguments
            ) from None

    def names(self) -> list[str]:
        """The registered names, in registration order (built-ins first)."""
        return list(self)

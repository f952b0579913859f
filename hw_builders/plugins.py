"""Named extension points, with plugins found through entry points: one registry type.

Every extension point of adapex is a :class:`Registry` of one kind: hardware op models and
folding strategies (``hw_builders``), model families and dataset sources
(``search_spaces``), objectives,
samplers, runtime policies, export targets and deploy backends (``dse``). All of them follow
the same rules:

* a name is registered once; registering it again is refused in one line;
* names are listed sorted (case aside); an unknown name is refused in one line naming the ones there are;
* an installed package adds entries through the registry's entry-point group, as hls4ml's
  backends do::

      [project.entry-points."adapex.families"]
      mine = "my_pkg:FAMILY"

  The object the entry point names is registered under the entry point's name by the
  kind's own ``register_*`` function, so a plugin's entries are checked as built-in ones
  are (a module that registers its entries when it is imported is fine too). A registry
  reads its group the first time it is asked for its names or for a name it lacks, so an
  installed plugin can be named in a study's TOML config and in every command.

:data:`GROUPS` lists the groups and what each entry point names.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from hw_builders.errors import InputError

T = TypeVar("T")

__all__ = ["GROUPS", "Registry", "RegistryError", "named_entry"]

#: entry-point group -> what its entry points name (and the function that registers it)
GROUPS: dict[str, str] = {
    "adapex.ops": "an OpModel subclass (hw_builders.register_op)",
    "adapex.folding_strategies": "a folding strategy function (hw_builders.register_strategy)",
    "adapex.families": "a Family instance (search_spaces.register_family)",
    "adapex.datasets": "a DatasetSource (search_spaces.register_dataset)",
    "adapex.objectives": "an Objective (dse.objectives.register_objective)",
    "adapex.samplers": "a sampler factory (dse.study.samplers.register_sampler)",
    "adapex.policies": "a runtime Policy (dse.runtime.policies.register_policy)",
    "adapex.export_targets": "an ExportTarget (dse.export.register_target)",
    "adapex.deploy_backends": "a backend factory (dse.deploy.backends.register_backend)",
}


class RegistryError(InputError):
    """A name a registry refuses (taken, unknown, or given by a plugin that did not load)."""


class Registry(dict[str, T]):
    """Named entries of one kind, built-ins and installed plugins (module doc).

    Args:
        register_name: The registering function's name, for its errors
            (``"register_family"``).
        unknown: The message for an unknown name: ``unknown(name, "a, b, c")``.
        group: The entry-point group plugins add entries through (a key of
            :data:`GROUPS`).
        adopt: ``adopt(name, obj)`` registers a plugin's object as ``name``: the kind's own
            register function.
        error: The error class raised (the package's InputError).
        arguments: The library arguments the unknown-name message names between backticks.
    """

    def __init__(
        self,
        register_name: str,
        unknown: Callable[[str, str], str],
        *,
        group: str,
        adopt: Callable[[str, Any], object],
        error: type[InputError] = RegistryError,
        arguments: Sequence[str] = (),
    ) -> None:
        super().__init__()
        if group not in GROUPS:
            raise ValueError(f"group {group!r} is not one of adapex's entry-point groups")
        self.register_name = register_name
        self.unknown = unknown
        self.group = group
        self.error = error
        self.arguments = tuple(arguments)
        self._adopt = adopt
        self._plugins_read = False
        self._failed: dict[str, str] = {}

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name``.

        Raises:
            error: ``name`` is not an identifier, or is registered already.
        """
        self.check_free(name)
        self[name] = entry
        return entry

    def check_free(self, name: str) -> None:
        """Refuse a name that cannot be registered: not an identifier, or taken.

        Raises:
            error: the one line naming the name and the fix.
        """
        if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
            raise self.error(f"{self.register_name}: name={name!r} is not an identifier")
        if dict.__contains__(self, name):
            raise self.error(
                f"{self.register_name}: {name!r} is registered already "
                f"({type(self[name]).__name__}); choose another name"
            )

    def lookup(self, name: str) -> T:
        """The entry registered as ``name`` (installed plugins looked for first).

        Raises:
            error: no entry has that name (the message names the ones there are), or the
                plugin that gives it did not load (the message says which and why).
        """
        if name in self:
            return self[name]
        if isinstance(name, str) and name in self._failed:
            raise self.error(self._failed[name], arguments=self.arguments)
        raise self.error(self.unknown(name, ", ".join(self.names())), arguments=self.arguments)

    def names(self) -> list[str]:
        """Every registered name, installed plugins' included, sorted (case aside)."""
        self.read_plugins()
        return list(self)

    def __contains__(self, name: object) -> bool:
        if not dict.__contains__(self, name):
            self.read_plugins()
        return dict.__contains__(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(dict.keys(self), key=lambda n: (n.lower(), n)))

    def read_plugins(self) -> None:
        """Register the entries of the installed packages' entry points (once per process;
        a plugin that fails is named when its name is asked for)."""
        if self._plugins_read:
            return
        self._plugins_read = True
        for ep in importlib.metadata.entry_points(group=self.group):
            if dict.__contains__(self, ep.name):
                continue
            where = f"plugin {ep.name} ({self.group}: {ep.value})"
            try:
                obj = ep.load()
                if not dict.__contains__(self, ep.name):  # unless it registered on import
                    self._adopt(ep.name, obj)
            except InputError as exc:
                self._failed[ep.name] = f"{where}: {str(exc).splitlines()[0]}"
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the rest
                self._failed[ep.name] = (
                    f"{where} did not load ({type(exc).__name__}: {exc}); fix or uninstall "
                    "the package that provides it"
                )


def named_entry(
    name: str, obj: Any, kind: type[T], what: str, error: type[InputError] = RegistryError
) -> T:
    """``obj`` when it is a ``kind`` called ``name`` (an entry point's object must carry the
    entry point's name); else the one-line refusal.

    Raises:
        error: ``obj`` is not a ``kind``, or is called otherwise.
    """
    if not isinstance(obj, kind):
        raise error(f"the entry point must name {what}, not a {type(obj).__name__}")
    own = getattr(obj, "name", name)
    if own != name:
        raise error(f"the entry point names {what} called {own!r}; give the entry point that name")
    return obj

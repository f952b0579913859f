"""Errors shared by every adapex package.

``InputError`` is the base of every error caused by bad user input (a malformed file, an
unknown name, an out-of-range value). Its message is one line that names the offending
field and says how to fix it; the CLI prints it and exits with status 2. It lives in
hw_builders because that package sits at the bottom of the import order
(hw_builders <- search_spaces <- dse), so every package can subclass it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class InputError(ValueError):
    """Bad user input: one line naming the field and the fix (CLI exit status 2).

    A library function names its own arguments in the message, each between backticks and
    listed in ``arguments`` (``"`out` /x: exists; pass `force`"``); :meth:`for_cli` turns
    them into the command's flags (``--out``, ``--force``), so one message serves both.
    """

    def __init__(self, message: str = "", *, arguments: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.arguments = tuple(arguments)

    def for_cli(self, flags: Mapping[str, str] | None = None) -> str:
        """The message's first line with every named argument as its CLI flag: ``flags``
        maps an argument to its flag, else ``--<argument with dashes>``."""
        text = str(self)
        line = text.splitlines()[0] if text else type(self).__name__
        for name in self.arguments:
            flag = (flags or {}).get(name, "--" + name.replace("_", "-"))
            line = line.replace(f"`{name}`", flag)
        return line


class HwError(InputError):
    """A hardware graph, folding, device or hardware option is invalid."""

"""Errors shared by every adapex package.

``InputError`` is the base of every error caused by bad user input (a malformed file, an
unknown name, an out-of-range value). Its message is one line that names the offending
field and says how to fix it; the CLI prints it and exits with status 2. It lives in
hw_builders because that package sits at the bottom of the import order
(hw_builders <- search_spaces <- dse), so every package can subclass it.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: one line naming the field and the fix (CLI exit status 2)."""


class HwError(InputError):
    """A hardware graph, folding, device or hardware option is invalid."""

"""Errors of dse, by what the user should do about them.

* :class:`DseError` (an ``InputError``): bad input, a config, flag, file or name; one line
  naming it and the fix; the CLI exits with status 2 and changes nothing.
* :class:`StateError`: what is stored, or another worker, conflicts with the request (a
  study made by an older adapex, figures the cost model no longer reproduces, a trial
  another worker failed); one line naming the command that resolves it; exit status 1.
* Anything else is a broken invariant of adapex itself: a traceback to report.
"""

from __future__ import annotations

from hw_builders.errors import InputError


class DseError(InputError):
    """A config, storage, study or pipeline option is invalid."""


class StateError(Exception):
    """Stored or concurrent state conflicts with the request (CLI exit status 1): the
    message is one line naming the command that resolves it."""


class TrialNotRunning(StateError):
    """The trial being completed is no longer RUNNING (failed as stale by another worker)."""

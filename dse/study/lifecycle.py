"""Clean stops: the first Ctrl-C (SIGINT) or SIGTERM lets the running trial finish and be
recorded, then the study stops; a second one aborts at once (Optuna marks the trial FAIL)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

log = logging.getLogger("dse.study")


class StopRequest:
    """Installs SIGINT/SIGTERM handlers for the duration of a ``with`` block."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested:
            log.warning("%s again: aborting the running trial", name)
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = name
        log.warning(
            "%s: stopping after the running trial is recorded (press Ctrl-C again to abort it)",
            name,
        )

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

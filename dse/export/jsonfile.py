"""The export's JSON files and timestamps."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any


def dump_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (inside a folder the export renames into place)."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def utc_now() -> str:
    """The current UTC time to the second, ISO 8601."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")

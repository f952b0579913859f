"""Whether a config may resume a stored study: the keys that may differ, and the first
that does."""

from __future__ import annotations

from typing import Any

__all__ = ["comparable", "first_difference"]

# Config keys that may differ between the stored config and a resumed run.
_RUNTIME_KEYS = {
    ("study", "trials"),
    ("study", "timeout_s"),
    ("storage", "url"),
    ("runtime", "select"),  # how the runtime selects among the designs, not what they are
}


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The config without the keys a resumed run may change (target trials, timeout, URL,
    the runtime's selection objective)."""
    out = {}
    for section, values in config.items():
        if isinstance(values, dict):
            out[section] = {k: v for k, v in values.items() if (section, k) not in _RUNTIME_KEYS}
        else:
            out[section] = values
    return out


def first_difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The first ``section.key`` whose value differs between two configs ("?" if none)."""
    for section in sorted(set(a) | set(b)):
        va, vb = a.get(section), b.get(section)
        if isinstance(va, dict) and isinstance(vb, dict):
            for key in sorted(set(va) | set(vb)):
                if va.get(key) != vb.get(key):
                    return f"{section}.{key}"
        elif va != vb:
            return section
    return "?"

"""Errors of the runtime manager (selection table, traces, simulator)."""

from __future__ import annotations

from dse.errors import DseError


class RuntimeManagerError(DseError):
    """A runtime-manager option or input (table, policy, study content) is invalid."""


class TraceError(RuntimeManagerError):
    """A workload trace (built-in name or user CSV file) is invalid."""

"""Workload traces: built-in smart-IoT scenarios and user CSV files.

A :class:`Trace` is a sequence of equal intervals (``dt_s`` seconds each) with either a mean
input rate per interval (``rates``, inferences per second; arrivals are drawn as Poisson counts
per interval by :meth:`Trace.arrivals`, seeded) or exact arrival counts per interval
(``counts``, from a CSV of arrival timestamps).

Built-in traces (``BUILTIN_TRACES``) are shapes normalised so that their peak rate is 1; scale
them with ``peak_fps`` (the CLI scales to a multiple of the static FINN accelerator's
throughput). All are seeded and deterministic:

* ``smart-iot`` (default): a day of a smart-city edge node mixing camera and traffic events.
* ``camera``: a security camera: quiet nights, a daytime plateau, Poisson-arriving motion bursts.
* ``traffic``: a traffic camera: two rush-hour peaks, weekend-free weekday profile, short bursts.
* ``bursty``: a low base load with frequent strong bursts (stress test for hysteresis).
* ``constant``: a flat rate (sanity baseline).

User CSV files (header required, ``#`` comment lines and blank lines ignored) use one of:

* ``timestamp``: one arrival per row, seconds since the start (any order, >= 0);
* ``start,rate``: piecewise-constant rate (inferences/s) from each start time to the next; the
  last row lasts as long as the row before it (or ``dt_s`` when it is the only row);
* ``interval_s,rate``: consecutive intervals of the given lengths and rates.

A bad row raises :class:`TraceError` with one line naming the file, the line and the fix, e.g.
``trace load.csv line 7: rate 'abc' is not a number; write inferences per second, e.g. 120``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dse.runtime.errors import TraceError

DAY_S = 86_400.0
#: The highest input rate a trace may ask for (inferences per second): far above what any
#: FPGA accelerator serves, and low enough that arrival counts stay exact integers.
MAX_RATE_FPS = 1e12
#: The most intervals a trace may have (--duration-s / --dt-s): 10 million, ~80 MB a series.
MAX_INTERVALS = 10_000_000
DEFAULT_TRACE = "smart-iot"


@dataclass
class Trace:
    """A workload: rates (Poisson arrivals) or exact arrival counts per interval.

    Attributes:
        name: the built-in name or the file name.
        dt_s: interval length in seconds.
        rates: mean input rate per interval (inferences/s), or None when ``counts`` is given.
        counts: exact arrivals per interval, or None when ``rates`` is given.
    """

    name: str
    dt_s: float
    rates: np.ndarray | None = None
    counts: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.rates is None) == (self.counts is None):
            raise TraceError(f"trace {self.name}: give exactly one of rates or counts")
        if not (math.isfinite(self.dt_s) and self.dt_s > 0):
            raise TraceError(f"trace {self.name}: dt_s={self.dt_s!r} must be a positive number")
        if self.rates is not None:
            self.rates = np.asarray(self.rates, dtype=np.float64)
            if self.rates.ndim != 1 or len(self.rates) == 0:
                raise TraceError(f"trace {self.name}: rates must be a non-empty 1-D array")
            if not np.all(np.isfinite(self.rates)) or np.any(self.rates < 0):
                raise TraceError(f"trace {self.name}: rates must be finite and >= 0")
            if np.any(self.rates > MAX_RATE_FPS):
                raise TraceError(
                    f"trace {self.name}: a rate of {float(self.rates.max()):g}/s is above "
                    f"{MAX_RATE_FPS:g}/s; give inferences per second an accelerator could see"
                )
        else:
            self.counts = np.asarray(self.counts, dtype=np.int64)
            if self.counts.ndim != 1 or len(self.counts) == 0 or np.any(self.counts < 0):
                raise TraceError(f"trace {self.name}: counts must be a non-empty array >= 0")

    @property
    def n_intervals(self) -> int:
        """Number of intervals."""
        return len(self.mean_rates())

    @property
    def duration_s(self) -> float:
        """Length of the trace in seconds."""
        return self.n_intervals * self.dt_s

    def mean_rates(self) -> np.ndarray:
        """Mean input rate per interval (inferences/s)."""
        if self.rates is not None:
            return self.rates
        assert self.counts is not None  # a trace holds rates or counts (__post_init__)
        return np.asarray(self.counts / self.dt_s, dtype=np.float64)

    @property
    def peak_fps(self) -> float:
        """Highest mean rate of any interval."""
        return float(self.mean_rates().max())

    def scaled(self, factor: float) -> Trace:
        """The trace with every rate multiplied by ``factor`` (count traces: rates derived)."""
        if not (math.isfinite(factor) and factor >= 0):
            raise TraceError(f"trace {self.name}: scale factor {factor!r} must be >= 0")
        return Trace(self.name, self.dt_s, rates=self.mean_rates() * factor)

    def arrivals(self, seed: int = 0) -> np.ndarray:
        """Arrivals per interval: the exact counts, or Poisson(rate * dt) drawn with ``seed``."""
        if self.counts is not None:
            return self.counts.copy()
        rng = np.random.default_rng(seed)
        return rng.poisson(self.mean_rates() * self.dt_s).astype(np.int64)


# -- built-in smart-IoT traces -------------------------------------------------------------


def _bumps(t: np.ndarray, centres_h: list[float], widths_h: list[float], heights: list[float]):
    out = np.zeros_like(t)
    for c, w, h in zip(centres_h, widths_h, heights, strict=True):
        out += h * np.exp(-0.5 * ((t / 3600.0 - c) / w) ** 2)
    return out


def _bursts(
    rng: np.random.Generator,
    n: int,
    dt_s: float,
    per_hour: np.ndarray,
    mean_len_s: float,
    amp: tuple[float, float],
) -> np.ndarray:
    """Bursts starting as a Poisson process (intensity ``per_hour`` per interval)."""
    out = np.zeros(n)
    starts = np.flatnonzero(rng.random(n) < per_hour * dt_s / 3600.0)
    for s in starts.tolist():
        length = max(1, int(rng.exponential(mean_len_s) / dt_s))
        a = rng.uniform(*amp)
        end = min(n, s + length)
        ramp = np.exp(-np.arange(end - s) * dt_s / max(mean_len_s, dt_s))  # decaying burst
        out[s:end] += a * ramp
    return out


def _daylight(t: np.ndarray) -> np.ndarray:
    h = t / 3600.0
    return 1.0 / (1.0 + np.exp(-(h - 6.5) * 1.5)) * 1.0 / (1.0 + np.exp((h - 20.5) * 1.5))


def _camera(t: np.ndarray, rng: np.random.Generator, dt_s: float) -> np.ndarray:
    base = 0.06 + 0.30 * _daylight(t) + _bumps(t, [12.5], [1.2], [0.12])
    per_hour = 2.0 + 20.0 * _daylight(t)
    return base + _bursts(rng, len(t), dt_s, per_hour, 90.0, (0.3, 0.7))


def _traffic(t: np.ndarray, rng: np.random.Generator, dt_s: float) -> np.ndarray:
    base = 0.04 + 0.18 * _daylight(t) + _bumps(t, [8.0, 17.5], [1.0, 1.3], [0.55, 0.65])
    per_hour = 4.0 + 30.0 * _daylight(t)
    return base + _bursts(rng, len(t), dt_s, per_hour, 30.0, (0.1, 0.35))


def _smart_iot(t: np.ndarray, rng: np.random.Generator, dt_s: float) -> np.ndarray:
    return 0.5 * _camera(t, rng, dt_s) + 0.5 * _traffic(t, rng, dt_s)


def _bursty(t: np.ndarray, rng: np.random.Generator, dt_s: float) -> np.ndarray:
    return 0.1 + _bursts(rng, len(t), dt_s, np.full(len(t), 40.0), 60.0, (0.5, 1.0))


def _constant(t: np.ndarray, rng: np.random.Generator, dt_s: float) -> np.ndarray:
    return np.ones_like(t)


BUILTIN_TRACES: dict[str, Callable[[np.ndarray, np.random.Generator, float], np.ndarray]] = {
    "smart-iot": _smart_iot,
    "camera": _camera,
    "traffic": _traffic,
    "bursty": _bursty,
    "constant": _constant,
}


def builtin_trace(
    name: str = DEFAULT_TRACE,
    *,
    duration_s: float = DAY_S,
    dt_s: float = 1.0,
    seed: int = 0,
    peak_fps: float = 1.0,
) -> Trace:
    """A built-in smart-IoT trace, its peak rate scaled to ``peak_fps``.

    Args:
        name: one of :data:`BUILTIN_TRACES`.
        duration_s: length (default one day); the daily pattern repeats beyond 24 h.
        dt_s: interval length (default 1 s).
        seed: seed of the bursts (arrivals are drawn later, by :meth:`Trace.arrivals`).
        peak_fps: the highest interval rate after scaling.

    Returns:
        The trace (rates per interval).
    """
    check_builtin_name(name)
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise TraceError(f"trace duration {duration_s!r} must be a positive number of seconds")
    if not (math.isfinite(dt_s) and 0 < dt_s <= duration_s):
        raise TraceError(f"trace resolution {dt_s!r} must be in (0, duration]")
    if not (math.isfinite(peak_fps) and peak_fps > 0):
        raise TraceError(f"trace peak rate {peak_fps!r} must be a positive number")
    n = int(round(duration_s / dt_s))
    _check_intervals(n, dt_s)
    t = (np.arange(n) * dt_s) % DAY_S
    rng = np.random.default_rng(seed)
    shape = BUILTIN_TRACES[name](t, rng, dt_s)
    shape = np.maximum(shape, 0.0)
    shape = shape / shape.max()
    return Trace(name, dt_s, rates=shape * peak_fps)


# -- CSV traces ------------------------------------------------------------------------------


def _check_intervals(n: int, dt_s: float) -> None:
    if n > MAX_INTERVALS:
        raise TraceError(
            f"`dt_s` {dt_s:g}: {n:.3g} intervals is more than {MAX_INTERVALS:.3g}; give a "
            "longer interval or a shorter trace",
            arguments=("dt_s",),
        )


def _number(path: Path, line: int, column: str, text: str, fix: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TraceError(
            f"trace {path.name} line {line}: {column} {text!r} is not a number; {fix}"
        ) from None
    if not math.isfinite(value):
        raise TraceError(f"trace {path.name} line {line}: {column} {text!r} is not finite; {fix}")
    return value


def _rates_from_steps(starts: np.ndarray, ends: np.ndarray, rates: np.ndarray, dt_s: float):
    """Average rate per grid interval of a piecewise-constant rate (exact integration)."""
    total = float(ends[-1])
    n = max(1, int(math.ceil(total / dt_s - 1e-9)))
    _check_intervals(n, dt_s)
    grid = np.arange(n + 1) * dt_s
    # cumulative arrivals at the step boundaries, then interpolated at the grid points
    bounds = np.concatenate([[0.0], ends])
    cum = np.concatenate([[0.0], np.cumsum(rates * (ends - starts))])
    cum_grid = np.interp(grid, bounds, cum)
    return np.diff(cum_grid) / dt_s


def load_trace_csv(path: str | os.PathLike, *, dt_s: float = 1.0) -> Trace:
    """Load a user trace (see the module doc for the formats); one-line errors name the line.

    Args:
        path: the CSV file.
        dt_s: resolution of the simulation grid (seconds per interval).

    Returns:
        A count trace (``timestamp`` files) or a rate trace (``start,rate`` / ``interval_s,rate``).
    """
    path = Path(path)
    rows = _csv_rows(path, dt_s)
    header_line, header = rows[0]
    cols = [h.lower() for h in header]
    data = rows[1:]
    if not data:
        raise TraceError(f"trace {path.name}: no data rows after the header; add rows")
    if cols == ["timestamp"]:
        return _timestamp_trace(path, data, dt_s)
    if cols in (["start", "rate"], ["interval_s", "rate"]):
        return _step_trace(path, data, cols[0], dt_s)
    raise TraceError(
        f"trace {path.name} line {header_line}: header {','.join(header)!r} is not a trace "
        "header; use `timestamp`, `start,rate` or `interval_s,rate`"
    )


def _csv_rows(path: Path, dt_s: float) -> list[tuple[int, list[str]]]:
    """The file's non-empty, non-comment rows with their line numbers (the header first)."""
    if path.is_dir():
        raise TraceError(
            f"`trace` {path}: is a folder; give a .csv file in it, or a built-in name",
            arguments=("trace",),
        )
    if not path.is_file():
        raise TraceError(
            f"`trace` {path}: file not found; give a .csv file or a built-in name",
            arguments=("trace",),
        )
    if not (math.isfinite(dt_s) and dt_s > 0):
        raise TraceError(
            f"`dt_s` {dt_s!r}: the trace resolution must be a positive number of seconds",
            arguments=("dt_s",),
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(
            f"trace {path}: cannot be read ({type(exc).__name__}); give a UTF-8 CSV"
        ) from exc
    rows: list[tuple[int, list[str]]] = []
    for lineno, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or all(not f.strip() for f in fields) or fields[0].lstrip().startswith("#"):
            continue
        rows.append((lineno, [f.strip() for f in fields]))
    if not rows:
        raise TraceError(
            f"trace {path.name}: empty; write a header (timestamp | start,rate | interval_s,rate)"
        )
    return rows


def _timestamp_trace(path: Path, data: list[tuple[int, list[str]]], dt_s: float) -> Trace:
    """A count trace from one arrival timestamp per row."""
    ts = []
    for lineno, f in data:
        if len(f) != 1:
            raise TraceError(
                f"trace {path.name} line {lineno}: {len(f)} fields; write one timestamp per line"
            )
        v = _number(path, lineno, "timestamp", f[0], "write seconds since the start, e.g. 12.5")
        if v < 0:
            raise TraceError(
                f"trace {path.name} line {lineno}: timestamp {f[0]!r} is negative; "
                "write seconds since the start (>= 0)"
            )
        ts.append(v)
    times = np.asarray(ts)
    n = max(1, int(math.floor(times.max() / dt_s)) + 1)
    _check_intervals(n, dt_s)
    counts = np.bincount(np.minimum((times / dt_s).astype(np.int64), n - 1), minlength=n)
    return Trace(path.name, dt_s, counts=counts)


def _step_trace(path: Path, data: list[tuple[int, list[str]]], first: str, dt_s: float) -> Trace:
    """A rate trace from ``start,rate`` or ``interval_s,rate`` rows."""
    keys: list[float] = []
    rates: list[float] = []
    for lineno, f in data:
        if len(f) != 2:
            raise TraceError(
                f"trace {path.name} line {lineno}: {len(f)} fields; write {first},rate"
            )
        k = _number(path, lineno, first, f[0], "write seconds, e.g. 60")
        r = _number(path, lineno, "rate", f[1], "write inferences per second, e.g. 120")
        if r < 0:
            raise TraceError(
                f"trace {path.name} line {lineno}: rate {f[1]!r} is negative; write a rate >= 0"
            )
        if first == "start":
            if k < 0 or (keys and k <= keys[-1]):
                raise TraceError(
                    f"trace {path.name} line {lineno}: start {f[0]!r} must be >= 0 and "
                    "greater than the previous start; sort the rows by start"
                )
        elif k <= 0:
            raise TraceError(
                f"trace {path.name} line {lineno}: interval_s {f[0]!r} must be > 0; "
                "write the interval length in seconds"
            )
        keys.append(k)
        rates.append(r)
    kk = np.asarray(keys)
    rr = np.asarray(rates)
    if first == "start":
        last = kk[-1] - kk[-2] if len(kk) > 1 else dt_s
        starts = kk - kk[0]
        ends = np.concatenate([starts[1:], [starts[-1] + last]])
    else:
        ends = np.cumsum(kk)
        starts = ends - kk
    return Trace(path.name, dt_s, rates=_rates_from_steps(starts, ends, rr, dt_s))


def check_builtin_name(name: str) -> None:
    """TraceError naming ``trace`` unless ``name`` is a built-in trace."""
    if name not in BUILTIN_TRACES:
        raise TraceError(
            f"`trace` {name!r} is unknown; use one of {', '.join(BUILTIN_TRACES)} or a .csv file",
            arguments=("trace",),
        )


def is_trace_file(spec: str | os.PathLike | None) -> bool:
    """Whether a ``--trace`` value names a file (or a folder given by mistake) rather than a
    built-in trace: such a value is read, and so checked, before any study data is."""
    if spec is None:
        return False
    s = os.fspath(spec)
    return s.lower().endswith(".csv") or os.sep in s or Path(s).exists()


def get_trace(
    spec: str | os.PathLike | None = None,
    *,
    duration_s: float = DAY_S,
    dt_s: float = 1.0,
    seed: int = 0,
    peak_fps: float = 1.0,
) -> Trace:
    """A built-in trace by name (scaled to ``peak_fps``) or a user CSV file (absolute rates).

    Args:
        spec: a name of :data:`BUILTIN_TRACES`, a path ending in ``.csv``, or None (default).
        duration_s, dt_s, seed, peak_fps: see :func:`builtin_trace` (``dt_s`` also sets the
            resolution of CSV traces).
    """
    if spec is None:
        spec = DEFAULT_TRACE
    s = os.fspath(spec)
    if is_trace_file(s):
        return load_trace_csv(s, dt_s=dt_s)
    return builtin_trace(s, duration_s=duration_s, dt_s=dt_s, seed=seed, peak_fps=peak_fps)

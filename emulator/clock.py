"""The emulator's clock: every time a task is judged by, or a response renders, comes from here.

Two kinds share one interface. `RealClock` follows the wall clock (optionally N times faster);
`VirtualClock` stands still until it is advanced, which lets a test walk a 30-minute lifecycle
in microseconds. Both can be advanced, so a person running the server by hand can also skip
ahead. Tasks keep no timers: moving the clock moves every task at once, because a task's
state is computed from the clock when it is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, Protocol

ClockMode = Literal["real", "virtual"]

# The clock never moves past this moment (9999-01-01T00:00:00Z): every time an API writes,
# an expiry a day or a token lifetime ahead included, must still fit in a four-digit year.
LATEST = 253370764800.0


class Clock(Protocol):
    """Seconds since the Unix epoch, as the emulator sees them."""

    mode: ClockMode

    def now(self) -> float: ...

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` (>= 0); return the new time."""
        ...


def _check_step(seconds: float, now: float) -> None:
    # NaN compares false with everything, so test for the good case.
    if not (0 <= seconds < float("inf")):
        raise ValueError(f"the clock only moves forward by a finite amount, not {seconds!r}")
    if now + seconds > LATEST:
        raise ValueError(
            f"moving the clock {seconds:g} s would take it past 9999-01-01T00:00:00Z, "
            "the latest time it can show"
        )


class RealClock:
    """Wall-clock time, `scale` times faster than real, plus whatever it was advanced by."""

    mode: ClockMode = "real"

    def __init__(self, scale: float = 1.0, source: Callable[[], float] = time.time) -> None:
        if not scale > 0:
            raise ValueError(f"the time scale must be positive, not {scale!r}")
        self._source = source
        self._scale = scale
        self._origin = source()
        self._offset = 0.0

    def now(self) -> float:
        if self._scale == 1.0:
            return self._source() + self._offset
        return self._origin + (self._source() - self._origin) * self._scale + self._offset

    def advance(self, seconds: float) -> float:
        now = self.now()
        _check_step(seconds, now)
        self._offset += seconds
        return now + seconds


class VirtualClock:
    """Frozen time that moves only when advanced. Starts at `start` (default: now)."""

    mode: ClockMode = "virtual"

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        _check_step(seconds, self._now)
        self._now += seconds
        return self._now


def make_clock(mode: ClockMode, *, time_scale: float = 1.0, start: float | None = None) -> Clock:
    if mode == "virtual":
        return VirtualClock(start)
    if mode == "real":
        return RealClock(time_scale)
    raise ValueError(f"unknown clock mode {mode!r}: use 'real' or 'virtual'")

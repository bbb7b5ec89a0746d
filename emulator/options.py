"""The values a person sets a server up with, and their checks, in one light module.

The CLI, the pytest plugin and `EmulatorConfig` all take these; this module imports nothing
heavy, so the pytest plugin can check its options without loading the server (a project
that has the plugin installed pays for it only in tests that use the fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

ValidationMode = Literal["strict", "warn", "off"]
VALIDATION_MODES: tuple[ValidationMode, ...] = ("strict", "warn", "off")
CLOCK_MODES: tuple[str, ...] = ("real", "virtual")

# 9999-01-01T00:00:00Z: the latest time a clock can show (see clock.LATEST).
_LATEST_START = 253370764800.0


def parse_clock_start(raw: object) -> float:
    """Where a virtual clock starts: epoch seconds (a number, or its text) or an ISO 8601
    time (`2026-01-02T03:04:05Z`; a time without an offset is UTC). ValueError says why not."""
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a time: give epoch seconds or an ISO time like 2026-01-02T03:04:05Z")
    if isinstance(raw, (int, float)):
        seconds = float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"{raw!r} is not a time: give epoch seconds or an ISO time like 2026-01-02T03:04:05Z"
                ) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            seconds = moment.timestamp()
    else:
        raise ValueError(f"{raw!r} is not a time: give epoch seconds or an ISO time like 2026-01-02T03:04:05Z")
    if not 0 <= seconds < _LATEST_START:
        raise ValueError(f"{raw!r} is outside the times a clock can show (1970 to 9998)")
    return seconds


def parse_seed(raw: object) -> int:
    """A seed: a whole number, or its text. ValueError says why not."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValueError(f"{raw!r} is not a whole number")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a whole number") from None


# Option types for argparse (a ValueError is its "invalid value" message).
def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError(text)
    return value

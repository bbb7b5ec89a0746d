"""What a fault does, its effect: hold the answer back (`Latency`), answer in the vendor's
place (`ErrorStatus`, `Reset`, `Empty`), or break the answer's body (`Truncate`,
`SlowBody`). Pure values: `faults.py` decides which request gets one, `fault_http.py`
applies it to the request and its answer, `faultspec.py` reads one from JSON or YAML.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

FaultKind = Literal["latency", "error", "reset", "empty", "truncate", "slow_body"]
# The keys each kind takes besides `kind`, the match keys and the selection keys.
PARAMETERS: Mapping[str, tuple[str, ...]] = {
    "latency": ("seconds", "distribution", "min", "max", "mean"),
    "error": ("status", "retry_after"),
    "reset": (),
    "empty": (),
    "truncate": ("fraction",),
    "slow_body": ("chunk_bytes", "interval"),
}
# The longest latency a draw may give (an exponential tail is cut here unless `max` says).
MAX_LATENCY = 600.0
# What a 503 or a 429 tells the client to wait when the rule does not say.
DEFAULT_RETRY_AFTER = 1


@dataclass(frozen=True, slots=True)
class Latency:
    """Hold the answer back: `seconds` exactly, or a draw from `distribution`.

    Wall time whatever the emulator's clock: this is network latency, so a virtual clock
    does not move while a request waits. The wait is an `asyncio.sleep`: other requests are
    answered meanwhile.
    """

    kind: ClassVar[FaultKind] = "latency"
    seconds: float | None = None
    distribution: Literal["uniform", "exponential"] | None = None
    low: float | None = None
    high: float | None = None
    mean: float | None = None

    def draw(self, rng: random.Random) -> float:
        if self.distribution == "uniform":
            assert self.low is not None and self.high is not None
            return rng.uniform(self.low, self.high)
        if self.distribution == "exponential":
            assert self.mean is not None
            cap = MAX_LATENCY if self.high is None else self.high
            return min(rng.expovariate(1 / self.mean), cap) if self.mean > 0 else 0.0
        return self.seconds or 0.0

    def to_json(self) -> dict[str, Any]:
        if self.distribution is None:
            return {"seconds": self.seconds}
        names = {"min": self.low, "max": self.high, "mean": self.mean}
        return {"distribution": self.distribution, **{k: v for k, v in names.items() if v is not None}}


@dataclass(frozen=True, slots=True)
class ErrorStatus:
    """The vendor's own error answer for `status`, with `Retry-After` on a 503 or a 429."""

    kind: ClassVar[FaultKind] = "error"
    status: int
    retry_after: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, **({} if self.retry_after is None else {"retry_after": self.retry_after})}


@dataclass(frozen=True, slots=True)
class Reset:
    """Close the connection abortively (a TCP RST): the client reads no answer at all."""

    kind: ClassVar[FaultKind] = "reset"

    def to_json(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class Empty:
    """Close the connection cleanly without writing a byte."""

    kind: ClassVar[FaultKind] = "empty"

    def to_json(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class Truncate:
    """Send the headers (with the full Content-Length) and `fraction` of the body, then close."""

    kind: ClassVar[FaultKind] = "truncate"
    fraction: float = 0.5

    def cut(self, length: int) -> int:
        """How many body bytes go out: always fewer than all of a non-empty body."""
        return min(int(length * self.fraction), max(length - 1, 0))

    def to_json(self) -> dict[str, Any]:
        return {"fraction": self.fraction}


@dataclass(frozen=True, slots=True)
class SlowBody:
    """The whole answer, its body dribbled out `chunk_bytes` at a time, `interval` apart."""

    kind: ClassVar[FaultKind] = "slow_body"
    chunk_bytes: int = 16
    interval: float = 0.1

    def to_json(self) -> dict[str, Any]:
        return {"chunk_bytes": self.chunk_bytes, "interval": self.interval}


Effect = Latency | ErrorStatus | Reset | Empty | Truncate | SlowBody
# Effects that break the answer's body: decided once the answer is known to have one.
BODY_EFFECTS = (Truncate, SlowBody)

"""What the parts of the Redis store share: the call every round trip goes through (the
store's own, which turns a lost Redis into StoreUnavailable and sets Redis up again when it
comes back empty), and a reply read as text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

# RedisStore._call: runs one Redis call.
Call = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]


def text(value: Any) -> str:
    """A reply as text: redis-py gives bytes (the store does not decode), a script may give a number."""
    return value.decode() if isinstance(value, bytes) else str(value)

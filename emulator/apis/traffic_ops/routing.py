"""What Traffic Ops' router knows of paths (`routing/routing.go`, `routing/routes.go`) and
the body of its one status route (`lib/go-tc/async_status.go`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ...lifecycle import Phase
from .wire import rfc3339nano

if TYPE_CHECKING:
    from ...task import TaskView

# The versions the server has routes in; async routes exist from 4.0 on (routes.go).
KNOWN_VERSIONS = frozenset({(3, 0), (3, 1), (4, 0), (4, 1), (5, 0)})
LOGIN_VERSIONS = frozenset({"3.0", "3.1", "4.0", "4.1", "5.0"})
ASYNC_VERSIONS = frozenset({"4.0", "4.1", "5.0"})
# The methods some route has: a request of any other method goes straight to the catch-all
# 404 (routing.go Handler), whatever its path; so does HEAD, for which there is no route.
ROUTED_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})

ATOI = re.compile(r"[+-]?[0-9]+")  # what strconv.Atoi takes: a sign and digits
_DIGITS = re.compile(r"[0-9]+")

STATUS_BY_PHASE = {
    Phase.SCHEDULED: "PENDING",
    Phase.RUNNING: "PENDING",
    Phase.SUCCEEDED: "SUCCEEDED",
    Phase.FAILED: "FAILED",
}


def atoi(text: str) -> int | None:
    """strconv.Atoi: a sign, decimal digits (leading zeros too), within int64; else None."""
    if not ATOI.fullmatch(text) or len(text.lstrip("+-").lstrip("0")) > 19:
        return None
    number = int(text)
    return number if -(1 << 63) <= number < 1 << 63 else None


def unknown_api_version(path: str) -> bool:
    """routing.IsRequestAPIAndUnknownVersion for a path under /api: no version, or one that
    is not `<major>.<minor>` in decimal (later parts ignored), or one the server lacks."""
    parts = path.split("/")
    if len(parts) < 3:
        return True
    numbers = parts[2].split(".")
    if len(numbers) < 2 or not _DIGITS.fullmatch(numbers[0]) or not _DIGITS.fullmatch(numbers[1]):
        return True
    if any(len(n.lstrip("0")) > 20 or int(n) >= 1 << 64 for n in numbers[:2]):  # ParseUint's range
        return True
    return (int(numbers[0]), int(numbers[1])) not in KNOWN_VERSIONS


def async_status_body(view: TaskView) -> dict[str, Any]:
    """tc.AsyncStatus: end_time and message are pointers with omitempty: left out when there
    is none, written when set, an empty message as "" ."""
    body: dict[str, Any] = {
        "id": int(view.id),
        "status": STATUS_BY_PHASE[view.phase],
        "start_time": rfc3339nano(view.created_at),
    }
    if view.phase.is_terminal:
        body["end_time"] = rfc3339nano(view.entered_at)
    message = view.message
    if message is not None:
        body["message"] = message
    return body

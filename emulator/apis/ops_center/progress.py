"""Where a query stands, as numbers: the `status` counters of a lifecycle step, and how long
a lifecycle still needs to finish by time alone. Pure functions of their inputs.

A scenario gives the query's size (`results.total` resources scanned, `results.matched` of
them matching) and, per step, how far it got (`processed: 40%`, `matched: 3` …). Steps that
say nothing get even shares: nothing while scheduled, the k-th of R running steps k/(R+1)
of the way, everything once succeeded. Each counter is the largest value any step so far
gave it, so a poll never sees a counter fall, whatever order a scenario writes them in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...lifecycle import Lifecycle, Phase, Position

PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True, slots=True)
class Counters:
    """The numbers of a `status` block: 0 <= matched <= processed <= total."""

    total: int
    processed: int
    matched: int
    completed: bool


def amount(value: Any, whole: int) -> int | None:
    """A step's `processed`/`matched` as a count: `40%` of `whole`, or a plain number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    match = PERCENT.match(str(value))
    if match is None:
        return None
    return math.floor(whole * float(match.group(1)) / 100)


def step_counters(lifecycle: Lifecycle, index: int, total: int, matched_total: int) -> Counters:
    """The counters while `lifecycle` is in step `index` (the last step may be terminal)."""
    total = max(0, total)
    matched_total = max(0, min(matched_total, total))
    steps = lifecycle.steps
    running = [i for i, step in enumerate(steps) if step.phase is Phase.RUNNING]
    processed = matched = 0
    for i in range(index + 1):
        step = steps[i]
        if step.phase is Phase.SUCCEEDED:
            processed, matched = total, matched_total
            continue
        given = amount(step.fields.get("processed"), total)
        if given is None:
            if step.phase is Phase.RUNNING:
                share = (running.index(i) + 1) / (len(running) + 1)
                given = math.floor(total * share)
            else:
                given = 0
        processed = max(processed, min(total, given))
        given_matched = amount(step.fields.get("matched"), matched_total)
        if given_matched is None:
            given_matched = math.floor(matched_total * processed / total) if total else 0
        matched = max(matched, min(matched_total, given_matched))
        matched = min(matched, processed)
    completed = steps[index].phase is Phase.SUCCEEDED
    return Counters(total, processed, matched, completed)


def seconds_to_end(lifecycle: Lifecycle, position: Position, now: float) -> float | None:
    """How long after `now` the lifecycle reaches its last step if nobody polls: None when a
    step on the way ends only after status reads (waiting cannot get past it)."""
    steps = lifecycle.steps
    last = len(steps) - 1
    ends_at = position.entered_at
    for index in range(position.index, last):
        duration = steps[index].duration
        if duration is None:
            return None
        ends_at += duration
    return max(0.0, ends_at - now) if position.index < last else 0.0


def wait_seconds(raw: str | None, default: float = 10.0, cap: float = 86_400.0) -> float:
    """The `x-waitTime` header as seconds. Missing or negative means the default (the
    vendor's rule); text that is not a whole number is treated the same way [inf]. A wait
    longer than a day is cut to a day, as no HTTP client waits longer [inf]."""
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        return default
    if value < 0:
        return default
    return float(min(value, cap))


def frozen_counters(fields: Mapping[str, Any]) -> Counters | None:
    """Counters an abort froze into a step (absolute numbers), if this step has them."""
    if not fields.get("aborted"):
        return None
    return Counters(
        int(fields["total"]), int(fields["processed"]), int(fields["matched"]), False
    )

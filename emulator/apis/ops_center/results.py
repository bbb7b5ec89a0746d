"""The resources a query finds and the bodies that carry them. Pure functions of a task's
seed, its scenario's `results:` and the query's time window.

A query's full result list is made from the task's seed alone, row by row from one seeded
Faker, so the first n rows are the same whatever n is: a poll shows the first `matched`
rows, and each later poll shows a superset of the earlier one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ...randomness import faker_for
from .progress import Counters

TIME_FORMAT = "%Y%m%d_%H%M%S"  # the vendor's yyyyMMdd_HHmmss
MAX_POINTS = 1440  # a day of minutes: bounds the body whatever window a query asks for

# The metrics of the vendor's response example: a scalar and a list of time series.
DEFAULT_METRICS: Mapping[str, Mapping[str, Any]] = {
    "memory": {"type": "scalar", "name": "Memory", "unit": ""},
    "cpu Usage": {"type": "timeseries", "name": "cpu usage", "unit": ""},
}
# Memory sizes as the example writes them (a number in a string).
MEMORY_SIZES = (2048, 4096, 8192, 16384, 32768, 65536, 131072, 204800, 262144)
DEFAULT_TOTAL, DEFAULT_MATCHED = 20, 8
DEFAULT_INTERVAL, DEFAULT_POINTS, DEFAULT_NULLS = 60, 12, 0.1


@dataclass(frozen=True, slots=True)
class ResultSpec:
    """A scenario's `results:` with its defaults filled in."""

    total: int = DEFAULT_TOTAL
    matched: int = DEFAULT_MATCHED
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: DEFAULT_METRICS)
    rows: tuple[Mapping[str, Any], ...] | None = None
    interval: int = DEFAULT_INTERVAL
    points: int = DEFAULT_POINTS
    nulls: float = DEFAULT_NULLS

    @classmethod
    def of(cls, results: Mapping[str, Any]) -> ResultSpec:
        rows = results.get("rows")
        literal = tuple(rows) if rows is not None else None
        matched = len(literal) if literal is not None else int(results.get("matched", DEFAULT_MATCHED))
        total = int(results.get("total", max(DEFAULT_TOTAL, matched)))
        return cls(
            total=max(total, matched),
            matched=matched,
            metrics=results.get("metrics", DEFAULT_METRICS),
            rows=literal,
            interval=int(results.get("interval", DEFAULT_INTERVAL)),
            points=int(results.get("points", DEFAULT_POINTS)),
            nulls=float(results.get("nulls", DEFAULT_NULLS)),
        )


@dataclass(frozen=True, slots=True)
class Window:
    """Where the time series of a query start and how many points they hold."""

    start: str
    points: int


@functools.lru_cache(maxsize=1024)  # strptime is slow, and a query's times are read at every poll
def parse_time(text: str) -> datetime:
    """A yyyyMMdd_HHmmss time (read as UTC: the emulator's server time zone [inf])."""
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def format_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime(TIME_FORMAT)


def window(spec: ResultSpec, fields: Mapping[str, Any], created_at: float) -> Window:
    """The query's own window when it gave one (as the vendor example does: the series
    start at the query's startTime); otherwise the last `points` intervals before the
    query, on the emulator clock."""
    start, end = fields.get("startTime"), fields.get("endTime")
    if isinstance(start, str) and start:
        points = spec.points
        if isinstance(end, str) and end:
            span = (parse_time(end) - parse_time(start)).total_seconds()
            points = max(1, min(MAX_POINTS, math.floor(span / spec.interval)))
        return Window(start, points)
    aligned = math.floor(created_at / spec.interval) * spec.interval
    return Window(format_time(aligned - spec.points * spec.interval), spec.points)


def result_rows(seed: int, count: int, spec: ResultSpec, span: Window) -> list[dict[str, Any]]:
    """The first `count` resources the query finds."""
    if spec.rows is not None:
        return [dict(row) for row in spec.rows[:count]]
    fake = faker_for(seed)
    rng = fake.random
    rows = []
    for index in range(count):
        # The vendor example's signature and name differ a little ("vm#cumulus1-lab-vm2"
        # and "cumulus-lab-vm2"): the signature is the collector's key, the name the label.
        host, role = fake.domain_word(), fake.word()
        number = index + 1
        row: dict[str, Any] = {
            "signature": f"vm#{host}{rng.randint(1, 9)}-{role}-vm{number}",
            "name": f"{host}-{role}-vm{number}",
        }
        for key, metric in spec.metrics.items():
            row[key] = _metric(rng, key, metric, spec, span)
        rows.append(row)
    return rows


def _metric(rng: Any, key: str, metric: Mapping[str, Any], spec: ResultSpec, span: Window) -> Any:
    name = str(metric.get("name", key))
    unit = str(metric.get("unit", ""))
    if metric.get("type") == "scalar":
        choices = metric.get("choices")
        if choices:
            data = str(rng.choice(list(choices)))
        elif "memory" in key.lower() or "memory" in name.lower():
            data = str(rng.choice(MEMORY_SIZES))
        else:
            data = str(rng.randint(0, 1000))
        return {"type": "scalar", "name": name, "unit": unit, "data": data}
    low, high = float(metric.get("min", 0)), float(metric.get("max", 100))
    nulls = float(metric.get("nulls", spec.nulls))
    values = [
        None if rng.random() < nulls else round(rng.uniform(low, high), 2)
        for _ in range(span.points)
    ]
    return [
        {
            "type": "timeseries",
            "name": name,
            "unit": unit,
            "interval": int(metric.get("interval", spec.interval)),
            "start": span.start,
            "data": values,
        }
    ]


def status_block(counters: Counters, *, aborted: bool, has_errors: bool) -> dict[str, Any]:
    """`status` in the order of the vendor's example; hasErrors is a string there."""
    return {
        "total": counters.total,
        "matched": counters.matched,
        "processed": counters.processed,
        "completed": counters.completed,
        "aborted": aborted,
        "hasErrors": "true" if has_errors else "false",
    }


def error_body(code: str, message: str) -> dict[str, str]:
    return {"code": code, "error": message}

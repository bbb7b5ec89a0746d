"""The metaocean column list (`schemas/spectrum_discover/metaocean.columns.json`) and the
checks a value or a CSV field must pass to be in a column. One list serves both formats: a
CSV row is the row index then these columns in order, a JSON row an object keyed by them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

COLUMNS_FILE = "spectrum_discover/metaocean.columns.json"
COLUMN_TYPES = frozenset({"varchar", "integer", "bigint", "timestamp"})
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    nullable: bool


def value_problem(column: Column, value: Any) -> str | None:
    """Why `value` cannot be in `column` of a JSON row, or None."""
    if value is None:
        return None if column.nullable else f"{column.name}: null in a column that is never null"
    if column.type in ("integer", "bigint"):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{column.name}: {value!r} is not a whole number"
        return None
    if not isinstance(value, str):
        return f"{column.name}: {value!r} is not text"
    if column.type == "timestamp" and not TIMESTAMP.fullmatch(value):
        return f"{column.name}: {value!r} is not a YYYY-MM-DD HH:MM:SS time"
    return None


def csv_field_problem(column: Column, text: str) -> str | None:
    """Why the CSV field `text` cannot be in `column`, or None (an empty field is a null)."""
    if text == "":
        return None if column.nullable or column.type == "varchar" else f"{column.name}: empty"
    if column.type in ("integer", "bigint"):
        if re.fullmatch(r"-?\d+", text):
            return None
        return f"{column.name}: {text!r} is not a whole number"
    if column.type == "timestamp" and not TIMESTAMP.fullmatch(text):
        return f"{column.name}: {text!r} is not a YYYY-MM-DD HH:MM:SS time"
    return None


def row_problems(columns: Sequence[Column], row: Mapping[str, Any]) -> list[str]:
    """What is wrong with one generated or literal row, checked against the column list."""
    problems = [f"unknown column {name!r}" for name in row if name not in {c.name for c in columns}]
    for column in columns:
        if column.name not in row:
            problems.append(f"{column.name}: missing")
        else:
            problem = value_problem(column, row[column.name])
            if problem:
                problems.append(problem)
    return problems


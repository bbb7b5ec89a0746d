"""metaocean results: what a scenario asks for, the task's rows in order, and the fast way
they are sent as CSV. The column list, the generator and the encoders live beside this
module (`columns`, `generator`, `encoders`); their public names are re-exported here.

Everything here is pure: a result is a function of (results spec, task seed, task creation
time), so the same task gives the same rows however often and in whatever order it is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ...scenario import EMPTY
from .columns import (
    COLUMN_TYPES,
    COLUMNS_FILE,
    Column,
    csv_field_problem,
    row_problems,
    value_problem,
)
from .encoders import (
    ROWS_PER_CHUNK,
    csv_chunks,
    csv_field,
    csv_header_line,
    dict_csv_lines,
    json_chunks,
)
from .generator import GENERATED, MetaoceanGenerator, fkey

DEFAULT_COUNT = 10


def load_columns(path: Path) -> tuple[Column, ...]:
    """The columns of `metaocean.columns.json`, in CSV order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    columns = tuple(Column(c["name"], c["type"], bool(c.get("nullable", False))) for c in data["columns"])
    unknown = [c.type for c in columns if c.type not in COLUMN_TYPES]
    if unknown:
        raise ValueError(f"{path}: unknown column type {unknown[0]!r}")
    missing = sorted(GENERATED - {c.name for c in columns})
    if missing:
        raise ValueError(f"{path}: the generator fills columns the file lacks: {', '.join(missing)}")
    return columns


# ---- what a scenario asks for ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultSpec:
    """`results:` of a scenario: how many rows, the literal ones first, values fixed for all."""

    count: int = DEFAULT_COUNT
    rows: tuple[Mapping[str, Any], ...] = ()
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)

    @classmethod
    def from_scenario(cls, results: Mapping[str, Any]) -> ResultSpec:
        rows = tuple(MappingProxyType(dict(row)) for row in results.get("rows", ()))
        count = results.get("count", len(rows) if rows else DEFAULT_COUNT)
        return cls(int(count), rows, MappingProxyType(dict(results.get("fields", {}))))


def iter_rows(spec: ResultSpec, seed: int, created_at: float) -> ResultRows:
    """The task's rows in order: generated ones, with the literal rows laid over the first."""
    return ResultRows(spec, seed, created_at)


class ResultRows:
    """A task's rows, read one dict at a time; whatever is left can also be read as CSV lines
    (`csv_lines`), the fast way a 100,000-row result is sent."""

    def __init__(self, spec: ResultSpec, seed: int, created_at: float) -> None:
        self._generator = MetaoceanGenerator(seed, created_at, spec.fields)
        self._literal = spec.rows
        self._count = spec.count
        self._index = 0
        self._templates: dict[tuple[Column, ...], str | None] = {}

    def __iter__(self) -> ResultRows:
        return self

    def __next__(self) -> dict[str, Any]:
        index = self._index
        if index >= self._count:
            raise StopIteration
        self._index = index + 1
        row = self._generator.row()
        if index < len(self._literal):
            given = self._literal[index]
            row.update(given)
            if "fkey" not in given:
                row["fkey"] = fkey(row["cluster"], row["datasource"], row["inode"])
        return row

    def csv_lines(self, columns: Sequence[Column], count: int) -> list[str]:
        """The next `count` rows not read yet (fewer at the end) as CSV lines, each led by its
        0-based index: the text `csv_chunks` makes of them. Literal rows, and generated ones
        the generator cannot write directly (see `MetaoceanGenerator.csv_template`), go
        through dicts."""
        key = tuple(columns)
        if key not in self._templates:
            self._templates[key] = self._generator.csv_template(columns)
        template = self._templates[key]
        start = self._index
        stop = min(self._count, start + count)
        if template is None:
            through_dicts = stop
        else:
            through_dicts = min(stop, max(start, len(self._literal)))
        lines = list(dict_csv_lines(islice(self, through_dicts - start), columns, start=start))
        if template is not None and through_dicts < stop:
            self._index = stop
            lines += self._generator.csv_lines(template, through_dicts, stop)
        return lines


def result_csv_chunks(
    head: Sequence[Mapping[str, Any]],
    rest: Iterator[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    header: bool = False,
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> Iterator[bytes]:
    """The bytes of `csv_chunks(chain(head, rest), ...)`, chunk for chunk, made faster: `head`
    the first rows, already read as dicts from `rest`, a `ResultRows` whose remaining rows
    are written straight to CSV. Any other iterator of rows is encoded by the csv module."""
    if not isinstance(rest, ResultRows):
        rows = chain(head, rest)
        yield from csv_chunks(rows, columns, header=header, rows_per_chunk=rows_per_chunk)
        return
    pending = [csv_header_line(columns)] if header else []
    pending += dict_csv_lines(head, columns)
    # csv_chunks counts the header among the lines of the first chunk, but always puts a row
    # after it.
    size = max(rows_per_chunk, 2) if header else rows_per_chunk
    while True:
        if len(pending) < size:
            pending += rest.csv_lines(columns, size - len(pending))
        if not pending:
            return
        # Line by line: most lines are ASCII, which encodes as a copy, whereas one accented
        # name in a joined chunk makes the whole chunk slow to encode.
        yield b"".join([line.encode() for line in pending[:size]])
        del pending[:size]
        size = rows_per_chunk


__all__ = [
    "COLUMNS_FILE",
    "COLUMN_TYPES",
    "Column",
    "ResultRows",
    "ResultSpec",
    "csv_chunks",
    "csv_field",
    "csv_field_problem",
    "fkey",
    "iter_rows",
    "json_chunks",
    "load_columns",
    "result_csv_chunks",
    "row_problems",
    "value_problem",
]

"""metaocean rows as CSV or JSON bytes, a chunk at a time (pure; no server)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .columns import Column

ROWS_PER_CHUNK = 1000
JSON_ROW = json.JSONEncoder(separators=(",", ":"))


def _quoted_by_csv(char: str) -> bool:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([f"a{char}b", ""])
    return buffer.getvalue().startswith('"')


# The characters that make the csv module quote a field. Asked of the module rather than
# written down: with "\n" as line terminator Python 3.11 leaves a lone "\r" unquoted, and
# other versions may not.
CSV_QUOTING_CHARS = "".join(c for c in ',"\r\n' if _quoted_by_csv(c))
CSV_NEEDS_QUOTES = re.compile("[" + re.escape(CSV_QUOTING_CHARS) + "]").search


def csv_field(value: Any) -> str:
    """`value` as the csv module writes it in a row: None empty, quoted only when needed."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return '"' + text.replace('"', '""') + '"' if CSV_NEEDS_QUOTES(text) else text


def csv_header_line(columns: Sequence[Column]) -> str:
    """The header `csv_chunks(header=True)` writes: an empty name over the index, then the
    columns."""
    return ",".join(["", *(csv_field(c.name) for c in columns)]) + "\n"


def dict_csv_lines(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], *, start: int = 0
) -> Iterator[str]:
    """Rows as CSV lines by the csv module, numbered from `start`."""
    names = [c.name for c in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for index, row in enumerate(rows, start):
        writer.writerow([index, *[row.get(name) for name in names]])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def csv_chunks(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    header: bool = False,
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> Iterator[bytes]:
    """UTF-8 CSV, `rows_per_chunk` rows at a time: the 0-based row index, then the columns.

    Quoting is the csv module's (minimal, doubled quotes), which is also what pandas'
    `to_csv` writes; a null is an empty field. [inf] The doc example shows no header row and
    the row index a pandas DataFrame writes, so the server is taken to write pandas-style CSV.
    """
    names = [c.name for c in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(["", *names])
    pending = 1 if header else 0
    for index, row in enumerate(rows):
        writer.writerow([index, *[row.get(name) for name in names]])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode()


def json_chunks(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> Iterator[bytes]:
    """A JSON array of row objects keyed by column name, in column order, a chunk at a time.

    Compact, as IBM's JSON example of `select * from metaocean` is written
    (`{"datasource":"reflib","operation":"INDEX",...}`); non-ASCII characters escaped, as
    Python's and pandas' JSON writers do by default [inf]."""
    names = [c.name for c in columns]
    encode = JSON_ROW.encode
    parts: list[str] = ["["]
    first = True
    for row in rows:
        text = encode({name: row.get(name) for name in names})
        parts.append(text if first else "," + text)
        first = False
        if len(parts) >= rows_per_chunk:
            yield "".join(parts).encode()
            parts = []
    parts.append("]")
    yield "".join(parts).encode()

"""metaocean records: the column list, a seeded generator of realistic rows, and encoders that
turn rows into CSV or JSON a chunk at a time.

Everything here is pure: a result is a function of (results spec, task seed, task creation
time), so the same task gives the same rows however often and in whatever order it is read.
Faker is only used to build small per-task pools (names, words, directories); rows are then
drawn from those pools with `random.Random`, because calling Faker per row would make a
100,000-row result take many seconds.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ...randomness import faker_for
from ...scenario import EMPTY

COLUMNS_FILE = "spectrum_discover/metaocean.columns.json"
COLUMN_TYPES = frozenset({"varchar", "integer", "bigint", "timestamp"})
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
DEFAULT_COUNT = 10
ROWS_PER_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    nullable: bool


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
        return None if re.fullmatch(r"-?\d+", text) else f"{column.name}: {text!r} is not a whole number"
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


def fkey(cluster: Any, datasource: Any, inode: Any) -> str:
    """The record key as the doc example writes it: cluster, data source and inode run together."""
    return f"{cluster}{datasource}{inode}"


# ---- the generator -------------------------------------------------------------------------

# Columns the generator fills; the rest (custom tags) stay null unless a scenario sets them.
GENERATED = frozenset({
    "datasource", "operation", "origin", "site", "nodename", "platform", "cluster", "inode",
    "owner", "group", "permissions", "fileset", "uid", "gid", "path", "filename", "filetype",
    "state", "migloc", "mtime", "atime", "ctime", "inserttime", "pool", "size", "recordversion",
    "fkey",
})
PERMISSIONS = ("-rw-r--r--", "-rw-r--r--", "-rw-r--r--", "-rw-rw-r--", "-rwxr-xr-x", "-rw-------", "-rwxrwxr-x")
# Words that make paths and names hard to quote or decode, mixed into a few of them.
AWKWARD_WORDS = (
    "Größe", "résumé", "Ångström", "データ", "naïve", "São Paulo", "Zürich", "mañana", "Œuvre",
    "Ørsted", "Kraków", "报告",
)
EXTENSIONS = (
    "txt", "csv", "log", "tab", "json", "xml", "pdf", "docx", "xlsx", "png", "jpg", "tif", "h5",
    "nc", "bam", "fastq", "gz", "tar", "py", "sh", "dat", "out", "mp4", "dcm",
)
SECONDS_PER_DAY = 86400
NULL_TAGS: Mapping[str, None] = MappingProxyType({f"tag_{n:02d}": None for n in range(1, 17)})
# The columns that change from row to row, in the order `csv_lines` fills the CSV template;
# every other column holds one value for the whole result.
PER_ROW = (
    "inode", "owner", "group", "permissions", "fileset", "uid", "gid", "path", "filename", "filetype",
    "state", "migloc", "mtime", "atime", "ctime", "inserttime", "size", "fkey",
)
# A time of day is put together from these (minute of the day, then second) rather than
# formatted, four times a row.
CLOCK_MINUTES = tuple(f"{hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60))
CLOCK_SECONDS = tuple(f"{second:02d}" for second in range(60))
TAPES = tuple(f"tape{n:02d}" for n in range(1, 5))


def _pick(items: Sequence[Any], fraction: float) -> Any:
    return items[int(fraction * len(items))]


class MetaoceanGenerator:
    """Rows of one task's result. Built from the task seed; `row()` draws the next one."""

    def __init__(self, seed: int, created_at: float, fixed: Mapping[str, Any] = EMPTY) -> None:
        rng = random.Random(seed)
        fake = faker_for(rng.getrandbits(64))
        self._rng = rng
        self._fixed = dict(fixed)
        datasource = str(fixed.get("datasource") or _datasource_name(fake, rng))
        cluster = str(fixed.get("cluster") or f"{datasource}.{fake.domain_name()}")
        self._datasource = datasource
        self._cluster = cluster
        self._site = f"{fake.lexify('??').upper()}{rng.randint(1, 9)}"
        self._filesets = ("root", "root", *(fake.word() for _ in range(3)))
        self._owners = _owners(fake, rng)
        self._dirs = tuple(_directory(fake, rng, datasource) for _ in range(40))
        self._words = tuple(fake.word() for _ in range(150))
        self._next_inode = rng.randint(2_000_000, 9_000_000)
        # Indexed shortly before the task began; files are older than that.
        self._scan_end = int(created_at) - rng.randint(60, 7 * SECONDS_PER_DAY)
        self._days: dict[int, str] = {}

    def row(self) -> dict[str, Any]:
        # One `random()` per decision, scaled by hand: randint/choice cost several times more,
        # and this runs once per row of results that may hold 100,000 rows.
        draw = self._rng.random
        owner, uid, group, gid = _pick(self._owners, draw())
        filename = self._filename(draw)
        inode = self._next_inode
        self._next_inode += 1 + int(draw() * 12)
        inserttime = self._scan_end - int(draw() * 6 * 3600)
        mtime = inserttime - 3600 - int(draw() * 5 * 365 * SECONDS_PER_DAY)
        span = inserttime - mtime + 1
        ctime = mtime + int(draw() * span)
        atime = mtime + int(draw() * span)
        roll = draw()
        state = "resdnt" if roll < 0.85 else "premig" if roll < 0.93 else "migrtd"
        dot = filename.rfind(".")
        row: dict[str, Any] = {
            "datasource": self._datasource,
            "operation": "INDEX",
            "origin": "SCAN",
            "site": self._site,
            "nodename": None,
            "platform": "Spectrum Scale",
            "cluster": self._cluster,
            "inode": inode,
            "owner": owner,
            "group": group,
            "permissions": _pick(PERMISSIONS, draw()),
            "fileset": _pick(self._filesets, draw()),
            "uid": uid,
            "gid": gid,
            "path": _pick(self._dirs, draw()),
            "filename": filename,
            "filetype": filename[dot + 1:].lower() if dot > 0 else None,
            "state": state,
            "migloc": "NA" if state == "resdnt" else f"tape{1 + int(draw() * 4):02d}",
            "mtime": self._time(mtime),
            "atime": self._time(atime),
            "ctime": self._time(ctime),
            "inserttime": self._time(inserttime),
            "pool": "system",
            "size": 0 if draw() < 0.05 else int(self._rng.lognormvariate(9.5, 2.6)),
            "recordversion": 1,
            "fkey": "",
            **NULL_TAGS,
        }
        if self._fixed:
            row.update(self._fixed)
        row["fkey"] = fkey(row["cluster"], row["datasource"], row["inode"])
        return row

    def _filename(self, draw: Any) -> str:
        # _pick() written out: this runs for every row of both the dict and the CSV path.
        words = self._words
        n = len(words)
        ext = EXTENSIONS[int(draw() * len(EXTENSIONS))]
        roll = draw()
        if roll < 0.02:
            return f'{words[int(draw() * n)]}, {words[int(draw() * n)]} "final".{ext}'
        if roll < 0.04:
            return f"{AWKWARD_WORDS[int(draw() * len(AWKWARD_WORDS))]}_{words[int(draw() * n)]}.{ext}"
        if roll < 0.30:
            return f"{words[int(draw() * n)]}_{1 + int(draw() * 999):03d}.{ext}"
        return f"{words[int(draw() * n)]}.{ext}"

    def _time(self, seconds: int) -> str:
        # Put together by hand (the date part cached) keeps 100,000 rows fast.
        day, rest = divmod(seconds, SECONDS_PER_DAY)
        date = self._days.get(day) or self._date(day)
        return date + CLOCK_MINUTES[rest // 60] + CLOCK_SECONDS[rest % 60]

    def _date(self, day: int) -> str:
        """The date of `day` days after 1970, with the space that follows it, remembered."""
        date = datetime.fromtimestamp(day * SECONDS_PER_DAY, tz=UTC).strftime("%Y-%m-%d ")
        self._days[day] = date
        return date

    # ---- the same rows written straight to CSV ---------------------------------------------

    def csv_template(self, columns: Sequence[Column]) -> str | None:
        """A `%` template for one CSV line of this result: the fields that never change written
        out, a `%s` for the row index and each column of `PER_ROW` (and the inode in the fkey).

        None when the generated rows cannot be written this way: a scenario fixes a column of
        `PER_ROW`, or the column list has them in another order."""
        if any(name in self._fixed for name in PER_ROW):
            return None
        if [c.name for c in columns if c.name in PER_ROW] != list(PER_ROW):
            return None
        unchanging: dict[str, Any] = {
            "datasource": self._datasource, "operation": "INDEX", "origin": "SCAN", "site": self._site,
            "nodename": None, "platform": "Spectrum Scale", "cluster": self._cluster, "pool": "system",
            "recordversion": 1, **self._fixed,
        }
        fields = ["%s"]
        for column in columns:
            if column.name == "fkey":
                # The fkey is the cluster and data source run together with the inode, which
                # is digits: it needs quotes exactly when that prefix does.
                prefix = fkey(unchanging.get("cluster"), unchanging.get("datasource"), "")
                if CSV_NEEDS_QUOTES(prefix):
                    fields.append('"' + prefix.replace('"', '""').replace("%", "%%") + '%s"')
                else:
                    fields.append(prefix.replace("%", "%%") + "%s")
            elif column.name in PER_ROW:
                fields.append("%s")
            else:
                fields.append(csv_field(unchanging.get(column.name)).replace("%", "%%"))
        return ",".join(fields) + "\n"

    def csv_lines(self, template: str, start: int, stop: int) -> list[str]:
        """Rows `start` to `stop` (0-based) as CSV lines from `csv_template`: the same rows
        `row()` would give, from the same draws in the same order, with the per-task pools
        quoted once a call instead of every value every row. A list rather than one line at a
        time, which costs a few percent more."""
        draw = self._rng.random
        lognormal = self._rng.lognormvariate
        filename_of = self._filename
        needs_quotes = CSV_NEEDS_QUOTES
        days = self._days
        minutes, seconds = CLOCK_MINUTES, CLOCK_SECONDS
        owners = tuple((csv_field(o), str(u), csv_field(g), str(i)) for o, u, g, i in self._owners)
        permissions = tuple(csv_field(p) for p in PERMISSIONS)
        filesets = tuple(csv_field(f) for f in self._filesets)
        dirs = tuple(csv_field(d) for d in self._dirs)
        n_owners, n_permissions = len(owners), len(permissions)
        n_filesets, n_dirs = len(filesets), len(dirs)
        # What follows a file name's last dot is one of these (it ends in ".<extension>").
        filetypes = {ext: csv_field(ext.lower()) for ext in EXTENSIONS}
        inode = self._next_inode
        scan_end = self._scan_end
        lines: list[str] = []
        append = lines.append
        for index in range(start, stop):
            # The order of the draws is row()'s; a change there must be made here too (the
            # tests compare both byte for byte).
            owner, uid, group, gid = owners[int(draw() * n_owners)]
            filename = filename_of(draw)
            this_inode = inode
            inode += 1 + int(draw() * 12)
            inserttime = scan_end - int(draw() * 6 * 3600)
            mtime = inserttime - 3600 - int(draw() * 5 * 365 * SECONDS_PER_DAY)
            span = inserttime - mtime + 1
            ctime = mtime + int(draw() * span)
            atime = mtime + int(draw() * span)
            roll = draw()
            state = "resdnt" if roll < 0.85 else "premig" if roll < 0.93 else "migrtd"
            permission = permissions[int(draw() * n_permissions)]
            fileset = filesets[int(draw() * n_filesets)]
            path = dirs[int(draw() * n_dirs)]
            migloc = "NA" if state == "resdnt" else TAPES[int(draw() * 4)]
            size = 0 if draw() < 0.05 else int(lognormal(9.5, 2.6))
            dot = filename.rfind(".")
            if dot > 0:
                suffix = filename[dot + 1:]
                filetype = filetypes.get(suffix) or csv_field(suffix.lower())
            else:
                filetype = ""
            if needs_quotes(filename):
                filename = '"' + filename.replace('"', '""') + '"'
            # The four times by hand, as _time() makes them: a call each costs as much again.
            day, rest = divmod(mtime, SECONDS_PER_DAY)
            m_text = (days.get(day) or self._date(day)) + minutes[rest // 60] + seconds[rest % 60]
            day, rest = divmod(atime, SECONDS_PER_DAY)
            a_text = (days.get(day) or self._date(day)) + minutes[rest // 60] + seconds[rest % 60]
            day, rest = divmod(ctime, SECONDS_PER_DAY)
            c_text = (days.get(day) or self._date(day)) + minutes[rest // 60] + seconds[rest % 60]
            day, rest = divmod(inserttime, SECONDS_PER_DAY)
            i_text = (days.get(day) or self._date(day)) + minutes[rest // 60] + seconds[rest % 60]
            append(template % (
                index, this_inode, owner, group, permission, fileset, uid, gid, path, filename, filetype,
                state, migloc, m_text, a_text, c_text, i_text, size, this_inode,
            ))
        self._next_inode = inode
        return lines


def _datasource_name(fake: Any, rng: random.Random) -> str:
    return f"{fake.word()}{rng.choice(('', 'fs', 'lib', 'data'))}{rng.choice(('', str(rng.randint(1, 9))))}"


def _owners(fake: Any, rng: random.Random) -> tuple[tuple[str, int, str, int], ...]:
    groups = [(fake.word(), 1000 + n * 7 + rng.randint(0, 6)) for n in range(3)]
    owners = [("root", 0, "root", 0)]
    for n in range(7):
        group, gid = rng.choice(groups)
        owners.append((fake.user_name(), 1000 + n * 13 + rng.randint(1, 12), group, gid))
    return tuple(owners)


def _directory(fake: Any, rng: random.Random, datasource: str) -> str:
    parts = [datasource]
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.04:
            parts.append(f"{fake.word().title()}, {rng.randint(2015, 2025)}")
        elif roll < 0.08:
            parts.append(rng.choice(AWKWARD_WORDS))
        elif roll < 0.25:
            parts.append(f"{fake.word()}-{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}")
        elif roll < 0.35:
            parts.append(fake.user_name())
        else:
            parts.append(fake.word())
    return "/" + "/".join(parts) + "/"


# ---- encoders ------------------------------------------------------------------------------


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
    """The header `csv_chunks(header=True)` writes: an empty name over the index, then the columns."""
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
    """A JSON array of row objects keyed by column name, in column order, a chunk at a time."""
    names = [c.name for c in columns]
    parts: list[str] = ["["]
    first = True
    for row in rows:
        text = json.dumps({name: row.get(name) for name in names})
        parts.append(text if first else ", " + text)
        first = False
        if len(parts) >= rows_per_chunk:
            yield "".join(parts).encode()
            parts = []
    parts.append("]")
    yield "".join(parts).encode()

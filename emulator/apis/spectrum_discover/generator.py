"""A seeded generator of realistic metaocean rows, as dicts or written straight to CSV.

Pure: the rows are a function of (task seed, task creation time, fixed fields). Faker is only
used to build small per-task pools (names, words, directories); rows are then drawn from those
pools with `random.Random`, because calling Faker per row would make a 100,000-row result take
many seconds.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from ...randomness import faker_for
from ...scenario import EMPTY
from .columns import Column
from .encoders import CSV_NEEDS_QUOTES, csv_field


def fkey(cluster: Any, datasource: Any, inode: Any) -> str:
    """The record key as the doc example writes it: cluster, data source and inode run together."""
    return f"{cluster}{datasource}{inode}"


# Columns the generator fills; the rest (custom tags) stay null unless a scenario sets them.
GENERATED = frozenset({
    "datasource", "operation", "ingesttype", "revision", "site", "platform", "cluster", "inode",
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
        # The doc example's revision is MO1; generated ones are shaped like it.
        self._revision = f"{fake.lexify('??').upper()}{rng.randint(1, 9)}"
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
            "ingesttype": "SCAN",
            "revision": self._revision,
            "site": "",  # empty in IBM's examples (CSV and JSON)
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
            "datasource": self._datasource, "operation": "INDEX", "ingesttype": "SCAN",
            "revision": self._revision, "site": "", "platform": "Spectrum Scale",
            "cluster": self._cluster, "pool": "system",
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

"""metaocean rows: the column list, the seeded generator and the chunked encoders (no server)."""

from __future__ import annotations

import csv
import io
import json
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from emulator.apis.spectrum_discover.metaocean import (
    COLUMNS_FILE,
    Column,
    ResultSpec,
    csv_chunks,
    csv_field,
    csv_field_problem,
    iter_rows,
    json_chunks,
    load_columns,
    result_csv_chunks,
    row_problems,
)
from emulator.resources import builtin_schemas
from emulator.state import load_schemas

from .helpers import CLOCK_START

COLUMNS = load_columns(builtin_schemas() / COLUMNS_FILE)
SCHEMAS = load_schemas()


def test_the_column_list_and_the_row_schemas_agree() -> None:
    partial = json.loads((builtin_schemas() / "spectrum_discover/metaocean_partial_row.schema.json").read_text())
    full = json.loads((builtin_schemas() / "spectrum_discover/metaocean_row.schema.json").read_text())
    assert list(partial["properties"]) == [c.name for c in COLUMNS]
    assert full["required"] == [c.name for c in COLUMNS]
    for column in COLUMNS:
        kind = partial["properties"][column.name]["type"]
        kinds = set(kind) if isinstance(kind, list) else {kind}
        assert ("null" in kinds) == column.nullable, column.name
        expected = "integer" if column.type in ("integer", "bigint") else "string"
        assert kinds - {"null"} == {expected}, column.name


def test_the_column_list_matches_the_doc_example_width() -> None:
    # The doc's rows have the index, 27 system fields and 16 empty tag fields.
    assert len(COLUMNS) == 43
    # The first names as IBM's JSON example of select * from metaocean shows them.
    assert [c.name for c in COLUMNS][:6] == ["datasource", "operation", "ingesttype", "revision", "site", "platform"]
    assert COLUMNS[-17].name == "fkey"


def test_a_column_list_missing_a_generated_column_is_refused(tmp_path: Path) -> None:
    data = json.loads((builtin_schemas() / COLUMNS_FILE).read_text())
    data["columns"] = [c for c in data["columns"] if c["name"] != "inode"]
    path = tmp_path / "cols.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="inode"):
        load_columns(path)


def test_generated_rows_fit_the_column_list_and_the_schema() -> None:
    rows = list(iter_rows(ResultSpec(count=2000), seed=1, created_at=CLOCK_START))
    assert all(not row_problems(COLUMNS, row) for row in rows)
    assert SCHEMAS.violation("spectrum_discover/results.schema.json", rows[:300]) is None
    # Realistic: one data source and cluster, fkey from them, times before the task began.
    assert {row["datasource"] for row in rows} == {rows[0]["datasource"]}
    assert all(row["fkey"] == f"{row['cluster']}{row['datasource']}{row['inode']}" for row in rows)
    assert all(row["path"].startswith(f"/{row['datasource']}/") and row["path"].endswith("/") for row in rows)
    assert all(row["mtime"] <= row["ctime"] <= row["inserttime"] < "2026-01-02 03:04:05" for row in rows)
    assert len({row["inode"] for row in rows}) == 2000
    assert len({row["owner"] for row in rows}) > 3


def test_rows_depend_on_the_seed_only() -> None:
    spec = ResultSpec(count=50)
    assert list(iter_rows(spec, 5, CLOCK_START)) == list(iter_rows(spec, 5, CLOCK_START))
    assert list(iter_rows(spec, 5, CLOCK_START)) != list(iter_rows(spec, 6, CLOCK_START))


def test_literal_rows_come_first_over_generated_ones() -> None:
    spec = ResultSpec.from_scenario({"count": 4, "rows": [{"filename": "a,b.txt", "inode": 7}], "fields": {"datasource": "lab"}})
    rows = list(iter_rows(spec, 1, CLOCK_START))
    assert len(rows) == 4
    assert rows[0]["filename"] == "a,b.txt" and rows[0]["inode"] == 7
    assert rows[0]["fkey"] == f"{rows[0]['cluster']}lab7"
    assert {row["datasource"] for row in rows} == {"lab"}
    assert ResultSpec.from_scenario({}).count == 10
    assert ResultSpec.from_scenario({"rows": [{}, {}]}).count == 2
    assert len(list(iter_rows(ResultSpec.from_scenario({"rows": [{}, {}], "count": 1}), 1, CLOCK_START))) == 1


def test_csv_quotes_awkward_values_and_starts_with_the_row_index() -> None:
    awkward = {"path": '/lab/Q3, 2024 "final"/', "filename": "Größe_データ.csv", "site": None}
    spec = ResultSpec.from_scenario({"rows": [awkward]})
    text = b"".join(csv_chunks(iter_rows(spec, 1, CLOCK_START), COLUMNS)).decode("utf-8")
    assert '"/lab/Q3, 2024 ""final""/"' in text
    [row] = list(csv.reader(io.StringIO(text)))
    assert row[0] == "0" and row[15] == awkward["path"] and row[16] == awkward["filename"] and row[5] == ""
    assert text.endswith("\n") and "\r" not in text


def test_csv_header_is_optional() -> None:
    rows = list(iter_rows(ResultSpec(count=2), 1, CLOCK_START))
    text = b"".join(csv_chunks(rows, COLUMNS, header=True)).decode()
    assert text.split("\n")[0] == "," + ",".join(c.name for c in COLUMNS)


def test_encoders_make_bounded_chunks_lazily() -> None:
    rows = iter_rows(ResultSpec(count=100_000), 1, CLOCK_START)
    chunks = csv_chunks(rows, COLUMNS, rows_per_chunk=500)
    first = list(islice(chunks, 3))
    assert [chunk.count(b"\n") for chunk in first] == [500, 500, 500]
    # Only what was asked for was made: the generator is 1500 rows in, not 100,000.
    assert next(rows)["inode"] > 0
    assert sum(1 for _ in islice(rows, 10)) == 10


def test_json_chunks_join_into_one_array() -> None:
    rows = list(iter_rows(ResultSpec(count=25), 1, CLOCK_START))
    chunks = list(json_chunks(rows, COLUMNS, rows_per_chunk=10))
    assert len(chunks) == 3
    parsed = json.loads(b"".join(chunks))
    assert [list(row) for row in parsed] == [[c.name for c in COLUMNS]] * 25
    # Compact, as IBM's example: no space after a comma or a colon anywhere outside values.
    assert b"".join(chunks) == json.dumps(parsed, separators=(",", ":")).encode()
    assert json.loads(b"".join(json_chunks([], COLUMNS))) == []


@pytest.mark.parametrize("column, text, ok", [
    (Column("inode", "bigint", False), "123", True),
    (Column("inode", "bigint", False), "12a", False),
    (Column("inode", "bigint", False), "", False),
    (Column("mtime", "timestamp", False), "2016-11-14 19:40:10", True),
    (Column("mtime", "timestamp", False), "2016-11-14T19:40:10", False),
    (Column("site", "varchar", True), "", True),
])
def test_csv_field_checks(column: Column, text: str, ok: bool) -> None:
    assert (csv_field_problem(column, text) is None) is ok


# ---- the direct CSV path: the bytes the csv module makes of the dict rows ------------------------


def fast_csv(spec: ResultSpec, seed: int, created_at: float, *, read: int = 0, **options: Any) -> list[bytes]:
    """The chunks the server sends: `read` rows first taken as dicts, the rest written directly."""
    rows = iter_rows(spec, seed, created_at)
    head = list(islice(rows, read))
    return list(result_csv_chunks(head, rows, options.pop("columns", COLUMNS), **options))


def reference_csv(spec: ResultSpec, seed: int, created_at: float, **options: Any) -> list[bytes]:
    return list(csv_chunks(iter_rows(spec, seed, created_at), options.pop("columns", COLUMNS), **options))


@pytest.mark.parametrize("seed", [1, 2, 7, 2**63 + 5])
@pytest.mark.parametrize("created_at", [CLOCK_START, 1_500_000_000.75])
@pytest.mark.parametrize("header", [False, True])
def test_generated_rows_written_directly_are_the_csv_modules_bytes(
    seed: int, created_at: float, header: bool
) -> None:
    spec = ResultSpec(count=2345)
    # 100 rows read as dicts first, as the server does to check them; chunks of 1000 lines
    # with the header counted among them, as csv_chunks makes them.
    expected = reference_csv(spec, seed, created_at, header=header)
    assert fast_csv(spec, seed, created_at, read=100, header=header) == expected


@pytest.mark.parametrize("read, rows_per_chunk", [(0, 7), (3, 1), (150, 64), (2000, 1000)])
def test_the_direct_path_matches_whatever_was_read_first_and_however_it_is_chunked(
    read: int, rows_per_chunk: int
) -> None:
    spec = ResultSpec(count=1000)
    expected = reference_csv(spec, 3, CLOCK_START, header=True, rows_per_chunk=rows_per_chunk)
    assert fast_csv(spec, 3, CLOCK_START, read=read, header=True, rows_per_chunk=rows_per_chunk) == expected


def test_the_direct_path_covers_awkward_names_quotes_and_commas() -> None:
    spec = ResultSpec(count=3000)
    text = b"".join(fast_csv(spec, 11, CLOCK_START)).decode()
    assert text.encode() == b"".join(reference_csv(spec, 11, CLOCK_START))
    filenames = [row[16] for row in csv.reader(io.StringIO(text))]
    # The generator's hard cases all occur in 3,000 rows, so the comparison above covers them.
    assert any('"final"' in name and ", " in name for name in filenames)
    assert any(not name.isascii() for name in filenames)
    assert '""final"".' in text


def test_scenario_fields_and_literal_rows_keep_their_bytes() -> None:
    awkward = {"path": '/lab/Q3, 2024 "final"/', "filename": "a\rb\nc.txt", "site": 'n"1', "size": 5}
    fixed = {"datasource": "lab, 2", "cluster": 'c"1%s', "tag_01": "gold", "revision": 7, "pool": None}
    # The second fixes a column that changes every row: those results go through dicts.
    for fields in (fixed, {**fixed, "owner": "amy"}):
        spec = ResultSpec.from_scenario({"count": 1500, "rows": [awkward, {}, {"inode": 3}], "fields": fields})
        expected = reference_csv(spec, 4, CLOCK_START, header=True)
        for read in (0, 2, 100):
            assert fast_csv(spec, 4, CLOCK_START, read=read, header=True) == expected


def test_other_column_lists_keep_their_bytes() -> None:
    spec = ResultSpec(count=1200)
    extra = (*COLUMNS[:5], Column("project, name", "varchar", True), *COLUMNS[5:])
    for columns in (extra, COLUMNS[::-1], COLUMNS[:20]):
        expected = reference_csv(spec, 5, CLOCK_START, header=True, columns=columns)
        assert fast_csv(spec, 5, CLOCK_START, read=100, header=True, columns=columns) == expected


def test_rows_from_elsewhere_are_encoded_by_the_csv_module() -> None:
    rows = list(iter_rows(ResultSpec(count=30), 1, CLOCK_START))
    chunks = list(result_csv_chunks(rows[:10], iter(rows[10:]), COLUMNS, rows_per_chunk=8))
    assert chunks == list(csv_chunks(rows, COLUMNS, rows_per_chunk=8))


def test_the_direct_path_is_lazy_and_an_empty_result_is_empty_or_the_header() -> None:
    assert fast_csv(ResultSpec(count=0), 1, CLOCK_START) == []
    header = ("," + ",".join(c.name for c in COLUMNS) + "\n").encode()
    assert fast_csv(ResultSpec(count=0), 1, CLOCK_START, header=True) == [header]
    rows = iter_rows(ResultSpec(count=5000), 1, CLOCK_START)
    first = list(islice(result_csv_chunks([], rows, COLUMNS, rows_per_chunk=500), 2))
    assert [chunk.count(b"\n") for chunk in first] == [500, 500]
    # Only what was asked for was made.
    assert sum(1 for _ in rows) == 4000


@pytest.mark.parametrize(
    "value", ["plain", "a,b", 'say "hi"', "line\nbreak", "car\rriage", "", None, 7, 2.5, True, "Größe"]
)
def test_csv_field_quotes_as_the_csv_module_does(value: Any) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([value, "x"])
    assert csv_field(value) + ",x\n" == buffer.getvalue()

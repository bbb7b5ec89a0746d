"""Hostile requests and the request journal: whatever a client sends, the journal keeps a
bounded amount of it (in entries and in bytes), and no credential, however it is written.

What the bounds save in a server's memory is measured by `python -m tests.hostile_memory`
(figures in docs/reliability.md); here, what the journal itself holds.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from emulator.journal import (
    BODY_LIMIT,
    CUT_HEADER,
    HEADER_COUNT_LIMIT,
    HEADER_VALUE_LIMIT,
    Journal,
)
from emulator.redact import REDACTED, redact_body

from .conftest import MakeClient
from .helpers import Client, runtime_of

KB = 1024


def record(journal: Journal, *, body: bytes = b"", headers: Any = None, path: str = "/nowhere") -> None:
    journal.record(
        time=0.0, api=None, task=None, method="POST", url=URL(path),
        headers=CIMultiDictProxy(CIMultiDict(headers or {})), body=body, status=404,
    )


def held(make: Any, count: int) -> int:
    """The bytes a journal holds after `count` records made by `make(journal, index)`: each
    record's input is made fresh and dropped, so only what the journal keeps remains."""
    journal = Journal()
    gc.collect()
    tracemalloc.start()
    try:
        for index in range(count):
            make(journal, index)
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_a_long_body_is_cut_when_recorded_not_when_read() -> None:
    kept = held(lambda journal, i: record(journal, body=bytes([65 + i % 26]) * (256 * KB)), 40)
    assert kept < 40 * 16 * KB  # 4 KB of text each (two bytes a character with the "…"), not 10 MB


def test_many_or_long_headers_are_cut_when_recorded() -> None:
    def make(journal: Journal, index: int) -> None:
        record(journal, headers=[(f"X-Pad-{n}", f"{index}" * 4000) for n in range(100)])

    kept = held(make, 30)
    assert kept < 30 * 40 * KB  # not the 12 MB sent


def test_a_cut_copy_keeps_the_first_headers_redacted_and_says_how_many_went() -> None:
    journal = Journal()
    headers = [("Authorization", "Bearer " + "s" * 5000), ("Content-Type", "application/json")]
    headers += [(f"X-Pad-{n}", "v" * 100) for n in range(200)]
    record(journal, headers=headers, body=b'{"p": "s3cret"}')
    entry = journal.entries()[0]
    assert entry.headers["Authorization"] == REDACTED
    assert len(entry.headers) <= HEADER_COUNT_LIMIT + 1
    assert entry.headers[CUT_HEADER].endswith("more headers not kept")
    assert all(len(value) <= HEADER_VALUE_LIMIT + 40 for value in entry.headers.values())
    assert entry.body == {"p": REDACTED}


def test_the_journal_is_bounded_in_bytes_dropping_the_oldest() -> None:
    journal = Journal(limit=10_000, max_bytes=200 * KB)
    for index in range(500):
        record(journal, body=b"x" * BODY_LIMIT, path=f"/n/{index}")
        assert journal.bytes <= journal.max_bytes
    kept = journal.entries()
    assert 10 < len(kept) < 50
    assert [entry.seq for entry in kept] == list(range(501 - len(kept), 501))
    journal.clear()
    assert journal.bytes == 0 and len(journal) == 0
    with pytest.raises(ValueError, match="at least one byte"):
        Journal(max_bytes=0)


def test_a_poll_is_kept_by_reference() -> None:
    """The poll's path stays cheap: small headers are neither copied nor cut."""
    journal = Journal()
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": "Basic ZnJlZDpmcmVk", "Accept": "*/*"}))
    journal.record(time=0.0, api="ops_center", task=None, method="GET", url=URL("/dbapi.do"),
                   headers=headers, body=b"", status=200)
    assert journal._recorded[0].headers is headers


# ---- over HTTP ------------------------------------------------------------------------------


async def journal_text(client: Client) -> str:
    return json.dumps((await (await client.get("/_emulator/requests")).json())["requests"])


async def test_a_megabyte_body_to_any_path_is_kept_as_4_kb(client: Client) -> None:
    body = b'{"note": "' + b"n" * (1000 * KB) + b'", "password": "s3cret"}'
    for path in ("/nowhere", "/api/4.0/async_status/1", "/api/4.0/user/login"):
        await client.post(path, data=body)
    entries = (await (await client.get("/_emulator/requests")).json())["requests"]
    assert len(entries) == 3
    assert all(isinstance(e["body"], str) and len(e["body"]) <= BODY_LIMIT + 1 for e in entries)
    assert entries[2]["body"].startswith("[not kept: ")  # a login route's: all or nothing
    assert runtime_of(client).journal.bytes < 3 * 8 * KB


# A failed or odd login, as a client might send it: each must be kept without the password.
LOGINS = [
    ("JSON", b'{"u": "admin", "p": "PW-s3cret"}', "application/json"),
    ("JSON cut short", b'{"u": "admin", "p": "PW-s3cret', "application/json"),
    ("an escaped key cut short", b'{"u":"admin","\\u0070":"PW-s3cret"', "application/json"),
    ("an escaped key", b'{"u":"admin","\\u0070":"PW-s3cret"}', "application/json"),
    ("single quotes", b"{'u': 'admin', 'p': 'PW-s3cret'}", "application/json"),
    ("a form without its content type", b"u=admin&p=PW-s3cret", "text/plain"),
    ("a form with a percent-encoded key", b"u=admin&%70=PW-s3cret", "application/x-www-form-urlencoded"),
    ("a bare key", b"{u: admin, p: PW-s3cret}", "text/plain"),
    ("a JSON string holding a form", b'"u=admin&p=PW-s3cret"', "application/json"),
    ("a nested password", b'{"auth": {"user": {"name": "x", "Password": "PW-s3cret"}}}', "application/json"),
    ("too deep for the parser", b'{"p": "PW-s3cret", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json"),
]


@pytest.mark.parametrize(("body", "content_type"), [(b, c) for _, b, c in LOGINS], ids=[n for n, _, _ in LOGINS])
@pytest.mark.parametrize("path", ["/api/4.0/user/login", "/api/4.0/user/login/token", "/v3/auth/tokens", "/nowhere"])
async def test_no_password_reaches_the_journal_however_it_is_written(
    client: Client, path: str, body: bytes, content_type: str
) -> None:
    await client.post(path, data=body, headers={"Content-Type": content_type})
    text = await journal_text(client)
    assert "PW-s3cret" not in text
    assert REDACTED in text or "[not kept: " in text


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"select * from metaocean where p=1", "select * from metaocean where p=1"),
        (b'{"path": "obs://bucket/a", "p": 1}', {"path": "obs://bucket/a", "p": REDACTED}),
        (b"a=1&token=T0K&b=2", f"a=1&token={REDACTED}&b=2"),
        (b'{"access_token": "T0K", "refresh_token": "T0K", "client_secret": "T0K"}',
         {"access_token": REDACTED, "refresh_token": REDACTED, "client_secret": REDACTED}),
    ],
)
def test_only_secrets_are_blanked(body: bytes, shown: Any) -> None:
    assert redact_body(body) == shown


def test_a_login_body_that_reads_as_neither_json_nor_a_form_is_not_kept() -> None:
    assert redact_body(b"{'u': 'admin', 'p': 'x'}", credentials=True).startswith("[not kept: ")
    assert redact_body(b"u=admin&p=x", credentials=True) == f"u=admin&p={REDACTED}"


async def test_secret_headers_and_query_parameters_are_redacted(make_client: MakeClient) -> None:
    client = await make_client()
    await client.get(
        "/nowhere?access_token=Q1-s3cret&apiKey=Q2-s3cret&keep=yes",
        headers={"X-Security-Token": "H1-s3cret", "X-Api-Key": "H2-s3cret", "X-Keep": "yes"},
    )
    text = await journal_text(client)
    assert "s3cret" not in text and '"keep": "yes"' in text and '"X-Keep": "yes"' in text

"""`task-emulator verify --har` and `--journal`: files recorded elsewhere, checked by the same
rules as a live run. A HAR file holds whole answers (bodies maybe base64); the emulator's
journal holds requests and status codes, not response bodies, and says so."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.cli import main
from emulator.config import EmulatorConfig
from emulator.testing import TaskEmulator


def har_entry(response: requests.Response, *, as_base64: bool = False) -> dict[str, Any]:
    """A HAR 1.2 entry of a `requests` exchange, as a browser or proxy exports one."""
    request = response.request
    body = request.body.encode() if isinstance(request.body, str) else request.body
    content: dict[str, Any] = {
        "size": len(response.content),
        "mimeType": response.headers.get("Content-Type", ""),
    }
    if as_base64:
        content.update(text=base64.b64encode(response.content).decode(), encoding="base64")
    else:
        content["text"] = response.content.decode("utf-8")
    return {
        "startedDateTime": "2026-01-02T03:04:05.000Z",
        "time": 1,
        "request": {
            "method": request.method,
            "url": request.url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in request.headers.items()],
            "queryString": [],
            "headersSize": -1,
            "bodySize": len(body or b""),
            **(
                {"postData": {"mimeType": "application/json", "text": body.decode()}}
                if body
                else {}
            ),
        },
        "response": {
            "status": response.status_code,
            "statusText": response.reason,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in response.headers.items()],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(response.content),
        },
        "cache": {},
        "timings": {"send": 0, "wait": 1, "receive": 0},
    }


def har(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}
    }


@pytest.fixture
def emulator() -> Any:
    with TaskEmulator.start(EmulatorConfig(clock="virtual")) as running:
        yield running


def traffic_ops_session(emulator: TaskEmulator) -> list[dict[str, Any]]:
    """A client's whole session with Traffic Ops as HAR entries: login, renewal, polls."""
    creds = emulator.credentials("traffic_ops")
    http = requests.Session()
    entries = [
        har_entry(
            http.post(
                f"{emulator.url}/api/4.0/user/login",
                json={"u": creds["username"], "p": creds["password"]},
            )
        )
    ]
    started = http.post(f"{emulator.url}/api/4.0/acme_autorenew")
    entries.append(har_entry(started))
    for _ in range(3):
        entries.append(
            har_entry(http.get(emulator.url + started.headers["Location"]), as_base64=True)
        )
        emulator.advance(30)
    return entries


def verify(capsys: pytest.CaptureFixture[str], api: str, *arguments: str) -> tuple[int, str]:
    code = main(["verify", "--api", api, *arguments])
    return code, capsys.readouterr().out


def test_a_har_file_of_a_good_session_passes(
    emulator: TaskEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "session.har"
    path.write_text(json.dumps(har(traffic_ops_session(emulator))))
    code, out = verify(capsys, "traffic_ops", "--har", str(path))
    assert code == 0, out
    assert "phases of task 2: PENDING x2 -> SUCCEEDED" in out
    assert out.splitlines()[-1] == "6 checks, 0 failed"


def test_a_har_file_of_a_drifted_session_fails_naming_each_drift(
    emulator: TaskEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = traffic_ops_session(emulator)
    # The provider went back from its end: a PENDING after SUCCEEDED (a correct digest).
    again = copy.deepcopy(entries[-1])
    pending = json.loads(base64.b64decode(again["response"]["content"]["text"]))
    pending["response"]["status"] = "PENDING"
    del pending["response"]["end_time"]
    raw = (json.dumps(pending, separators=(",", ":")) + "\n").encode()
    again["response"]["content"]["text"] = base64.b64encode(raw).decode()
    for header in again["response"]["headers"]:
        if header["name"] == "Whole-Content-Sha512":
            header["value"] = base64.b64encode(hashlib.sha512(raw).digest()).decode()
    entries.append(again)
    # And a poll whose id became text (its digest now stale too).
    wrong = copy.deepcopy(entries[2])
    body = json.loads(base64.b64decode(wrong["response"]["content"]["text"]))
    body["response"]["id"] = str(body["response"]["id"])
    wrong["response"]["content"] = {"text": json.dumps(body), "mimeType": "application/json"}
    entries.insert(3, wrong)
    path = tmp_path / "drifted.har"
    path.write_text(json.dumps(har(entries)))
    code, out = verify(capsys, "traffic_ops", "--har", str(path))
    assert code == 1
    assert 'body $.response.id: expected type integer, got string "2"' in out
    assert "header Whole-Content-Sha512: expected the base64 SHA-512 of the body" in out
    assert (
        "sequence answer 5 phase: expected SUCCEEDED (a task never leaves an end), "
        "got PENDING after SUCCEEDED" in out
    )


def test_a_har_entry_without_an_answer_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {
        "startedDateTime": "2026-01-02T03:04:05Z",
        "request": {
            "method": "GET",
            "url": "http://to.example/api/4.0/async_status/3",
            "headers": [],
        },
        "response": {
            "status": 0,
            "headers": [],
            "content": {"size": 0},
            "_error": "net::ERR_CONNECTION_RESET",
        },
    }
    path = tmp_path / "broken.har"
    path.write_text(json.dumps(har([entry])))
    code, out = verify(capsys, "traffic_ops", "--har", str(path))
    assert code == 1
    assert "status status: expected 200, got no answer (net::ERR_CONNECTION_RESET)" in out


@pytest.mark.parametrize(
    "text", ["not json", '{"log": {}}', '{"log": {"entries": [{"request": {}}]}}']
)
def test_a_file_that_is_not_har_is_a_usage_error(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.har"
    path.write_text(text)
    assert main(["verify", "--api", "traffic_ops", "--har", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("task-emulator: --har: ")


def spectrum_journal(emulator: TaskEmulator) -> dict[str, Any]:
    """The journal after a script ran a query to its end: token, query, peeks, task_status."""
    creds = emulator.credentials("spectrum_discover")
    token = requests.get(
        f"{emulator.url}/auth/v1/token", auth=(creds["username"], creds["password"])
    ).headers["X-Auth-Token"]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    location = http.get(
        f"{emulator.url}/db2whrest/v1/sql_query_async?select * from metaocean"
    ).headers["Location"]
    for _ in range(6):
        http.get(location + "/peek")
        http.get(location, allow_redirects=False)
        emulator.advance(3)
    journal: dict[str, Any] = requests.get(f"{emulator.url}/_emulator/requests").json()
    return journal


def test_a_journal_export_passes_on_what_it_holds_and_says_what_it_lacks(
    emulator: TaskEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(spectrum_journal(emulator)))
    code, out = verify(capsys, "spectrum_discover", "--journal", str(path))
    assert code == 0, out
    assert "the source keeps no response bodies" in out
    assert "the source keeps no response headers" in out
    # Phases read from the status codes: two "still working", then done (the rows).
    assert re.search(r"ok    phases of task [0-9a-f-]{36}: 303 x2 -> 200 x4\n", out), out


def test_a_drifted_journal_fails(
    emulator: TaskEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = spectrum_journal(emulator)
    statuses = [
        e
        for e in journal["requests"]
        if e["path"].count("/") == 4 and e["path"].startswith("/db2whrest/v1/task_status/")
    ]
    first_done = next(i for i, e in enumerate(statuses) if e["status"] == 200)
    assert first_done < len(statuses) - 1
    statuses[first_done + 1]["status"] = 303  # not done any more, after done
    statuses[0]["violation"] = (
        "spectrum_discover/status.schema.json: at $.status: 'error' should not be valid"
    )
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(journal))
    code, out = verify(capsys, "spectrum_discover", "--journal", str(path))
    assert code == 1
    assert "got 303 after 200" in out
    assert (
        "body $: expected a body that fits its schema (the emulator's verdict), "
        "got spectrum_discover/status" in out
    )

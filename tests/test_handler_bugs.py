"""A bug in a vendor handler: the client gets the vendor's own 500 body, the journal keeps
the answer, the log has the traceback, and the server goes on answering."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from emulator.engine import Engine

from .conftest import MakeClient
from .helpers import runtime_of


def broken_observe(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("a bug in the engine")


@pytest.mark.parametrize("with_faults", [False, True])
async def test_a_handler_bug_is_the_vendors_500_and_journaled(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, with_faults: bool
) -> None:
    client = await make_client()
    runtime = runtime_of(client)
    if with_faults:  # a fault that matches nothing this request does: the fault path still runs
        client_fault = {"kind": "error", "status": 500, "api": "dataarts"}
        assert (await client.post("/_emulator/faults", json=client_fault)).status == 201
    monkeypatch.setattr(Engine, "observe", broken_observe)
    with caplog.at_level(logging.ERROR, logger="task_emulator"):
        answer = await client.get(
            "/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344",
            headers={"Authorization": "Basic ZnJlZDpmcmVk"},
        )
    assert answer.status == 500
    body = await answer.json()
    assert set(body) == {"code", "error"} and body["code"] == "720600E2"
    assert "Traceback" not in await answer.text()
    assert any("raised instead of answering" in r.getMessage() and r.exc_info for r in caplog.records)
    assert "ZnJlZDpmcmVk" not in caplog.text
    monkeypatch.undo()
    entries = runtime.journal.entries(api="ops_center")
    assert [e.to_json()["status"] for e in entries] == [500]
    # The server goes on.
    again = await client.get(
        "/dbapi.do?action=getStatus&dataset=defaultDs&requestId=12344",
        headers={"Authorization": "Basic ZnJlZDpmcmVk"},
    )
    assert again.status in (200, 206)

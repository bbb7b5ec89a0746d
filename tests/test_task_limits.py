"""What a server holds is bounded: tasks in number, and each task's fields in size. Past a
bound a vendor request gets the vendor's own error body, the control API a clear 4xx, and
nothing already there changes."""

from __future__ import annotations

from .conftest import MakeClient
from .helpers import runtime_of

OPS = {"Authorization": "Basic ZnJlZDpmcmVk"}
QUERY = "/dbapi.do?action=query&dataset=defaultDs&processSync=false"
BODY = {"query": "vm[*]", "startTime": "20260101_000000", "endTime": "20260101_010000"}


async def test_the_task_limit_answers_the_vendors_503_and_a_reset_frees_room(make_client: MakeClient) -> None:
    client = await make_client(task_limit=12)
    runtime = runtime_of(client)
    room = 12 - runtime.engine.count()  # the preloaded tasks count too
    assert room > 0
    for _ in range(room):
        assert (await client.post(QUERY, json=BODY, headers={**OPS, "x-waitTime": "0"})).status in (200, 206)
    before = runtime.engine.count()
    full = await client.post(QUERY, json=BODY, headers={**OPS, "x-waitTime": "0"})
    assert full.status == 503
    assert set(await full.json()) == {"code", "error"}  # Ops Center's own error body
    control = await client.post("/_emulator/tasks", json={"api": "traffic_ops", "scenario": "acme-autorenew"})
    assert control.status == 429
    assert "task limit" in (await control.json())["error"] and "--task-limit" in (await control.json())["error"]
    assert runtime.engine.count() == before
    assert [e.to_json()["status"] for e in runtime.journal.entries(api="ops_center")][-1] == 503
    await client.post("/_emulator/reset")
    assert (await client.post(QUERY, json=BODY, headers={**OPS, "x-waitTime": "0"})).status in (200, 206)


async def test_a_task_keeps_at_most_64_kib_of_fields(make_client: MakeClient) -> None:
    client = await make_client()
    runtime = runtime_of(client)
    before = runtime.engine.count()
    huge = {**BODY, "query": "vm[*] " + "x" * 70_000}
    answer = await client.post(QUERY, json=huge, headers={**OPS, "x-waitTime": "0"})
    assert answer.status == 500 and set(await answer.json()) == {"code", "error"}
    control = await client.post(
        "/_emulator/tasks", json={"api": "traffic_ops", "scenario": "acme-autorenew", "fields": {"message": "m" * 70_000}}
    )
    assert control.status == 413
    assert (await control.json())["error"] == "the task's fields hold 70,000 characters: a task keeps at most 65,536"
    assert runtime.engine.count() == before

"""Ops Center's x-waitTime on a real clock: a query or getStatus request is held until its
query is over or the wait ends, sleeping from one step boundary to the next, without holding
up other requests, and let go at once when the server stops. On a virtual clock nothing is
held. The assertions are about what is answered and how often a hold woke, never about how
long anything took; the clock runs 100 times faster so the real waits stay short."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from emulator.apis.ops_center import OpsCenter
from emulator.apis.ops_center.hold import Holder
from emulator.app import create_app
from emulator.config import EmulatorConfig
from emulator.serving import Listener, ServeLimits
from emulator.state import build_runtime

from .conftest import MakeClient
from .helpers import Client, runtime_of, write

FRED = {"Authorization": "Basic ZnJlZDpmcmVk"}
SCALE = 100.0
# Ends by reads only: no wait gets past the running step.
POLLED = """\
api: ops_center
name: polled
trigger: {method: POST, path: /dbapi.do, when: {body.query: "polled*"}}
lifecycle:
  - {phase: running, polls: 3}
  - phase: succeeded
results: {total: 4, matched: 2}
"""


def waiting(seconds: str) -> dict[str, str]:
    return {**FRED, "x-waitTime": seconds}


async def poll(client: Client, request_id: str, wait: str) -> Any:
    """getStatus of `request_id` with `x-waitTime: <wait>`."""
    return await client.get(status_url(request_id), headers=waiting(wait))


def status_url(request_id: str) -> str:
    return f"/dbapi.do?action=getStatus&dataset=defaultDs&requestId={request_id}"


def ops_center(client: Client) -> OpsCenter:
    api = runtime_of(client).apis["ops_center"]
    assert isinstance(api, OpsCenter)
    return api


def record_sleeps(holder: Holder, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The real seconds each nap of `holder` was asked to last."""
    naps: list[float] = []
    sleep = holder._sleep

    async def recorded(task: Any, seconds: float) -> None:
        naps.append(seconds)
        await sleep(task, seconds)

    monkeypatch.setattr(holder, "_sleep", recorded)
    return naps


async def until_held(holder: Holder, count: int = 1) -> None:
    """Until `count` requests are held (a test that waits in vain fails rather than hangs)."""
    for _ in range(10_000):
        if holder.holding >= count:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{count} request(s) never got held")


async def query(
    client: Client, text: str = "vm[~memory]", wait: str | None = None
) -> tuple[int, Any]:
    headers = dict(FRED) if wait is None else {**FRED, "x-waitTime": wait}
    url = "/dbapi.do?action=query&dataset=defaultDs"
    response = await client.post(url, json={"query": text}, headers=headers)
    return response.status, json.loads(await response.read())


async def real_client(make_client: MakeClient, tmp_path: Path) -> Client:
    write(tmp_path, "polled.yaml", POLLED)
    return await make_client(clock="real", time_scale=SCALE, scenario_paths=(tmp_path,))


async def test_a_query_is_held_until_it_completes_waking_at_each_step_boundary(
    make_client: MakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await real_client(make_client, tmp_path)
    naps = record_sleeps(ops_center(client).holder, monkeypatch)
    # vm-metrics: 2 s scheduled, three 20 s running steps: done within a 100 s wait.
    status, body = await query(client, wait="100")
    assert status == 200 and "requestId" not in body
    assert body["status"]["completed"] is True and len(body["result"]) == 8
    # A nap to each step's end, never past it (to the 100 s deadline), and no busy loop: at
    # most one per step, and one more where a timer fires a hair early.
    assert 1 <= len(naps) <= 8
    assert all(nap <= 20 / SCALE for nap in naps)


async def test_a_query_not_done_within_its_wait_gets_a_request_id(
    make_client: MakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await real_client(make_client, tmp_path)
    naps = record_sleeps(ops_center(client).holder, monkeypatch)
    status, body = await query(client, wait="10")
    assert status == 206 and body["requestId"]
    assert body["status"]["completed"] is False
    # Woken at the end of the first step (2 s), then slept to the end of the wait (10 s).
    assert naps[0] <= 2 / SCALE and sum(naps) == pytest.approx(10 / SCALE, rel=0.5)
    # Created when it was asked for, not booked back: it is 10 s into its 62 s.
    task = runtime_of(client).engine.get("ops_center", body["requestId"])
    assert runtime_of(client).engine.clock.now() - task.created_at < 62


@pytest.mark.parametrize("header", [None, "-5", "soon"])
async def test_no_negative_or_unreadable_wait_means_ten_seconds(
    make_client: MakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, header: str | None
) -> None:
    client = await real_client(make_client, tmp_path)
    naps = record_sleeps(ops_center(client).holder, monkeypatch)
    status, _ = await query(client, "polled one", wait=header)
    assert status == 206
    # A step that ends by reads cannot be waited past: one nap, to the end of the wait.
    assert len(naps) == 1 and naps[0] == pytest.approx(10 / SCALE, rel=0.5)


async def test_a_wait_of_zero_answers_at_once(
    make_client: MakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await real_client(make_client, tmp_path)
    naps = record_sleeps(ops_center(client).holder, monkeypatch)
    status, body = await query(client, wait="0")
    assert status == 206 and body["status"]["processed"] == 0
    response = await client.get(status_url(body["requestId"]), headers={**FRED, "x-waitTime": "0"})
    assert response.status == 206
    assert naps == []


async def test_get_status_is_held_too_and_counts_as_one_read(
    make_client: MakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await real_client(make_client, tmp_path)
    _, body = await query(client, wait="0")
    naps = record_sleeps(ops_center(client).holder, monkeypatch)
    response = await client.get(status_url(body["requestId"]), headers=waiting("3600"))
    assert response.status == 200
    done = json.loads(await response.read())
    assert done["status"]["completed"] is True and "requestId" not in done
    assert 1 <= len(naps) <= 8 and all(nap <= 20 / SCALE for nap in naps)
    task = runtime_of(client).engine.get("ops_center", body["requestId"])
    assert task.reads == 1


async def test_a_poll_of_a_finished_query_is_not_held(
    make_client: MakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await real_client(make_client, tmp_path)
    naps = record_sleeps(ops_center(client).holder, monkeypatch)
    response = await client.get(status_url("12344"), headers={**FRED, "x-waitTime": "3600"})
    assert response.status == 200 and naps == []


async def test_a_held_request_holds_up_no_other_and_ends_when_the_server_stops(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = await make_client(clock="real", scenario_paths=(write(tmp_path, "p.yaml", POLLED),))
    api = ops_center(client)
    _, body = await query(client, "polled one", wait="0")
    # A day's wait on a step no wait gets past.
    held = asyncio.ensure_future(poll(client, body["requestId"], "86400"))
    await until_held(api.holder)
    # Meanwhile other requests are answered, another held one included.
    assert (await client.get(status_url("12344"), headers=FRED)).status == 200
    second = asyncio.ensure_future(client.get(status_url(body["requestId"]), headers=FRED))
    await until_held(api.holder, 2)
    assert not held.done() and not second.done()
    api.shutdown()
    for answer in (held, second):
        response = await answer
        assert response.status == 206
        assert json.loads(await response.read())["status"]["completed"] is False
    assert api.holder.holding == 0
    # Once stopping, nothing is held any more.
    assert (await client.get(status_url(body["requestId"]), headers=FRED)).status == 206


async def test_an_abort_answers_the_request_held_on_that_query(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = await make_client(clock="real", scenario_paths=(write(tmp_path, "p.yaml", POLLED),))
    api = ops_center(client)
    _, first = await query(client, "polled one", wait="0")
    _, other = await query(client, "polled two", wait="0")
    held = asyncio.ensure_future(poll(client, first["requestId"], "86400"))
    kept = asyncio.ensure_future(poll(client, other["requestId"], "86400"))
    await until_held(api.holder, 2)
    abort = f"/dbapi.do?action=abortRequest&dataset=defaultDs&requestId={first['requestId']}"
    assert (await client.get(abort, headers=FRED)).status == 200
    response = await held
    assert response.status == 200
    assert json.loads(await response.read())["status"]["aborted"] is True
    # The other query's request is still held.
    assert api.holder.holding == 1 and not kept.done()
    api.shutdown()
    assert (await kept).status == 206


async def held_query(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the server on `port`, with a query sent on it that waits a day."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b'{"query": "polled one"}'
    writer.write(
        b"POST /dbapi.do?action=query&dataset=defaultDs HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Basic ZnJlZDpmcmVk\r\nx-waitTime: 86400\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    return reader, writer


async def test_stopping_the_server_answers_held_requests_at_once(tmp_path: Path) -> None:
    """Through aiohttp's own shutdown: the API's `shutdown` registered on the app's
    on_shutdown signal (as create_app is to do) runs before aiohttp waits for the handlers
    in flight, so a held request does not keep the server up."""
    config = EmulatorConfig(clock="real", scenario_paths=(write(tmp_path, "polled.yaml", POLLED),))
    runtime = build_runtime(config)
    app = create_app(runtime=runtime)
    api = runtime.apis["ops_center"]
    assert isinstance(api, OpsCenter)

    async def stop_holding(app: web.Application) -> None:
        api.shutdown()

    app.on_shutdown.append(stop_holding)
    runner = web.AppRunner(app, shutdown_timeout=3600)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    reader, writer = await held_query(port)
    await until_held(api.holder)
    # A shutdown timeout of an hour: only the release lets cleanup finish.
    await asyncio.wait_for(runner.cleanup(), timeout=30)
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 206")
    assert b'"requestId"' in answer


async def test_a_listener_answers_held_requests_before_its_grace_period(tmp_path: Path) -> None:
    """Through serving.Listener, which serves `task-emulator serve` and the fixtures: it sends
    on_shutdown before its grace period, so a held request is answered, not cut with a
    reset once the grace period (an hour here) is over."""
    config = EmulatorConfig(clock="real", scenario_paths=(write(tmp_path, "polled.yaml", POLLED),))
    runtime = build_runtime(config)
    api = runtime.apis["ops_center"]
    assert isinstance(api, OpsCenter)
    listener = Listener(create_app(runtime=runtime), ServeLimits(shutdown_grace=3600), access_log=False)
    port = await listener.start("127.0.0.1", 0)
    reader, writer = await held_query(port)
    await until_held(api.holder)
    cut = await asyncio.wait_for(listener.stop(), timeout=30)
    answer = await reader.read()
    writer.close()
    assert cut == []
    assert answer.startswith(b"HTTP/1.1 206")

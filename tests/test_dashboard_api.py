"""What the dashboard stands on, over HTTP: its files (served without the admin token, with
a strict Content-Security-Policy) and the read-only parts of the control API it uses (pages
of tasks, the newest journal entries, lifecycles as data)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from emulator.ui import STATIC, load_static

from .conftest import MakeClient
from .helpers import Client, runtime_of

ROOT = Path(__file__).resolve().parent.parent
TOKEN = {"Authorization": "Bearer t0ken"}


async def test_the_page_and_its_files_need_no_token_but_the_api_does(make_client: MakeClient) -> None:
    client = await make_client(admin_token="t0ken")
    moved = await client.get("/_emulator/ui", allow_redirects=False)
    assert (moved.status, moved.headers["Location"]) == (301, "/_emulator/ui/")
    page = await client.get("/_emulator/ui/")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert '<script type="module" src="app.js">' in await page.text()
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css"), ("timeline.js", "text/javascript")):
        response = await client.get(f"/_emulator/ui/{name}")
        assert response.status == 200 and response.headers["Content-Type"].startswith(kind), name
    assert (await client.get("/_emulator/tasks")).status == 401
    assert (await client.get("/_emulator/tasks", headers=TOKEN)).status == 200


async def test_only_the_dashboard_files_are_served(client: Client) -> None:
    for path in ("/_emulator/ui/nope.js", "/_emulator/ui/..%2F__init__.py", "/_emulator/ui/%2e%2e/control.py"):
        response = await client.get(path)
        assert response.status == 404, path
    assert (await client.get("/_emulator/ui/app.js/x")).status == 404


async def test_an_unchanged_file_is_answered_304(client: Client) -> None:
    first = await client.get("/_emulator/ui/app.js")
    again = await client.get("/_emulator/ui/app.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304 and await again.read() == b""
    assert first.headers["Cache-Control"] == "no-cache"


def test_every_file_in_the_folder_is_served_and_no_other() -> None:
    on_disk = {p.name for p in STATIC.iterdir() if p.suffix in (".html", ".js", ".css")}
    assert set(load_static()) == on_disk
    assert {"index.html", "app.js", "api.js", "dom.js", "journal.js", "timeline.js", "style.css"} <= on_disk


def test_no_file_reaches_for_the_network() -> None:
    # Served by the emulator itself: no CDN, no font service, no absolute URL to fetch.
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        for needle in ("http://", "https://", "//cdn", "@import", "url("):
            if needle in text:
                assert path.name == "timeline.js" and needle == "http://", (path.name, needle)


async def test_tasks_come_in_pages(client: Client) -> None:
    engine = runtime_of(client).engine
    scenario = engine.scenario("traffic_ops", "acme-autorenew")
    for _ in range(30):
        engine.create_task(scenario)
    everything = (await (await client.get("/_emulator/tasks")).json())["tasks"]
    first = await (await client.get("/_emulator/tasks", params={"limit": 10})).json()
    assert [t["id"] for t in first["tasks"]] == [t["id"] for t in everything[:10]]
    assert first["next_offset"] == 10
    last = await (await client.get("/_emulator/tasks", params={"limit": 10, "offset": len(everything) - 4})).json()
    assert [t["id"] for t in last["tasks"]] == [t["id"] for t in everything[-4:]]
    assert last["next_offset"] is None
    exact = await (await client.get("/_emulator/tasks", params={"limit": len(everything)})).json()
    assert exact["next_offset"] is None


async def test_pages_of_filtered_tasks(client: Client) -> None:
    engine = runtime_of(client).engine
    for name in ("acme-autorenew", "dnssec-refresh", "acme-autorenew"):
        engine.create_task(engine.scenario("traffic_ops", name))
    query = {"api": "traffic_ops", "scenario": "acme-autorenew", "phase": "scheduled", "limit": 1}
    first = await (await client.get("/_emulator/tasks", params=query)).json()
    second = await (await client.get("/_emulator/tasks", params={**query, "offset": first["next_offset"]})).json()
    ids = [t["id"] for t in first["tasks"] + second["tasks"]]
    assert len(set(ids)) == 2 and second["next_offset"] is None
    assert {t["scenario"] for t in first["tasks"] + second["tasks"]} == {"acme-autorenew"}
    refused = await client.get("/_emulator/tasks", params={"offset": "-1"})
    assert refused.status == 400 and "offset" in (await refused.json())["error"]


async def test_a_late_page_of_many_tasks_is_cheap(make_client: MakeClient) -> None:
    client = await make_client(task_limit=None)
    engine = runtime_of(client).engine
    scenario = engine.scenario("traffic_ops", "acme-autorenew")
    for _ in range(100_000):
        engine.create_task(scenario)
    started = time.perf_counter()
    page = await (await client.get("/_emulator/tasks", params={"limit": 25, "offset": 99_990})).json()
    elapsed = time.perf_counter() - started
    assert len(page["tasks"]) == engine.count() - 99_990 and page["next_offset"] is None
    # Skipped tasks are not observed: well under the time of observing 100,000 of them.
    assert elapsed < 0.5, f"a late page took {elapsed:.2f}s"


async def test_the_newest_journal_entries(client: Client) -> None:
    for path in ("/api/4.0/async_status/1", "/api/4.0/async_status/2", "/nowhere", "/api/4.0/async_status/3"):
        await client.get(path)
    everything = (await (await client.get("/_emulator/requests")).json())["requests"]
    assert len(everything) == 4
    newest = (await (await client.get("/_emulator/requests", params={"limit": 2})).json())["requests"]
    assert newest == everything[-2:]
    after = (await (await client.get("/_emulator/requests", params={"after": everything[1]["seq"]})).json())["requests"]
    assert after == everything[2:]
    none = (await (await client.get("/_emulator/requests", params={"after": everything[-1]["seq"]})).json())["requests"]
    assert none == []
    one_api = await (await client.get("/_emulator/requests", params={"limit": 10, "api": "traffic_ops"})).json()
    assert all(e["api"] == "traffic_ops" for e in one_api["requests"])
    assert (await client.get("/_emulator/requests", params={"limit": "0"})).status == 400


async def test_lifecycles_and_positions_as_data(client: Client) -> None:
    scenarios = (await (await client.get("/_emulator/scenarios")).json())["scenarios"]
    by_name: dict[tuple[str, str], Any] = {(s["api"], s["name"]): s for s in scenarios}
    assert by_name[("spectrum_discover", "sql-query")]["steps"] == [
        {"phase": "scheduled", "for": 2.0, "polls": 1},
        {"phase": "running", "for": 10.0, "polls": 3},
        {"phase": "succeeded", "for": None, "polls": None},
    ]
    split = by_name[("dataarts", "import-jobs-one-fails")]
    assert split["steps"] == [] and len(split["subtasks"]) == 2
    assert all(sub["steps"][-1]["for"] is None for sub in split["subtasks"])

    made = await client.post("/_emulator/tasks", json={"api": "traffic_ops", "scenario": "acme-autorenew"})
    task = await made.json()
    assert (task["step"], task["step_entered_at"], task["step_reads_at"], task["forced"]) == (
        0, task["created_at"], 0, False,
    )
    await client.get(f"/api/4.0/async_status/{task['id']}")  # unauthenticated: not a read
    await client.post("/_emulator/clock/advance", json={"seconds": 7})
    moved = await (await client.get(f"/_emulator/tasks/traffic_ops/{task['id']}")).json()
    assert (moved["step"], moved["step_entered_at"]) == (1, task["created_at"] + 5)
    forced = await client.post(f"/_emulator/tasks/traffic_ops/{task['id']}/transition", json={"phase": "failed"})
    body = await forced.json()
    assert (body["forced"], body["step"], body["step_entered_at"]) == (True, 0, task["created_at"] + 7)

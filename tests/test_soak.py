"""Soak: 500 concurrent pollers over loopback against `task-emulator serve`, for about a
dozen seconds, mixed with control calls (create, advance, transition, reset).

The run is in rounds. Each round resets the server, creates tasks of every API (some
forced to fail at once), lets the pollers at them while the virtual clock moves on in
steps and some failing tasks are forced to succeed, then moves the clock past every
lifecycle and checks each task is in the phase its lifecycle (or the forced transition)
says. Preloaded tasks are polled throughout, resets included: a reset brings them back.

Every answer must be one its task's state allows (status and body); not one request may
fail. The journal is a ring buffer: it never holds more than --journal-limit entries, and
the server's memory stays bounded.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

POLLERS = 500
SOAK_SECONDS = 13.0
JOURNAL_LIMIT = 2000
TASKS_PER_SCENARIO = 4
CLOCK_STEPS = 6  # per round, of STEP_SECONDS each
ROUND_SECONDS = 6.0  # about what a round takes while the pollers keep the server busy
STEP_SECONDS = 15
AFTER_EVERYTHING = 4 * 3600  # seconds: past every lifecycle used here
# Resident memory the server may gain between the first round and the end.
RSS_GROWTH_LIMIT_MB = 64

BASIC_SD = "Basic " + base64.b64encode(b"sdadmin:Passw0rd").decode()
AUTH = {
    "spectrum_discover": {"Authorization": BASIC_SD, "X-ALLOW-BASIC-AUTH-SD": "true"},
    "ops_center": {"Authorization": "Basic ZnJlZDpmcmVk"},
    "dataarts": {"X-Auth-Token": "emulator-iam-token"},
}
# Scenarios whose every step ends by time, and the phase each ends in.
SCENARIOS = {
    "traffic_ops": {"acme-autorenew": "succeeded", "acme-autorenew-fails": "failed"},
    "spectrum_discover": {"sql-query": "succeeded", "sql-query-undefined-table": "failed"},
    "ops_center": {"vm-metrics": "succeeded", "query-fails": "failed"},
    "dataarts": {"doc-import-solution": "succeeded", "import-job-obs-unreadable": "failed"},
}
IN_PROGRESS = {
    "traffic_ops": "PENDING", "spectrum_discover": ("work scheduled", "work in progress"), "dataarts": "RUNNING",
}
DONE = {
    "traffic_ops": {"succeeded": "SUCCEEDED", "failed": "FAILED"},
    "spectrum_discover": {"succeeded": "work complete", "failed": "work failed"},
    "dataarts": {"succeeded": "SUCCESSFUL", "failed": "FAILED"},
}


@dataclass(frozen=True)
class Target:
    """A task the pollers read, and what its answers may say."""

    api: str
    id: str
    path: str
    # The phases the task may show an end in: none for preloaded tasks (checked loosely),
    # one for a task bound for it, both for a task forced to succeed mid-round.
    ends: frozenset[str] = frozenset()
    round: int = 0  # 0: preloaded

    def problem(self, status: int, body: bytes) -> str | None:
        """Why this answer cannot be right for this task, or None."""
        try:
            data = json.loads(body) if body[:1] in (b"{", b"[") else None
        except ValueError:
            return f"{status}: not JSON: {body[:80]!r}"
        if self.api == "ops_center":
            allowed = {206} | ({200} if "succeeded" in self.ends or not self.ends else set())
            if "failed" in self.ends or not self.ends:
                allowed.add(500)
            if status not in allowed or (status == 500 and (data or {}).get("code") != "720600E2"):
                return f"{status}: {body[:120]!r}"
            return None
        if status != 200 or not isinstance(data, dict):
            return f"{status}: {body[:120]!r}"
        shown = {
            "traffic_ops": lambda: data["response"]["status"],
            "spectrum_discover": lambda: data["status"],
            "dataarts": lambda: data["status"],
        }[self.api]()
        in_progress = IN_PROGRESS[self.api]
        allowed_words = set(in_progress if isinstance(in_progress, tuple) else (in_progress,))
        for end in self.ends or ("succeeded", "failed"):
            allowed_words.add(DONE[self.api][end])
        return None if shown in allowed_words else f"{status}: shows {shown!r}, allowed {sorted(allowed_words)}"


def vendor_path(api: str, status_path: str) -> str:
    if api == "spectrum_discover":
        return status_path + "/peek"  # 200 whatever the phase; the full status is a CSV or a 303
    return status_path


@dataclass
class Soak:
    url: str
    session: aiohttp.ClientSession  # the pollers', every connection of it busy
    control_session: aiohttp.ClientSession  # its own connections, so it need not queue behind them
    control: dict[str, str]
    deadline: float
    targets: list[Target] = field(default_factory=list)
    in_flight: Counter[int] = field(default_factory=Counter)  # polls under way, by round
    answers: Counter[int] = field(default_factory=Counter)  # by status
    problems: list[str] = field(default_factory=list)
    journal_lengths: list[int] = field(default_factory=list)
    last_seq: int = 0
    checked_tasks: int = 0
    rounds: int = 0
    control_calls: int = 0
    round_seconds: list[float] = field(default_factory=list)
    finished: bool = False
    polls_by_api: Counter[str] = field(default_factory=Counter)
    traffic_ops_auth: dict[str, str] = field(default_factory=dict)  # a Bearer JWT, once logged in
    traffic_ops_stale: bool = False  # between a reset (which forgets sessions) and the next login

    async def call(self, method: str, path: str, body: object = None) -> dict:  # type: ignore[type-arg]
        self.control_calls += 1
        async with self.control_session.request(method, self.url + path, json=body, headers=self.control) as response:
            data = await response.json()
            if response.status >= 300:
                raise AssertionError(f"{method} {path} -> {response.status}: {data}")
            return data  # type: ignore[no-any-return]

    async def traffic_ops_login(self) -> None:
        # On the control session: the pollers' connections are all taken while they poll.
        async with self.control_session.post(self.url + "/api/4.0/user/login", json={"u": "admin", "p": "twelve12"}) as login:
            assert login.status == 200
            self.traffic_ops_auth = {"Authorization": f"Bearer {login.cookies['access_token'].value}"}

    async def poller(self, number: int) -> None:
        rng = random.Random(number)
        while not self.finished:
            target = rng.choice(self.targets)
            self.in_flight[target.round] += 1
            try:
                headers = AUTH.get(target.api, self.traffic_ops_auth)
                async with self.session.get(self.url + target.path, headers=headers) as response:
                    body = await response.read()
                    self.answers[response.status] += 1
                    self.polls_by_api[target.api] += 1
                    problem = target.problem(response.status, body)
                    if problem and target.api == "traffic_ops" and response.status == 401 and (
                        self.traffic_ops_stale or headers is not self.traffic_ops_auth
                    ):
                        problem = None  # a session from before the latest reset
                    if problem:
                        self.problems.append(f"{target.api} {target.id}: {problem}")
            except Exception as error:  # noqa: BLE001 - every failure counts, whatever its kind
                self.problems.append(f"{target.api} {target.id}: {type(error).__name__}: {error}")
            finally:
                self.in_flight[target.round] -= 1

    async def controller(self, preloaded: list[Target]) -> None:
        number = 0
        # At least two rounds, however busy the machine; more while time allows.
        while number < 2 or time.monotonic() < self.deadline - ROUND_SECONDS:
            number += 1
            started = time.monotonic()
            self.traffic_ops_stale = True
            await self.call("POST", "/_emulator/reset")
            await self.traffic_ops_login()
            self.traffic_ops_stale = False
            created, to_rescue = await self.create_round(number)
            self.targets = preloaded + created
            for step in range(CLOCK_STEPS):
                await asyncio.sleep(0.15)
                await self.call("POST", "/_emulator/clock/advance", {"seconds": STEP_SECONDS})
                if step == CLOCK_STEPS // 2:
                    await self.rescue(to_rescue)
            await self.call("POST", "/_emulator/clock/advance", {"seconds": AFTER_EVERYTHING})
            await asyncio.sleep(0.3)  # polls of the finished tasks
            await self.check_phases(created)
            self.targets = preloaded
            while self.in_flight[number]:  # no poll of this round's tasks may meet the reset
                await asyncio.sleep(0.01)
            journal = (await self.call("GET", "/_emulator/requests"))["requests"]
            self.journal_lengths.append(len(journal))
            if journal:
                self.last_seq = max(self.last_seq, journal[-1]["seq"])
            self.rounds = number
            self.round_seconds.append(round(time.monotonic() - started, 1))
        self.finished = True

    async def create_round(self, number: int) -> tuple[list[Target], list[Target]]:
        """This round's tasks, and those of them to be forced to succeed mid-round. Which
        are is decided here, so that no poll is ever judged by an outdated expectation."""

        async def create(api: str, scenario: str, end: str, first: bool) -> Target:
            task = await self.call("POST", "/_emulator/tasks", {"api": api, "scenario": scenario})
            ends = {end}
            if end == "succeeded" and first:  # forced to fail before anyone polls it
                await self.call("POST", f"/_emulator/tasks/{api}/{task['id']}/transition",
                                {"phase": "failed", "message": "Forced by the soak."})
                ends = {"failed"}
            elif end == "failed" and first:  # to be forced to succeed mid-round
                ends = {"failed", "succeeded"}
            return Target(api, task["id"], vendor_path(api, task["status_path"]), frozenset(ends), number)

        created = await asyncio.gather(*(
            create(api, scenario, end, index == 0)
            for api, scenarios in SCENARIOS.items()
            for scenario, end in scenarios.items()
            for index in range(TASKS_PER_SCENARIO)
        ))
        return list(created), [t for t in created if len(t.ends) == 2]

    async def rescue(self, targets: list[Target]) -> None:
        await asyncio.gather(*(
            self.call("POST", f"/_emulator/tasks/{t.api}/{t.id}/transition", {"phase": "succeeded"}) for t in targets
        ))

    async def check_phases(self, created: list[Target]) -> None:
        """Every task is where its lifecycle, or the transition forced on it, says."""
        tasks = {(t["api"], t["id"]): t for t in (await self.call("GET", "/_emulator/tasks?limit=100000"))["tasks"]}
        for target in created:
            task = tasks[(target.api, target.id)]
            expected = "succeeded" if len(target.ends) == 2 else next(iter(target.ends))
            if task["phase"] != expected:
                self.problems.append(f"{target.api} {target.id} ({task['scenario']}): {task['phase']}, expected {expected}")
            self.checked_tasks += 1


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--clock", "virtual", "--seed", "9",
             "--journal-limit", str(JOURNAL_LIMIT), "--admin-token", "soak", "--log-level", "warning"],
            stdout=output, stderr=subprocess.STDOUT,
        )
    yield process, f"http://127.0.0.1:{port}", log
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


async def test_soak(server: tuple[subprocess.Popen[bytes], str, Path]) -> None:
    process, url, log = server
    connector = aiohttp.TCPConnector(limit=POLLERS)
    timeout = aiohttp.ClientTimeout(total=30)
    # No cookie jar: Traffic Ops is polled with the login's JWT as a Bearer token, which the
    # session cookies it hands back on every call would otherwise shadow.
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()) as session,
        aiohttp.ClientSession(timeout=timeout) as control_session,
    ):
        deadline = time.monotonic() + 20
        while True:
            try:
                async with session.get(url + "/_emulator/health") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                await asyncio.sleep(0.05)
        soak = Soak(url, session, control_session, {"Authorization": "Bearer soak"}, 0.0)
        await soak.traffic_ops_login()
        preloaded = [
            Target(t["api"], t["id"], vendor_path(t["api"], t["status_path"]))
            for t in (await soak.call("GET", "/_emulator/tasks"))["tasks"]
        ]
        soak.targets = preloaded
        rss_start = resident_mb(process.pid)
        started = time.monotonic()
        soak.deadline = started + SOAK_SECONDS
        pollers = [asyncio.create_task(soak.poller(n)) for n in range(POLLERS)]
        await asyncio.sleep(0.5)
        rss_warm = resident_mb(process.pid)
        await soak.controller(preloaded)
        await asyncio.gather(*pollers)
        elapsed = time.monotonic() - started
        rss_end = resident_mb(process.pid)

    requests = sum(soak.answers.values())
    figures = (
        f"{requests} polls in {elapsed:.1f} s ({requests / elapsed:.0f}/s) by {POLLERS} pollers, "
        f"{soak.control_calls} control calls, {soak.rounds} rounds of {soak.round_seconds} s, "
        f"{soak.checked_tasks} tasks checked; "
        f"statuses {dict(soak.answers)}; journal lengths {soak.journal_lengths} (last seq {soak.last_seq}); "
        f"polls by API {dict(soak.polls_by_api)}; RSS {rss_start:.0f} -> {rss_warm:.0f} (warm) -> {rss_end:.0f} MB"
    )
    print(figures)
    assert soak.problems == [], f"{len(soak.problems)} problems, first: {soak.problems[:10]}; {figures}"
    assert soak.rounds >= 2 and soak.checked_tasks == soak.rounds * 32, figures
    assert requests > 5 * POLLERS, figures  # the pollers really polled
    assert max(soak.journal_lengths) <= JOURNAL_LIMIT and soak.last_seq > JOURNAL_LIMIT, figures  # it wrapped
    assert rss_end - rss_warm < RSS_GROWTH_LIMIT_MB, figures
    assert process.poll() is None
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text[-2000:]

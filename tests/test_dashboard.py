"""The dashboard at /_emulator/ui in a real browser: Debian's headless Chromium driven by
Playwright, against an emulator on 127.0.0.1 with an admin token and a virtual clock.

Without Chromium (or Playwright) these tests skip, saying why, except in CI (CI=true),
where they fail: a green CI must mean the page was really driven. With
TASK_EMULATOR_SCREENSHOTS=1 they also write the screenshots of docs/dashboard.md.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.app import EmulatorConfig
from emulator.testing import TaskEmulator

from .helpers import CLOCK_START

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TOKEN = "dashboard-test-token"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
WAIT_MS = 5000  # every wait of the page is bounded by this
SCREENSHOTS = os.environ.get("TASK_EMULATOR_SCREENSHOTS") == "1"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must run the browser tests (install Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=30_000)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[TaskEmulator]:
    config = EmulatorConfig(clock="virtual", clock_start=CLOCK_START, admin_token=TOKEN, seed=3)
    with TaskEmulator.start(config) as emu:
        yield emu


@pytest.fixture
def page(browser: Any, emulator: TaskEmulator) -> Iterator[Any]:
    control(emulator, "POST", "reset")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"the page's script failed: {errors}"


def control(emu: TaskEmulator, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, f"{emu.url}/_emulator/{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def open_dashboard(page: Any, emu: TaskEmulator, view: str = "tasks") -> None:
    """Opens the page, answers its token prompt and waits for the first refresh."""
    page.goto(f"{emu.url}/_emulator/ui/#{view}")
    page.get_by_label("Token", exact=True).fill(TOKEN)
    page.get_by_role("button", name="Use token").click()
    page.locator("#clock-now").filter(has_text=re.compile(r"^\d{4}-")).wait_for()


def traffic_ops_session(emu: TaskEmulator) -> requests.Session:
    login = emu.credentials("traffic_ops")
    session = requests.Session()
    session.post(
        f"{emu.url}/api/4.0/user/login", json={"u": login["username"], "p": login["password"]}, timeout=10
    ).raise_for_status()
    return session


def shoot(page: Any, name: str, **options: Any) -> None:
    if SCREENSHOTS:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(DOCS / f"dashboard-{name}.png"), **options)


def test_a_task_lifecycle_driven_from_the_page(page: Any, emulator: TaskEmulator) -> None:
    from playwright.sync_api import expect

    open_dashboard(page, emulator)
    # A task from a scenario, made through the page's form.
    page.locator("#create-api").select_option("traffic_ops")
    page.locator("#create-scenario").select_option("acme-autorenew")
    page.get_by_role("button", name="Create task").first.click()
    detail = page.locator("#task-detail")
    expect(page.locator("#detail-heading")).to_have_text(re.compile(r"traffic_ops task \d+"))
    task_id = page.locator("#detail-heading").inner_text().rsplit(" ", 1)[1]
    expect(page.locator("#detail-heading")).to_be_focused()
    expect(detail.locator(".facts .badge").first).to_have_text("scheduled")
    status_url = detail.locator("code.url").inner_text()
    assert status_url == f"{emulator.url}/api/4.0/async_status/{task_id}"

    # A client polls while it is scheduled: the read is marked on the timeline.
    client = traffic_ops_session(emulator)
    assert client.get(status_url, timeout=10).json()["response"]["status"] == "PENDING"
    expect(detail.locator("svg.timeline:not(.polls) line.mark-read")).to_have_count(1)

    # The clock moved from the page, by a typed duration: running, read again.
    page.get_by_label("Advance by").fill("10s")
    page.get_by_role("button", name="Advance", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Clock advanced by 10s")
    expect(detail.locator(".facts .badge").first).to_have_text("running")
    assert client.get(status_url, timeout=10).status_code == 200
    expect(detail.locator("svg.timeline:not(.polls) line.mark-read")).to_have_count(2)
    # The step table: scheduled ended by time 5 s after the start, running now.
    rows = detail.locator("table.steps tbody tr")
    expect(rows.nth(0)).to_contain_text("(time)")
    expect(rows.nth(1)).to_have_class(re.compile("current"))

    # A preset: a minute later it has succeeded, and its lane ends in the succeeded phase.
    page.get_by_role("button", name="+1m").click()
    expect(detail.locator(".facts .badge").first).to_have_text("succeeded")
    expect(detail.locator("svg.timeline:not(.polls) rect.seg.current.phase-succeeded")).to_have_count(1)
    item = page.locator(f'.task-item[data-key="traffic_ops/{task_id}"]')
    expect(item.locator(".badge")).to_have_text("succeeded")

    # A fault injected from the page hits the next read, and the journal shows it.
    page.get_by_role("link", name=re.compile("^Faults")).click()
    page.locator("#fault-kind").select_option("error")
    page.locator("#fault-status").select_option("503")
    page.locator("#fault-task").fill(task_id)
    page.locator("#fault-times").fill("1")
    page.get_by_role("button", name="Add fault").click()
    fault_row = page.locator("#fault-list tbody tr")
    expect(fault_row).to_have_count(1)
    assert client.get(status_url, timeout=10).status_code == 503
    expect(fault_row.locator("td").nth(4)).to_have_text("1")  # applied once
    shoot(page, "faults")
    page.get_by_role("link", name="Journal").click()
    faulted = page.locator("#journal-body tr.problem").filter(has_text="503")
    expect(faulted.first.locator(".badge.fault")).to_have_text("error")
    shoot(page, "journal", full_page=False)
    # Back on the task, the fault is marked on its timeline.
    faulted.first.get_by_role("button", name=task_id).click()
    expect(detail.locator("svg.timeline path.mark-fault")).to_have_count(1)
    expect(page.locator("#view-tasks")).to_be_visible()
    shoot(page, "tasks")


def test_an_outside_reset_is_noticed(page: Any, emulator: TaskEmulator) -> None:
    # Ids are given again after a reset: the new task 2 must not inherit the old one's reads.
    from playwright.sync_api import expect

    task = emulator.create_task("traffic_ops", "acme-autorenew")
    client = traffic_ops_session(emulator)
    for _ in range(2):
        client.get(task.status_url, timeout=10).raise_for_status()
    open_dashboard(page, emulator)
    row = page.locator(f'.task-item[data-key="traffic_ops/{task.id}"]')
    expect(row.locator("line.mark-read")).to_have_count(2)
    control(emulator, "POST", "reset")
    again = emulator.create_task("traffic_ops", "acme-autorenew")
    assert again.id == task.id
    expect(row).to_contain_text("0 reads")
    expect(row.locator("line.mark-read")).to_have_count(0)


def test_the_token_is_asked_for_and_never_put_in_a_url(page: Any, emulator: TaskEmulator) -> None:
    from playwright.sync_api import expect

    sent: list[tuple[str, str | None]] = []
    page.on("request", lambda r: sent.append((r.url, r.headers.get("authorization"))))
    page.goto(f"{emulator.url}/_emulator/ui/")
    dialog = page.get_by_role("dialog", name="Admin token")
    expect(dialog).to_be_visible()
    page.get_by_label("Token", exact=True).fill("wrong")
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("#token-error")).to_have_text("The emulator refused this token.")
    page.get_by_label("Token", exact=True).fill(TOKEN)
    page.get_by_role("button", name="Use token").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#clock-now")).to_have_text(re.compile(r"^2026-01-02T03:04:05"))
    api_calls = [(url, auth) for url, auth in sent if "/_emulator/" in url and "/_emulator/ui/" not in url]
    assert api_calls and all(TOKEN not in url and "wrong" not in url for url, _ in sent)
    assert any(auth == f"Bearer {TOKEN}" for _, auth in api_calls)
    assert page.evaluate("sessionStorage.getItem('task-emulator.admin-token')") == TOKEN
    # Only the emulator is ever asked for anything.
    assert all(url.startswith((emulator.url, "data:")) for url, _ in sent)


def test_steering_a_task_from_the_page(page: Any, emulator: TaskEmulator) -> None:
    from playwright.sync_api import expect

    task = emulator.create_task("traffic_ops", "acme-autorenew")
    open_dashboard(page, emulator)
    page.locator(f'.task-item[data-key="traffic_ops/{task.id}"] button').click()
    page.get_by_label("Message").fill("disk full")
    page.get_by_role("button", name="Fail").click()
    expect(page.locator("#status")).to_contain_text(f"traffic_ops task {task.id} is now failed")
    seen = control(emulator, "GET", f"tasks/traffic_ops/{task.id}")
    assert (seen["phase"], seen["forced"], seen["fields"]["message"]) == ("failed", True, "disk full")
    expect(page.locator("#task-detail svg.timeline line.forced-line")).to_have_count(1)
    page.locator("#steer-phase").select_option("running")
    page.get_by_role("button", name="Transition").click()
    expect(page.locator("#task-detail .facts .badge").first).to_have_text("running")
    page.get_by_role("button", name="Complete").click()
    expect(page.locator("#task-detail .facts .badge").first).to_have_text("succeeded")
    # Reset from the page (after its confirmation): the task is gone.
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Reset…").click()
    expect(page.locator(f'.task-item[data-key="traffic_ops/{task.id}"]')).to_have_count(0)


def test_the_page_is_usable_from_the_keyboard(page: Any, emulator: TaskEmulator) -> None:
    from playwright.sync_api import expect

    task = emulator.create_task("ops_center", "vm-metrics")
    open_dashboard(page, emulator)
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    button = page.locator(f'.task-item[data-key="ops_center/{task.id}"] button')
    button.focus()
    # The list is redrawn every second; the focus stays on the same task's button.
    page.wait_for_timeout(1300)
    expect(button).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    expect(page.locator("#detail-heading")).to_be_focused()
    expect(page.locator("#detail-heading")).to_have_text(f"ops_center task {task.id}")
    # Every form control has a label, every button a name.
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input, select')].filter(e => e.type !== 'hidden'
              && !e.labels.length && !e.getAttribute('aria-label')).map(e => e.outerHTML)"""
    )
    assert unlabelled == []
    nameless = page.evaluate(
        "[...document.querySelectorAll('button')].filter(b => !b.textContent.trim()"
        " && !b.getAttribute('aria-label')).length"
    )
    assert nameless == 0


def test_the_page_fits_a_phone(browser: Any, emulator: TaskEmulator) -> None:
    from playwright.sync_api import expect

    control(emulator, "POST", "reset")
    emulator.create_task("spectrum_discover", "sql-query")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        phone.set_default_timeout(WAIT_MS)
        open_dashboard(phone, emulator)
        expect(phone.locator(".task-item").first).to_be_visible()
        for view in ("tasks", "journal", "faults", "scenarios"):
            phone.goto(f"{emulator.url}/_emulator/ui/#{view}")
            expect(phone.locator(f"#view-{view}")).to_be_visible()
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"#{view} is {width}px wide on a 390px screen"
        phone.goto(f"{emulator.url}/_emulator/ui/#tasks")
        expect(phone.locator(".task-item").first).to_be_visible()
        shoot(phone, "phone")
    finally:
        context.close()


def test_scenarios_are_drawn_like_timelines(page: Any, emulator: TaskEmulator) -> None:
    from playwright.sync_api import expect

    open_dashboard(page, emulator, "scenarios")
    title = page.locator("h3", has_text=re.compile(r"^spectrum_discover sql-query$"))
    card = page.locator(".scenario").filter(has=title)
    expect(card.locator("rect.seg")).to_have_count(3)
    card.get_by_role("button", name="Create task").click()
    expect(page.locator("#detail-heading")).to_have_text(re.compile("spectrum_discover task"))
    page.get_by_role("link", name="Scenarios").click()
    shoot(page, "scenarios")


def test_the_docs_show_screenshots_taken_by_these_tests() -> None:
    text = (DOCS / "dashboard.md").read_text(encoding="utf-8")
    for name in ("tasks", "journal", "faults", "scenarios", "phone"):
        png = DOCS / f"dashboard-{name}.png"
        assert f"(dashboard-{name}.png)" in text
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


def test_the_timeline_replays_reads_as_the_engine_does(page: Any, emulator: TaskEmulator) -> None:
    # The page's own replay (timeline.js) of `scheduled 2s or 1 poll → running 10s or 3 polls
    # → succeeded`: a read at 1 s ends the first step then; three more end the second.
    page.goto(f"{emulator.url}/_emulator/ui/")
    result = page.evaluate(
        """async () => {
            const t = await import('./timeline.js');
            const steps = [{phase: 'scheduled', for: 2, polls: 1}, {phase: 'running', for: 10, polls: 3},
                           {phase: 'succeeded', for: null, polls: null}];
            const at = (time) => ({time, path: '/x', query: {}, status: 200});
            const m = t.laneModel(steps, 100, [at(101), at(104), at(105), at(106)], 120,
                                  {index: 2, enteredAt: 106, readsAt: 4, reads: 4});
            return {segments: m.segments.map(s => [s.phase, s.start, s.end, s.by, s.state]),
                    steps: m.reads.map(r => r.step), approximate: m.approximate};
        }"""
    )
    assert result["segments"] == [
        ["scheduled", 100, 101, "polls", "past"],
        ["running", 101, 106, "polls", "past"],
        ["succeeded", 106, None, None, "current"],
    ]
    assert result["steps"] == [0, 1, 1, 1]
    assert result["approximate"] is False

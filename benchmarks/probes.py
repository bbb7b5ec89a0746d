"""The measurements other than request throughput: start-up time, pytest fixture overhead,
and Spectrum Discover result streaming."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from .load import pin
from .procs import (
    ROOT,
    SERVER_CORE,
    Server,
    call,
    free_port,
    python_env,
    serve_command,
    spectrum_discover_token,
    wait_for_200,
)


def startup_seconds(kind: str, runs: int) -> list[float]:
    """Seconds from starting the process to its first 200: `task-emulator serve` with the
    built-in scenarios (GET /_emulator/health), or the bare aiohttp baseline."""
    times = []
    for _ in range(runs):
        port = free_port()
        if kind == "emulator":
            command = [*pin(SERVER_CORE), *serve_command(port)]
            url = f"http://127.0.0.1:{port}/_emulator/health"
        else:
            command = [*pin(SERVER_CORE), sys.executable, "-c", _BASELINE_ON_PORT.format(port=port)]
            url = f"http://127.0.0.1:{port}/api/4.0/async_status/1"
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=python_env(), stdout=subprocess.DEVNULL)
        try:
            wait_for_200(url, 60, process)  # type: ignore[arg-type]
            times.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait(timeout=10)
    return times


_BASELINE_ON_PORT = (
    "from aiohttp import web; from benchmarks.servers import baseline_app; "
    "web.run_app(baseline_app(), host='127.0.0.1', port={port}, print=None)"
)


# ---- the pytest fixture -----------------------------------------------------------------------

_CONFTEST = '''
import json, os
DURATIONS = {}

def pytest_runtest_logreport(report):
    if report.when in ("setup", "teardown"):
        DURATIONS[report.nodeid] = DURATIONS.get(report.nodeid, 0.0) + report.duration

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_DURATIONS"], "w") as out:
        json.dump(DURATIONS, out)
'''

_TESTS = '''
import pytest

@pytest.mark.parametrize("i", range({n}))
def test_with_emulator(task_emulator, i):
    pass

@pytest.mark.parametrize("i", range({n}))
def test_without(i):
    pass
'''


def fixture_overhead(tests: int) -> dict[str, Any]:
    """Median set-up plus tear-down of `task_emulator`, as pytest reports it per test, for
    `tests` trivial tests in a subprocess; the same for tests without it, for comparison."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        (path / "pytest.ini").write_text("[pytest]\n")
        (path / "conftest.py").write_text(_CONFTEST)
        (path / "test_overhead.py").write_text(_TESTS.format(n=tests))
        out = path / "durations.json"
        env = {**python_env(), "BENCH_DURATIONS": str(out)}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(path)],
            cwd=path, env=env, check=True, capture_output=True, timeout=600,
        )
        wall = time.perf_counter() - started
        durations = json.loads(out.read_text())
    with_emulator = sorted(v for k, v in durations.items() if "test_with_emulator" in k)
    without = sorted(v for k, v in durations.items() if "test_without" in k)
    return {
        "tests": tests,
        "median_ms": statistics.median(with_emulator) * 1000,
        "p90_ms": with_emulator[int(0.9 * len(with_emulator))] * 1000,
        "first_ms": durations[next(k for k in durations if "test_with_emulator" in k)] * 1000,
        "without_median_ms": statistics.median(without) * 1000,
        "wall_seconds": wall,
    }


# ---- Spectrum Discover results --------------------------------------------------------------

def csv_stream(server: Server, runs: int) -> dict[str, Any]:
    """100,000 metaocean rows as CSV from task_status: MB/s as the client reads them, and the
    server's RSS before, at its highest while streaming, and after."""
    base = server.url
    token = spectrum_discover_token(base)
    results = []
    for _ in range(runs):
        status, _, body = call(
            f"{base}/_emulator/tasks", method="POST", body={"api": "spectrum_discover", "scenario": "sql-query-100k"}
        )
        if status != 201:
            raise RuntimeError(f"creating the 100k task answered {status}: {body!r}")
        task_id = json.loads(body)["id"]
        call(f"{base}/_emulator/tasks/spectrum_discover/{task_id}/transition", method="POST", body={"phase": "succeeded"})
        request = urllib.request.Request(
            f"{base}/db2whrest/v1/task_status/{task_id}", headers={"Authorization": f"Bearer {token}"}
        )
        before = peak = server.rss
        size = rows = 0
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            while chunk := response.read1(1 << 16):
                size += len(chunk)
                rows += chunk.count(b"\n")
                peak = max(peak, server.rss)
        seconds = time.perf_counter() - started
        results.append({
            "rows": rows, "bytes": size, "seconds": seconds, "mb_per_s": size / 1e6 / seconds,
            "rss_before": before, "rss_peak": peak, "rss_after": server.rss,
        })
    best = max(results, key=lambda r: r["mb_per_s"])
    return {**best, "runs": results}


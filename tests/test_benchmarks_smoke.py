"""The benchmark runs end to end in its smoke mode, so it cannot rot. Numbers are not checked:
they belong to docs/performance.md, measured on a quiet machine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the benchmark reads /proc")
def test_the_benchmark_runs_in_smoke_mode(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--generator", "asyncio", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert {"polls", "instructions", "scale", "create", "startup", "fixture", "csv"} <= set(results)
    polls = [r for r in results["polls"] if "rps" in r]
    assert (polls[0]["name"], polls[0]["loop"]) == ("bare aiohttp (constant body)", "asyncio")
    assert all(r["errors"] == 0 for r in polls)
    # Each API on each loop serve can use here, uvloop included (the test extra installs it).
    emulated = {(r["name"], r["loop"]) for r in polls if not r["name"].startswith("bare aiohttp")}
    assert len(emulated) == 8 and {loop for _, loop in emulated} == {"asyncio", "uvloop"}
    assert results["csv"]["rows"] == 100_000
    if shutil.which("valgrind"):  # CI installs it (.ci/run)
        counted = [(r["name"], r["loop"]) for r in results["instructions"]]
        assert counted[0] == ("bare aiohttp (constant body)", "asyncio") and len(counted) == 2
        assert all(r["instructions"] > 10_000 for r in results["instructions"])
    assert "| server | loop | requests/s | p50 | p99 |" in done.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the benchmark reads /proc")
def test_the_store_part_runs_in_smoke_mode(tmp_path: Path) -> None:
    """`--only store`: an Ops Center poll on the memory store and on the Redis store, and 1
    against 2 workers on Redis. Skipped by the benchmark itself without redis-server."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--only", "store", "--generator", "asyncio",
         "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr
    store = json.loads(out.read_text())["store"]
    assert [r["name"] for r in store["stores"]] == ["memory store", "Redis store"]
    assert [r["name"] for r in store["workers"]] == ["1 worker, Redis store", "2 workers, Redis store"]
    assert all(r["errors"] == 0 and r["rps"] > 0 for r in store["stores"] + store["workers"])
    capped = store["capped_workers"]
    if "rows" in capped:  # where this machine lets a process be held to a share of a core
        assert [r["name"] for r in capped["rows"]] == [
            "1 worker capped at 0.4 core each", "2 workers capped at 0.4 core each"]
        assert all(r["errors"] == 0 and r["rps"] > 0 and r["worker_use_of_cap"] > 0 for r in capped["rows"])
    else:
        assert capped["skipped"]
    if shutil.which("valgrind"):
        assert [r["name"] for r in store["instructions"]] == ["memory store", "Redis store"]
        assert all(r["instructions"] > 10_000 for r in store["instructions"])
    assert "| memory store |" in done.stdout and "| 2 workers, Redis store |" in done.stdout

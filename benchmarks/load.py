"""Load generators: wrk (Debian's package) when it is installed, else a built-in asyncio one.

Both take the same `Load` (URL, headers, method, body) and give a `LoadResult`; both send
to 127.0.0.1 only and stop after the duration they are given.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Load:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: bytes = b""

    def __post_init__(self) -> None:
        host = urlsplit(self.url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"load goes to this machine's loopback only, not {host!r}")


@dataclass(frozen=True)
class LoadResult:
    generator: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors and answers outside 2xx/3xx

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def pin(core: int | None) -> list[str]:
    """A `taskset -c N` prefix when taskset exists and the machine has that core; for None,
    one that frees the process to run on any core (the benchmark pins itself to the load
    core, and a process it starts would otherwise inherit that)."""
    cores = os.cpu_count() or 1
    if shutil.which("taskset") is None or (core is not None and cores <= core):
        return []
    return ["taskset", "-c", f"0-{cores - 1}" if core is None else str(core)]


def run_load(load: Load, *, seconds: float, connections: int, generator: str, core: int | None) -> LoadResult:
    if generator == "wrk":
        return run_wrk(load, seconds=seconds, connections=connections, core=core)
    return asyncio.run(run_asyncio(load, seconds=seconds, connections=connections))


# ---- wrk ------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def _lua(load: Load) -> str:
    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"wrk.method = {quote(load.method)}"]
    if load.body:
        lines.append(f"wrk.body = {quote(load.body.decode())}")
    for name, value in load.headers.items():
        lines.append(f"wrk.headers[{quote(name)}] = {quote(value)}")
    return "\n".join(lines) + "\n"


def run_wrk(load: Load, *, seconds: float, connections: int, core: int | None) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(load))
    try:
        command = [
            *pin(core), "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--latency", "-s", script.name, load.url,
        ]
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    finally:
        os.unlink(script.name)
    return parse_wrk(out)


def parse_wrk(out: str) -> LoadResult:
    total = re.search(r"(\d+) requests in ([0-9.]+)(\w+)", out)
    if total is None:
        raise RuntimeError(f"wrk printed no totals:\n{out}")
    requests, duration = int(total.group(1)), _ms(total.group(2) + total.group(3)) / 1000
    p50 = re.search(r"50%\s+([0-9.]+\w+)", out)
    p99 = re.search(r"99%\s+([0-9.]+\w+)", out)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(bad.group(1)) if bad else 0
    return LoadResult(
        "wrk", requests, duration,
        _ms(p50.group(1)) if p50 else float("nan"), _ms(p99.group(1)) if p99 else float("nan"), errors,
    )


# ---- built-in ---------------------------------------------------------------------------------

async def run_asyncio(load: Load, *, seconds: float, connections: int) -> LoadResult:
    """`connections` clients on one aiohttp session, each sending the request again as soon
    as its answer is read. Slower than wrk: in-process Python can be the bottleneck."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                async with session.request(
                    load.method, load.url, headers=load.headers, data=load.body or None, allow_redirects=False
                ) as response:
                    await response.read()
                    if response.status >= 400:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - sent)

    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
        await asyncio.gather(*(client(session) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        "asyncio", len(latencies), elapsed,
        percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000, errors,
    )


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summarise(runs: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for a server's runs: the median of each figure, and the median of its ratios to
    the baseline's run of the same round."""
    median = statistics.median
    row = {**runs[0], "rounds": runs}
    for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_request"):
        row[key] = median(r[key] for r in runs)
    row["requests"] = sum(r["requests"] for r in runs)
    row["errors"] = sum(r["errors"] for r in runs)
    row["ratio"] = median(r["rps"] / b["rps"] for r, b in zip(runs, baseline))
    row["cpu_ratio"] = median(b["cpu_us_per_request"] / r["cpu_us_per_request"] for r, b in zip(runs, baseline))
    return row

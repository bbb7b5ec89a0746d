"""`python -m benchmarks`: the emulator against a bare aiohttp handler, side by side in one run.

Servers run pinned to one core (`taskset -c 1`), the load generator to the other (`-c 0`).
Every throughput figure is a 3 s warm-up then a measured run of `--duration` seconds at
`--connections` connections, by wrk when installed, else by the built-in asyncio generator.
Results are printed as tables and written as JSON (`--output`); `--plot` draws the scale
run from that JSON (needs matplotlib: `pip install -e .[bench]` or `pip install matplotlib`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import probes
from .instructions import have_callgrind, instructions_per_request
from .load import Load, have_wrk, run_load, summarise
from .polls import API_POLLS, STATUS_1
from .procs import (
    LOAD_CORE,
    Server,
    call,
    default_loop,
    start_bench_server,
    start_serve,
    traffic_ops_cookie,
)
from .store import measure_store, store_report

PARTS = ("polls", "instructions", "scale", "create", "startup", "fixture", "csv", "store")
# Run when asked for (--only store): it needs Debian's redis-server.
DEFAULT_PARTS = PARTS[:-1]
SCALE_COUNTS = (1_000, 10_000, 100_000, 1_000_000)
SMOKE_SCALE_COUNTS = (1_000, 10_000)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per run (default: 8)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before each run (default: 3)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default: 32)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="poll runs of each server, taken in turns; the median is shown (default: 3)")
    parser.add_argument("--generator", choices=("auto", "wrk", "asyncio"), default="auto",
                        help="load generator (default: wrk when installed)")
    parser.add_argument("--scale", default=",".join(map(str, SCALE_COUNTS)), metavar="N,N,...",
                        help="live-task counts of the scale run (default: %(default)s)")
    parser.add_argument("--only", default=",".join(DEFAULT_PARTS), metavar="PART,...",
                        help=f"parts to run: {', '.join(PARTS)} (default: all but store, which needs "
                        "redis-server: a poll on the Redis store against the memory store, and 1 "
                        "against 2 workers)")
    parser.add_argument("--fixture-tests", type=int, default=200, help="tests in the fixture run (default: 200)")
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds in all: 1 s runs, no warm-up, small counts, built-in generator")
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    parser.add_argument("--plot", type=Path, help="draw throughput and memory against live tasks (PNG)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.smoke:
        args.duration, args.warmup, args.connections, args.rounds = 1.0, 0.0, 8, 1
        args.scale = ",".join(map(str, SMOKE_SCALE_COUNTS))
        args.fixture_tests = 5
        if args.generator == "auto":
            args.generator = "asyncio"
    if args.generator == "auto":
        args.generator = "wrk" if have_wrk() else "asyncio"
    if args.generator == "wrk" and not have_wrk():
        print("wrk is not installed (apt-get install wrk); use --generator asyncio", file=sys.stderr)
        return 2
    parts = set(args.only.split(","))
    unknown = parts - set(PARTS)
    if unknown:
        print(f"--only: unknown part {min(unknown)!r}", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {LOAD_CORE})  # the built-in generator runs in this process
    bench = Bench(args)
    results: dict[str, Any] = {"machine": machine(), "settings": bench.settings()}
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("polls", bench.polls), ("instructions", bench.instructions), ("scale", bench.scale), ("create", bench.create),
        ("startup", bench.startup), ("fixture", bench.fixture), ("csv", bench.csv), ("store", bench.store),
    ]
    for name, step in steps:
        if name in parts:
            results[name] = step()
    print()
    print(report(results))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    if args.plot:
        from .plot import plot

        plot(results, args.plot)
    return 0


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "when": time.strftime("%Y-%m-%d %H:%M:%S %z")}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def settings(self) -> dict[str, Any]:
        a = self.args
        return {"duration": a.duration, "warmup": a.warmup, "connections": a.connections,
                "rounds": a.rounds, "generator": a.generator, "smoke": a.smoke}

    def measure(
        self, load: Load, server: Server, *, warm_up: bool = True, core: int | None = LOAD_CORE
    ) -> dict[str, Any]:
        """A warm-up run, thrown away, then the measured one (the load generator on `core`;
        None: any), with the CPU time the server spent on it per request: on a machine shared
        with others (a VM), requests/s moves with the neighbours, CPU per request much less."""
        a = self.args
        if warm_up and a.warmup > 0:
            run_load(load, seconds=a.warmup, connections=a.connections, generator=a.generator, core=core)
        cpu_before = server.cpu_seconds
        result = run_load(load, seconds=a.duration, connections=a.connections, generator=a.generator, core=core)
        cpu = server.cpu_seconds - cpu_before
        return {
            "generator": result.generator, "requests": result.requests, "seconds": result.seconds, "rps": result.rps,
            "p50_ms": result.p50_ms, "p99_ms": result.p99_ms, "errors": result.errors,
            "cpu_us_per_request": 1e6 * cpu / result.requests if result.requests else float("nan"),
        }

    def polls(self) -> list[dict[str, Any]]:
        """The bare handler, then a status poll of each API (with auth) on `task-emulator serve`,
        on the loop `serve` picks here (uvloop, when installed) and on asyncio's."""
        targets = poll_targets(serve_loops())
        servers: dict[tuple[str, str], Server] = {}
        try:
            for t in targets:  # one server for all the polls of a kind and loop
                if (t.server, t.loop) not in servers:
                    servers[t.server, t.loop] = start_target(t)
            loads = []
            for t in targets:
                server = servers[t.server, t.loop]
                loads.append((t.name, t.loop, server, t.load_for(server.url)))
            rows = self.in_turns(loads)
            rows.append({"name": "emulator RSS after the polls (MB)", "rss": servers["serve", "asyncio"].rss})
        finally:
            for server in servers.values():
                server.stop()
        return rows

    def in_turns(self, loads: list[tuple[str, str, Server, Load]]) -> list[dict[str, Any]]:
        """Each (name, loop, server, load) measured in turn, round after round, one row each
        (ratios to the first): this VM's speed drifts over minutes, and a ratio is taken
        between runs of the same round, a minute or two apart at most."""
        for name, _, _, load in loads:
            status, _, body = call(load.url, headers=load.headers)
            if status >= 400:
                raise RuntimeError(f"{name}: {load.url} answered {status}: {body[:300]!r}")
        runs: list[list[dict[str, Any]]] = [[] for _ in loads]
        for round_ in range(self.args.rounds):
            for (name, loop, server, load), kept in zip(loads, runs):
                kept.append({"name": name, "loop": loop, **self.measure(load, server, warm_up=round_ == 0)})
                progress(kept[-1])
        return [summarise(kept, runs[0]) for kept in runs]

    def store(self) -> dict[str, Any]:
        return measure_store(self)

    def scale(self) -> list[dict[str, Any]]:
        """Traffic Ops polls with N live tasks made through the engine before listening (all
        the servers at once, measured in turns)."""
        counts = [int(n) for n in self.args.scale.split(",")]
        loop = default_loop()
        servers: list[Server] = []
        try:
            loads = []
            for count in counts:
                servers.append(start_bench_server("emulator", preload=count, loop=loop))
                base = servers[-1].url
                task = 1 + count // 2
                load = Load(f"{base}/api/4.0/async_status/{task}", {"Cookie": traffic_ops_cookie(base)})
                loads.append((f"{count:,} live tasks", loop, servers[-1], load))
            rows = self.in_turns(loads)
            for r, count, server in zip(rows, counts, servers):
                facts = server.facts
                grown = facts["rss_after"] - facts["rss_before"]
                r.update(tasks=count, rss=server.rss, bytes_per_task=grown / count if count else float("nan"),
                         preload_seconds=facts["preload_seconds"])
        finally:
            for server in servers:
                server.stop()
        return rows

    def instructions(self) -> list[dict[str, Any]]:
        """Instructions per request under callgrind for each server of the poll table, a
        fresh server each (--smoke: the bare handler and Traffic Ops on serve's own loop, a
        few hundred requests)."""
        if not have_callgrind():
            print("  instructions: valgrind is not installed (apt-get install valgrind): skipped", flush=True)
            return []
        targets = poll_targets(serve_loops())
        if self.args.smoke:
            targets = [targets[0], next(t for t in targets if t.server == "serve" and t.loop == default_loop())]
        rows: list[dict[str, Any]] = []
        for t in targets:
            count = instructions_per_request(
                functools.partial(start_target, t), t.load_for,
                requests=320 if self.args.smoke else 3200, connections=self.args.connections,
            )
            rows.append({"name": t.name, "loop": t.loop, "instructions": count})
            print(f"  {t.name} ({t.loop}): {count:,.0f} instructions per request", flush=True)
        for r in rows:
            r["ratio"] = rows[0]["instructions"] / r["instructions"]
        return rows

    def create(self) -> dict[str, Any]:
        """POST /_emulator/tasks, the tasks accumulating as the run goes."""
        server = start_serve()
        try:
            load = Load(
                f"{server.url}/_emulator/tasks", {"Content-Type": "application/json"}, "POST",
                b'{"api":"traffic_ops","scenario":"acme-autorenew"}',
            )
            status, _, body = call(load.url, method="POST", body=load.body)
            if status != 201:
                raise RuntimeError(f"POST /_emulator/tasks answered {status}: {body!r}")
            r = {"name": "control API: POST /_emulator/tasks", **self.measure(load, server), "rss": server.rss}
            progress(r)
            return r
        finally:
            server.stop()

    def startup(self) -> dict[str, Any]:
        runs = 2 if self.args.smoke else 7
        emulator = probes.startup_seconds("emulator", runs)
        baseline = probes.startup_seconds("baseline", runs)
        r = {"emulator_median_s": statistics.median(emulator), "emulator_runs": emulator,
             "baseline_median_s": statistics.median(baseline), "baseline_runs": baseline}
        print(f"  start to first 200: emulator {r['emulator_median_s']:.3f} s, bare aiohttp "
              f"{r['baseline_median_s']:.3f} s", flush=True)
        return r

    def fixture(self) -> dict[str, Any]:
        r = probes.fixture_overhead(self.args.fixture_tests)
        print(f"  task_emulator set-up + tear-down: median {r['median_ms']:.2f} ms", flush=True)
        return r

    def csv(self) -> dict[str, Any]:
        server = start_serve()
        try:
            r = probes.csv_stream(server, 1 if self.args.smoke else 3)
        finally:
            server.stop()
        print(f"  100k CSV rows: {r['mb_per_s']:.1f} MB/s", flush=True)
        return r


@dataclass(frozen=True)
class Target:
    """A row of the poll table: `server` a `benchmarks.servers` kind or "serve" (the
    emulator as `task-emulator serve` runs it), on `loop`; `load_for` its poll, given the
    server's base URL."""

    name: str
    loop: str
    server: str
    load_for: Callable[[str], Load]


def serve_loops() -> list[str]:
    """The loops the emulator is measured on: serve's own choice here, and asyncio's."""
    return ["uvloop", "asyncio"] if default_loop() == "uvloop" else ["asyncio"]


def poll_targets(loops: list[str]) -> list[Target]:
    """The bare handler on asyncio's loop (the reference, first), on uvloop, with Traffic
    Ops' headers; then each API's poll on serve on each of `loops`."""
    def bare(base: str) -> Load:
        return Load(f"{base}{STATUS_1}")

    targets = [Target("bare aiohttp (constant body)", "asyncio", "baseline", bare)]
    if "uvloop" in loops:
        targets.append(Target("bare aiohttp (constant body)", "uvloop", "baseline", bare))
    targets.append(Target("bare aiohttp + Traffic Ops' headers and cookies", "asyncio", "baseline-headers", bare))
    for loop in loops:
        targets += [Target(name, loop, "serve", make) for name, make in API_POLLS.items()]
    return targets


def start_target(target: Target, under: Sequence[str] = ()) -> Server:
    """`target`'s server, run by `under` (valgrind, say: then given longer to start)."""
    if target.server == "serve":
        return start_serve(target.loop, under=under, timeout=300 if under else 60)
    return start_bench_server(target.server, loop=target.loop, under=under)


def progress(r: dict[str, Any]) -> None:
    loop = f" ({r['loop']})" if "loop" in r else ""
    print(f"  {r['name']}{loop}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
          f"{r['cpu_us_per_request']:.0f} µs CPU per request"
          + (f", {r['errors']} errors" if r["errors"] else ""), flush=True)


# ---- the report ---------------------------------------------------------------------------------

def report(results: dict[str, Any]) -> str:
    s = results["settings"]
    out = [(f"generator {s['generator']}, {s['connections']} connections, {s['warmup']:g} s warm-up, "
           f"{s['duration']:g} s measured; polls: median of {s.get('rounds', 1)} rounds taken in turns; "
           "server on core 1, load on core 0")]
    if "polls" in results:
        out += ["", ("| server | loop | requests/s | p50 | p99 | vs bare aiohttp | server CPU per request "
                "| vs bare aiohttp (CPU) | errors |"), "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["polls"]:
            if "rps" in r:
                out.append(f"| {r['name']} | {r.get('loop', 'asyncio')} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms "
                           f"| {r['ratio']:.2f}x | {r['cpu_us_per_request']:.0f} µs | {r['cpu_ratio']:.2f}x "
                           f"| {r['errors']} |")
    if results.get("instructions"):
        out += ["", "| server | loop | instructions per request (callgrind) | vs bare aiohttp |", "|---|---|---:|---:|"]
        for r in results["instructions"]:
            out.append(f"| {r['name']} | {r['loop']} | {r['instructions']:,.0f} | {r['ratio']:.2f}x |")
    if "scale" in results:
        out += ["", ("| live tasks | requests/s | p99 | vs fewest | CPU per request | vs fewest (CPU) | RSS "
                "| bytes per task |"), "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["scale"]:
            out.append(f"| {r['tasks']:,} | {r['rps']:,.0f} | {r['p99_ms']:.2f} ms | {r['ratio']:.2f}x "
                       f"| {r['cpu_us_per_request']:.0f} µs | {r['cpu_ratio']:.2f}x "
                       f"| {r['rss'] / 2**20:,.0f} MiB | {r['bytes_per_task']:,.0f} |")
    if results.get("store"):
        out += ["", *store_report(results["store"])]
    others = []
    if "create" in results:
        r = results["create"]
        others.append(f"| control API task creation | {r['rps']:,.0f} tasks/s (p99 {r['p99_ms']:.2f} ms, "
                      f"{r['cpu_us_per_request']:.0f} µs CPU each) | >= 5,000/s |")
    if "startup" in results:
        r = results["startup"]
        others.append(f"| `task-emulator serve` start to first 200 | {r['emulator_median_s']:.3f} s median "
                      f"(bare aiohttp {r['baseline_median_s']:.3f} s) | <= 0.5 s |")
    if "fixture" in results:
        r = results["fixture"]
        others.append(f"| `task_emulator` fixture set-up + tear-down | {r['median_ms']:.2f} ms median, "
                      f"p90 {r['p90_ms']:.2f} ms (no fixture: {r['without_median_ms']:.2f} ms) | <= 10 ms |")
    if "csv" in results:
        r = results["csv"]
        grown = (r["rss_peak"] - r["rss_before"]) / 2**20
        others.append(f"| Spectrum Discover 100k CSV rows ({r['bytes'] / 1e6:.1f} MB) | {r['mb_per_s']:.1f} MB/s, "
                      f"server RSS +{grown:.1f} MiB at peak | >= 50 MB/s, flat memory |")
    if others:
        out += ["", "| measure | result | target |", "|---|---|---|", *others]
    return "\n".join(out)

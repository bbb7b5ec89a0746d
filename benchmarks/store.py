"""`--only store`: a poll on the Redis store against the memory store, and workers against one.

Three measurements, each an Ops Center getStatus poll:
- the memory store and the Redis store side by side (requests/s in turns, Redis's CPU
  counted with the server's) and their instructions per request (the emulator's own);
- `--workers 1` against `--workers 2` on the Redis store, not pinned: what this 2-core
  machine gives when the workers, Redis and the load generator share its cores;
- the same with each worker held to CAPPED_SHARE of a core by the kernel (cpucap.py): the
  workers are then the only thing short of CPU, so the ratio says how the server scales
  where the load generator is not the limit. Each row says how close the workers ran to
  their cap and what Redis and the load generator used, which is how that is made sure.
"""

from __future__ import annotations

import functools
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol

from .cpucap import CpuCap, cap_problem
from .instructions import have_callgrind, instructions_per_request
from .load import Load, run_load, summarise
from .polls import ops_center_poll
from .procs import (
    SERVER_CORE,
    Redis,
    Server,
    children_of,
    default_loop,
    start_redis,
    start_serve,
)


class Bench(Protocol):
    """What the store part takes from the benchmark run (benchmarks.run.Bench)."""

    args: Any

    def in_turns(self, loads: list[tuple[str, str, Server, Load]]) -> list[dict[str, Any]]: ...

    def measure(
        self, load: Load, server: Server, *, warm_up: bool = True, core: int | None = ...
    ) -> dict[str, Any]: ...

# Each capped worker's share of one core: two of them and their load fit this 2-core machine.
CAPPED_SHARE = 0.4
WORKER_COUNTS = (1, 2)


def measure_store(bench: Bench) -> dict[str, Any]:
    if shutil.which("redis-server") is None:
        print("  store: redis-server is not installed (apt-get install redis-server): skipped", flush=True)
        return {}
    loop = default_loop()
    with tempfile.TemporaryDirectory() as folder:
        redis = start_redis(SERVER_CORE, Path(folder))
        try:
            return {
                "stores": _stores(bench, redis, loop),
                "instructions": _store_instructions(bench, redis, loop),
                "workers": _workers(bench, redis, loop),
                "capped_workers": _capped_workers(bench, redis, loop),
                "redis_on_core": SERVER_CORE,
            }
        finally:
            redis.stop()


class WithRedis:
    """A server measured with the redis-server it uses: their CPU seconds together."""

    def __init__(self, server: Server, redis: Redis) -> None:
        self.server = server
        self.redis = redis

    @property
    def cpu_seconds(self) -> float:
        return self.server.cpu_seconds + self.redis.cpu_seconds


def _stores(bench: Bench, redis: Redis, loop: str) -> list[dict[str, Any]]:
    servers = [start_serve(loop), start_serve(loop, args=["--store", redis.url])]
    try:
        loads = [("memory store", loop, servers[0], ops_center_poll(servers[0].url)),
                 ("Redis store", loop, WithRedis(servers[1], redis), ops_center_poll(servers[1].url))]
        return bench.in_turns(loads)  # type: ignore[arg-type]  # WithRedis stands in for a Server
    finally:
        for server in servers:
            server.stop()


def _store_instructions(bench: Bench, redis: Redis, loop: str) -> list[dict[str, Any]]:
    if not have_callgrind():
        print("  store instructions: valgrind is not installed: skipped", flush=True)
        return []
    rows: list[dict[str, Any]] = []
    for name, args in (("memory store", []), ("Redis store", ["--store", redis.url])):
        redis.flush()
        count = instructions_per_request(
            functools.partial(_serve_under, loop, args), ops_center_poll,
            requests=320 if bench.args.smoke else 3200, connections=bench.args.connections,
        )
        rows.append({"name": name, "loop": loop, "instructions": count})
        print(f"  {name} ({loop}): {count:,.0f} instructions per request", flush=True)
    for r in rows:
        r["ratio"] = rows[0]["instructions"] / r["instructions"]
    return rows


def _workers(bench: Bench, redis: Redis, loop: str) -> list[dict[str, Any]]:
    redis.flush()
    servers = [start_serve(loop, args=["--store", redis.url, "--workers", str(n)], core=None) for n in WORKER_COUNTS]
    try:
        loads = [(f"{n} worker{'s' if n > 1 else ''}, Redis store", loop, WithRedis(server, redis),
                  ops_center_poll(server.url)) for n, server in zip(WORKER_COUNTS, servers)]
        return bench.in_turns(loads)  # type: ignore[arg-type]
    finally:
        for server in servers:
            server.stop()


def _capped_workers(bench: Bench, redis: Redis, loop: str) -> dict[str, Any]:
    """1 and 2 workers, each held to CAPPED_SHARE of a core, in turns round after round."""
    problem = cap_problem()
    if problem is not None:
        print(f"  capped workers: {problem}: skipped", flush=True)
        return {"skipped": problem}
    redis.flush()
    with ExitStack() as stack:
        servers = []
        for n in WORKER_COUNTS:
            server = start_serve(loop, args=["--store", redis.url, "--workers", str(n)], core=None)
            stack.callback(server.stop)
            stack.enter_context(_capped(server, n, f"task-emulator-bench-{n}"))
            servers.append(server)
        runs: list[list[dict[str, Any]]] = [[] for _ in servers]
        for round_ in range(bench.args.rounds):
            for n, server, kept in zip(WORKER_COUNTS, servers, runs):
                kept.append(_capped_run(bench, server, redis, n, warm_up=round_ == 0))
        rows = [_summary(kept, runs[0]) for kept in runs]
    return {"share": CAPPED_SHARE, "rows": rows}


@contextmanager
def _capped(server: Server, workers: int, name: str) -> Iterator[None]:
    """Each of `server`'s workers in a cgroup of its own, held to CAPPED_SHARE of a core."""
    deadline = time.monotonic() + 30
    while len(pids := _worker_pids(server, workers)) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"serve --workers {workers} started {len(pids)} workers")
        time.sleep(0.05)
    with ExitStack() as stack:
        for index, pid in enumerate(pids):
            stack.enter_context(CpuCap(f"{name}-{index}", CAPPED_SHARE)).add(pid)
        yield


def _capped_run(bench: Bench, server: Server, redis: Redis, workers: int, *, warm_up: bool) -> dict[str, Any]:
    a = bench.args
    load = ops_center_poll(server.url)
    if warm_up and a.warmup > 0:  # here: Redis's and wrk's CPU below is the measured run's alone
        run_load(load, seconds=a.warmup, connections=a.connections, generator=a.generator, core=None)
    before = redis.cpu_seconds, _children_cpu()
    row = bench.measure(load, server, warm_up=False, core=None)
    seconds = row["seconds"]
    row.update({
        "name": f"{workers} worker{'s' if workers > 1 else ''} capped at {CAPPED_SHARE:g} core each",
        # How close the workers ran to their cap: near 1, they were what held the rate.
        "worker_use_of_cap": row["cpu_us_per_request"] * row["requests"] / 1e6 / seconds / (workers * CAPPED_SHARE),
        "redis_cores": (redis.cpu_seconds - before[0]) / seconds,
        # wrk runs as a child of this process (its CPU counted once it ends); the built-in
        # generator runs in this process, so its share is not told apart.
        "generator_cores": (_children_cpu() - before[1]) / seconds if a.generator == "wrk" else None,
    })
    print(f"  {row['name']}: {row['rps']:,.0f} req/s, workers at {row['worker_use_of_cap']:.0%} of their cap, "
          f"Redis {row['redis_cores']:.2f} core" + (f", wrk {row['generator_cores']:.2f} core"
                                                      if row["generator_cores"] is not None else ""), flush=True)
    return row


def _worker_pids(server: Server, workers: int) -> list[int]:
    """The processes that serve: `serve --workers 1` serves in its own process."""
    return [server.process.pid] if workers == 1 else children_of(server.process.pid)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _summary(runs: list[dict[str, Any]], one_worker: list[dict[str, Any]]) -> dict[str, Any]:
    """summarise's row, with the medians of what a capped run adds."""
    row = summarise(runs, one_worker)
    for key in ("worker_use_of_cap", "redis_cores"):
        row[key] = statistics.median(r[key] for r in runs)
    if runs[0]["generator_cores"] is not None:
        row["generator_cores"] = statistics.median(r["generator_cores"] for r in runs)
    return row


def _serve_under(loop: str, args: list[str], under: Sequence[str]) -> Server:
    return start_serve(loop, under=under, timeout=300, args=args)


def store_report(store: dict[str, Any]) -> list[str]:
    out = [(f"Ops Center getStatus on each store (redis-server on core {store['redis_on_core']}, its CPU "
            "counted with the server's):"),
           "| store | loop | requests/s | p50 | p99 | vs memory | CPU per request (server + Redis) | errors |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in store["stores"]:
        out.append(f"| {r['name']} | {r['loop']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms "
                   f"| {r['ratio']:.2f}x | {r['cpu_us_per_request']:.0f} µs | {r['errors']} |")
    if store["instructions"]:
        out += ["", "| store | loop | the emulator's instructions per request (callgrind) | memory / this |",
                "|---|---|---:|---:|"]
        for r in store["instructions"]:
            out.append(f"| {r['name']} | {r['loop']} | {r['instructions']:,.0f} | {r['ratio']:.2f}x |")
    out += ["", "Workers on the Redis store (not pinned: they, Redis and the load generator share the cores):",
            "| server | requests/s | p50 | p99 | vs 1 worker | CPU per request (workers + Redis) | errors |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in store["workers"]:
        out.append(f"| {r['name']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms "
                   f"| {r['ratio']:.2f}x | {r['cpu_us_per_request']:.0f} µs | {r['errors']} |")
    capped = store.get("capped_workers", {})
    if "rows" in capped:
        out += ["", (f"Workers each held to {capped['share']:g} of a core (a cgroup's quota), so that they, not the "
                     "load generator or Redis, are what is short of CPU:"),
                ("| server | requests/s | p99 | vs 1 worker | workers' use of their cap | Redis (cores) "
                 "| load generator (cores) | errors |"), "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in capped["rows"]:
            generator = f"{r['generator_cores']:.2f}" if r.get("generator_cores") is not None else "(in-process)"
            out.append(f"| {r['name']} | {r['rps']:,.0f} | {r['p99_ms']:.2f} ms | {r['ratio']:.2f}x "
                       f"| {r['worker_use_of_cap']:.0%} | {r['redis_cores']:.2f} | {generator} | {r['errors']} |")
    elif "skipped" in capped:
        out += ["", f"Capped workers: skipped ({capped['skipped']})."]
    return out

"""The servers the benchmark measures, each started as its own process so it can be pinned
to a core: `python -m benchmarks.servers baseline|emulator [--preload N] [--loop uvloop]`.

Both bind port 0 on 127.0.0.1 and print one line, `READY <port> <json>`, once they listen;
the JSON carries what the process measured about itself (RSS before and after preloading).
The baseline is served by aiohttp alone, the emulator as `task-emulator serve` serves it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import socket
import sys
import time
from pathlib import Path

from aiohttp import web

# A Traffic Ops async_status answer, byte for byte as the emulator sends task 1.
BASELINE_BODY = (
    b'{"response":{"id":1,"status":"PENDING","start_time":"2021-02-18T17:13:56.352261Z",'
    b'"message":"Async job has started."}}\n'
)


def rss_bytes() -> int:
    """This process's resident set size, from /proc (0 where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# What the emulator must send with that body to be Traffic Ops: the headers its Go middleware
# sets, and the two refreshed session cookies (values as long as the emulator's).
TRAFFIC_OPS_COOKIES = (
    "mojolicious=" + "m" * 130 + "; Path=/; Expires=Mon, 23 Nov 2026 15:00:00 GMT; Max-Age=3600; HttpOnly",
    "access_token=" + "a" * 290 + "; Path=/; Expires=Mon, 23 Nov 2026 15:00:00 GMT; Max-Age=3600; HttpOnly",
)


def baseline_app(with_traffic_ops_headers: bool = False) -> web.Application:
    """The bare handler. `with_traffic_ops_headers`: it also sends Traffic Ops' headers, to
    show what the wire format alone costs aiohttp."""
    headers: dict[str, str] = {}
    if with_traffic_ops_headers:
        from emulator.apis.traffic_ops import ROUTE_HEADERS, _sha512

        headers = {**ROUTE_HEADERS, "Whole-Content-Sha512": _sha512(BASELINE_BODY)}

    async def status(request: web.Request) -> web.Response:
        response = web.Response(body=BASELINE_BODY, content_type="application/json", headers=headers)
        if with_traffic_ops_headers:
            for cookie in TRAFFIC_OPS_COOKIES:
                response.headers.add("Set-Cookie", cookie)
        return response

    app = web.Application()
    app.router.add_get("/api/{version}/async_status/{id}", status)
    return app


def emulator_app(preload: int, scenario: str) -> tuple[web.Application, dict[str, float]]:
    """The app `task-emulator serve` runs (its defaults: real clock, strict validation,
    journal on), with `preload` extra Traffic Ops tasks made through the engine."""
    from emulator.app import create_app
    from emulator.config import EmulatorConfig
    from emulator.state import build_runtime

    runtime = build_runtime(EmulatorConfig())
    engine = runtime.engine
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    chosen = engine.scenario("traffic_ops", scenario)
    for _ in range(preload):
        engine.create_task(chosen)
    elapsed = time.perf_counter() - started
    gc.collect()
    facts = {
        "rss_before": before,
        "rss_after": rss_bytes(),
        "preloaded": preload,
        "preload_seconds": elapsed,
        "tasks": engine.count(),
    }
    return create_app(runtime=runtime), facts


async def serve_bare(app: web.Application, facts: dict[str, float]) -> None:
    """The baseline as aiohttp alone serves it: nothing of the emulator's around it."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    sock = socket.create_server(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    await until_stopped(sock.getsockname()[1], facts)
    await runner.cleanup()


async def serve_emulator(app: web.Application, facts: dict[str, float]) -> None:
    """The emulator, started as `task-emulator serve` starts it (with serve's limits, and no
    access log: serve at --log-level warning writes none)."""
    from emulator.service import EmulatorService

    service = EmulatorService(app, access_log=False)
    await until_stopped(await service.start(), facts)
    await service.stop()


async def until_stopped(port: int, facts: dict[str, float]) -> None:
    """Say READY, then wait for SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY {port} {json.dumps(facts)}", flush=True)
    await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.servers")
    parser.add_argument("kind", choices=("baseline", "baseline-headers", "emulator"))
    parser.add_argument("--preload", type=int, default=0, help="extra Traffic Ops tasks to make first")
    parser.add_argument("--scenario", default="acme-autorenew")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args(argv)
    facts: dict[str, float]
    if args.kind.startswith("baseline"):
        app, facts = baseline_app(args.kind == "baseline-headers"), {"rss_after": rss_bytes()}
        serve = serve_bare
    else:
        app, facts = emulator_app(args.preload, args.scenario)
        serve = serve_emulator
    # Imported here, not at the top: the start-up probe times the bare baseline importing
    # this module, and the emulator's modules are no part of that.
    from emulator.serve_command import event_loop_runner

    run = event_loop_runner(args.loop)  # `task-emulator serve --loop`'s own choice
    run(serve(app, facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())

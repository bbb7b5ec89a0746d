"""`task-emulator`: run the server, check scenario files, list scenarios.

A thin layer: options become an `EmulatorConfig`, the rest is the library's. A person's
mistake (a bad option value, a broken scenario, a port in use) ends with clear lines on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aiohttp import web

from . import __version__
from .apis import API_CLASSES
from .app import create_app
from .config import EmulatorConfig
from .control import ControlApi, control_routes
from .errors import ConfigError, EmulatorError, ScenarioError
from .fault_http import end_delays
from .openapi import build_document
from .options import VALIDATION_MODES, parse_clock_start
from .resources import builtin_scenarios
from .routing import CONTROL_PREFIX
from .scenario import check_files, scenario_files
from .serving import Listener, ServeLimits, raise_open_file_limit
from .settings_file import load_settings
from .state import build_runtime, load_scenarios, load_schemas
from .workers import check_workers, listening_socket, run_workers

ENV_PREFIX = "TASK_EMULATOR_"


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(ENV_PREFIX + name, default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="task-emulator",
        description="Emulator of asynchronous-task status APIs for contract tests and local development.",
        epilog="examples:\n  task-emulator serve\n  task-emulator check my-scenarios/\n"
        "  task-emulator scenarios\n  task-emulator health --url http://127.0.0.1:8080\n"
        "  task-emulator openapi > openapi.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"task-emulator {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the emulator server",
        description="Run the emulator on the built-in scenarios (and any you add). Every option "
        "can also be set by the environment variable in brackets.",
        epilog="examples:\n  task-emulator serve\n"
        "  task-emulator serve --port 9000 --clock virtual --scenarios ./my-scenarios\n"
        "  TASK_EMULATOR_HOST=0.0.0.0 TASK_EMULATOR_ADMIN_TOKEN=s3cret task-emulator serve",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # String defaults from the environment go through each option's `type`, so a bad
    # TASK_EMULATOR_* value is reported like a bad option value.
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"),
                       help="address to listen on [TASK_EMULATOR_HOST] (default: %(default)s)")
    serve.add_argument("--port", type=_port, default=_env("PORT", "8080"),
                       help="port [TASK_EMULATOR_PORT] (default: %(default)s)")
    _add_scenario_options(serve)
    serve.add_argument("--seed", type=int, default=_env("SEED"), help="seed for ids and fake data [TASK_EMULATOR_SEED]")
    serve.add_argument("--clock", choices=("real", "virtual"), default=_env("CLOCK", "real"),
                       help="real time, or virtual time that moves only when advanced [TASK_EMULATOR_CLOCK] (default: %(default)s)")
    serve.add_argument("--clock-start", type=_clock_start, default=_env("CLOCK_START"),
                       help="where a virtual clock starts: epoch seconds or an ISO time such as "
                       "2026-01-02T03:04:05Z; with --seed, every id and body replays "
                       "[TASK_EMULATOR_CLOCK_START] (default: the time the server starts)")
    serve.add_argument("--time-scale", type=_positive_float, default=_env("TIME_SCALE", "1"),
                       help="with the real clock, run N times faster [TASK_EMULATOR_TIME_SCALE] (default: %(default)s)")
    serve.add_argument("--validate", choices=VALIDATION_MODES, default=_env("VALIDATE", "strict"),
                       help="check every response against its schema [TASK_EMULATOR_VALIDATE] (default: %(default)s)")
    serve.add_argument("--admin-token", default=_env("ADMIN_TOKEN"),
                       help="require 'Authorization: Bearer TOKEN' on the control API [TASK_EMULATOR_ADMIN_TOKEN]")
    serve.add_argument("--journal-limit", type=_positive_int, default=_env("JOURNAL_LIMIT", "10000"),
                       help="vendor requests the journal keeps, the oldest dropped first "
                       "[TASK_EMULATOR_JOURNAL_LIMIT] (default: %(default)s)")
    serve.add_argument("--task-limit", type=_positive_int, default=_env("TASK_LIMIT", "100000"),
                       help="tasks the server holds at most; past it, a vendor request that would "
                       "start one gets the vendor's 503 and the control API a 429, until a reset "
                       "[TASK_EMULATOR_TASK_LIMIT] (default: %(default)s)")
    serve.add_argument("--config", type=Path, default=_env("CONFIG"),
                       help="YAML file of per-API settings (users, roles …) [TASK_EMULATOR_CONFIG]")
    serve.add_argument("--store", default=_env("STORE", "memory"),
                       help="where tasks, reads and the clock live: memory (this process) or "
                       "redis://host:port/db, shared by replicas (needs the redis extra) [TASK_EMULATOR_STORE]")
    serve.add_argument("--workers", type=_positive_int, default=_env("WORKERS", "1"),
                       help="server processes on one port, each with its own event loop; more than "
                       "one needs --store redis://… [TASK_EMULATOR_WORKERS] (default: %(default)s)")
    serve.add_argument("--loop", choices=LOOPS, default=_env("LOOP", "auto"),
                       help="event loop: uvloop (installed with the 'fast' extra) is faster; auto uses "
                       "it when installed [TASK_EMULATOR_LOOP] (default: %(default)s)")
    serve.add_argument("--max-connections", type=_positive_int, default=_env("MAX_CONNECTIONS", "1000"),
                       help="connections served at once; one more is answered 503 "
                       "[TASK_EMULATOR_MAX_CONNECTIONS] (default: %(default)s)")
    serve.add_argument("--read-timeout", type=_positive_float, default=_env("READ_TIMEOUT", "15"),
                       help="seconds a request (head and body) has to come in whole, from its first byte "
                       "[TASK_EMULATOR_READ_TIMEOUT] (default: %(default)s)")
    serve.add_argument("--idle-timeout", type=_positive_float, default=_env("IDLE_TIMEOUT", "75"),
                       help="seconds a kept-alive connection may wait for its next request "
                       "[TASK_EMULATOR_IDLE_TIMEOUT] (default: %(default)s)")
    serve.add_argument("--shutdown-grace", type=_grace, default=_env("SHUTDOWN_GRACE", "5"),
                       help="on SIGTERM or SIGINT, seconds the answers in flight get to finish before "
                       "they are cut [TASK_EMULATOR_SHUTDOWN_GRACE] (default: %(default)s)")
    serve.add_argument("--log-format", choices=("text", "json"), default=_env("LOG_FORMAT", "text"),
                       help="[TASK_EMULATOR_LOG_FORMAT] (default: %(default)s)")
    serve.add_argument("--log-level", choices=LOG_LEVELS, default=_env("LOG_LEVEL", "info"),
                       help="[TASK_EMULATOR_LOG_LEVEL] (default: %(default)s)")

    check = commands.add_parser(
        "check", help="validate scenario files",
        description="Validate scenario files; print every mistake as file:line: message.",
        epilog="exit status: 0 all valid, 1 a file has mistakes, 2 usage error\n\n"
        "example:\n  task-emulator check scenarios/ my-scenario.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scenario files or folders")

    scenarios = commands.add_parser(
        "scenarios", help="list the scenarios that would be loaded",
        description="List the scenarios `serve` would load: api, name, trigger and lifecycle.",
        epilog="example:\n  task-emulator scenarios --scenarios ./my-scenarios",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_scenario_options(scenarios)

    health = commands.add_parser(
        "health", help="exit 0 when a server answers healthy",
        description="Ask a running emulator whether it is healthy (GET <url>/_emulator/health). "
        "For container health checks: needs nothing but Python.",
        epilog="exit status: 0 healthy, 1 not\n\nexample:\n  task-emulator health --url http://127.0.0.1:8080",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    health.add_argument("--url", default=_env("URL", _health_url()),
                        help="the server's base URL [TASK_EMULATOR_URL] (default: %(default)s, from "
                        "TASK_EMULATOR_HOST and TASK_EMULATOR_PORT as serve reads them)")
    health.add_argument("--timeout", type=_positive_float, default="5", help="seconds (default: %(default)s)")

    commands.add_parser(
        "openapi", help="print the OpenAPI 3.1 document",
        description="Print the OpenAPI 3.1 document of every emulated vendor route and the control "
        "API: the one a server answers at GET /_emulator/openapi.json.",
        epilog="example:\n  task-emulator openapi > openapi.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    schema = commands.add_parser(
        "schema", help="print the scenario JSON Schema, for editors",
        description="Print one JSON Schema that checks a scenario file of any API (the "
        "checks `check` makes that a schema can express), for an editor's completion and "
        "errors as you type: see docs/editors.md.",
        epilog="example:\n  task-emulator schema > scenario.schema.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    schema.add_argument("--id", action="store_true", help="print only its $id (a name, not fetched)")

    # Contract testing against real providers: options and runs live in emulator.contract.
    from .contract.commands import add_record_parser, add_verify_parser

    add_verify_parser(commands)
    add_record_parser(commands)
    return parser


LOG_LEVELS = ("debug", "info", "warning", "error")
T = TypeVar("T")
LOOPS = ("auto", "asyncio", "uvloop")
CHOICES = {
    "clock": ("real", "virtual"), "validate": VALIDATION_MODES, "loop": LOOPS,
    "log_format": ("text", "json"), "log_level": LOG_LEVELS,
}


def _health_url() -> str:
    """The URL `serve` listens on, by the same environment: a container's health check
    finds the server wherever TASK_EMULATOR_HOST and TASK_EMULATOR_PORT put it."""
    host = _env("HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):  # every address: ask this one over loopback
        host = "127.0.0.1" if host != "::" else "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{_env('PORT', '8080')}"


def _add_scenario_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenarios", action="append", type=Path, default=None, metavar="DIR|FILE",
        help="scenario files or folders, added to the built-in ones; repeatable "
        "[TASK_EMULATOR_SCENARIOS, separated by ':']",
    )
    parser.add_argument("--no-builtin", action="store_true", default=_env("NO_BUILTIN", "") not in ("", "0", "false"),
                        help="do not load the built-in scenarios [TASK_EMULATOR_NO_BUILTIN]")


def _clock_start(text: str) -> float:
    try:
        return parse_clock_start(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError(text)
    return value


def _grace(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise ValueError(text)
    return value


def _scenario_paths(args: argparse.Namespace) -> list[Path]:
    from_env = [Path(p) for p in _env("SCENARIOS", "").split(":") if p]
    paths = from_env + (args.scenarios or [])
    for path in paths:
        # A link leading nowhere (broken, or a loop) is left to the loader, which says so.
        if not path.exists() and not path.is_symlink():
            raise ConfigError(f"--scenarios: no such file or folder: {path}")
        if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
            raise ConfigError(f"--scenarios: cannot read the folder {path}")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, allowed in CHOICES.items():
        value = getattr(args, name, None)
        if value is not None and value not in allowed:  # only an environment value can be
            parser.error(f"TASK_EMULATOR_{name.upper()}: {value!r} is not one of {', '.join(allowed)}")
    try:
        if args.command == "check":
            return run_check(args.paths)
        if args.command == "scenarios":
            return run_scenarios(args)
        if args.command == "health":
            return run_health(args.url, args.timeout)
        if args.command == "openapi":
            return run_openapi()
        if args.command == "schema":
            from .editor_schema import run_schema

            return run_schema(args.id)
        if args.command in ("verify", "record"):
            from .contract.commands import run_record, run_verify

            return run_verify(args) if args.command == "verify" else run_record(args)
        return run_serve(args)
    except ScenarioError as error:
        print("task-emulator: the scenarios have mistakes:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except EmulatorError as error:
        print(f"task-emulator: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `task-emulator scenarios | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run_check(paths: list[Path]) -> int:
    """0 when every scenario file under `paths` is valid, 1 when one has mistakes (each
    printed as file:line: message, in file and line order), 2 when there is nothing to check."""
    missing = [p for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        print(f"task-emulator check: no such file or folder: {missing[0]}", file=sys.stderr)
        return 2
    files = scenario_files(paths)
    if not files:
        shown_paths = ", ".join(map(str, paths))
        print(f"task-emulator check: no scenario file (*.yaml, *.yml) under {shown_paths}", file=sys.stderr)
        return 2
    problems = check_files(files, API_CLASSES, load_schemas())
    for problem in problems:
        print(problem)
    if problems:
        bad = len({problem.file for problem in problems})
        print(f"{len(problems)} mistake{'s' if len(problems) != 1 else ''} in {bad} of {len(files)} file{'s' if len(files) != 1 else ''}", file=sys.stderr)
        return 1
    print(f"{len(files)} scenario file{'s' if len(files) != 1 else ''} checked: all valid")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    config = EmulatorConfig(
        scenario_paths=tuple(_scenario_paths(args)),
        builtin_scenarios=not args.no_builtin,
        seed=args.seed,
        clock=args.clock,
        time_scale=args.time_scale,
        clock_start=args.clock_start,
        validate=args.validate,
        admin_token=args.admin_token,
        journal_limit=args.journal_limit,
        task_limit=args.task_limit,
        api_settings=load_settings(args.config),
        store=None if args.store == "memory" else args.store,
    )
    check_workers(args.workers, config.store)
    limits = ServeLimits(
        max_connections=args.max_connections, read_timeout=args.read_timeout,
        idle_timeout=args.idle_timeout, shutdown_grace=args.shutdown_grace,
    )
    run = event_loop_runner(args.loop)
    if args.workers > 1:
        sock = listening_socket(args.host, args.port)

        def worker(sock: socket.socket, index: int) -> int:
            runtime = build_runtime(config)
            app = create_app(runtime=runtime)
            return run(_serve(app, args.host, args.port, runtime, loop_name(run), limits, sock=sock))

        return run_workers(args.workers, sock, worker)
    runtime = build_runtime(config)
    app = create_app(runtime=runtime)
    return run(_serve(app, args.host, args.port, runtime, loop_name(run), limits))


class LoopRunner(Protocol):
    """`asyncio.run`, or a runner like it."""

    def __call__(self, main: Coroutine[Any, Any, T], /) -> T: ...


def event_loop_runner(choice: str) -> LoopRunner:
    """`asyncio.run`, or `uvloop.run` for `choice` uvloop, or for auto when uvloop is
    installed: the same server on a loop written in C (callgrind: ~44k fewer instructions
    per request, a fifth of a bare aiohttp request's)."""
    if choice == "asyncio":
        return asyncio.run
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                "--loop uvloop: uvloop is not installed (pip install 'task-emulator[fast]', "
                "or choose --loop asyncio)"
            ) from None
        return asyncio.run
    return uvloop.run


def loop_name(run: LoopRunner) -> str:
    return "asyncio" if run is asyncio.run else "uvloop"


def run_scenarios(args: argparse.Namespace) -> int:
    config = EmulatorConfig(scenario_paths=tuple(_scenario_paths(args)), builtin_scenarios=not args.no_builtin)
    catalog = load_scenarios(config, load_schemas())
    rows = [("API", "NAME", "TRIGGER", "SOURCE", "LIFECYCLE")]
    for scenario in catalog.scenarios.values():
        trigger = scenario.trigger
        route = "-" if trigger is None else trigger.route + "".join(f" [{k}={v}]" for k, v in trigger.when)
        rows.append((scenario.api, scenario.name, route, _source(scenario.source.file, scenario.source.line), scenario.summary()))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    return 0


def _source(file: str, line: int) -> str:
    """Where a scenario comes from: a built-in one by its place in the package's scenarios
    (`builtin:traffic_ops/acme.yaml:3`), a person's by the path they gave."""
    root = builtin_scenarios()
    path = Path(file)
    if path.is_relative_to(root):
        return f"builtin:{path.relative_to(root).as_posix()}:{line}"
    return f"{file}:{line}"


def run_health(url: str, timeout: float) -> int:
    """0 when `url` answers GET /_emulator/health with 200 and status ok."""
    import urllib.request  # here, not at the top: `serve` starts faster without it

    target = url.rstrip("/") + "/_emulator/health"
    try:
        with urllib.request.urlopen(target, timeout=timeout) as response:
            body = json.loads(response.read())
    except (OSError, ValueError) as error:
        print(f"task-emulator health: {target}: {getattr(error, 'reason', error)}", file=sys.stderr)
        return 1
    if not isinstance(body, dict) or body.get("status") != "ok":
        print(f"task-emulator health: {target} answered {body!r}", file=sys.stderr)
        return 1
    print(f"healthy: {target} ({body.get('tasks')} tasks)")
    return 0


def run_openapi() -> int:
    # The document does not depend on the scenarios: the built-in ones need not be loaded.
    runtime = build_runtime(EmulatorConfig(builtin_scenarios=False))
    print(json.dumps(build_document(runtime, control_routes(ControlApi(runtime))), indent=2))
    return 0


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class ClientMistakes(logging.Filter):
    """aiohttp logs a request it cannot parse (a malformed request line or header) at ERROR
    with a traceback, though it answers 400 and nothing is wrong with the server: such a
    record becomes one WARNING line saying what the client sent wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        error = record.exc_info[1] if record.exc_info else None
        if record.name == "aiohttp.server" and isinstance(error, HttpProcessingError):
            record.msg, record.args = "a request that is not valid HTTP: %s", (error.message or error,)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def setup_logging(level: str, log_format: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ClientMistakes())
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


async def _serve(
    app: web.Application, host: str, port: int, runtime: Any, loop_kind: str, limits: ServeLimits,
    *, sock: socket.socket | None = None,
) -> int:
    raise_open_file_limit(limits.max_connections)
    listener = Listener(app, limits)
    try:
        if sock is not None:
            port = await listener.start(sock=sock)
        else:
            await listener.start(host, port)
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    log = logging.getLogger("task_emulator")
    signals: list[int] = []  # received, in order
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        signals.append(signum)
        if len(signals) == 1:
            stop.set()
        else:  # a second signal: a person who will not wait for the requests
            listener.hurry()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    print(banner(host, port, runtime, loop_kind), flush=True)
    if not _is_loopback(host) and runtime.config.admin_token is None:
        log.warning(
            "listening on %s without --admin-token: anyone who can reach this address can "
            "create, move and reset tasks through /_emulator", host
        )
    await stop.wait()
    log.info(
        "%s: no new connections; finishing the requests in flight (for up to %gs; send it again "
        "to stop at once)", signal.Signals(signals[0]).name, limits.shutdown_grace,
    )
    # Answers held back by a latency fault or dribbled by a slow_body one would outlast any
    # grace period: they end now (a 503, or a reset mid-body).
    end_delays(runtime.faults)
    if len(signals) > 1:  # the second came before this coroutine woke up from the first
        listener.hurry()
    cut = await listener.stop()
    if len(signals) > 1:
        log.warning("%s again: stopped at once, requests in flight cut short", signal.Signals(signals[-1]).name)
        return 1
    if cut:
        log.warning(
            "the grace period (%gs) is over: %d answer(s) cut short, their clients saw a reset: %s",
            limits.shutdown_grace, len(cut), ", ".join(cut[:10]) + (" …" if len(cut) > 10 else ""),
        )
    log.info("stopped")
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def banner(host: str, port: int, runtime: Any, loop: str = "asyncio") -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    lines = [f"task-emulator {__version__} listening on {base} (clock: {runtime.engine.clock.mode}, "
             f"validation: {runtime.validate}, loop: {loop})"]
    secrets = configured_secrets(runtime.config.api_settings)
    for api in runtime.apis.values():
        lines.append(f"  {api.title}: {_masked(api.describe(), secrets)}")
    lines.append(f"  dashboard: {base}{CONTROL_PREFIX}/ui/")
    lines.append(f"  control API: {base}/_emulator/")
    for route in control_routes(ControlApi(runtime)):
        lines.append(f"    {route.method:<6} {CONTROL_PREFIX}{route.path}")
    return "\n".join(lines)


# Settings keys whose values are credentials; `login_tokens` maps credentials to users.
SECRET_SETTINGS = frozenset({"password", "sk", "token"})


def configured_secrets(settings: Any) -> set[str]:
    """The credentials a person put in --config. The banner shows the built-in ones (they
    are in the README) but not these: stdout ends up in CI logs and `docker logs`."""
    found: set[str] = set()
    if isinstance(settings, Mapping):
        for key, value in settings.items():
            if key in SECRET_SETTINGS and isinstance(value, str):
                found.add(value)
            elif key == "login_tokens" and isinstance(value, Mapping):
                found.update(str(token) for token in value)
            else:
                found |= configured_secrets(value)
    elif isinstance(settings, list):
        for item in settings:
            found |= configured_secrets(item)
    return found


def _masked(text: str, secrets: set[str]) -> str:
    for secret in secrets:
        # Whole values only, as describe() writes them: after '/' or a space, before a
        # space, ',', ';' or ')'.
        text = re.sub(rf"(?<=[\s/]){re.escape(secret)}(?=[\s,;)]|$)", "[from --config]", text)
    return text

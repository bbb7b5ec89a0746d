"""`task-emulator`: run the server, check scenario files, list scenarios.

A thin layer: options become an `EmulatorConfig`, the rest is the library's. A person's
mistake (a bad option value, a broken scenario, a port in use) ends with clear lines on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .apis import API_CLASSES
from .config import EmulatorConfig
from .control import ControlApi, admin_token_problem, control_routes
from .errors import ConfigError, EmulatorError, ScenarioError
from .logs import setup_logging
from .openapi import build_document
from .options import VALIDATION_MODES, parse_clock_start, positive_float, positive_int
from .options import port as port_number
from .resources import builtin_scenarios
from .scenario_loader import check_files, scenario_files
from .serve_command import serve
from .serving import ServeLimits
from .settings_file import load_settings
from .state import build_runtime, load_scenarios, load_schemas
from .workers import serve_workers, workers_problem

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
    serve.add_argument("--port", type=port_number, default=_env("PORT", "8080"),
                       help="port [TASK_EMULATOR_PORT] (default: %(default)s)")
    _add_scenario_options(serve)
    serve.add_argument("--seed", type=int, default=_env("SEED"), help="seed for ids and fake data [TASK_EMULATOR_SEED]")
    serve.add_argument("--clock", choices=("real", "virtual"), default=_env("CLOCK", "real"),
                       help="real time, or virtual time that moves only when advanced [TASK_EMULATOR_CLOCK] (default: %(default)s)")
    serve.add_argument("--clock-start", type=_clock_start, default=_env("CLOCK_START"),
                       help="where a virtual clock starts: epoch seconds or an ISO time such as "
                       "2026-01-02T03:04:05Z; with --seed, every id and body replays "
                       "[TASK_EMULATOR_CLOCK_START] (default: the time the server starts)")
    serve.add_argument("--time-scale", type=positive_float, default=_env("TIME_SCALE", "1"),
                       help="with the real clock, run N times faster [TASK_EMULATOR_TIME_SCALE] (default: %(default)s)")
    serve.add_argument("--validate", choices=VALIDATION_MODES, default=_env("VALIDATE", "strict"),
                       help="check every response against its schema [TASK_EMULATOR_VALIDATE] (default: %(default)s)")
    serve.add_argument("--admin-token", default=_env("ADMIN_TOKEN"),
                       help="require 'Authorization: Bearer TOKEN' on the control API [TASK_EMULATOR_ADMIN_TOKEN]")
    serve.add_argument("--journal-limit", type=positive_int, default=_env("JOURNAL_LIMIT", "10000"),
                       help="vendor requests the journal keeps, the oldest dropped first "
                       "[TASK_EMULATOR_JOURNAL_LIMIT] (default: %(default)s)")
    serve.add_argument("--task-limit", type=positive_int, default=_env("TASK_LIMIT", "100000"),
                       help="tasks the server holds at most; past it, a vendor request that would "
                       "start one gets the vendor's 503 and the control API a 429, until a reset "
                       "[TASK_EMULATOR_TASK_LIMIT] (default: %(default)s)")
    serve.add_argument("--store", default=_env("STORE"),
                       help="keep tasks, read counts and the clock in Redis (redis://host:port/db), shared "
                       "by every replica on it; needs the 'redis' extra [TASK_EMULATOR_STORE] (default: memory)")
    serve.add_argument("--workers", type=positive_int, default=_env("WORKERS", "1"),
                       help="server processes on the one port, each with its own event loop; more than "
                       "one needs --store [TASK_EMULATOR_WORKERS] (default: %(default)s)")
    serve.add_argument("--config", type=Path, default=_env("CONFIG"),
                       help="YAML file of per-API settings (users, roles …) [TASK_EMULATOR_CONFIG]")
    serve.add_argument("--loop", choices=LOOPS, default=_env("LOOP", "auto"),
                       help="event loop: uvloop (installed with the 'fast' extra) is faster; auto uses "
                       "it when installed [TASK_EMULATOR_LOOP] (default: %(default)s)")
    serve.add_argument("--max-connections", type=positive_int, default=_env("MAX_CONNECTIONS", "1000"),
                       help="connections served at once; one more is answered 503 "
                       "[TASK_EMULATOR_MAX_CONNECTIONS] (default: %(default)s)")
    serve.add_argument("--read-timeout", type=positive_float, default=_env("READ_TIMEOUT", "15"),
                       help="seconds a request (head and body) has to come in whole, from its first byte "
                       "[TASK_EMULATOR_READ_TIMEOUT] (default: %(default)s)")
    serve.add_argument("--idle-timeout", type=positive_float, default=_env("IDLE_TIMEOUT", "75"),
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
    health.add_argument("--timeout", type=positive_float, default="5", help="seconds (default: %(default)s)")

    commands.add_parser(
        "openapi", help="print the OpenAPI 3.1 document",
        description="Print the OpenAPI 3.1 document of every emulated vendor route and the control "
        "API: the one a server on the built-in scenarios answers at GET /_emulator/openapi.json.",
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
    # Refused rather than taken as unset: whoever set it meant the control API to be closed.
    token_problem = admin_token_problem(getattr(args, "admin_token", None))
    if token_problem is not None:
        where = "--admin-token (TASK_EMULATOR_ADMIN_TOKEN)"
        print(f"task-emulator: {where}: {token_problem}", file=sys.stderr)
        return 2
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
    problem = workers_problem(args.workers, args.store)
    if problem is not None:
        print(f"task-emulator: {problem}", file=sys.stderr)
        return 2
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
        store=args.store,
    )
    limits = ServeLimits(
        max_connections=args.max_connections, read_timeout=args.read_timeout,
        idle_timeout=args.idle_timeout, shutdown_grace=args.shutdown_grace,
    )
    if args.workers > 1:
        return serve_workers(config, args.host, args.port, args.loop, limits, args.workers)
    return serve(config, args.host, args.port, args.loop, limits)


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
    # The document of a server on the built-in scenarios: a fault rule's body names the
    # scenarios a server has loaded, and the steps of each.
    runtime = build_runtime(EmulatorConfig())
    print(json.dumps(build_document(runtime, control_routes(ControlApi(runtime))), indent=2))
    return 0



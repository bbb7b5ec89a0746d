"""`task-emulator`: run the server, check scenario files, list scenarios.

A thin layer: options become an `EmulatorConfig`, the rest is the library's. A person's
mistake (a bad option value, a broken scenario, a port in use) ends with clear lines on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml
from aiohttp import web

from . import __version__
from .apis import API_CLASSES
from .app import VALIDATION_MODES, EmulatorConfig, build_runtime, create_app, load_schemas
from .errors import ConfigError, EmulatorError, ScenarioError
from .scenario import check_files

ENV_PREFIX = "TASK_EMULATOR_"


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(ENV_PREFIX + name, default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="task-emulator",
        description="Emulator of asynchronous-task status APIs for contract tests and local development.",
    )
    parser.add_argument("--version", action="version", version=f"task-emulator {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the emulator server",
        description="Run the emulator on the built-in scenarios (and any you add). "
        "Every option can also be set by the environment variable shown.",
        epilog="examples:\n  task-emulator serve\n"
        "  task-emulator serve --port 9000 --clock virtual --scenarios ./my-scenarios",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="address to listen on [TASK_EMULATOR_HOST] (default: %(default)s)")
    serve.add_argument("--port", type=int, default=int(_env("PORT", 8080)), help="port [TASK_EMULATOR_PORT] (default: %(default)s)")
    serve.add_argument(
        "--scenarios", action="append", type=Path, default=_env_paths(),
        metavar="DIR|FILE", help="scenario files or folders, added to the built-in ones; repeatable "
        "[TASK_EMULATOR_SCENARIOS, separated by ':']",
    )
    serve.add_argument("--no-builtin", action="store_true", default=_env("NO_BUILTIN", "") not in ("", "0", "false"),
                       help="do not load the built-in scenarios [TASK_EMULATOR_NO_BUILTIN]")
    serve.add_argument("--seed", type=int, default=_env_int("SEED"), help="seed for ids and fake data [TASK_EMULATOR_SEED]")
    serve.add_argument("--clock", choices=("real", "virtual"), default=_env("CLOCK", "real"),
                       help="real time, or virtual time that moves only when advanced [TASK_EMULATOR_CLOCK] (default: %(default)s)")
    serve.add_argument("--time-scale", type=float, default=float(_env("TIME_SCALE", 1.0)),
                       help="with the real clock, run N times faster [TASK_EMULATOR_TIME_SCALE] (default: %(default)s)")
    serve.add_argument("--validate", choices=VALIDATION_MODES, default=_env("VALIDATE", "strict"),
                       help="check every response against its schema [TASK_EMULATOR_VALIDATE] (default: %(default)s)")
    serve.add_argument("--admin-token", default=_env("ADMIN_TOKEN"),
                       help="require this Bearer token on the control API [TASK_EMULATOR_ADMIN_TOKEN]")
    serve.add_argument("--config", type=Path, default=_env("CONFIG"),
                       help="YAML file of per-API settings (users, roles …) [TASK_EMULATOR_CONFIG]")
    serve.add_argument("--log-level", default=_env("LOG_LEVEL", "info"),
                       choices=("debug", "info", "warning", "error"), help="[TASK_EMULATOR_LOG_LEVEL] (default: %(default)s)")

    check = commands.add_parser(
        "check", help="validate scenario files",
        description="Validate scenario files; print every mistake as file:line: message.",
        epilog="exit status: 0 all valid, 1 a file has mistakes, 2 usage error\n\n"
        "example:\n  task-emulator check scenarios/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    return parser


def _env_paths() -> list[Path]:
    raw = _env("SCENARIOS", "")
    return [Path(p) for p in raw.split(":") if p]


def _env_int(name: str) -> int | None:
    raw = _env(name)
    return None if raw in (None, "") else int(raw)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except ValueError as error:  # a bad TASK_EMULATOR_* number
        parser.error(f"bad environment value: {error}")
    try:
        if args.command == "check":
            return run_check(args.paths)
        return run_serve(args)
    except ScenarioError as error:
        print("task-emulator: the scenarios have mistakes:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except EmulatorError as error:
        print(f"task-emulator: {error}", file=sys.stderr)
        return 1


def run_check(paths: list[Path]) -> int:
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"task-emulator check: no such file or folder: {missing[0]}", file=sys.stderr)
        return 2
    problems = check_files(paths, API_CLASSES, load_schemas())
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def load_settings(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read the config file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file maps API ids to their settings")
    return data


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for path in args.scenarios:
        if not path.exists():
            raise ConfigError(f"--scenarios: no such file or folder: {path}")
    config = EmulatorConfig(
        scenario_paths=tuple(args.scenarios),
        builtin_scenarios=not args.no_builtin,
        seed=args.seed,
        clock=args.clock,
        time_scale=args.time_scale,
        validate=args.validate,
        admin_token=args.admin_token,
        api_settings=load_settings(args.config),
    )
    runtime = build_runtime(config)
    app = create_app(runtime=runtime)
    return asyncio.run(_serve(app, args.host, args.port, runtime))


async def _serve(app: web.Application, host: str, port: int, runtime: Any) -> int:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(banner(host, port, runtime), flush=True)
    await stop.wait()
    # Stop accepting, let in-flight requests finish, then exit 0.
    await runner.cleanup()
    return 0


def banner(host: str, port: int, runtime: Any) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    lines = [f"task-emulator {__version__} listening on {base} (clock: {runtime.engine.clock.mode}, "
             f"validation: {runtime.validate})"]
    for api in runtime.apis.values():
        lines.append(f"  {api.title}: {api.describe()}")
    lines.append(f"  control API: {base}/_emulator/  (health, scenarios, tasks, clock, reset, requests)")
    return "\n".join(lines)

"""`task-emulator verify` and `task-emulator record`: their options, and running them.

Both end a person's mistake (a bad option, an unreadable file, a server that cannot be
reached) with one line on stderr and exit status 2, never a traceback; `verify` exits 0 when
every check holds and 1 when a provider drifted from the contract.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ..errors import ConfigError
from ..options import port as port_number
from ..options import positive_float, positive_int
from ..schemas import SchemaSet
from ..state import load_schemas
from .credentials import ENV_PREFIX, KNOWN_KEYS, Secrets, load_credentials
from .judge import judge
from .live import ConnectionFailed, LiveOptions, run_live
from .model import Exchange, Report
from .report import json_report, junit_report, text_report, write_text
from .sources import read_har, read_journal
from .vendors import CONTRACTS, VendorContract, contract_for

USAGE_ERROR = 2


def add_verify_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    env_names = ", ".join(ENV_PREFIX + key.upper() for key in KNOWN_KEYS)
    verify = commands.add_parser(
        "verify",
        help="check a real provider (or a HAR file, or a journal) against the contract",
        description="Drive a real server through a task's lifecycle as the vendor's clients do, "
        "and check every answer against the contract the emulator serves: status codes, the "
        "headers clients rely on, bodies against the emulator's schemas, and the sequence of "
        "phases. Or check a HAR file (--har) or the emulator's journal export (--journal).",
        epilog="credentials: a YAML or JSON file (--credentials) of the keys "
        "TaskEmulator.credentials(api) gives, and/or the environment variables "
        f"{env_names}, which win over the file.\n\n"
        "exit status: 0 every check holds, 1 the provider drifted, 2 usage or connection error\n\n"
        "examples:\n"
        "  task-emulator verify --api traffic_ops --base-url https://to.example.com \\\n"
        "      --credentials to.yaml\n"
        "  task-emulator verify --api spectrum_discover --har session.har --junit-xml verify.xml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("--api", required=True, choices=list(CONTRACTS), help="which vendor API")
    where = verify.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--base-url", help="the server to drive (scheme, host, port, any path prefix)"
    )
    where.add_argument("--har", type=Path, metavar="FILE", help="check a HAR 1.2 file instead")
    where.add_argument(
        "--journal",
        type=Path,
        metavar="FILE",
        help="check an emulator journal export (GET /_emulator/requests) instead",
    )
    verify.add_argument(
        "--credentials", type=Path, metavar="FILE", help="YAML or JSON credentials file"
    )
    task = verify.add_mutually_exclusive_group()
    task.add_argument(
        "--task", metavar="ID", help="follow this existing task instead of starting one"
    )
    task.add_argument(
        "--trigger",
        action="store_true",
        help="start a task through the API's trigger (the default)",
    )
    verify.add_argument(
        "--trigger-input",
        metavar="TEXT",
        help="what the trigger sends: the SQL (spectrum_discover), the MQL query "
        "(ops_center), the OBS path (dataarts), acme_autorenew or dnssec_refresh "
        "(traffic_ops)",
    )
    verify.add_argument(
        "--max-polls",
        type=positive_int,
        default=100,
        metavar="N",
        help="polls at most (default: %(default)s)",
    )
    verify.add_argument(
        "--interval",
        type=_non_negative_float,
        default=2.0,
        metavar="SECONDS",
        help="between polls (default: %(default)s)",
    )
    verify.add_argument(
        "--timeout",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="for the whole run; each call gets what is left, 30 s at most (default: %(default)s)",
    )
    verify.add_argument(
        "--junit-xml", type=Path, metavar="FILE", help="also write a JUnit XML report"
    )
    verify.add_argument("--json", type=Path, metavar="FILE", help="also write a JSON report")
    verify.add_argument(
        "--quiet", action="store_true", help="print only the last line of the summary"
    )


def add_record_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    record = commands.add_parser(
        "record",
        help="record a real provider's tasks as scenarios, through a proxy",
        description="Run a reverse proxy in front of a real server: point your client at it, "
        "and every task it sees is written to DIR as a scenario (phases in order, how long "
        "and how many polls each lasted, what each rendered), ready for `serve --scenarios DIR`. "
        "Requests and answers pass unchanged; no credential is written or logged.",
        epilog="example:\n  task-emulator record --api traffic_ops \\\n"
        "      --upstream https://to.example.com --out recorded/ --port 8081",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    record.add_argument("--api", required=True, choices=list(CONTRACTS), help="which vendor API")
    record.add_argument("--upstream", required=True, metavar="URL", help="the real server")
    record.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="where scenarios are written"
    )
    record.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    record.add_argument(
        "--port", type=port_number, default=8081, help="port to listen on (default: %(default)s)"
    )
    record.add_argument(
        "--timeout",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="for each forwarded request (default: %(default)s)",
    )
    record.add_argument(
        "--rewrite-host",
        action="store_true",
        help="send the upstream's host in the Host header instead of the client's "
        "(for an upstream behind name-based virtual hosting; an AK/SK signature "
        "covers Host, so DataArts clients need the default)",
    )


def run_verify(args: argparse.Namespace) -> int:
    contract = contract_for(args.api)
    try:
        credentials = load_credentials(args.credentials)
    except ConfigError as error:
        return _usage(str(error))
    secrets = Secrets()
    secrets.add_from(credentials, contract.secret_keys)
    secrets.add_from(credentials, ("password", "login_token", "sk", "token"))
    schemas = load_schemas()
    try:
        if args.har is not None:
            report = _offline(contract, read_har(args.har), schemas, f"{args.har} (HAR)")
        elif args.journal is not None:
            exchanges = read_journal(args.journal, args.api)
            report = _offline(contract, exchanges, schemas, f"{args.journal} (journal)")
        else:
            options = LiveOptions(
                base_url=_base_url(args.base_url),
                task=args.task,
                trigger_input=args.trigger_input,
                max_polls=args.max_polls,
                interval=args.interval,
                timeout=args.timeout,
            )
            report = asyncio.run(run_live(contract, credentials, options, schemas, secrets))
    except (ConfigError, ConnectionFailed, ValueError) as error:
        return _usage(secrets.mask(str(error)))
    summary = text_report(report, secrets)
    print(summary.splitlines()[-1] if args.quiet else summary)
    try:
        if args.junit_xml is not None:
            write_text(args.junit_xml, junit_report(report, secrets))
        if args.json is not None:
            write_text(args.json, json_report(report, secrets))
    except OSError as error:
        return _usage(f"cannot write the report: {error.strerror or error}: {error.filename}")
    return 0 if report.ok and report.checks else 1


def _offline(
    contract: VendorContract, exchanges: list[Exchange], schemas: SchemaSet, source: str
) -> Report:
    return judge(contract, exchanges, schemas, source=source)


def run_record(args: argparse.Namespace) -> int:
    from .proxy import serve_recorder

    try:
        return asyncio.run(
            serve_recorder(
                contract_for(args.api),
                _base_url(args.upstream),
                args.out,
                args.host,
                args.port,
                args.timeout,
                rewrite_host=args.rewrite_host,
            )
        )
    except (ConfigError, ValueError) as error:
        return _usage(str(error))


def _usage(message: str) -> int:
    print(f"task-emulator: {message}", file=sys.stderr)
    return USAGE_ERROR


def _base_url(text: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"not an http(s) URL: {text!r} (write e.g. https://to.example.com)")
    return text.rstrip("/")








def _non_negative_float(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise ValueError(text)
    return value


__all__ = ["add_record_parser", "add_verify_parser", "run_record", "run_verify"]

"""What `task-emulator serve` runs once its options are parsed: the server, started as every
server is (`service.EmulatorService`), on the event loop asked for, listening until SIGTERM
or SIGINT, with the start-up banner (which never shows a credential given in the settings)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import signal
import socket
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar

from . import __version__
from .app import create_app
from .config import EmulatorConfig
from .control import ControlApi, control_routes
from .errors import ConfigError
from .redact import SECRET_SETTINGS
from .routing import CONTROL_PREFIX
from .service import EmulatorService
from .serving import ServeLimits, raise_open_file_limit
from .state import Runtime

T = TypeVar("T")


def serve(
    config: EmulatorConfig, host: str, port: int, loop: str, limits: ServeLimits, *,
    runtime: Runtime | None = None, sock: socket.socket | None = None, announce: bool = True,
    ready: Callable[[], None] | None = None,
) -> int:
    """Serve `config` on `host:port` until stopped; the exit status. A worker of several
    (emulator.workers) passes its state already built, the listening `sock` it shares,
    `announce` for one of them only (the banner), and `ready`, called once the stop signals
    are handled."""
    run = event_loop_runner(loop)
    served = config if runtime is None else create_app(runtime=runtime)
    service = EmulatorService(served, limits, host=host, port=port, sock=sock)
    return run(_serve(service, loop_name(run), announce, ready))


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


async def _serve(
    service: EmulatorService, loop_kind: str, announce: bool = True, ready: Callable[[], None] | None = None
) -> int:
    limits = service.limits
    raise_open_file_limit(limits.max_connections)
    port = await service.start()
    log = logging.getLogger("task_emulator")
    signals: list[int] = []  # received, in order
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        signals.append(signum)
        if len(signals) == 1:
            stop.set()
        else:  # a second signal: a person who will not wait for the requests
            service.hurry()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    runtime = service.runtime
    if ready is not None:
        ready()
    if announce:
        print(banner(service.host, port, runtime, loop_kind), flush=True)
    if announce and not _is_loopback(service.host) and runtime.config.admin_token is None:
        log.warning(
            "listening on %s without --admin-token: anyone who can reach this address can "
            "create, move and reset tasks through /_emulator", service.host
        )
    await stop.wait()
    log.info(
        "%s: no new connections; finishing the requests in flight (for up to %gs; send it again "
        "to stop at once)", signal.Signals(signals[0]).name, limits.shutdown_grace,
    )
    if len(signals) > 1:  # the second came before this coroutine woke up from the first
        service.hurry()
    cut = await service.stop()
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
    """Whether the server listens on loopback only, reading `host` as the resolver does:
    IPv4 in inet_aton's short forms too (`127.1`, `0x7f.1`), IPv6 (`::1`, `[::1]`, an
    IPv4-mapped `::ffff:127.0.0.1`), `localhost`. When unsure: no (and the warning shows)."""
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if name.lower().rstrip(".") == "localhost" or name.lower().rstrip(".").endswith(".localhost"):
        return True
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(name)
    except ValueError:
        # inet_aton also takes whatever follows a space; the resolver does not.
        if not name or any(c.isspace() for c in name):
            return False
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


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




def configured_secrets(settings: Any) -> set[str]:
    """The credentials a person put in --config. The banner shows the built-in ones (they
    are in the README) but not these: stdout ends up in CI logs and `docker logs`."""
    found: set[str] = set()
    if isinstance(settings, Mapping):
        for key, value in settings.items():
            if key in SECRET_SETTINGS and isinstance(value, str):
                found.add(value)
            elif key in SECRET_SETTINGS and isinstance(value, Mapping):
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

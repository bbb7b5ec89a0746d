"""`task-emulator serve --workers N`: N server processes answering on one port.

The parent checks the configuration, loads the scenarios and schemas and builds the server's
state once, binds the address once, then forks the workers, before any event loop or thread
exists. Each worker serves the inherited listening socket on an event loop of its own (its
connections to the shared store are its own too: none was opened before the fork), and the
kernel hands each new connection to whichever worker accepts it first. The parent serves
nothing; it passes signals on and waits.

Why one socket bound by the parent rather than SO_REUSEPORT (each worker binding its own):
the address is taken once, so a port in use is one message before any worker starts, port 0
works, and no other process can join the port; and the workers take connections from one
queue, so a connection waits for whichever worker is free first, where SO_REUSEPORT hashes
it to one worker's queue however busy that worker is, and resets the connections still in
a queue whose worker exits.

Why fork rather than multiprocessing's spawn: a mistake in the scenarios or the settings is
reported once, by the parent, before any worker exists; and a worker starts in milliseconds
with the loaded scenarios and compiled schemas shared copy-on-write, where a spawned one
imports everything and loads every file again. Fork is safe here because the parent has
no thread and no event loop when it forks (checked). It needs a POSIX system, as `serve`'s
signal handling already does.

- A SIGTERM or SIGINT to the parent goes on to every worker, which stops as a single server
  does (the requests in flight get --shutdown-grace); a second one stops them at once. The
  workers have a process group of their own, so a Ctrl-C at a terminal (sent to the whole
  foreground group) reaches them once, through the parent, and is not taken for a second.
- A worker that exits unasked makes the parent stop the others and exit 1, saying which.
- A parent that is killed leaves a pipe with no writer behind: every worker reads its end
  of file and stops as if sent SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

from .config import EmulatorConfig
from .errors import ConfigError, EmulatorError
from .serve_command import serve
from .serving import ServeLimits
from .state import build_runtime

log = logging.getLogger("task_emulator")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# The listening socket's queue of connections not yet accepted (aiohttp's default).
BACKLOG = 128


def workers_problem(workers: int, store: str | None) -> str | None:
    """Why `workers` processes cannot serve with `store` (None: the memory store), or None."""
    if workers == 1:
        return None
    if store is None:
        return (
            f"--workers {workers} needs a shared store: add --store redis://host:port/db "
            "(with the memory store each worker process would have tasks of its own)"
        )
    if not hasattr(os, "fork"):
        return f"--workers {workers}: this system cannot fork worker processes"
    return None


def serve_workers(
    config: EmulatorConfig, host: str, port: int, loop: str, limits: ServeLimits, workers: int
) -> int:
    """Serve `config` on `host:port` with `workers` processes until stopped; the exit status:
    0 when every worker stopped cleanly when asked to, else 1."""
    runtime = build_runtime(config)  # every mistake in the files found here, once
    sock = listening_socket(host, port)
    port = int(sock.getsockname()[1])

    def work(index: int, ready: Callable[[], None]) -> int:
        return serve(
            config, host, port, loop, limits, runtime=runtime, sock=sock, announce=index == 1, ready=ready
        )

    with sock:
        return Supervisor(workers, work, sock).run()


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on `host:port`, as asyncio would make it; ConfigError when the
    address is in use, cannot be resolved, or names more than one address (the workers
    share one socket)."""
    where = f"{host}:{port}"
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ConfigError(f"cannot listen on {where}: {error.strerror or error}") from None
    addresses = list(dict.fromkeys((family, address) for family, _, _, _, address in found))
    if len(addresses) != 1:
        shown = ", ".join(str(address[0]) for _, address in addresses)
        raise ConfigError(
            f"--workers: --host {host or repr(host)} names {len(addresses)} addresses ({shown}); "
            "worker processes share one listening socket: give one address"
        )
    family, address = addresses[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise ConfigError(f"cannot listen on {where}: {error.strerror or error}") from None
    return sock


Work = Callable[[int, Callable[[], None]], int]


class Supervisor:
    """Forks `count` workers, each running `work(index, ready)` (index from 1; `ready` to be
    called once the worker handles its stop signals), passes signals on and waits for them.
    The parent closes its copy of `shared`, the workers' listening socket, once they are
    forked: a socket still open in the parent would take connections on after every worker
    stopped listening, and leave them waiting for an answer that never comes."""

    def __init__(self, count: int, work: Work, shared: socket.socket) -> None:
        self.count = count
        self.work = work
        self.shared = shared
        self.workers: dict[int, int] = {}  # pid -> index, while it runs
        self.stopping = False

    def run(self) -> int:
        if threading.active_count() > 1:
            raise ConfigError(
                f"cannot fork worker processes safely: this process already runs {threading.active_count()} threads"
            )
        # Blocked until each side handles them: a signal that comes meanwhile waits, in the
        # parent until it can pass it on, in a worker until its event loop takes it.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        # The parent holds the write end: when it dies, the workers read end of file.
        lifeline, held = os.pipe()
        failed = False
        try:
            for index in range(1, self.count + 1):
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    os.close(held)
                    self._worker(index, lifeline)
                self.workers[pid] = index
        except OSError as error:
            log.error("could not start worker %d of %d: %s", len(self.workers) + 1, self.count, error)
            failed = self.stopping = True
            self._signal_all(signal.SIGTERM)
        finally:
            os.close(lifeline)
            self.shared.close()
            for signum in STOP_SIGNALS:
                signal.signal(signum, self._pass_on)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        if not failed:
            log.info(
                "%d worker processes serving one socket: pids %s", self.count, ", ".join(map(str, self.workers))
            )
        try:
            return self._wait(failed=failed)
        finally:
            os.close(held)

    def _pass_on(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        self._signal_all(signum)

    def _signal_all(self, signum: int) -> None:
        for pid in list(self.workers):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _wait(self, *, failed: bool) -> int:
        status = 1 if failed else 0
        while self.workers:
            pid, raw = os.waitpid(-1, 0)
            index = self.workers.pop(pid, None)
            if index is None:
                continue
            code = os.waitstatus_to_exitcode(raw)
            if not self.stopping:
                log.error("worker %d (pid %d) %s: stopping the other workers", index, pid, _ended(code, asked=False))
                self.stopping = True
                status = 1
                self._signal_all(signal.SIGTERM)
            elif code != 0:
                log.error("worker %d (pid %d) %s", index, pid, _ended(code, asked=True))
                status = 1
        if status == 0:
            log.info("every worker stopped")
        return status

    def _worker(self, index: int, lifeline: int) -> NoReturn:
        code = 1
        try:
            os.setpgid(0, 0)  # see the module's doc: a terminal's Ctrl-C goes to the parent only
            _name_log_lines(index)
            _stop_when_orphaned(lifeline)
            code = self.work(index, _take_signals)
        except EmulatorError as error:
            print(f"task-emulator: worker {index}: {error}", file=sys.stderr)
        except BaseException:  # noqa: BLE001 - a worker's bug: said here, then exit 1
            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001, S110 - a closed pipe: nothing left to say it on
                    pass
            os._exit(code)


def _take_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _ended(code: int, *, asked: bool) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    if code == 0:
        return "stopped though it was not asked to"
    return f"exited with status {code}" + ("" if asked else " though it was not asked to stop")


def _stop_when_orphaned(lifeline: int) -> None:
    """A SIGTERM to this worker once the parent is gone (its end of the pipe closed)."""

    def watch() -> None:
        try:
            while os.read(lifeline, 1):
                pass
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="task-emulator-lifeline", daemon=True).start()


class _WorkerName(logging.Filter):
    """`worker 2: ` before each log line of worker 2, so that N workers' lines can be told apart."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.prefix = f"worker {index}: "

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(self.prefix):  # a record seen by a second handler
            record.msg, record.args = self.prefix + message, None
        return True


def _name_log_lines(index: int) -> None:
    for handler in logging.getLogger().handlers:
        handler.addFilter(_WorkerName(index))

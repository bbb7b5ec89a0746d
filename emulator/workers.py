"""`serve --workers N`: N server processes answering on one listening socket.

The parent binds the socket, then forks the workers before any event loop exists; each
runs its own loop and application on the inherited socket, and the kernel hands each new
connection to one of them. A signal to the parent (SIGTERM, SIGINT) goes on to every
worker, which stops as a single server does; the parent waits for all of them.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable

from .errors import ConfigError


def check_workers(workers: int, store: str | None) -> None:
    if workers > 1 and store is None:
        raise ConfigError(
            f"--workers {workers}: worker processes share tasks only through a shared store; "
            "add --store redis://host:port/db (the memory store is one process's)"
        )
    if workers > 1 and not hasattr(os, "fork"):
        raise ConfigError(f"--workers {workers}: this platform cannot fork worker processes")


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def run_workers(
    workers: int, sock: socket.socket, serve: Callable[[socket.socket, int], int]
) -> int:
    """Fork `workers` processes, each running `serve(sock, index)`; return 0 when every
    worker stopped cleanly, else the first failing worker's exit status."""
    children: list[int] = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                code = serve(sock, index)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    sock.close()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    status = 0
    for child in children:
        while True:
            try:
                _, raw = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(raw)
        if code != 0 and status == 0:
            status = code if code > 0 else 1
    return status

"""The recording reverse proxy: a client talks to it, it forwards every request to the real
server unchanged (method, path, query, headers but hop-by-hop ones, body) and streams the
answer back unchanged, and every task it sees is written as a scenario (`Recorder`).

Nothing it writes or logs holds a credential: scenarios carry no headers at all, and every
text written goes through the `Secrets` learned from the traffic (Authorization, cookies,
tokens, login forms). Logs name the method, the path and the status, never the query.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import time
import zlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from ..errors import ConfigError
from .credentials import Secrets
from .model import Exchange
from .recorder import Recorder
from .vendors import VendorContract

log = logging.getLogger("task_emulator.record")

# RFC 9110 section 7.6.1: headers of one connection, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
# Answers bigger than this are forwarded whole but recorded without their body.
RECORD_LIMIT = 32 * 1024 * 1024
RECORDER = web.AppKey("task_emulator_recorder", Recorder)
CLIENT = web.AppKey("task_emulator_proxy_client", aiohttp.ClientSession)


def recording_app(
    contract: VendorContract,
    upstream: str,
    recorder: Recorder,
    *,
    timeout: float = 60.0,
    rewrite_host: bool = False,
) -> web.Application:
    """The proxy as an aiohttp application (the CLI serves it; tests start it themselves)."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[RECORDER] = recorder
    base = URL(upstream.rstrip("/"))
    # One thread writes scenario files, in the order exchanges come: never the event loop.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record-writer")

    async def client(app: web.Application) -> AsyncIterator[None]:
        app[CLIENT] = aiohttp.ClientSession(
            auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        )
        yield
        await app[CLIENT].close()
        writer.shutdown(wait=True)

    app.cleanup_ctx.append(client)

    async def forward(request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        body = await request.read()
        headers = _forwarded(request.headers)
        if rewrite_host:
            headers["Host"] = base.raw_authority
        target = URL(str(base) + request.raw_path, encoded=True)
        try:
            async with request.app[CLIENT].request(
                request.method,
                target,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as answer:
                response = web.StreamResponse(status=answer.status, reason=answer.reason)
                for name, value in answer.headers.items():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        response.headers.add(name, value)
                if answer.content_length is not None:
                    response.content_length = answer.content_length
                await response.prepare(request)
                kept, size = [], 0
                async for chunk in answer.content.iter_any():
                    await response.write(chunk)
                    size += len(chunk)
                    if size <= RECORD_LIMIT:
                        kept.append(chunk)
                await response.write_eof()
                received = tuple(answer.headers.items())
        except (aiohttp.ClientError, TimeoutError) as error:
            status = 504 if isinstance(error, TimeoutError) else 502
            log.warning(
                "%s %s: the upstream did not answer (%s)",
                request.method,
                request.path,
                type(error).__name__,
            )
            return web.Response(
                status=status, text=f"task-emulator record: upstream unreachable ({status})\n"
            )
        recorded = (
            _decoded(b"".join(kept), answer.headers.get("Content-Encoding"))
            if size <= RECORD_LIMIT
            else None
        )
        log.debug("%s %s -> %s", request.method, request.path, answer.status)
        exchange = Exchange(
            index=0,
            method=request.method,
            path=request.path,
            query=tuple(request.query.items()),
            raw_query=request.rel_url.raw_query_string,
            request_headers=tuple(request.headers.items()),
            request_body=body,
            status=answer.status,
            response_headers=received,
            body=recorded,
            time=started,
        )
        # Recorded in the background, in arrival order: the client's next request on this
        # connection is not held up by a scenario being written.
        done = asyncio.get_running_loop().run_in_executor(
            writer, request.app[RECORDER].add, exchange
        )
        done.add_done_callback(_logged)
        return response

    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def _logged(done: asyncio.Future[Any]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("could not record an exchange: %s", done.exception())


def _forwarded(headers: CIMultiDict[str] | object) -> CIMultiDict[str]:
    """The request's headers but the hop-by-hop ones (and those its Connection names), and
    Content-Length, which the client session writes for the body it sends."""
    source: CIMultiDict[str] = CIMultiDict(headers)  # type: ignore[arg-type]
    named = {h.strip().lower() for h in source.get("Connection", "").split(",") if h.strip()}
    return CIMultiDict(
        (k, v)
        for k, v in source.items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in named and k.lower() != "content-length"
    )


def _decoded(body: bytes, encoding: str | None) -> bytes | None:
    """The body as the server meant it (a gzip or deflate copy unpacked, for reading), or
    None when it cannot be read (another encoding)."""
    if not encoding or encoding.lower() == "identity":
        return body
    try:
        if encoding.lower() in ("gzip", "x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding.lower() == "deflate":
            return zlib.decompress(body)
    except zlib.error:
        return None
    return None


async def serve_recorder(
    contract: VendorContract,
    upstream: str,
    out: Path,
    host: str,
    port: int,
    timeout: float,
    *,
    rewrite_host: bool = False,
) -> int:
    """Run the proxy until SIGINT or SIGTERM; 0 then. ConfigError when it cannot start."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    recorder = Recorder(contract, out, Secrets())
    app = recording_app(contract, upstream, recorder, timeout=timeout, rewrite_host=rewrite_host)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    shown = re.sub(r"//[^/@]*@", "//", upstream)  # never a user:password@ of the URL
    print(
        f"task-emulator record: {contract.api} proxy on http://{host}:{port} for {shown}; "
        f"scenarios go to {out} (Ctrl-C to stop)",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()
    log.info("stopped: %d scenario file(s) written", len(recorder.written))
    return 0

"""Driving a real server through one task's lifecycle, as the vendor's clients do: log in,
start a task (or follow a given one), poll it until it ends, the poll count runs out or the
time limit passes. Every call is recorded as an `Exchange` and judged afterwards by the same
checks as a HAR file; every call has a timeout, and the whole run a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ..errors import EmulatorError
from ..schemas import SchemaSet
from .credentials import Secrets
from .judge import judge
from .model import TERMINAL, Exchange, Report
from .vendors import VendorContract

# An answer body is read up to this size; a bigger one is cut, and said to be.
MAX_BODY_BYTES = 64 * 1024 * 1024
# Every single HTTP call ends after this long at most, whatever time the run has left.
MAX_CALL_SECONDS = 30.0


class ConnectionFailed(EmulatorError):
    """The server could not be reached at all (refused, unknown host, no answer in time)."""


@dataclass(frozen=True)
class LiveOptions:
    base_url: str
    task: str | None = None  # follow this task instead of starting one
    trigger_input: str | None = None
    max_polls: int = 100
    interval: float = 2.0
    timeout: float = 300.0


@dataclass
class HttpClient:
    """`vendors.base.Http` over aiohttp: records each call, never follows a redirect (a
    303 is an answer to check, not a hop), and bounds each call by the run's deadline."""

    session: aiohttp.ClientSession
    base_url: str
    deadline: float
    secrets: Secrets
    exchanges: list[Exchange] = field(default_factory=list)
    answered: bool = False

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    @property
    def scheme(self) -> str:
        return urlsplit(self.base_url).scheme

    def secret(self, value: str) -> None:
        self.secrets.add(value)

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Exchange:
        # A base URL may have a path of its own (a server behind a path prefix).
        url = self.base_url.rstrip("/") + path + (f"?{query}" if query else "")
        sent = tuple((headers or {}).items())
        self.secrets.learn_headers(sent)
        self.secrets.learn_body(body)
        started = time.monotonic()
        left = self.deadline - started
        common: dict[str, Any] = {
            "index": len(self.exchanges),
            "method": method,
            "path": path,
            "raw_query": query,
            "query": _pairs(query),
            "request_headers": sent,
            "request_body": body,
            "time": started,
        }
        if left <= 0:
            exchange = Exchange(**common, error="the time limit passed")
            self.exchanges.append(exchange)
            return exchange
        try:
            async with self.session.request(
                method,
                url,
                headers=dict(headers or {}),
                data=body,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=min(left, MAX_CALL_SECONDS)),
            ) as response:
                data, whole = await _read_bounded(response.content)
                notes = () if whole else (f"body cut at {MAX_BODY_BYTES} bytes",)
                answer = tuple((k, v) for k, v in response.headers.items())
                self.secrets.learn_headers(answer)
                exchange = Exchange(
                    **common,
                    status=response.status,
                    response_headers=answer,
                    body=data,
                    source_notes=notes,
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            reason = _reason(error)
            if not self.answered:
                raise ConnectionFailed(f"cannot reach {self.base_url}: {reason}") from None
            exchange = Exchange(**common, error=reason)
        else:
            self.answered = True
        self.exchanges.append(exchange)
        return exchange


async def _read_bounded(stream: aiohttp.StreamReader) -> tuple[bytes, bool]:
    """The body up to MAX_BODY_BYTES, and whether that was all of it."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_any():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"".join(chunks)[:MAX_BODY_BYTES], False
    return b"".join(chunks), True


def _pairs(query: str) -> tuple[tuple[str, str], ...]:
    from urllib.parse import parse_qsl

    return tuple(parse_qsl(query, keep_blank_values=True))


def _reason(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "no answer in time"
    if isinstance(error, aiohttp.ClientConnectorError):
        return (
            str(error.os_error.strerror or error.os_error)
            if error.os_error
            else "connection refused"
        )
    return str(error) or type(error).__name__


async def run_live(
    contract: VendorContract,
    credentials: Mapping[str, str],
    options: LiveOptions,
    schemas: SchemaSet,
    secrets: Secrets,
) -> Report:
    """One lifecycle against the server at `options.base_url`, judged. Raises
    ConnectionFailed when the server never answered."""
    deadline = time.monotonic() + options.timeout
    labels: dict[int, str] = {}
    # No cookie jar: a vendor keeps the cookies its clients keep, in its session headers.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        http = HttpClient(session, options.base_url, deadline, secrets)
        vendor_session = await contract.login(http, credentials)
        _label(labels, http, "login")
        task = options.task
        if task is None:
            task = await contract.trigger(http, vendor_session, credentials, options.trigger_input)
            _label(labels, http, "trigger")
        ended = False
        polls = 0
        while task is not None and polls < options.max_polls and time.monotonic() < deadline:
            if polls:
                await asyncio.sleep(min(options.interval, max(0.0, deadline - time.monotonic())))
            polls += 1
            seen = len(http.exchanges)
            await contract.poll(http, vendor_session, credentials, task)
            _label(labels, http, f"poll {polls}")
            ended = _ended(contract, http.exchanges[seen:], task)
            if ended:
                break
    report = judge(
        contract, http.exchanges, schemas, source=f"{options.base_url} (live)", labels=labels
    )
    if task is None:
        report.notes.append("the trigger's answer named no task: nothing to poll")
    elif not ended:
        report.notes.append(
            f"task {task} had not ended after {polls} poll(s) within the limits "
            f"(--max-polls {options.max_polls}, --timeout {options.timeout:g} s)"
        )
    return report


def _label(labels: dict[int, str], http: HttpClient, name: str) -> None:
    for exchange in http.exchanges:
        labels.setdefault(exchange.index, name)


def _ended(contract: VendorContract, exchanges: list[Exchange], task: str) -> bool:
    """Whether this round's answers show `task` at an end (then polling stops)."""
    import json

    for exchange in exchanges:
        route = contract.route(exchange)
        if route is None or exchange.status is None:
            continue
        try:
            body = json.loads(exchange.body) if exchange.body else None
        except (ValueError, RecursionError):
            body = None
        if any(
            seen.task == task and seen.phase in TERMINAL
            for seen in contract.observe(exchange, route, body)
        ):
            return True
    return False

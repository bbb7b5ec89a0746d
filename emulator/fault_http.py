"""Fault injection's I/O edge: a fault that `faults.FaultSet` decided, applied to an aiohttp
request and its answer (see faults.py for when each kind is decided and what it does).

Every delay (a latency, a slow body's pauses) is registered with its server's fault set
while it runs, so that a reset or a stop ends it at once (`end_delays`) instead of holding
the reset, the stop or a test's tear-down for as long as the fault said.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

from .fault_effects import Empty, ErrorStatus, Latency, Reset, SlowBody, Truncate
from .faults import Decision, Fault, FaultSet, RequestFacts, TaskFacts
from .requestkeys import OBSERVED

if TYPE_CHECKING:
    from .apis.base import VendorApi
    from .task import TaskView

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The header on every answer a fault sent or changed: the id of the rule.
FAULT_HEADER = "X-Task-Emulator-Fault"
# What the access log says of a connection a fault closed before a status line (nginx's
# "444 No Response"), where aiohttp would log a 200.
CLOSED_STATUS = 444
# How much of a streamed body (unknown length) a truncation reads ahead to find where to
# cut: a stream that ends within it is cut at `fraction` of its length, a longer one at
# `fraction` of what was read, so a result of any size costs at most this much memory.
TRUNCATE_LOOKAHEAD = 1024 * 1024

# The delays in progress, by fault set (one per server): each a future that its timer
# settles True, or `end_delays` False.
_delays: WeakKeyDictionary[FaultSet, set[asyncio.Future[bool]]] = WeakKeyDictionary()


def end_delays(faults: FaultSet) -> int:
    """End every delay in progress under `faults` now: a held-back answer becomes a 503 (the
    connection closed after it), a dribbled body is cut with a reset. Returns how many."""
    waiting = list(_delays.get(faults, ()))
    for waiter in waiting:
        _settle(waiter, False)
    return len(waiting)


async def _hold(faults: FaultSet, seconds: float) -> bool:
    """Wait `seconds` (at least one turn of the loop); False when `end_delays` ended it."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[bool] = loop.create_future()
    timer = loop.call_later(max(seconds, 0.0), _settle, waiter, True)
    waiting = _delays.setdefault(faults, set())
    waiting.add(waiter)
    try:
        return await waiter
    finally:
        timer.cancel()
        waiting.discard(waiter)


def _settle(waiter: asyncio.Future[bool], ran_its_course: bool) -> None:
    if not waiter.done():
        waiter.set_result(ran_its_course)


class _Ended(Exception):
    """A dribble whose pause `end_delays` ended."""


class _Enough(Exception):
    """A stream read as far as a truncation needs."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the client got: the response aiohttp finishes, the status line it carried
    (None when the connection closed first) and the fault, if one applied."""

    response: web.StreamResponse
    status: int | None
    fault: Fault | None = None


async def serve_with_faults(
    request: web.Request,
    handler: Handler,
    faults: FaultSet,
    apis: Mapping[str, VendorApi],
    api: str | None,
    claim: Claim | None = None,
) -> Outcome:
    """Answer `request` through `handler`, with whichever fault applies.

    `api` is the API whose route the request matched (None for no vendor route). An
    `aiohttp.web.HTTPException` from the handler (no such route, a body too large)
    propagates, unfaulted, unless a latency already held it back: then it is the delayed
    answer, marked and journaled as such.
    """
    facts = RequestFacts(api, request.method, request.path, request.query)
    decision = await _claimed(faults, claim, lambda: faults.on_request(facts))
    if decision is not None:
        effect = decision.fault.effect
        if isinstance(effect, Latency):
            if not await _hold(faults, decision.delay):
                return _ended(request, decision.fault, apis.get(api) if api else None)
            try:
                response = await handler(request)
            except web.HTTPException as error:
                response = _as_response(error)
            return Outcome(_marked(response, decision.fault), response.status, decision.fault)
        # error, reset or empty (truncate and slow_body wait for the answer: on_answer)
        return await _instead(request, decision.fault, apis.get(api) if api else None)
    response = await handler(request)
    if faults.has_answer_rules and not response.prepared:
        view = request.get(OBSERVED)
        task = None if view is None else task_facts(view)
        has_body = _has_body(request, response)
        decision = await _claimed(faults, claim, lambda: faults.on_answer(facts, task, has_body))
        if decision is not None:
            owner = api if task is None else task.api
            return await _on_answer(request, response, decision, faults, apis.get(owner) if owner else None)
    return Outcome(response, response.status)


# Counts one application of a rule with `times` where every replica counts it (a shared
# store): False when the rule was used up on some replica.
Claim = Callable[[Fault], Awaitable[bool]]


async def _claimed(faults: FaultSet, claim: Claim | None, decide: Callable[[], Decision | None]) -> Decision | None:
    """What `decide` decides, with a rule that has `times` applying only when it is claimed
    (`claim`): one used up elsewhere is marked used up here and the next rule is tried. A
    rule without `times` costs nothing more."""
    decision = decide()
    while decision is not None and claim is not None and decision.fault.times is not None:
        if await claim(decision.fault):
            return decision
        faults.exhaust(decision.fault.id)
        decision = decide()
    return decision


async def _instead(request: web.Request, fault: Fault, api: VendorApi | None) -> Outcome:
    """A fault that answers in the vendor's place: the handler never runs."""
    await _read_body(request)  # for the journal, before the connection may go
    effect = fault.effect
    if isinstance(effect, ErrorStatus):
        if api is None:  # no vendor route, so no vendor error shape: the emulator's own
            response: web.StreamResponse = web.json_response({"error": "injected fault"}, status=effect.status)
        else:
            response = api.error_response(request, effect.status, effect.retry_after)
        return Outcome(_marked(response, fault), response.status, fault)
    _close(request, abortive=isinstance(effect, Reset))
    # Never sent, the connection being gone: only the server's access log shows its status.
    return Outcome(web.Response(status=CLOSED_STATUS, reason="No Response"), None, fault)


async def _on_answer(
    request: web.Request, response: web.StreamResponse, decision: Decision, faults: FaultSet,
    api: VendorApi | None,
) -> Outcome:
    """A fault applied to the handler's unsent answer.

    A streamed body (an async iterable, of unknown length) keeps its chunked encoding: a
    slow one is dribbled as it is made; a truncated one is read ahead at most
    TRUNCATE_LOOKAHEAD bytes (a fraction needs a length), then sent in part without the
    last chunk, so the client sees an incomplete body however short it is."""
    fault = decision.fault
    effect = fault.effect
    if isinstance(effect, Latency):
        if not await _hold(faults, decision.delay):
            return _ended(request, fault, api)
        return Outcome(_marked(response, fault), response.status, fault)
    if isinstance(effect, (ErrorStatus, Reset, Empty)):
        return await _instead(request, fault, api)
    body = getattr(response, "body", None)
    stream = web.StreamResponse(status=response.status, reason=response.reason)
    for name, value in response.headers.items():
        if name.lower() not in ("content-length", "transfer-encoding"):
            stream.headers.add(name, value)
    for morsel in response.cookies.values():
        stream.cookies[morsel.key] = morsel
    stream.headers[FAULT_HEADER] = fault.id
    if not isinstance(body, Payload):
        body = _body_of(response)
        stream.content_length = len(body)
    try:
        await stream.prepare(request)
        if isinstance(effect, Truncate):
            ahead = await _read_ahead(body, TRUNCATE_LOOKAHEAD) if isinstance(body, Payload) else body
            await stream.write(ahead[: effect.cut(len(ahead))])
            _close(request, abortive=False)
        else:
            await _dribble(stream, body, effect, faults)
            await stream.write_eof()
    except ConnectionError:
        pass  # the client gave up; the journal still says what was meant
    except _Ended:
        _close(request, abortive=True)  # headers gone out, body not: the client must see an error
    return Outcome(stream, response.status, fault)


async def _dribble(
    stream: web.StreamResponse, body: bytes | Payload, effect: SlowBody, faults: FaultSet
) -> None:
    """Write `body` `effect.chunk_bytes` at a time, `effect.interval` between writes; _Ended
    when `end_delays` ends a pause."""
    first = True

    async def send(data: bytes) -> None:
        nonlocal first
        for start in range(0, len(data), effect.chunk_bytes):
            if not first and not await _hold(faults, effect.interval):
                raise _Ended
            first = False
            await stream.write(data[start : start + effect.chunk_bytes])

    if isinstance(body, Payload):
        await body.write(_Relay(send))
    else:
        await send(body)


async def _read_ahead(body: Payload, limit: int) -> bytes:
    """The payload's first bytes: all of them, or the first `limit` and a little more (the
    rest of the chunk that reached it); the rest is never made."""
    parts: list[bytes] = []
    size = 0

    async def keep(data: bytes) -> None:
        nonlocal size
        parts.append(data)
        size += len(data)
        if size >= limit:
            raise _Enough
        await asyncio.sleep(0)  # a stream can take long to make: let other requests in

    try:
        await body.write(_Relay(keep))
    except _Enough:
        pass
    return b"".join(parts)


class _Relay(AbstractStreamWriter):
    """What a payload writes itself to: each chunk handed to `send`."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = send

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        await self._send(bytes(chunk))

    async def write_eof(self, chunk: bytes = b"") -> None:
        if chunk:
            await self._send(chunk)

    async def drain(self) -> None:
        pass

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        pass

    def enable_chunking(self) -> None:
        pass

    async def write_headers(self, status_line: str, headers: Any) -> None:
        pass


def _has_body(request: web.Request, response: web.StreamResponse) -> bool:
    """Whether the answer will carry a body a fault could cut or slow."""
    if request.method == "HEAD" or response.status in (204, 304) or response.status < 200:
        return False
    body = getattr(response, "body", None)
    return isinstance(body, Payload) or bool(_body_of(response))


def _as_response(error: web.HTTPException) -> web.Response:
    """The answer aiohttp makes of a raised HTTPException, as a response to return (returning
    the exception itself is deprecated)."""
    return web.Response(status=error.status, reason=error.reason, body=error.body, headers=error.headers)


def _ended(request: web.Request, fault: Fault, api: VendorApi | None) -> Outcome:
    """The answer to a request whose delay a reset or a stop ended: 503 at once, in the
    vendor's error shape, and no further request on the connection."""
    if api is None:
        response: web.StreamResponse = web.json_response(
            {"error": "the emulator was reset or is stopping"}, status=503
        )
    else:
        response = api.error_response(request, 503, None)
    response.force_close()
    return Outcome(_marked(response, fault), response.status, fault)


def _marked(response: web.StreamResponse, fault: Fault) -> web.StreamResponse:
    if not response.prepared:
        response.headers[FAULT_HEADER] = fault.id
    return response


def _body_of(response: web.StreamResponse) -> bytes:
    body = getattr(response, "body", None)
    return bytes(body) if isinstance(body, (bytes, bytearray, memoryview)) else b""


async def _read_body(request: web.Request) -> None:
    if request.body_exists:
        try:
            await request.read()
        except (web.HTTPException, ConnectionError):
            pass


def _close(request: web.Request, *, abortive: bool) -> None:
    """Close the client's connection: abortively (SO_LINGER 0, so the kernel sends a RST
    instead of a FIN), or cleanly after whatever was written."""
    transport = request.transport
    if transport is None:
        return
    if abortive:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def task_facts(view: TaskView) -> TaskFacts:
    """What fault rules scoped to a task or a step match on, from a status read's view."""
    task = view.task
    on_script = task.lifecycle is task.scenario.lifecycle
    return TaskFacts(task.api, task.scenario.name, task.id, view.phase.value, view.step_index if on_script else None)

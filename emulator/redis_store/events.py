"""What one replica tells all: an event published on a Redis channel, acted on by every
replica (the one that sent it too), and confirmed by each before the sender goes on.

A control call that changes what every replica must know (a fault added, credentials
expired, a reset) returns only when every replica has acted on it: the next request, to
whichever replica, sees the change. `PUBLISH` says how many replicas got the message; each
counts its confirmation on a key of the event's own, and the sender waits for that count
(bounded by TIMEOUT: a replica that does not confirm in time is logged, not waited for).

Each time a replica starts listening (at start, and again when Redis is back after it lost
its connection) it first runs its handler for `resync`: events sent before it listened are
not replayed, so it reads again whatever it keeps a copy of.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from ..store import RESYNC, EventHandler, StoreUnavailable

log = logging.getLogger("task_emulator.store")

# How long a sender waits for every replica to confirm, and a replica between attempts to
# listen again while Redis is away.
TIMEOUT = 2.0
RETRY = 0.5


class Replicas:
    def __init__(self, redis: Any, prefix: str, unavailable: tuple[type[BaseException], ...]) -> None:
        self._redis = redis
        self._prefix = prefix
        self._channel = f"{prefix}:events"
        self._unavailable = unavailable
        # Listening stops (and is tried again) when Redis is away, the resync's reads included.
        self._lost: tuple[type[BaseException], ...] = (*unavailable, StoreUnavailable)
        self._handler: EventHandler | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._closing = False

    def listen(self, handler: EventHandler) -> None:
        self._handler = handler

    async def open(self) -> None:
        """Start listening, and wait (at most TIMEOUT) until listening began with its
        `resync`: a server serves with what every replica shares already read. Redis away
        now is not an error: it is read when Redis is back."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="task-emulator replica events")
            try:
                await asyncio.wait_for(self._listening.wait(), TIMEOUT)
            except TimeoutError:
                log.warning("not listening to %s yet: what every replica shares is read when Redis is back",
                            self._channel)

    async def close(self) -> None:
        """Stop listening. Told by a flag as well as by cancelling: redis-py's `get_message`
        can take a cancellation for its own timeout and carry on, so the wait is bounded."""
        listener, self._listener = self._listener, None
        if listener is not None:
            self._closing = True
            listener.cancel()
            await asyncio.wait([listener], timeout=TIMEOUT)

    async def broadcast(self, event: str, detail: str = "") -> None:
        """Every replica's handler run for `event`; returns when all confirmed (or TIMEOUT)."""
        await self.open()
        try:
            await asyncio.wait_for(self._listening.wait(), TIMEOUT)
        except TimeoutError:
            pass  # not listening yet (Redis away): the publish below says so
        event_id = uuid.uuid4().hex
        acks = f"{self._prefix}:ack:{event_id}"
        receivers = int(await self._redis.publish(self._channel, json.dumps([event, event_id, detail])))
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while (confirmed := int(await self._redis.get(acks) or 0)) < receivers:
            if asyncio.get_running_loop().time() > deadline:
                log.warning("event %s: %s of %s replicas confirmed in %g s", event, confirmed, receivers, TIMEOUT)
                break
            await asyncio.sleep(0.002)
        await self._redis.delete(acks)

    async def _listen(self) -> None:
        while not self._closing:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                if self._handler is not None:
                    await self._handler(RESYNC, "")
                self._listening.set()
                while not self._closing:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        await self._act(message["data"])
            except self._lost:
                self._listening.clear()
                await asyncio.sleep(RETRY)
            finally:
                try:
                    await pubsub.aclose()
                except self._unavailable:
                    pass

    async def _act(self, data: bytes) -> None:
        try:
            event, event_id, detail = json.loads(data)
        except (ValueError, TypeError):
            log.warning("a message on %s that is not an event was ignored", self._channel)
            return
        try:
            if self._handler is not None:
                await self._handler(str(event), str(detail))
        except Exception:  # a bug in a handler must not stop this replica listening
            log.exception("event %s: the handler failed", event)
        acks = f"{self._prefix}:ack:{event_id}"
        await self._redis.incr(acks)
        await self._redis.expire(acks, 60)

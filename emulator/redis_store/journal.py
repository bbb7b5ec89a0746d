"""The journal of every replica in one Redis list, bounded as one journal is.

Each replica records its requests in its own `Journal` (a status poll pays nothing more on a
shared store) and sends what is new to Redis in the background, FLUSH_EVERY seconds apart,
as the control API shows entries: built and redacted before they leave the process. A read
of the shared journal first has every replica send what it holds (an event each confirms),
so it sees every request answered before it was asked.

Keys under the prefix P: P:journal (list of `seq|entry JSON`, oldest first), P:journal:seq
(the sequence, never reset: `after=` stays valid across a clear), P:journal:bytes (what the
list holds, bounded by the journal's byte bound as its length is by its entry bound).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ..journal import Journal
from ..store import StoreUnavailable
from .replies import Call, text

log = logging.getLogger("task_emulator.store")

FLUSH_EVERY = 0.05
# A server's clean-up never waits longer than this for the sender to stop.
CLOSE_WITHIN = 2.0
# ARGV: prefix, limit, max bytes, dropped, then the entries' JSON. The sequence moves past
# the `dropped` requests the replica's own journal no longer held, then each entry gets the
# next number: a seq counts requests, as in one journal.
PUSH = """
local P, limit, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local list, total = P .. ':journal', P .. ':journal:bytes'
redis.call('INCRBY', P .. ':journal:seq', tonumber(ARGV[4]))
for i = 5, #ARGV do
  local seq = redis.call('INCR', P .. ':journal:seq')
  local item = seq .. '|' .. ARGV[i]
  redis.call('RPUSH', list, item)
  redis.call('INCRBY', total, #item)
end
while redis.call('LLEN', list) > limit
    or (tonumber(redis.call('GET', total) or '0') > max and redis.call('LLEN', list) > 1) do
  redis.call('DECRBY', total, #redis.call('LPOP', list))
end
return redis.call('LLEN', list)
"""


class SharedJournal:
    def __init__(self, redis: Any, prefix: str, call: Call) -> None:
        self._redis = redis
        self._prefix = prefix
        self._call = call
        self._push = redis.register_script(PUSH)
        self._local: Journal | None = None
        self._sent = 0  # the local seq sent up to
        self._sender: asyncio.Task[None] | None = None

    def follow(self, local: Journal) -> None:
        """Send what `local` records (from now on) to the shared journal."""
        self._local = local
        self._sent = local.last_seq

    async def open(self) -> None:
        if self._sender is None and self._local is not None:
            self._sender = asyncio.create_task(self._send_often(), name="task-emulator journal sender")

    async def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()
            await asyncio.wait([sender], timeout=CLOSE_WITHIN)

    async def send(self) -> None:
        """What this replica recorded since its last send, into the shared journal."""
        local = self._local
        if local is None or local.last_seq == self._sent:
            return
        entries = local.latest(local.limit, after=self._sent)
        dropped = local.last_seq - self._sent - len(entries)  # recorded, then pushed out here
        self._sent = local.last_seq
        items = [json.dumps({k: v for k, v in e.to_json().items() if k != "seq"}, separators=(",", ":")) for e in entries]
        args = [self._prefix, str(local.limit), str(local.max_bytes), str(dropped), *items]
        await self._call(lambda: self._push(args=args))

    async def entries(self, api: str | None, task: str | None, after: int, limit: int | None) -> list[dict[str, Any]]:
        """The shared entries (of `api`, of `task`) with a seq above `after`, oldest first;
        the newest `limit` of them when given. Call after every replica has sent."""
        raw = await self._call(lambda: self._redis.lrange(f"{self._prefix}:journal", 0, -1))
        found = []
        for item in raw:
            seq, _, body = text(item).partition("|")
            if int(seq) <= after:
                continue
            entry = json.loads(body)
            if (api is None or entry["api"] == api) and (task is None or entry["task"] == task):
                found.append({"seq": int(seq), **entry})
        return found if limit is None else found[-limit:]

    async def clear(self) -> None:
        p = self._prefix
        await self._call(lambda: self._redis.delete(f"{p}:journal", f"{p}:journal:bytes"))

    def forget_local(self) -> None:
        """What this replica recorded so far is not sent (the journal was cleared)."""
        if self._local is not None:
            self._sent = self._local.last_seq

    async def _send_often(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                await self.send()
            except StoreUnavailable as error:  # what was not sent is lost, said each time
                log.warning("journal entries not sent to the shared journal: %s", error)
            except Exception:  # a bug must not stop the sending: logged, with its traceback
                log.exception("bug: sending journal entries failed")

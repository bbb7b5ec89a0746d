"""Fault rules kept in Redis for every replica, and their `times` counted there.

Each replica decides which rule hits a request from its own copy of the rules (a `FaultSet`,
so a request with no rule to match costs what it costs on one process); the copy is read
again from Redis after every change (an event every replica acts on before the change is
answered). A rule with `times` applies only when Redis grants it (`CLAIM`, atomic), so
`times: 2` hits exactly two requests across all replicas.

Keys under the prefix P: P:faults:rules (list of `[id, rule JSON]`, in the order tried),
P:faults:declared (the ids of the scenario-declared rules still in force; absent: all),
P:faults:applied (hash: id -> applications), P:faults:seq (run-time ids; never reset, so an
id names one rule for the store's whole life).
"""

from __future__ import annotations

import json
from typing import Any

from .replies import Call, text

# ARGV: prefix, id, times. 1 and the count raised when the rule has applications left.
CLAIM = """
local key = ARGV[1] .. ':faults:applied'
local used = tonumber(redis.call('HGET', key, ARGV[2]) or '0')
if used >= tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', key, ARGV[2], 1)
return 1
"""

# ARGV: prefix, limit, rule JSON (without its id). The new rule's id, or '' at the limit.
ADD = """
local P = ARGV[1]
if redis.call('LLEN', P .. ':faults:rules') >= tonumber(ARGV[2]) then return '' end
local id = tostring(redis.call('INCR', P .. ':faults:seq'))
redis.call('RPUSH', P .. ':faults:rules', cjson.encode({id, cjson.decode(ARGV[3])}))
return id
"""

# ARGV: prefix, id, then the declared ids. 1 when a rule was dropped.
REMOVE = """
local P, id = ARGV[1], ARGV[2]
local rules = redis.call('LRANGE', P .. ':faults:rules', 0, -1)
for _, rule in ipairs(rules) do
  if cjson.decode(rule)[1] == id then
    redis.call('LREM', P .. ':faults:rules', 1, rule)
    return 1
  end
end
local declared = P .. ':faults:declared'
if redis.call('EXISTS', declared) == 0 then
  for i = 3, #ARGV do redis.call('SADD', declared, ARGV[i]) end
  redis.call('SADD', declared, '')  -- never empty, so 'none left' is told from 'all'
end
return redis.call('SREM', declared, id)
"""


class SharedFaults:
    """The rules every replica applies, as Redis keeps them."""

    def __init__(self, redis: Any, prefix: str, call: Call) -> None:
        self._redis = redis
        self._prefix = prefix
        self._call = call
        self._claim = redis.register_script(CLAIM)
        self._add = redis.register_script(ADD)
        self._remove = redis.register_script(REMOVE)

    async def add(self, rule: dict[str, Any], limit: int) -> str | None:
        """Keep `rule` (its JSON, as the control API takes it) after the others; its id, or
        None when `limit` rules are kept already."""
        rule = {k: v for k, v in rule.items() if k not in ("id", "origin")}
        found = await self._call(lambda: self._add(args=[self._prefix, str(limit), json.dumps(rule)]))
        return text(found) or None

    async def remove(self, fault_id: str, declared: list[str]) -> bool:
        args = [self._prefix, fault_id, *declared]
        return bool(await self._call(lambda: self._remove(args=args)))

    async def clear(self) -> None:
        """Every rule gone, the declared ones too (until a reset)."""
        p = self._prefix

        async def clear() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(f"{p}:faults:rules", f"{p}:faults:declared")
                pipe.sadd(f"{p}:faults:declared", "")
                await pipe.execute()

        await self._call(clear)

    async def reset(self) -> None:
        """The run-time rules gone, the declared ones back, every count at 0."""
        p = self._prefix
        await self._call(lambda: self._redis.delete(f"{p}:faults:rules", f"{p}:faults:declared", f"{p}:faults:applied"))

    async def rules(self) -> tuple[list[tuple[str, dict[str, Any]]], set[str] | None]:
        """The run-time rules in order (id, JSON), and the declared ids in force (None: all)."""
        p = self._prefix

        async def read() -> list[Any]:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.lrange(f"{p}:faults:rules", 0, -1)
                pipe.exists(f"{p}:faults:declared")
                pipe.smembers(f"{p}:faults:declared")
                return list(await pipe.execute())

        raw, has_declared, declared = await self._call(read)
        rules = [(str(item[0]), dict(item[1])) for item in (json.loads(r) for r in raw)]
        kept = {text(d) for d in declared} if has_declared else None
        return rules, kept

    async def applied(self) -> dict[str, int]:
        found = await self._call(lambda: self._redis.hgetall(f"{self._prefix}:faults:applied"))
        return {text(k): int(v) for k, v in found.items()}

    async def claim(self, fault_id: str, times: int) -> bool:
        return bool(await self._call(lambda: self._claim(args=[self._prefix, fault_id, str(times)])))

"""The keyrings credentials are signed with, kept in Redis for every replica (see
emulator/keyring.py): a Traffic Ops cookie, a Spectrum Discover token or an IAM token issued
by one replica opens on every other, with no round trip per request.

Keys under the prefix P: P:keys:root (the root secret), P:keys (hash: api -> the ring's
state, `generation:first:expired_at`). A replica reads both at start, and again after every
change (an event every replica acts on) and after Redis was away. Both scripts first keep
the caller's own root and states where Redis has none, so the first replica's root becomes
everyone's, and replicas that lived through a Redis restart (back empty) keep theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..keyring import KeyState
from .replies import Call, text

# ARGV: prefix, root, then api and state pairs. Keeps what is absent; {root, state, ...}.
LOAD = """
local P = ARGV[1]
redis.call('SET', P .. ':keys:root', ARGV[2], 'NX')
local found = {redis.call('GET', P .. ':keys:root')}
for i = 3, #ARGV, 2 do
  redis.call('HSETNX', P .. ':keys', ARGV[i], ARGV[i + 1])
  found[#found + 1] = redis.call('HGET', P .. ':keys', ARGV[i])
end
return found
"""

# ARGV: prefix, forget ('1' or '0'), now, root, then api and state pairs. Each ring moved
# on from the state Redis has (or the pair's, where it has none), atomically.
MOVE = """
local P, forget, now = ARGV[1], ARGV[2] == '1', ARGV[3]
redis.call('SET', P .. ':keys:root', ARGV[4], 'NX')
for i = 5, #ARGV, 2 do
  local state = redis.call('HGET', P .. ':keys', ARGV[i]) or ARGV[i + 1]
  local generation, first, expired_at = string.match(state, '^(%d+):(%d+):(.+)$')
  generation = tonumber(generation) + 1
  if forget then first = generation else expired_at = now end
  redis.call('HSET', P .. ':keys', ARGV[i], generation .. ':' .. first .. ':' .. expired_at)
end
return 1
"""


class SharedKeyrings:
    """The keyrings' root and states as Redis keeps them (a `SharedKeys`)."""

    def __init__(self, redis: Any, prefix: str, call: Call) -> None:
        self._prefix = prefix
        self._call = call
        self._load = redis.register_script(LOAD)
        self._move = redis.register_script(MOVE)

    async def load(self, root: bytes, states: Mapping[str, KeyState]) -> tuple[bytes, dict[str, KeyState]]:
        apis = sorted(states)
        args = [self._prefix, root, *_pairs(apis, states)]
        found = await self._call(lambda: self._load(args=args))
        return bytes(found[0]), {api: KeyState.decode(text(raw)) for api, raw in zip(apis, found[1:])}

    async def move(
        self, apis: list[str], *, forget: bool, now: float, root: bytes, states: Mapping[str, KeyState]
    ) -> None:
        args = [self._prefix, "1" if forget else "0", repr(float(now)), root, *_pairs(apis, states)]
        await self._call(lambda: self._move(args=args))


def _pairs(apis: list[str], states: Mapping[str, KeyState]) -> list[str]:
    return [item for api in apis for item in (api, states.get(api, KeyState()).encode())]


"""The keys vendor credentials are signed with: one ring per API, the same on every replica.

Every session and token the emulator hands out carries its own proof of origin (an HMAC), as
the real ones do, so a server checks a credential with no table of the ones it issued, and a
replica checks one another replica issued with no round trip: all it needs is the same keys.
Each key is derived from one root secret and a generation number (HMAC-SHA256 of
"api/generation" under the root), so a ring is the root and three numbers: cheap to keep in
a shared store and to read again on every replica when they change.

Two things move a ring on, for every credential issued so far:
- expire (`expire_credentials`): a new generation. Credentials of earlier ones answer as
  expired, at the moment that was done (`expired_at`, wall-clock time).
- forget (a reset): a new generation, and every earlier one is no longer known at all: a
  bad signature, a token of another system.

A credential that can carry its generation (a token with a body of its own) is signed with
`lasting_key`, the same since the last forget, and says its generation inside; one whose
format is fixed by the vendor (Traffic Ops' cookie) is signed with its generation's own key,
and a check tries the keys of the recent generations.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

ROOT_BYTES = 32
# Derived keys a ring keeps (a check of an old credential derives its key once).
_KEY_CACHE = 256


@dataclass(frozen=True, slots=True)
class KeyState:
    """Where a ring stands: its generation, the oldest generation still known, and when
    (wall-clock seconds) credentials were last expired on purpose."""

    generation: int = 0
    first: int = 0
    expired_at: float = 0.0

    def expired(self, now: float) -> KeyState:
        """Every credential so far expired at `now`."""
        return KeyState(self.generation + 1, self.first, now)

    def forgotten(self) -> KeyState:
        """Every credential so far unknown."""
        return KeyState(self.generation + 1, self.generation + 1, self.expired_at)

    def encode(self) -> str:
        return f"{self.generation}:{self.first}:{self.expired_at!r}"

    @classmethod
    def decode(cls, text: str) -> KeyState:
        generation, first, expired_at = text.split(":")
        return cls(int(generation), int(first), float(expired_at))


class Keyring:
    """One API's keys: the current generation's, and those of the generations before it
    back to the last forget."""

    def __init__(self, api: str, root: bytes) -> None:
        self.api = api
        self._root = root
        self._state = KeyState()
        self._keys: dict[int, bytes] = {}
        # Raised by every change of root or state: what a vendor worked out with the keys
        # (a checked cookie, an opened token) is worth keeping while this stands still.
        self.version = 0

    @property
    def state(self) -> KeyState:
        return self._state

    @state.setter
    def state(self, state: KeyState) -> None:
        if state != self._state:
            self._state = state
            self.version += 1

    def update(self, root: bytes, state: KeyState) -> None:
        if root != self._root:
            self._keys.clear()
            self._root = root
            self.version += 1
        self.state = state

    @property
    def generation(self) -> int:
        return self.state.generation

    def key(self, generation: int | None = None) -> bytes:
        """The key of `generation` (None: the current one)."""
        number = self.state.generation if generation is None else generation
        key = self._keys.get(number)
        if key is None:
            if len(self._keys) >= _KEY_CACHE:
                self._keys.clear()
            key = hmac.new(self._root, f"{self.api}/{number}".encode(), hashlib.sha256).digest()
            self._keys[number] = key
        return key

    @property
    def lasting_key(self) -> bytes:
        """The key of every generation since the last forget: for credentials that say
        their generation themselves."""
        return self.key(self.state.first)

    def recent(self, back: int) -> Iterator[tuple[int, bytes]]:
        """(generation, key) from the current one back at most `back` generations, newest
        first, none from before the last forget."""
        state = self.state
        for number in range(state.generation, max(state.first, state.generation - back) - 1, -1):
            yield number, self.key(number)


class Keyrings:
    """Every API's ring, under one root secret (drawn here; a shared store may hand over
    another, the one every replica uses)."""

    def __init__(self, root: bytes | None = None) -> None:
        self.root = root or secrets.token_bytes(ROOT_BYTES)
        self._rings: dict[str, Keyring] = {}

    def ring(self, api: str) -> Keyring:
        ring = self._rings.get(api)
        if ring is None:
            ring = self._rings[api] = Keyring(api, self.root)
        return ring

    def states(self) -> dict[str, KeyState]:
        return {api: ring.state for api, ring in self._rings.items()}

    def update(self, root: bytes, states: Mapping[str, KeyState]) -> None:
        self.root = root
        for api, ring in self._rings.items():
            ring.update(root, states.get(api, KeyState()))

    def expire(self, apis: Iterable[str], now: float) -> None:
        for api in apis:
            ring = self.ring(api)
            ring.state = ring.state.expired(now)

    def forget(self, apis: Iterable[str]) -> None:
        for api in apis:
            ring = self.ring(api)
            ring.state = ring.state.forgotten()

"""Spectrum Discover's tokens on their own: their lifetime, what an expired, forgotten or
foreign token answers, that nothing is kept per token, and that another server with the same
keyring (a replica) takes them."""

from __future__ import annotations

import base64
import sys
import tracemalloc

import pytest

from emulator.apis.base import REMEMBERED
from emulator.apis.spectrum_discover.auth import EXPIRED, INVALID, AuthFailure, Tokens
from emulator.keyring import Keyring, Keyrings

NOW = 1_767_323_045.0
USERS = ["sdadmin", "datauser"]


def tokens(keyring: Keyring | None = None, lifetime: float = 60) -> Tokens:
    return Tokens(keyring or Keyrings().ring("spectrum_discover"), lifetime, USERS)


def refused(store: Tokens, token: str, now: float = NOW) -> str:
    with pytest.raises(AuthFailure) as caught:
        store.check(token, now)
    assert caught.value.status == 401
    return caught.value.reason


def test_a_token_lives_its_lifetime_and_then_answers_expired() -> None:
    store = tokens()
    token = store.issue("datauser", NOW + 0.75)
    assert store.check(token, NOW + 60.7) == "datauser"  # the exact issue time counts
    assert refused(store, token, NOW + 60.75) == EXPIRED
    assert refused(store, token, NOW + 61) == EXPIRED  # and stays so


def test_a_token_has_the_fernet_layout() -> None:
    raw = base64.urlsafe_b64decode(tokens().issue("sdadmin", NOW))
    assert len(raw) == 1 + 8 + 16 + 64 + 32
    assert raw[0] == 0x80 and int.from_bytes(raw[1:9], "big") == int(NOW)


def test_tokens_from_elsewhere_are_invalid() -> None:
    store = tokens()
    token = store.issue("sdadmin", NOW)
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[20] ^= 1  # one bit of the IV changed: the HMAC no longer fits
    for other in (
        base64.urlsafe_b64encode(bytes(raw)).decode(),
        tokens().issue("sdadmin", NOW),  # another server's
        "gAAAAABnot-a-real-token",
        "not base64 at all ✗",
        "",
    ):
        assert refused(store, other) == INVALID


def test_a_replica_with_the_same_keyring_takes_the_token() -> None:
    keys = Keyrings()
    mine = tokens(keys.ring("spectrum_discover"))
    replica_keys = Keyrings(keys.root)
    replica = tokens(replica_keys.ring("spectrum_discover"))
    token = mine.issue("sdadmin", NOW)
    assert replica.check(token, NOW) == "sdadmin"
    # A user the replica's settings do not have: not a token it can honour.
    other = Tokens(replica_keys.ring("spectrum_discover"), 60, ["alice"]).issue("alice", NOW)
    assert refused(mine, other) == INVALID


def test_expired_and_forgotten_generations() -> None:
    keys = Keyrings()
    store = tokens(keys.ring("spectrum_discover"), lifetime=3600)
    old = store.issue("sdadmin", NOW)
    keys.expire(["spectrum_discover"], NOW)
    assert refused(store, old) == EXPIRED
    new = store.issue("sdadmin", NOW)
    assert store.check(new, NOW) == "sdadmin"
    keys.forget(["spectrum_discover"])
    assert refused(store, old) == INVALID and refused(store, new) == INVALID
    assert store.check(store.issue("sdadmin", NOW), NOW) == "sdadmin"


def test_issuing_keeps_nothing_per_token() -> None:
    store = tokens()
    store.check(store.issue("sdadmin", NOW), NOW)  # every cache warm
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        issued = [store.issue("sdadmin", NOW + n / 1000) for n in range(20_000)]
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    tokens_bytes = sum(sys.getsizeof(token) for token in issued) + sys.getsizeof(issued)
    assert grown - tokens_bytes < 64 * 1024  # beyond the test's own list: nothing


def test_what_checks_remember_is_bounded_and_a_forget_is_not_hidden_by_it() -> None:
    keys = Keyrings()
    store = tokens(keys.ring("spectrum_discover"), lifetime=3600)
    issued = [store.issue("sdadmin", NOW) for _ in range(REMEMBERED + 10)]
    assert all(store.check(token, NOW) == "sdadmin" for token in issued)
    assert len(store._opened) <= REMEMBERED
    keys.forget(["spectrum_discover"])
    assert refused(store, issued[-1]) == INVALID  # remembered, and opened again after the forget

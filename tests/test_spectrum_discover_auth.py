"""Spectrum Discover's token store on its own: the bound, what a retired or foreign token
answers, and that issuing and checking cost the same however many tokens are held."""

from __future__ import annotations

import base64
from collections import Counter, OrderedDict
from typing import Any

import pytest

from emulator.apis.spectrum_discover.auth import (
    EXPIRED,
    INVALID,
    MAX_TOKENS,
    AuthFailure,
    TokenStore,
)

NOW = 1_767_323_045.0


def refused(store: TokenStore, token: str, now: float = NOW) -> str:
    with pytest.raises(AuthFailure) as caught:
        store.check(token, now)
    assert caught.value.status == 401
    return caught.value.reason


class CountingDict(OrderedDict[str, Any]):
    """An OrderedDict that counts the operations done on it."""

    def __init__(self, *args: Any) -> None:
        self.calls: Counter[str] = Counter()
        super().__init__(*args)

    def __iter__(self) -> Any:
        self.calls["iter"] += 1
        return super().__iter__()

    def __getitem__(self, key: str) -> Any:
        self.calls["getitem"] += 1
        return super().__getitem__(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.calls["setitem"] += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.calls["delitem"] += 1
        super().__delitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.calls["get"] += 1
        return super().get(key, default)

    def popitem(self, last: bool = True) -> tuple[str, Any]:
        self.calls["popitem"] += 1
        return super().popitem(last)


def counted(store: TokenStore) -> CountingDict:
    held = CountingDict(store._held)
    held.calls.clear()  # what filling it took
    store._held = held
    return held


def test_a_token_lives_its_lifetime_and_then_answers_expired() -> None:
    store = TokenStore(lifetime=60)
    token = store.issue("sdadmin", NOW)
    assert store.check(token, NOW + 59.9) == "sdadmin"
    assert refused(store, token, NOW + 60) == EXPIRED
    assert refused(store, token, NOW + 61) == EXPIRED  # and stays so


def test_tokens_from_elsewhere_are_invalid() -> None:
    store = TokenStore(lifetime=60)
    token = store.issue("sdadmin", NOW)
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[20] ^= 1  # one bit of the IV changed: the HMAC no longer fits
    for other in (
        base64.urlsafe_b64encode(bytes(raw)).decode(),
        TokenStore(lifetime=60).issue("sdadmin", NOW),  # another server's
        "gAAAAABnot-a-real-token",
        "not base64 at all ✗",
        "",
    ):
        assert refused(store, other) == INVALID


def test_the_store_is_bounded_and_the_oldest_retires_as_expired() -> None:
    store = TokenStore(lifetime=3600, limit=3)
    tokens = [store.issue(f"user{n}", NOW + n) for n in range(5)]
    assert len(store) == 3
    assert [refused(store, t, NOW + 5) for t in tokens[:2]] == [EXPIRED, EXPIRED]
    assert [store.check(t, NOW + 5) for t in tokens[2:]] == ["user2", "user3", "user4"]
    assert MAX_TOKENS == TokenStore(lifetime=1).limit


def test_expired_tokens_leave_the_store_as_new_ones_come() -> None:
    store = TokenStore(lifetime=60)
    for n in range(500):
        store.issue("sdadmin", NOW + n)  # a login a second: about 60 alive at a time
    assert len(store) == 60


def test_expire_all_and_forget_all() -> None:
    store = TokenStore(lifetime=3600)
    old = store.issue("sdadmin", NOW)
    store.expire_all()
    assert refused(store, old) == EXPIRED
    new = store.issue("sdadmin", NOW)
    assert store.check(new, NOW) == "sdadmin"
    store.forget_all()
    assert refused(store, old) == INVALID and refused(store, new) == INVALID


@pytest.mark.parametrize("held", [10, 20_000])
def test_issue_and_check_do_the_same_work_however_many_tokens_are_held(held: int) -> None:
    store = TokenStore(lifetime=3600, limit=50_000)
    tokens = [store.issue("sdadmin", NOW) for _ in range(held)]
    calls = counted(store).calls
    store.issue("sdadmin", NOW + 1)
    store.check(tokens[held // 2], NOW + 1)
    # One look at the oldest token (still alive), one insertion, one lookup: never a scan.
    assert calls == Counter({"iter": 1, "getitem": 1, "setitem": 1, "get": 1})


def test_issue_drops_each_expired_token_once() -> None:
    store = TokenStore(lifetime=60, limit=50_000)
    for _ in range(1000):
        store.issue("sdadmin", NOW)
    calls = counted(store).calls
    store.issue("sdadmin", NOW + 60)  # all 1,000 expired: dropped by this one issue
    assert calls["delitem"] == 1000 and len(store) == 1
    calls.clear()
    store.issue("sdadmin", NOW + 61)  # nothing left to drop
    assert calls["delitem"] == 0 and calls["getitem"] == 1


def test_at_the_bound_an_issue_retires_exactly_one_token() -> None:
    store = TokenStore(lifetime=3600, limit=1000)
    for _ in range(1000):
        store.issue("sdadmin", NOW)
    calls = counted(store).calls
    store.issue("sdadmin", NOW)
    assert calls["popitem"] == 1 and calls["delitem"] == 0 and len(store) == 1000

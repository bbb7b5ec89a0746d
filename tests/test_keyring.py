"""The keyrings credentials are signed with: derived keys, generations, and their states as
text (what a shared store keeps)."""

from __future__ import annotations

import pytest

from emulator.keyring import Keyring, Keyrings, KeyState


def test_keys_are_derived_from_the_root_and_differ_per_api_and_generation() -> None:
    keys = Keyrings()
    same_root = Keyrings(keys.root)
    assert keys.ring("traffic_ops").key() == same_root.ring("traffic_ops").key()
    assert keys.ring("traffic_ops").key() != keys.ring("dataarts").key()
    assert keys.ring("traffic_ops").key(0) != keys.ring("traffic_ops").key(1)
    assert Keyrings().ring("traffic_ops").key() != keys.ring("traffic_ops").key()


def test_expire_moves_the_generation_and_keeps_the_lasting_key() -> None:
    keys = Keyrings()
    ring = keys.ring("dataarts")
    lasting, first_key = ring.lasting_key, ring.key()
    keys.expire(["dataarts"], 1234.5)
    assert ring.state == KeyState(1, 0, 1234.5)
    assert ring.lasting_key == lasting and ring.key() != first_key
    assert [g for g, _ in ring.recent(64)] == [1, 0]  # both still open


def test_forget_moves_the_generation_and_the_lasting_key() -> None:
    keys = Keyrings()
    ring = keys.ring("dataarts")
    keys.expire(["dataarts"], 10.0)
    lasting = ring.lasting_key
    keys.forget(["dataarts"])
    assert ring.state == KeyState(2, 2, 10.0)
    assert ring.lasting_key != lasting and [g for g, _ in ring.recent(64)] == [2]


def test_recent_keys_go_back_at_most_so_far_and_never_past_a_forget() -> None:
    ring = Keyring("traffic_ops", b"r" * 32)
    for _ in range(10):
        ring.state = ring.state.expired(0.0)
    assert [g for g, _ in ring.recent(3)] == [10, 9, 8, 7]
    ring.state = ring.state.forgotten()
    ring.state = ring.state.expired(0.0)
    assert [g for g, _ in ring.recent(64)] == [12, 11]


@pytest.mark.parametrize("state", [KeyState(), KeyState(7, 3, 1_767_323_045.123456), KeyState(1, 1, 1e20)])
def test_a_state_reads_back_as_written(state: KeyState) -> None:
    assert KeyState.decode(state.encode()) == state


def test_update_replaces_root_and_states_of_every_ring() -> None:
    keys = Keyrings()
    ring = keys.ring("traffic_ops")
    old_key = ring.key()
    other = Keyrings()
    keys.update(other.root, {"traffic_ops": KeyState(4, 2, 9.0)})
    assert ring.state == KeyState(4, 2, 9.0)
    assert ring.key(0) != old_key and ring.key(4) == Keyring("traffic_ops", other.root).key(4)


def test_the_version_moves_with_every_change_and_only_then() -> None:
    keys = Keyrings()
    ring = keys.ring("traffic_ops")
    seen = [ring.version]
    keys.expire(["traffic_ops"], 1.0)
    seen.append(ring.version)
    keys.update(keys.root, keys.states())  # the same root and state, read again: no change
    seen.append(ring.version)
    keys.forget(["traffic_ops"])
    seen.append(ring.version)
    keys.update(Keyrings().root, keys.states())  # another root (a replica's)
    seen.append(ring.version)
    assert seen == [0, 1, 1, 2, 3]

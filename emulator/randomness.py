"""One seeded source of randomness for ids and fake data, so a seed replays a run exactly.

Each task draws its own seed from this source when it is made; whatever is generated for the
task later (result rows, fake metrics) comes from that seed, so it does not depend on the
order in which tasks happen to be read. Tokens and cookies are not drawn from here: they
must stay unguessable whatever the seed (see `secrets` where they are made).
"""

from __future__ import annotations

import random
import threading
import uuid
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faker import Faker


class RandomSource:
    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.reseed()

    def reseed(self) -> None:
        """Start the sequence again (a reset replays the same ids)."""
        self.random = random.Random(self.seed)
        self._faker_seed = self.random.getrandbits(64)
        if self._faker is not None:
            self._faker.seed_instance(self._faker_seed)

    _faker: Faker | None = None

    @property
    def faker(self) -> Faker:
        """This source's own Faker (draws for placeholders must not be reseeded by others),
        made on first use: importing Faker is a third of the server's start-up."""
        if self._faker is None:
            self._faker = _new_faker()
            self._faker.seed_instance(self._faker_seed)
        return self._faker

    def task_seed(self) -> int:
        return self.random.getrandbits(64)

    def hex_id(self, length: int = 32) -> str:
        return f"{self.random.getrandbits(length * 4):0{length}x}"

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))


def faker_for(seed: int) -> Faker:
    """A Faker whose draws are fixed by `seed`.

    Making a Faker costs milliseconds and reseeding one microseconds, so each thread keeps
    one and reseeds it here: draw what you need at once, and do not keep it across an
    `await` (another request may reseed it meanwhile).
    """
    fake = getattr(_per_thread, "faker", None)
    if fake is None:
        fake = _per_thread.faker = _new_faker()
    fake.seed_instance(seed)
    return fake


_per_thread = threading.local()


@cache
def faker_has_provider(name: str) -> bool:
    return callable(getattr(_reference_faker(), name, None)) and not name.startswith("_")


@lru_cache(maxsize=1)
def _reference_faker() -> Faker:
    return _new_faker()


def _new_faker() -> Faker:
    from faker import Faker

    return Faker()

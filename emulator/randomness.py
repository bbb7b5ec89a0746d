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

from faker import Faker


class RandomSource:
    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.reseed()

    def reseed(self) -> None:
        """Start the sequence again (a reset replays the same ids)."""
        self.random = random.Random(self.seed)
        if not hasattr(self, "faker"):
            self.faker = Faker()  # its own: draws for placeholders must not be reseeded by others
        self.faker.seed_instance(self.random.getrandbits(64))

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
        fake = _per_thread.faker = Faker()
    fake.seed_instance(seed)
    return fake


_per_thread = threading.local()


@cache
def faker_has_provider(name: str) -> bool:
    return callable(getattr(_reference_faker(), name, None)) and not name.startswith("_")


@lru_cache(maxsize=1)
def _reference_faker() -> Faker:
    return Faker()

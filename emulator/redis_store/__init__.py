"""The server's state in Redis, shared by replicas (see docs/scaling.md): an optional extra,
`pip install 'task-emulator[redis]'`."""

from .tasks import RedisStore

__all__ = ["RedisStore"]

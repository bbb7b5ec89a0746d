"""Huawei Cloud DataArts Studio / DataArts Factory (DLF) system tasks (see api.py)."""

from .api import DataArts

__all__ = ["DataArts"]

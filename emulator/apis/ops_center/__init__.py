"""Hitachi Ops Center Analyzer detail view: `dbapi.do` (see `api.py`)."""

from __future__ import annotations

from .api import OpsCenter

__all__ = ["OpsCenter"]

"""IBM Spectrum Discover (`db2whrest`): async SQL queries, their status and their results."""

from __future__ import annotations

from .api import SpectrumDiscover

__all__ = ["SpectrumDiscover"]

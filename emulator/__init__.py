"""task-emulator: an emulator of asynchronous-task status APIs for contract tests."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

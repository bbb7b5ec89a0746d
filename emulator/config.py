"""What a server is started with: `EmulatorConfig`, checked when it is made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .apis import API_CLASSES
from .clock import ClockMode
from .errors import ConfigError
from .options import VALIDATION_MODES, ValidationMode
from .resources import builtin_scenarios

# A real clock this much faster than real time runs into year 9999 (see clock.LATEST) in
# days rather than in minutes.
MAX_TIME_SCALE = 1_000_000.0


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything a server is started with. The defaults are `task-emulator serve`'s."""

    scenario_paths: tuple[Path, ...] = ()
    builtin_scenarios: bool = True
    seed: int | None = None
    clock: ClockMode = "real"
    time_scale: float = 1.0
    # Where a virtual clock starts (epoch seconds); default: the time the server starts.
    clock_start: float | None = None
    validate: ValidationMode = "strict"
    journal_limit: int = 10_000
    # Tasks a server holds at most (every task is kept until a reset); None: no limit.
    task_limit: int | None = 100_000
    # Per-API settings (users, roles …) replacing the built-in ones key by key.
    api_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    admin_token: str | None = None
    # Where tasks, read counts and the clock live: None for this process's memory, or a
    # Redis URL (redis://host:port/db, rediss://…, unix://…) shared with other replicas.
    store: str | None = None

    def __post_init__(self) -> None:
        if self.validate not in VALIDATION_MODES:
            raise ConfigError(f"unknown validation mode {self.validate!r}: use strict, warn or off")
        if self.clock not in ("real", "virtual"):
            raise ConfigError(f"unknown clock {self.clock!r}: use real or virtual")
        if not 0 < self.time_scale <= MAX_TIME_SCALE:
            raise ConfigError(
                f"the time scale must be a positive number up to {MAX_TIME_SCALE:g}, not {self.time_scale!r}"
            )
        if self.task_limit is not None and self.task_limit < 1:
            raise ConfigError(f"the task limit must be at least 1, not {self.task_limit!r}")
        if self.journal_limit < 1:
            raise ConfigError(f"the journal limit must be at least 1, not {self.journal_limit!r}")
        if self.store is not None and not self.store.startswith(STORE_SCHEMES):
            raise ConfigError(
                f"store: a Redis URL ({', '.join(s + '//…' for s in STORE_SCHEMES)}), not {without_password(self.store)!r}"
            )
        unknown = sorted(set(self.api_settings) - set(API_CLASSES), key=str)
        if unknown:
            raise ConfigError(
                f"settings for unknown API {unknown[0]!r}: use one of {', '.join(API_CLASSES)}"
            )
        for name, settings in self.api_settings.items():
            if not isinstance(settings, Mapping):
                raise ConfigError(f"settings {name}: a mapping of setting names to values, not {settings!r}")

    @property
    def clock_scale(self) -> float:
        """How much faster than real time the clock runs (1 on a virtual clock)."""
        return self.time_scale if self.clock == "real" else 1.0

    def scenario_sources(self) -> list[Path]:
        # User scenarios first: their triggers win over the built-in ones.
        return [*self.scenario_paths, *(shipped_scenarios() if self.builtin_scenarios else [])]


STORE_SCHEMES = ("redis:", "rediss:", "unix:")


def without_password(url: str) -> str:
    """A store URL as it may be shown: any password in it left out."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


def shipped_scenarios() -> list[Path]:
    """The scenarios that come with the installed APIs: the built-in folder, and the
    folder of each API installed as a plugin that has one."""
    builtin = builtin_scenarios()
    folders = [builtin]
    for api in API_CLASSES.values():
        folder = api.scenarios_dir()
        if folder is not None and not folder.is_relative_to(builtin):
            folders.append(folder)
    return folders

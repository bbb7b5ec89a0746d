"""Errors the emulator raises on purpose. Every one of them hangs off `EmulatorError`."""

from __future__ import annotations

from dataclasses import dataclass

SHOWN_CHARACTERS = 100


def shown(value: object) -> str:
    """`value` as a message quotes it (its repr), cut short when it is absurdly long: an
    error must say what was wrong, not echo a megabyte back."""
    text = repr(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}… ({len(text):,} characters)"


class EmulatorError(Exception):
    """Base of every error the emulator raises on purpose (never a bug)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a file a person wrote, with where it is."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class ScenarioError(EmulatorError):
    """Scenario files that cannot be loaded; `problems` lists every mistake found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class VendorError(EmulatorError):
    """A request a vendor API refuses on purpose, answered in that vendor's own error shape:
    its HTTP `status` and the `message` its body carries. Each API's errors derive from it
    and add what their body needs (a code, a request id)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConfigError(EmulatorError):
    """A configuration value a person gave is wrong."""


class SettingsError(ConfigError):
    """An API's settings break a rule; `path` is where, as keys from the API id down, so a
    settings file can name the line."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(message)


class NotFound(EmulatorError):
    """A task, scenario or API asked for by name does not exist."""


class TaskGone(NotFound):
    """A task found by a lookup was gone when it was read: on a shared store, another
    replica reset the tasks in between (or since this replica last saw the task)."""


class TaskRefused(EmulatorError):
    """A task the server will not make: it holds as many as its task limit allows (`status`
    429), or the task's fields are larger than a task may keep (413)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class Conflict(EmulatorError):
    """The request would break a rule of the running state (a duplicate task id …)."""

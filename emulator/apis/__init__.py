"""The emulated vendor APIs, by their ids, found through the entry-point group
`task_emulator.apis`: the four built-in ones are registered there by this package's own
metadata, and a fifth is one installed package with one entry point (docs/adding-an-api.md).
An API's id is also its folder name for schemas and scenarios."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points

from ..errors import ConfigError
from ..redact import register
from .base import VendorApi

ENTRY_POINT_GROUP = "task_emulator.apis"


def discover() -> dict[str, type[VendorApi]]:
    """Every installed API, in the order they are registered. ConfigError names an entry
    point that does not load or does not give a `VendorApi` of its own name."""
    found: dict[str, type[VendorApi]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in found:
            continue  # the same API registered twice (an editable and a built install)
        try:
            api = entry.load()
        except Exception as error:  # noqa: BLE001 - a plugin's import can fail any way
            raise ConfigError(f"the API {entry.name!r} ({entry.value}) does not load: {error}") from None
        if not (isinstance(api, type) and issubclass(api, VendorApi)):
            raise ConfigError(f"the API {entry.name!r} ({entry.value}) is not a VendorApi subclass")
        if api.name != entry.name:
            raise ConfigError(
                f"the API {entry.name!r} ({entry.value}) calls itself {api.name!r}: "
                "the entry point's name and the class's `name` must agree"
            )
        register(api.secrets)
        found[entry.name] = api
    if not found:
        raise ConfigError(
            f"no vendor API is installed (entry points {ENTRY_POINT_GROUP!r}): "
            "install task-emulator (pip install .) rather than running it from a source folder"
        )
    return found


class _Installed(Mapping[str, type[VendorApi]]):
    """The installed APIs, found on first use rather than on import: a plugin's module may
    import `emulator.apis.base` before the emulator looked for plugins, and a plugin that
    is refused is reported by the command that needed it (one line), not as a traceback
    of an import."""

    def __init__(self) -> None:
        self._found: dict[str, type[VendorApi]] | None = None

    def _apis(self) -> dict[str, type[VendorApi]]:
        if self._found is None:
            self._found = discover()
        return self._found

    def __getitem__(self, name: str) -> type[VendorApi]:
        return self._apis()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._apis())

    def __len__(self) -> int:
        return len(self._apis())


API_CLASSES: Mapping[str, type[VendorApi]] = _Installed()

__all__ = ["API_CLASSES", "ENTRY_POINT_GROUP", "VendorApi", "discover"]

"""A settings file: per-API settings (users, roles, lifetimes …) as YAML or JSON.

    traffic_ops:
      users:
        - {username: ops, password: s3cret, role: operations}
    dataarts:
      max_clock_skew_seconds: 300

`task-emulator serve --config FILE`, the pytest option `--task-emulator-settings FILE` and
the ini key `task_emulator_settings` all read one with `load_settings`: a mistake names the
file and the line, before any server starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError, SettingsError
from .yamlsource import Document, YamlSyntaxError, format_path, load_documents, utf8_problem

# A settings file is a few users and numbers; anything larger is a mistake.
MAX_SETTINGS_BYTES = 1024 * 1024


def load_settings(path: Path | None) -> dict[str, Any]:
    """The settings in `path` (none for None), checked as far as a file can be: one YAML
    document mapping API ids to mappings. The settings themselves are checked against each
    API's schema by `check_settings`, which names the line."""
    if path is None:
        return {}
    try:
        if path.stat().st_size > MAX_SETTINGS_BYTES:
            raise ConfigError(f"{path}: a settings file is at most {MAX_SETTINGS_BYTES // 1024} KB")
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read the config file {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        line, message = utf8_problem(error)
        raise ConfigError(f"cannot read the config file {path}:{line}: {message}") from None
    # The scenario files' loader: mistakes with their line, duplicate keys refused, and
    # no alias (`*name`) that expands without end.
    try:
        documents = list(load_documents(text))
    except YamlSyntaxError as error:
        where = path if error.line is None else f"{path}:{error.line}"
        raise ConfigError(f"{where}: {error.message}") from None
    if len(documents) > 1:
        raise ConfigError(f"{path}:{documents[1].line}: a config file is one YAML document")
    if not documents or documents[0].data is None:
        return {}
    document = documents[0]
    for key_path, line in document.duplicate_keys:
        raise ConfigError(f"{path}:{line}: {format_path(key_path)}: this key is given twice")
    if not isinstance(document.data, dict):
        raise ConfigError(f"{path}: a config file maps API ids to their settings")
    for api, settings in document.data.items():
        if not isinstance(settings, dict):
            raise ConfigError(
                f"{path}:{document.line_of((api,))}: {api}: an API's settings are a mapping of "
                f"setting names to values, not {settings!r}"
            )
    _check(path, document)
    return document.data


def _check(path: Path, document: Document) -> None:
    """Each API's settings against its schema and rules, now, so that a mistake names this
    file and its line (a server would find it too, but could not say where)."""
    # Here, not at the top: only a run that has a settings file loads the API classes.
    from .apis import API_CLASSES
    from .state import api_settings, load_schemas

    unknown = [api for api in document.data if api not in API_CLASSES]
    if unknown:
        raise ConfigError(
            f"{path}:{document.line_of((unknown[0],))}: {unknown[0]!r} is not an API: use one of "
            f"{', '.join(API_CLASSES)}"
        )
    schemas = load_schemas()
    for api, settings in document.data.items():
        try:
            api_settings(API_CLASSES[api], settings, schemas)
        except SettingsError as error:
            line = document.line_of(error.path)
            raise ConfigError(f"{path}:{line}: {error.message}") from None

"""Credentials for `verify`, and keeping every credential out of what is printed or written.

Credentials come from a YAML or JSON file of the keys `TaskEmulator.credentials(api)` gives
(`username`/`password`, `ak`/`sk`/`project_id`/`token`/`workspace`, `dataset` …) and from
`TASK_EMULATOR_VERIFY_<KEY>` environment variables, which win over the file (a CI job keeps
secrets in its environment and the rest in a file). `Secrets` holds every secret value seen
(given, or handed out by the server: tokens, cookies) and blanks them in any text.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from ..errors import ConfigError

ENV_PREFIX = "TASK_EMULATOR_VERIFY_"
REDACTED = "[redacted]"
# Every key any API's credentials have, so the environment variables can be documented.
KNOWN_KEYS = (
    "username",
    "password",
    "login_token",
    "ak",
    "sk",
    "project_id",
    "token",
    "workspace",
    "dataset",
)
# Values shorter than this are not searched for: blanking two letters everywhere would
# garble every report, and no answer echoes a credential anyway.
MIN_SECRET_LENGTH = 4
# Request and response headers whose values are credentials (compared lower-case).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-auth-token",
        "x-subject-token",
    }
)
# JSON body keys whose values are credentials (Traffic Ops' login `p`, `t`; IAM's password).
SECRET_BODY_KEYS = frozenset(
    {"p", "t", "password", "passwd", "token", "secret", "sk", "access_token"}
)


def load_credentials(path: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The credentials in `path` (YAML or JSON, a mapping of text values), then those of the
    environment over them. ConfigError says what is wrong with the file."""
    found: dict[str, str] = {}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(
                f"--credentials: cannot read {path}: {error.strerror or error}"
            ) from None
        except yaml.YAMLError:
            raise ConfigError(f"--credentials: {path} is neither YAML nor JSON") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"--credentials: {path} must hold a mapping such as username: …, password: …"
            )
        for key, value in data.items():
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise ConfigError(f"--credentials: {path}: the value of {key!r} must be text")
            found[str(key)] = str(value)
    env = os.environ if environ is None else environ
    for key in KNOWN_KEYS:
        value = env.get(ENV_PREFIX + key.upper())
        if value:
            found[key] = value
    return found


class Secrets:
    """Secret values to blank in anything shown or written."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        for value in values:
            self.add(value)

    def add(self, value: str | None) -> None:
        if value and len(value) >= MIN_SECRET_LENGTH:
            self._values.add(value)
            if value.startswith("Basic "):  # the password inside, which a body could echo
                self._add_basic(value[6:].strip())
            elif value.startswith("Bearer "):
                self.add(value[7:].strip())

    def _add_basic(self, encoded: str) -> None:
        try:
            pair = base64.b64decode(encoded, validate=True).decode("utf-8")
        except ValueError:
            return
        self.add(pair.partition(":")[2])

    def add_from(self, credentials: Mapping[str, str], secret_keys: Iterable[str]) -> None:
        for key in secret_keys:
            self.add(credentials.get(key))

    def learn_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        """Every credential in these headers: whole values, cookie values, Basic passwords."""
        for name, value in headers:
            if name.lower() not in SECRET_HEADERS:
                continue
            self.add(value)
            if name.lower() in ("cookie", "set-cookie"):
                first = value.split(";") if name.lower() == "cookie" else value.split(";")[:1]
                for pair in first:
                    self.add(pair.partition("=")[2].strip())

    def learn_body(self, body: bytes | None) -> None:
        """The values of credential keys in a JSON body (a login form)."""
        try:
            data = json.loads(body or b"")
        except (ValueError, RecursionError):
            return
        self._walk(data)

    def _walk(self, value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if str(key).lower() in SECRET_BODY_KEYS and isinstance(item, str):
                    self.add(item)
                else:
                    self._walk(item)
        elif isinstance(value, list):
            for item in value:
                self._walk(item)

    def mask(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def __contains__(self, text: str) -> bool:
        return any(value in text for value in self._values)

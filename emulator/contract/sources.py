"""Exchanges read from files: a HAR 1.2 file (what browsers and proxies export) and the
emulator's journal export (`GET /_emulator/requests`).

The journal keeps each request (credentials redacted) and the status of its answer, the
emulator's own schema verdict and any injected fault, but neither the response headers nor
the response body: from it, statuses, that verdict and the phases a status code says
(Spectrum Discover's 303/200, Ops Center's 206/200) are checked.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..errors import ConfigError
from .model import Exchange

# A file bigger than this is refused rather than read into memory.
MAX_FILE_BYTES = 256 * 1024 * 1024


def _load(path: Path, what: str) -> Any:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{what}: {path} is over {MAX_FILE_BYTES // 2**20} MiB")
        return json.loads(path.read_bytes())
    except OSError as error:
        raise ConfigError(f"{what}: cannot read {path}: {error.strerror or error}") from None
    except (ValueError, RecursionError):
        raise ConfigError(f"{what}: {path} is not JSON") from None


def read_har(path: Path) -> list[Exchange]:
    """The entries of a HAR file, in its order. ConfigError when it is not a HAR file."""
    data = _load(path, "--har")
    entries = data.get("log", {}).get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"--har: {path} has no log.entries: not a HAR file")
    exchanges = []
    for index, entry in enumerate(entries):
        try:
            exchanges.append(_har_exchange(index, entry))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ConfigError(
                f"--har: {path}: entry {index} is not a HAR entry ({error})"
            ) from None
    return exchanges


def _har_exchange(index: int, entry: dict[str, Any]) -> Exchange:
    request, response = entry["request"], entry["response"]
    url = urlsplit(request["url"])
    post = request.get("postData") or {}
    content = response.get("content") or {}
    body: bytes | None = None
    if isinstance(content.get("text"), str):
        if content.get("encoding") == "base64":
            try:
                body = base64.b64decode(content["text"], validate=False)
            except binascii.Error:
                body = content["text"].encode("utf-8")
        else:
            body = content["text"].encode("utf-8")
    status = int(response["status"])
    return Exchange(
        index=index,
        method=str(request["method"]).upper(),
        path=url.path or "/",
        query=tuple(parse_qsl(url.query, keep_blank_values=True)),
        raw_query=url.query,
        request_headers=_pairs(request.get("headers")),
        request_body=post["text"].encode("utf-8") if isinstance(post.get("text"), str) else None,
        # HAR writes 0 for a request that got no answer (aborted, blocked).
        status=status or None,
        error=None if status else (response.get("_error") or "no answer recorded"),
        response_headers=_pairs(response.get("headers")),
        body=body,
        time=_epoch(entry.get("startedDateTime")),
    )


def _pairs(headers: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(h["name"]), str(h["value"])) for h in headers or ())


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def read_journal(path: Path, api: str) -> list[Exchange]:
    """The journal entries of `api` (a `GET /_emulator/requests` answer, or its list)."""
    data = _load(path, "--journal")
    entries = data.get("requests") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ConfigError(f"--journal: {path} holds no 'requests' list: not a journal export")
    exchanges = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "method" not in entry or "path" not in entry:
            raise ConfigError(f"--journal: {path}: entry {index} is not a journal entry")
        if entry.get("api") not in (api, None):
            continue
        notes = []
        if entry.get("violation"):
            notes.append(f"violation: {entry['violation']}")
        if entry.get("fault"):
            notes.append(f"an injected fault ({entry['fault']}) hit this answer")
        query = entry.get("query") or {}
        body = entry.get("body")
        request_body = (
            None
            if body is None
            else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        status = entry.get("status")
        exchanges.append(
            Exchange(
                index=int(entry.get("seq", index)),
                method=str(entry["method"]).upper(),
                path=str(entry["path"]),
                query=tuple((str(k), str(v)) for k, v in query.items()),
                raw_query="&".join(f"{k}={v}" for k, v in query.items()),
                request_headers=tuple(
                    (str(k), str(v)) for k, v in (entry.get("headers") or {}).items()
                ),
                request_body=request_body,
                status=status if isinstance(status, int) else None,
                error=None
                if isinstance(status, int)
                else "the connection was closed before an answer",
                response_headers=None,
                body=None,
                time=entry.get("time") if isinstance(entry.get("time"), (int, float)) else None,
                source_notes=tuple(notes),
                task_hint=entry.get("task"),
            )
        )
    return exchanges

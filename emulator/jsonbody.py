"""Reading a request's JSON body so that no body can hurt the server.

Python's parser takes JSON nested up to about a thousand levels (the interpreter's recursion
limit) and raises RecursionError beyond. A body just under that limit parses, and then
breaks whatever walks it recursively: a JSON Schema check, or the `repr` in its error
message (RecursionError again, or kilobytes of brackets echoed back in a 400). So every
body is held to `MAX_DEPTH` levels right after parsing, before anything walks it.

`loads` is `json.loads` with that bound, for the vendor routes: it raises `TooDeep`, a
ValueError and a RecursionError at once, so a handler's existing `except ValueError` or
`except RecursionError` already answers it as the malformed body it is. `parse_json` is the
strict reader of the control API (RFC 8259: no NaN, no key given twice).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .yamlsource import JsonPath, format_path

# Arrays and objects inside one another, the body itself being level 1. The deepest body
# any emulated vendor or the control API takes is 6 (an IAM token request); 32 leaves room.
MAX_DEPTH = 32
# Path parts named in an error: enough to find the field, never an echo of the body.
_PATH_SHOWN = 3
_KEY_SHOWN = 40


class TooDeep(ValueError, RecursionError):
    """A body that nests deeper than allowed; `path` leads to the first container too deep
    (empty: too deep to say where). `unread`: so deep that Python's parser gave up on it,
    so whether the rest of it is JSON at all is not known.

    Both a ValueError (a malformed body) and a RecursionError (what the parser raises for
    nesting past its own limit), so handlers written for either already answer it."""

    def __init__(self, path: JsonPath, max_depth: int, *, unread: bool = False) -> None:
        self.path = path
        self.max_depth = max_depth
        self.unread = unread
        limit = f"more than {max_depth} levels"
        if unread:
            message = f"it is nested too deeply ({limit}{f' at {where(path)}' if path else ''})"
        else:
            message = f"{where(path)}: nested too deeply ({limit})"
        super().__init__(message)


def loads(
    raw: bytes | str,
    *,
    max_depth: int = MAX_DEPTH,
    parse_constant: Callable[[str], Any] | None = None,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """`json.loads(raw)`, refusing (TooDeep) a document nested deeper than `max_depth`,
    including one too deep for Python's parser. Other mistakes raise what json.loads does."""
    try:
        value = json.loads(raw, parse_constant=parse_constant, object_pairs_hook=object_pairs_hook)
    except RecursionError:
        raise TooDeep(_deep_path(raw, max_depth), max_depth, unread=True) from None
    # A document with fewer brackets than the limit cannot nest deeper: most bodies are
    # let through by two counts in C, without walking them.
    if isinstance(raw, bytes):
        opened = raw.count(b"[") + raw.count(b"{")
    else:
        opened = raw.count("[") + raw.count("{")
    if opened > max_depth:
        path = too_deep(value, max_depth)
        if path is not None:
            raise TooDeep(path, max_depth)
    return value


def parse_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """JSON as RFC 8259 has it, nested at most `max_depth` levels, or ValueError saying what
    is wrong (TooDeep, with the path, for nesting). Python's parser also takes NaN and
    Infinity and keeps the last of two equal keys: each of those would reach a handler."""

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON value")

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                raise ValueError(f"the key {shown_key(key)} is given twice")
            found[key] = value
        return found

    return loads(
        raw, max_depth=max_depth, parse_constant=no_constant, object_pairs_hook=unique_keys
    )


def too_deep(value: Any, max_depth: int) -> JsonPath | None:
    """The path to the first array or object of `value` that is nested deeper than
    `max_depth` levels (`value` itself being level 1), or None. Iterative: it must not
    itself recurse on what it is there to refuse."""
    if not isinstance(value, (dict, list)):
        return None
    stack: list[tuple[Any, int, JsonPath]] = [(value, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if depth > max_depth:
            return path
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in items:
            if isinstance(item, (dict, list)):
                # The path is kept only as far as an error shows it (and one part more,
                # to show that it goes on).
                stack.append((item, depth + 1, (*path, key) if len(path) <= _PATH_SHOWN else path))
    return None


# The tokens that tell where a value is: strings (a key when a colon follows), brackets and
# commas. Used only on text the parser read up to far deeper than the point looked for, so
# every string on the way is closed (an unclosed one would make the search quadratic).
_TOKEN = re.compile(r'("(?:[^"\\]|\\.)*")(\s*:)?|[\[\]{},]')
# Tokens looked at before giving up naming where: the scan is in Python.
_SCAN_TOKENS = 100_000


def _deep_path(raw: bytes | str, max_depth: int) -> JsonPath:
    """Where a document too deep for Python's parser first nests deeper than `max_depth`
    (empty when that is not found in the first _SCAN_TOKENS tokens)."""
    text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), errors="replace")
    parts: list[str | int] = []  # of each open container but the outermost: its key or index
    arrays: list[bool] = []  # of each open container: whether it is an array
    indices: list[int] = []  # of each open container: the index of its current item
    key = ""
    for number, match in enumerate(_TOKEN.finditer(text)):
        if number > _SCAN_TOKENS:
            break
        token = match.group()
        if match.group(2):  # a key
            key = _key(match.group(1))
        elif token == ",":
            if indices:
                indices[-1] += 1
        elif token in "[{":
            if arrays:
                parts.append(indices[-1] if arrays[-1] else key)
            arrays.append(token == "[")
            indices.append(0)
            if len(arrays) > max_depth:
                return tuple(parts[: _PATH_SHOWN + 1])
        elif token in "]}" and arrays:
            arrays.pop()
            indices.pop()
            if parts:
                parts.pop()
    return ()


def _key(quoted: str) -> str:
    try:
        return str(json.loads(quoted))
    except ValueError:
        return quoted[1:-1]


def where(path: JsonPath) -> str:
    """A path as an error names it: its first few parts, each key cut short."""
    parts = tuple(
        p if isinstance(p, int) else shown_key(p, quoted=False) for p in path[:_PATH_SHOWN]
    )
    return format_path(parts) + ("…" if len(path) > _PATH_SHOWN else "")


def shown_key(key: str, *, quoted: bool = True) -> str:
    text = key if len(key) <= _KEY_SHOWN else key[:_KEY_SHOWN] + "…"
    return repr(text) if quoted else text

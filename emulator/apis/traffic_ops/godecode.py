"""Request bodies read as Go's `json.NewDecoder(r.Body).Decode(&form)` reads them into the
structs of string fields Traffic Ops logs in with (auth.PasswordForm, tc.UserToken): what it
accepts, what it refuses and the words of its errors.

Go's decoder takes UTF-8 only (a UTF-16 body or a byte-order mark is an invalid character),
reads one value and leaves what follows it, matches keys to fields ignoring ASCII case, turns
bytes that are not UTF-8 and lone surrogates inside strings into U+FFFD, and reports a value
of the wrong type only after the whole value was read.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...errors import EmulatorError

_SPACE = " \t\r\n"  # what Go's scanner skips between tokens
_HEX = frozenset("0123456789abcdefABCDEF")
_LITERALS = ("true", "false", "null")
_SURROGATE = re.compile("[\ud800-\udfff]")
_QUOTED = {
    0x07: "\\a",
    0x08: "\\b",
    0x0C: "\\f",
    0x0A: "\\n",
    0x0D: "\\r",
    0x09: "\\t",
    0x0B: "\\v",
    0x5C: "\\\\",
}


class GoDecodeError(EmulatorError, ValueError):
    """What Decode returned, worded as its error's Error() is."""


class _Object(list[tuple[str, Any]]):
    """A JSON object's members in order (Go assigns duplicate keys in turn: the last wins)."""


def decode_form(raw: bytes, struct: str, fields: tuple[str, ...]) -> dict[str, str]:
    """The string `fields` (JSON names) of Go struct `struct` (e.g. `auth.PasswordForm`) that
    `raw` sets; GoDecodeError with Go's message when Decode fails."""
    text = raw.decode("utf-8", "surrogateescape")  # a byte that is not UTF-8 stays itself
    start = len(text) - len(text.lstrip(_SPACE))
    if start == len(text):
        raise GoDecodeError("EOF")
    decoder = json.JSONDecoder(object_pairs_hook=_Object, parse_constant=_not_json)
    try:
        value, _ = decoder.raw_decode(text, start)  # what follows the value is not read
    except json.JSONDecodeError as error:
        raise GoDecodeError(_syntax_error(text, error.msg, error.pos)) from None
    except _NotJson as error:
        raise GoDecodeError(str(error)) from None
    except RecursionError:  # deeper than Python's parser goes; Go's words for its own limit
        raise GoDecodeError("exceeded max depth") from None
    if value is None:
        return {}
    if not isinstance(value, _Object):
        raise GoDecodeError(f"json: cannot unmarshal {_kind(value)} into Go value of type {struct}")
    form: dict[str, str] = {}
    first_error = None
    for key, member in value:
        field = (
            key if key in fields else next((f for f in fields if f.lower() == key.lower()), None)
        )
        if field is None or member is None:  # unknown keys are skipped, null leaves a field
            continue
        if isinstance(member, str):
            form[field] = _SURROGATE.sub("\ufffd", member)
        elif first_error is None:
            where = f"{struct.rpartition('.')[2]}.{field}"
            kind = _kind(member)
            first_error = (
                f"json: cannot unmarshal {kind} into Go struct field {where} of type string"
            )
    if first_error is not None:
        raise GoDecodeError(first_error)
    return form


def _kind(value: Any) -> str:
    """The JSON kind UnmarshalTypeError names."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, _Object) else "array"


class _NotJson(ValueError):
    pass


def _not_json(constant: str) -> Any:
    """Python's parser takes NaN and Infinity; Go's stops at them, as at any stray letter."""
    if constant.startswith("-"):
        raise _NotJson(f"invalid character {_quote(constant[1])} in numeric literal")
    raise _NotJson(f"invalid character {_quote(constant[0])} looking for beginning of value")


def _syntax_error(text: str, message: str, pos: int) -> str:
    """Go's scanner error for the place Python's parser stopped at."""
    if pos >= len(text) or message.startswith("Unterminated string"):
        return "unexpected EOF"
    char = text[pos]
    if message.startswith("Invalid control character"):
        return _invalid(char, "in string literal")
    if message.startswith("Invalid \\escape"):
        return _at(text, text.rfind("\\", 0, pos + 1) + 1, "in string escape code")
    if message.startswith("Invalid \\uXXXX"):
        digits = text.rfind("\\", 0, pos + 1) + 2
        bad = next(
            (i for i in range(digits, digits + 4) if i >= len(text) or text[i] not in _HEX), digits
        )
        return _at(text, bad, "in \\u hexadecimal character escape")
    if message == "Expecting ':' delimiter":
        return _invalid(char, "after object key")
    if message.startswith("Expecting property name"):
        return _invalid(char, "looking for beginning of object key string")
    if message == "Expecting ',' delimiter":
        if char in ".eE" and _number_goes_on(text, pos):
            return _number_tail(text, pos)
        inside = (
            "after object key:value pair" if _innermost(text, pos) == "{" else "after array element"
        )
        return _invalid(char, inside)
    # "Expecting value": Go reads a literal or a minus sign further than Python before it stops.
    for literal in _LITERALS:
        if char == literal[0]:
            for i, expected in enumerate(literal):
                if pos + i >= len(text):
                    return "unexpected EOF"
                if text[pos + i] != expected:
                    return _invalid(
                        text[pos + i], f"in literal {literal} (expecting {_quote(expected)})"
                    )
    if char == "-":
        return _at(text, pos + 1, "in numeric literal")
    return _invalid(char, "looking for beginning of value")


def _number_goes_on(text: str, pos: int) -> bool:
    """Whether the `.`, `e` or `E` at `pos` continues the number before it, as Go reads it
    (Python's parser ends a number there when no digit follows, and reports the character)."""
    start = pos
    while start > 0 and text[start - 1] in "0123456789.eE+-":
        start -= 1
    number = text[start:pos]
    if not number or not number[-1].isdigit() or "e" in number or "E" in number:
        return False
    return text[pos] != "." or "." not in number


def _number_tail(text: str, pos: int) -> str:
    """Go's error inside `1.` or `1e`: the character after the point or the exponent mark."""
    if text[pos] == ".":
        return _at(text, pos + 1, "after decimal point in numeric literal")
    after = pos + 1 + (pos + 1 < len(text) and text[pos + 1] in "+-")
    return _at(text, after, "in exponent of numeric literal")


def _at(text: str, pos: int, context: str) -> str:
    return "unexpected EOF" if pos >= len(text) else _invalid(text[pos], context)


def _innermost(text: str, pos: int) -> str:
    """`{` or `[`: the container open at `pos` (which Python's shared message leaves out)."""
    stack, in_string, escaped = [], False, False
    for char in text[:pos]:
        if in_string:
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _invalid(char: str, context: str) -> str:
    return f"invalid character {_quote(char)} {context}"


def _quote(char: str) -> str:
    """Go's quoteChar of the byte its scanner stopped at: the first byte of `char`, quoted as
    strconv.Quote quotes that byte taken as a rune, in single quotes."""
    byte = char.encode("utf-8", "surrogateescape")[0]
    if byte == 0x27:
        return "'\\''"
    if byte == 0x22:
        return "'\"'"
    if byte in _QUOTED:
        shown = _QUOTED[byte]
    elif byte < 0x20 or byte == 0x7F:
        shown = f"\\x{byte:02x}"
    elif 0x80 <= byte <= 0xA0 or byte == 0xAD:  # not printable to strconv.IsPrint
        shown = f"\\u{byte:04x}"
    else:
        shown = chr(byte)
    return f"'{shown}'"

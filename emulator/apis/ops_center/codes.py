"""The detail view's answers on the wire: its error codes and texts, the exception that
carries one to the answer, and how its bodies are encoded (compact JSON, as Jetty's servlet
writes it). [doc] the getStatus and abortRequest pages; [inf] what they leave open."""

from __future__ import annotations

import json
from typing import Any

from ...errors import VendorError

# Jetty sets the charset it encodes with beside the servlet's JSON type [inf].
CONTENT_TYPE = "application/json;charset=utf-8"

# Response codes and texts. [doc] from the getStatus and abortRequest pages; HTTP statuses
# for them as API-NOTES.md maps them.
MISSING_PARAMETER = "72020008"  # "Mandatory parameter {requestId} not specified." [doc]
NOT_IN_CACHE = "720600E6"
NOT_AUTHORIZED = "720000E9"  # both "Authorization needed." and "License is not valid."
INTERNAL_ERROR = "720600E2"
ABORT_MISSING_PARAMETER = "B5020008"
ABORT_NOT_IN_CACHE = "B5040016"
ABORT_ALREADY_ABORTED = "B5040018"
# Not documented: a value that breaks a parameter's rule, and a dataset the server does
# not have. The codes are the emulator's own, in the family of the documented ones [inf].
INVALID_PARAMETER = "72020009"
UNKNOWN_DATASET = "720600E8"

TEXT_AUTHORIZATION = "Authorization needed."
TEXT_LICENSE = "License is not valid."
TEXT_NOT_IN_CACHE = "Response is not present in the cache for the given requestId."
TEXT_INTERNAL = "Application encountered an internal error."


class DbApiError(VendorError):
    """One vendor error answer: its HTTP status and `{"code", "error"}` body."""

    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(status, text)
        self.code = code
        self.text = text


def missing(name: str) -> DbApiError:
    # The doc gives the text for requestId; other parameters are worded alike [inf].
    return DbApiError(400, MISSING_PARAMETER, f"Mandatory parameter {{{name}}} not specified.")


def invalid(name: str, value: object) -> DbApiError:
    return DbApiError(400, INVALID_PARAMETER, f"Invalid value '{value}' for parameter {{{name}}}.")


def encode_json(value: Any) -> bytes:
    """Compact JSON, non-ASCII as is, as a Java JSON writer sends it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

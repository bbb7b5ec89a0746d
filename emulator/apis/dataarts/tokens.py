"""IAM tokens that carry what they grant, sealed with the API's keyring.

A real IAM token is a signed document (the `MII…` of a PKCS#7 blob): the gateway reads the
project, the user and `expires_at` from the token itself and keeps no table of the tokens
it issued. The emulator does the same with an HMAC instead of a certificate, so issuing and
checking a token cost the same however many were issued, nothing grows with them, a token
stays valid for its whole lifetime however many come after it, and every replica opens a
token any of them issued (the keyring is the same on all; emulator/keyring.py).

A token says the keyring's generation it was issued in. Two things end it early, both O(1):
- a forget (reset): the key changes, so every earlier token no longer opens ("decrypt token
  fail", as for a token of another environment);
- an expire (expire_credentials): a token of an earlier generation answers as expired, its
  `expires_at` being the moment that was done.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from ...keyring import Keyring

# What every IAM token starts with (DER's SEQUENCE header, base64-encoded).
PREFIX = "MII"
_MAC_BYTES = 32
_NONCE_BYTES = 8


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a token grants, and until when (epoch seconds on the wall clock)."""

    generation: int
    project_id: str
    user: str
    issued_at: float
    expires_at: float


class TokenSeal:
    """Makes and opens tokens with the keys of `keyring`."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def issue(
        self, project_id: str, user: str, issued_at: float, lifetime: float
    ) -> tuple[str, TokenClaims]:
        claims = TokenClaims(self.keyring.generation, project_id, user, issued_at, issued_at + lifetime)
        # ASCII JSON: a name from the settings is written escaped, whatever it holds.
        payload = json.dumps(
            [claims.generation, project_id, user, issued_at, claims.expires_at], separators=(",", ":")
        ).encode("ascii")
        # A random part, so that two tokens of the same moment differ as IAM's do.
        sealed = payload + secrets.token_bytes(_NONCE_BYTES)
        text = base64.urlsafe_b64encode(sealed + self._mac(sealed)).decode("ascii").rstrip("=")
        return PREFIX + text, claims

    def open(self, token: str) -> TokenClaims | None:
        """The claims of a token sealed since the keyring last forgot, or None."""
        if not token.startswith(PREFIX):
            return None
        text = token[len(PREFIX) :]
        try:
            # validate: a character outside the alphabet makes another token, not the same one
            raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        except (ValueError, binascii.Error):  # ValueError: not ASCII
            return None
        sealed, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(raw) <= _MAC_BYTES + _NONCE_BYTES or not hmac.compare_digest(mac, self._mac(sealed)):
            return None
        # Sealed here, so well formed: the JSON array, then the random part.
        generation, project_id, user, issued_at, expires_at = json.loads(sealed[:-_NONCE_BYTES])
        return TokenClaims(generation, project_id, user, issued_at, expires_at)

    def expires_at(self, claims: TokenClaims) -> float:
        """When the token ends: its lifetime, or earlier if it was expired on purpose."""
        state = self.keyring.state
        if claims.generation < state.generation:
            return min(claims.expires_at, state.expired_at)
        return claims.expires_at

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self.keyring.lasting_key, data, hashlib.sha256).digest()


def iam_time(seconds: float) -> str:
    """IAM's token times: ISO 8601 with microseconds and a Z."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

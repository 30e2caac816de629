"""Signed, expiring tokens: the link in an alert that opens one incident's page without a
login, the console's session cookie, and the CSRF token of its forms.

A token is `expiry.data.mac`: the expiry in Unix seconds, the data (a name) in URL-safe
base64, and an HMAC-SHA256 over the scope, the expiry and the data. The scope binds a
token to its use: a link for one incident is refused for another, or as a session.
Stateless, so every worker that shares the key accepts what any of them signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

MIN_KEY_BYTES = 16


class BadToken(ValueError):
    """A token that was tampered with, is for another scope, or has expired."""


class Signer:
    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a signing key needs at least {MIN_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_env(cls, env: Mapping[str, str], secret_env: str, token_env: str) -> Signer | None:
        """The link secret, else a key derived from the API token (every worker has it);
        None when neither is set: links are then unsigned and the console is off."""
        secret = env.get(secret_env, "")
        if secret:
            return cls(hashlib.sha256(b"guanchao links\n" + secret.encode()).digest())
        token = env.get(token_env, "")
        if token:
            return cls(hmac.new(token.encode(), b"guanchao links", hashlib.sha256).digest())
        return None

    def sign(self, scope: str, data: str, expires: datetime) -> str:
        body = f"{int(expires.timestamp())}.{_b64(data.encode())}"
        return f"{body}.{self._mac(scope, body)}"

    def verify(self, scope: str, token: str, now: datetime) -> str:
        """The data the token carries; BadToken when it is not good for `scope` at `now`."""
        expiry, _, rest = token.partition(".")
        data, _, mac = rest.partition(".")
        body = f"{expiry}.{data}"
        expected = self._mac(scope, body).encode()
        if not mac or not hmac.compare_digest(mac.encode("utf-8", "replace"), expected):
            raise BadToken("the signature does not match")
        if not expiry.isdigit() or int(expiry) <= now.timestamp():
            raise BadToken("the link has expired")
        try:
            return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()
        except ValueError:
            raise BadToken("the token is malformed") from None

    def tie(self, scope: str, value: str) -> str:
        """A MAC of `value` for `scope`: a form's CSRF token, tied to the visitor's
        credential (only pages rendered for that credential carry it)."""
        return self._mac(scope, value)

    def _mac(self, scope: str, body: str) -> str:
        message = f"{scope}\n{body}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())


def incident_scope(case_id: str) -> str:
    return f"incident:{case_id}"


@dataclass(frozen=True)
class Links:
    """Where alerts point: an incident's console page, signed for the person paged (who
    can correct the name on the page), good for `lifetime`."""

    public_url: str
    signer: Signer | None
    lifetime: timedelta = timedelta(hours=72)

    def incident(self, case_id: str, who: str, now: datetime) -> str:
        url = f"{self.public_url.rstrip('/')}/console/incidents/{quote(case_id, safe='')}"
        if self.signer is None:
            return url
        return f"{url}?token={self.signer.sign(incident_scope(case_id), who, now + self.lifetime)}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")

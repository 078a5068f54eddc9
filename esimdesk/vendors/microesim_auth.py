"""MicroESIM request signing as an ``httpx.Auth``: a fresh nonce and timestamp on every send, so a
retried read is re-signed instead of replaying a stale (or already used) nonce."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Generator

import httpx


def derive_key(secret: str, salt_hex: str) -> str:
    """PBKDF2-SHA256(secret, bytes.fromhex(salt), 1024 rounds, 32 bytes) as lowercase hex, per the
    vendor's reference code; the hex *string* (not the bytes) is the HMAC key."""
    return hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), bytes.fromhex(salt_hex), 1024, 32).hex()


def signature(key_hex: str, account: str, nonce: str, timestamp: str) -> str:
    data = (account + nonce + timestamp).encode("utf-8")
    return hmac.new(key_hex.encode("utf-8"), data, hashlib.sha256).hexdigest()


class MicroesimAuth(httpx.Auth):
    def __init__(
        self,
        account: str,
        secret: str,
        salt_hex: str,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] | None = None,
    ):
        self._account = account
        try:
            self._key_hex = derive_key(secret, salt_hex)
        except ValueError:
            # Raised without the salt's value so it never reaches a log.
            raise ValueError("MicroESIM SALT must be a hex string") from None
        self._clock = clock
        self._nonce = nonce or (lambda: secrets.token_hex(10))  # 20 chars, within the 6-32 rule

    def __repr__(self) -> str:  # the derived key is as good as the secret: never shown
        return "MicroesimAuth(<hidden>)"

    __str__ = __repr__

    @property
    def derived_key(self) -> str:
        """For log redaction only."""
        return self._key_hex

    def headers(self) -> dict[str, str]:
        nonce = self._nonce()
        stamp = str(int(self._clock() * 1000))  # 13 digits of milliseconds (NOTES.md)
        return {
            "MICROESIM-ACCOUNT": self._account,
            "MICROESIM-NONCE": nonce,
            "MICROESIM-TIMESTAMP": stamp,
            "MICROESIM-SIGN": signature(self._key_hex, self._account, nonce, stamp),
        }

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.headers())
        yield request

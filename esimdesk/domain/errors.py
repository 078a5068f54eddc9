"""Error types. Every message is a sentence an agent can act on; none carries a secret."""

from __future__ import annotations

from esimdesk.domain.words import vendor_title

__all__ = [
    "EsimdeskError",
    "ConfigError",
    "StoreError",
    "ValidationError",
    "InvalidInput",
    "Unsupported",
    "VendorError",
    "VendorAuthError",
    "AccessRefused",
    "VendorBusy",
    "VendorTimeout",
    "VendorUnavailable",
    "MalformedResponse",
    "AnswerTooLarge",
    "VendorRejected",
    "PriceChanged",
    "InsufficientBalance",
    "NotFound",
    "DuplicateReference",
]


class EsimdeskError(Exception):
    """Base of every error the app reports in words instead of a traceback."""


class ConfigError(EsimdeskError):
    pass


class StoreError(EsimdeskError):
    """The local data file cannot be read or written (damaged, disk full, read-only folder).

    The message is one sentence without a final full stop (callers append their own). ``path``: the
    file concerned; ``reason``: a short word for code to branch on — damaged files: ``empty``,
    ``not-a-database``, ``damaged``, ``orphaned-wal``; writing: ``disk-full``, ``read-only``, ``io-error``,
    ``busy``, ``not-durable`` (committed, but only in the write-ahead log); backup/restore: ``missing``,
    ``in-use``, ``not-esimdesk``, ``newer-schema``, ``other-desk`` — or None.
    """

    def __init__(self, message: str, *, path: str | None = None, reason: str | None = None):
        self.path = path
        self.reason = reason
        super().__init__(message)


class ValidationError(EsimdeskError):
    """Bad input caught before any vendor call."""


class InvalidInput(ValidationError):
    """What was typed is wrong in itself, whatever the vendor or the data file hold: a malformed ICCID or
    reference, a quantity out of range, a date in the past, an option the vendor never takes. The command
    line says it as a usage error (exit status 2); refusals by a vendor or the data are exit status 1."""


class Unsupported(EsimdeskError):
    def __init__(self, vendor: str, operation: str):
        self.vendor = vendor
        self.operation = operation
        super().__init__(f"{vendor_title(vendor)} does not offer {operation} through its API")


class VendorError(EsimdeskError):
    """Anything a vendor call can end in, with enough context to act on it.

    ``retryable``: a read may be sent again (busy, rate-limited, 5xx, timeout).
    ``maybe_sent``: for writes, the vendor may have acted on the request although we have no
    answer (timeout after sending, dropped connection, 5xx, malformed body): the order is UNCERTAIN.
    """

    default_retryable = False
    # The vendor's decoded error answer (a 4xx's JSON body), where one came: a field beyond the message the
    # adapter reads (Roamify's 409 to a second refund request names the open one's ``refundId``).
    payload: object = None

    def __init__(
        self,
        vendor: str,
        endpoint: str,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        maybe_sent: bool = False,
        retry_after: float | None = None,
    ):
        self.vendor = vendor
        self.endpoint = endpoint
        self.message = message
        self.http_status = http_status
        self.code = code
        self.retryable = self.default_retryable if retryable is None else retryable
        self.maybe_sent = maybe_sent
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        """For the agent: the vendor by its name and what it said, never the endpoint (that is ``detail``)."""
        return f"{vendor_title(self.vendor)}: {self.message}{self._codes()}"

    @property
    def detail(self) -> str:
        """For the log: the vendor id and the endpoint it was said at ("roumio package/list: …")."""
        return f"{self.vendor} {self.endpoint}: {self.message}{self._codes()}"

    def _codes(self) -> str:
        extra = []
        if self.http_status is not None:
            extra.append(f"HTTP {self.http_status}")
        if self.code:
            extra.append(f"code {self.code}")
        return f" ({', '.join(extra)})" if extra else ""


class VendorAuthError(VendorError):
    """The vendor refused who we are: HTTP 401/403 or its own auth code. ``about_credentials``: the
    credential itself (key, token, signature) is what it refused, so the agent should check it."""

    about_credentials = True


class AccessRefused(VendorAuthError):
    """Refused for a reason that is not the credential: this computer's clock, the network's address."""

    about_credentials = False


class VendorBusy(VendorError):
    """Rate limited, overloaded or a 5xx: try again later."""

    default_retryable = True


class VendorTimeout(VendorError):
    default_retryable = True


class VendorUnavailable(VendorError):
    """Could not connect at all: the request never left this machine."""

    default_retryable = True


class MalformedResponse(VendorError):
    """The answer was not the JSON the vendor documents (HTML page, truncated body, wrong type)."""

    default_retryable = True


class AnswerTooLarge(MalformedResponse):
    """The answer passed the size cap and was not read further (an endless stream, a proxy's dump):
    asking again would only read as much again. On a write, ``maybe_sent``: the vendor did answer."""

    default_retryable = False


class VendorRejected(VendorError):
    """The vendor understood the request and said no (its own error code)."""


class PriceChanged(VendorRejected):
    pass


class InsufficientBalance(VendorRejected):
    pass


class NotFound(VendorRejected):
    pass


class DuplicateReference(VendorRejected):
    """The vendor already holds an order under our reference (idempotency handle) and did not say
    which: the order exists, but this answer cannot tell us its id or its eSIMs."""

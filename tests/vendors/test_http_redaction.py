"""Log redaction: a secret logged anywhere under any logger comes out as ***."""

from __future__ import annotations

import io
import logging

from esimdesk.vendors.http import install_log_redaction, redact, register_secrets


def test_a_secret_logged_by_any_logger_is_redacted_by_the_root_handlers():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        register_secrets(["s3cr3t-value-123"])
        install_log_redaction()
        logging.getLogger("httpx.some.child").debug("header Authorization: %s", "s3cr3t-value-123")
        logging.getLogger("esimdesk.orders").warning("failed with s3cr3t-value-123 in it")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = stream.getvalue()
    assert "s3cr3t-value-123" not in text
    assert text.count("***") == 2
    assert redact("x s3cr3t-value-123 y") == "x *** y"

"""Every form a secret can take in a log line is redacted: raw, trimmed, repr- and JSON-escaped,
URL-encoded, base64; a key pasted with its CR/LF included."""

from __future__ import annotations

import base64
import io
import json
import logging
import urllib.parse

import pytest

from esimdesk.vendors.http import RedactingFilter, install_log_redaction, redact, register_secrets

PASTED = "Q7xZ-live/4f+9 a=b&c'\"é\r\n"  # as pasted from a file: with CR/LF and characters every encoding touches
TRIMMED = PASTED.strip()


def forms_of(value: str) -> dict[str, str]:
    return {
        "raw": value,
        "repr": repr(value)[1:-1],
        "repr-quoted": repr(value),
        "json": json.dumps(value),
        "json-unicode": json.dumps(value, ensure_ascii=False),
        "quote": urllib.parse.quote(value),
        "quote-safe-empty": urllib.parse.quote(value, safe=""),
        "quote_plus": urllib.parse.quote_plus(value),
        "bytes-repr": repr(value.encode()),
        "base64": base64.b64encode(value.encode()).decode(),
        "base64-url": base64.urlsafe_b64encode(value.encode()).decode(),
    }


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_every_form_of_a_pasted_key_is_redacted_in_debug_logs(captured):
    register_secrets([PASTED])  # what an untrimmed keychain entry would register
    install_log_redaction()
    all_forms = {**{f"pasted {k}": v for k, v in forms_of(PASTED).items()},
                 **{f"trimmed {k}": v for k, v in forms_of(TRIMMED).items()}}
    for name, form in all_forms.items():
        logging.getLogger("httpx.child").debug("%s: %s", name, form)
        logging.getLogger("esimdesk.vendors.roumio").debug("headers %r", {"x-api-key": form})
    logging.getLogger("esimdesk.orders").debug("url https://x.example/v1?key=%s&n=1", urllib.parse.quote(TRIMMED))
    text = captured.getvalue()
    assert text.count("\n") >= 2 * len(all_forms)
    for name, form in all_forms.items():
        assert form not in text, name
    # nothing of the key is left around a replacement, not even an escaped CR/LF tail
    assert "Q7xZ" not in text and "4f" not in text
    assert "***\\r" not in text and "***%0D" not in text and "***\r" not in text


def test_trimmed_registration_still_catches_the_escaped_pasted_form(captured):
    register_secrets([" zz9-Trimmed-Key-81 "])
    install_log_redaction()
    logging.getLogger("esimdesk.x").debug("sent %r", "zz9-Trimmed-Key-81\r\n")
    logging.getLogger("esimdesk.x").debug("sent %s", json.dumps({"k": "zz9-Trimmed-Key-81\r\n"}))
    text = captured.getvalue()
    assert "zz9-Trimmed" not in text
    assert "\\r\\n" in text  # the CR/LF of a trimmed key's pasted form is not itself secret


def test_a_secret_in_an_exception_traceback_is_redacted(captured):
    register_secrets(["Tb-secret-Key-5521"])
    install_log_redaction()
    try:
        raise RuntimeError("refused key 'Tb-secret-Key-5521\\r\\n' at Tb-secret-Key-5521")
    except RuntimeError:
        logging.getLogger("esimdesk.y").exception("call failed")
    text = captured.getvalue()
    assert "RuntimeError" in text and "Tb-secret" not in text


def test_longest_form_wins_so_no_tail_is_left():
    f = RedactingFilter(["abcd\r\n"])
    assert f.redact("k='abcd\\r\\n' end") == "k='***' end"
    assert f.redact("k=abcd%0D%0A end") == "k=*** end"
    assert f.redact("k=abcd end") == "k=*** end"
    assert redact("nothing here") == "nothing here"

"""The agent's own order reference (the idempotency handle sent to the vendor), as typed."""

from __future__ import annotations

from esimdesk.domain.errors import InvalidInput

# Roumio's transactionId allows 50 characters, the strictest of the vendors that take a reference
# (MicroESIM custom_order_no and Roamify referenceId take it too).
REFERENCE_MAX_LENGTH = 50


def validate_reference(text: str) -> str:
    """Return the reference trimmed of surrounding whitespace, or raise InvalidInput saying what is wrong:
    blank, holding a control or other unprintable character, or longer than 50 characters."""
    reference = text.strip()
    if not reference:
        raise InvalidInput("the reference is blank; type some letters or digits, or leave it out "
                              "to have one generated")
    bad = next((ch for ch in reference if not ch.isprintable()), None)
    if bad is not None:
        shown = f"U+{ord(bad):04X}"
        raise InvalidInput(f"the reference contains an unprintable character ({shown}); "
                              "use letters, digits and punctuation only")
    if len(reference) > REFERENCE_MAX_LENGTH:
        raise InvalidInput(f"the reference has {len(reference)} characters; at most {REFERENCE_MAX_LENGTH} "
                              "are allowed (Roumio's transactionId limit)")
    return reference

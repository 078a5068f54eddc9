"""The vendor samples in tests/fixtures are the committed copies of the vendors' documented samples:
each one is recorded in sources.json (document, section) with the SHA-256 it had when it was checked
against the document (tools/vendor_samples.py, a maintainer's tool), so a sample edited to suit the code
fails here without the documents being present."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.shapes import FIXTURES, sources

SOURCES = sources()
VENDORS = sorted(k for k in SOURCES if k != "about")
ENTRIES = [(vendor, entry) for vendor in VENDORS for entry in SOURCES[vendor]["samples"]]


def test_every_vendor_sample_is_recorded():
    on_disk = {f"{p.parent.name}/{p.name}" for p in FIXTURES.glob("*/*.json")}
    recorded = {f"{vendor}/{entry['file']}" for vendor, entry in ENTRIES}
    assert on_disk - recorded == set(), "copy vendor samples verbatim and record them: tools/vendor_samples.py"
    assert recorded - on_disk == set()
    assert VENDORS == ["flexiroam", "microesim", "roamify", "roumio"]


@pytest.mark.parametrize("vendor, entry", ENTRIES, ids=[f"{v}/{e['file']}" for v, e in ENTRIES])
def test_sample_is_unchanged_since_checked_against_the_document(vendor, entry):
    path = FIXTURES / vendor / entry["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], (
        f"{vendor}/{entry['file']} is no longer the sample {SOURCES[vendor]['document']} shows "
        f"({entry['section']}): vendor samples are never edited"
    )
    json.loads(path.read_text(encoding="utf-8"))
    assert entry["verbatim"] or entry["fix"]  # a copy that is not verbatim says what was fixed

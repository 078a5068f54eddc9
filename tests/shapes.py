"""Compare JSON documents by shape (keys and JSON types), for sandbox-vs-vendor-sample tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def sources() -> dict[str, Any]:
    """tests/fixtures/sources.json: each committed vendor sample, where in which vendor document it is from."""
    return json.loads((FIXTURES / "sources.json").read_text(encoding="utf-8"))


def fixture_json(vendor: str, name: str) -> Any:
    return json.loads((FIXTURES / vendor / name).read_text(encoding="utf-8"))


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_diff(sample: Any, actual: Any, path: str = "$", *, null_ok: bool = True) -> list[str]:
    """Differences between a vendor sample and our answer: missing keys and type changes.

    ``null`` in either document matches any type (vendors send null for absent optional values);
    arrays are compared element-wise against the sample's first element.
    """
    problems: list[str] = []
    st, at = json_type(sample), json_type(actual)
    if null_ok and "null" in (st, at):
        return problems
    if st != at:
        return [f"{path}: sample is {st}, got {at}"]
    if st == "object":
        for key, val in sample.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems.extend(shape_diff(val, actual[key], f"{path}.{key}", null_ok=null_ok))
    elif st == "array" and sample and actual:
        for i, item in enumerate(actual[:5]):
            problems.extend(shape_diff(sample[0], item, f"{path}[{i}]", null_ok=null_ok))
    return problems


def assert_same_shape(sample: Any, actual: Any) -> None:
    problems = shape_diff(sample, actual)
    assert not problems, "shape differs from the vendor sample:\n" + "\n".join(problems)


def postman_samples(vendor: str) -> list[dict[str, Any]]:
    """Every request of a vendor's Postman collection that has a saved sample response, in collection order,
    from the committed copies (tests/fixtures/<vendor>/, recorded in sources.json).

    Returns dicts: ``name``, ``method``, ``url`` (raw string), ``body`` (raw request body text or
    None) and ``responses``: a list of ``{name, code, json}`` where ``json`` is the parsed body.
    """
    out: dict[str, dict[str, Any]] = {}
    for entry in sources()[vendor]["samples"]:
        pm = entry["postman"]
        req = out.setdefault(
            pm["name"],
            {"name": pm["name"], "method": pm["method"], "url": pm["url"], "body": pm["body"], "responses": []},
        )
        req["responses"].append(
            {"name": pm["response"]["name"], "code": pm["response"]["code"],
             "json": fixture_json(vendor, entry["file"])}
        )
    return list(out.values())


def md_json_blocks(vendor: str) -> list[Any]:
    """The JSON code blocks of a vendor's markdown document that parse as JSON, in document order (request
    and response samples alike), from the committed copies: blocks the document has in invalid JSON are
    committed syntax-fixed (``"verbatim": false`` in sources.json) and are skipped here."""
    entries = [e for e in sources()[vendor]["samples"] if "block" in e]
    return [fixture_json(vendor, e["file"]) for e in sorted(entries, key=lambda e: e["block"]) if e["verbatim"]]

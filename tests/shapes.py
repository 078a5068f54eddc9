"""Compare JSON documents by shape (keys and JSON types), for sandbox-vs-vendor-sample tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VENDOR_DOCS = Path(__file__).resolve().parents[2] / "shared" / "vendor-docs"


def vendor_docs() -> Path:
    """../shared/vendor-docs beside the checkout (CI clones main with shared/ beside it)."""
    for base in (Path(__file__).resolve().parents[1], *Path(__file__).resolve().parents[1].parents):
        cand = base / "shared" / "vendor-docs"
        if cand.is_dir():
            return cand
    raise FileNotFoundError("shared/vendor-docs not found beside the checkout")


def load_postman(vendor: str) -> dict[str, Any]:
    return json.loads((vendor_docs() / "raw" / f"{vendor}-postman.json").read_text())


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
    """Every request of a vendor's Postman collection with its saved sample responses (parsed JSON).

    Returns dicts: ``name``, ``method``, ``url`` (raw string), ``body`` (raw request body text or
    None) and ``responses``: a list of ``{name, code, json}`` where ``json`` is the parsed body
    (None if the body is not JSON).
    """
    doc = load_postman(vendor)
    root = doc.get("collection", doc)
    out: list[dict[str, Any]] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for it in items:
            if "item" in it:
                walk(it["item"])
                continue
            req = it.get("request") or {}
            url = req.get("url")
            raw_url = url.get("raw") if isinstance(url, dict) else url
            body = (req.get("body") or {}).get("raw")
            responses = []
            for r in it.get("response") or []:
                try:
                    parsed = json.loads(r.get("body") or "")
                except ValueError:
                    parsed = None
                responses.append({"name": r.get("name"), "code": r.get("code"), "json": parsed})
            out.append({"name": it.get("name"), "method": req.get("method"), "url": raw_url, "body": body,
                        "responses": responses})

    walk(root.get("item", []))
    return out


def md_json_blocks(vendor: str) -> list[Any]:
    """The JSON code blocks of a vendor's markdown document that parse as JSON (request and response
    samples alike; some vendor samples are not valid JSON and are skipped here)."""
    import re

    text = (vendor_docs() / f"{vendor}.md").read_text()
    blocks = re.findall(r"```\s*json\s*\n(.*?)```", text, flags=re.S)
    out = []
    for block in blocks:
        try:
            out.append(json.loads(block))
        except ValueError:
            continue
    return out

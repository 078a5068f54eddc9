"""MAINTAINER'S TOOL: never run by the tests, CI or the app.

Checks that the vendor samples committed under tests/fixtures/<vendor>/ are still the ones the vendors'
documents show, and (with --write) rewrites tests/fixtures/sources.json, the record of where each one
comes from and the SHA-256 of each committed file (tests/test_fixtures.py checks those hashes, so a
fixture edited to make a test pass is caught without the documents).

The documents are reference reading kept beside a maintainer's checkout (../shared/vendor-docs by
default); a user's clone does not have them, and nothing at run or test time may read them.

    python tools/vendor_samples.py [--docs DIR]          # check: exit 1 and say what drifted
    python tools/vendor_samples.py [--docs DIR] --write  # record the current files in sources.json

To add a sample: copy it verbatim from the document into tests/fixtures/<vendor>/, add a line to SPEC
below, run with --write, and say in tests/fixtures/README.md which section it is from.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SOURCES = FIXTURES / "sources.json"

# vendor -> document (relative to vendor-docs) and its samples, in document order.
#   ("md", file, fix)                 the next ```json block of a markdown document; fix: None if the file is
#                                     the block verbatim, else the one syntax fix made (the block is not JSON)
#   ("text", file, section)           a plain-text page: the file's text, found at or after the section title
#   ("postman", file, item, response) a saved response of a Postman collection's request
SPEC: dict[str, dict[str, Any]] = {
    "roumio": {
        "document": "roumio.md",
        "samples": [
            ("md", "package_list_request.json", None),
            ("md", "order_request.json", 'removed the trailing comma after "price":1500'),
            ("md", "order_response.json", 'added the missing comma after "orderNo": "B23051616050537"'),
            ("md", "query_request.json", None),
            ("md", "query_response.json", None),
            ("md", "webhook_order_status.json", None),
            ("md", "webhook_esim_status.json", None),
            ("md", "webhook_data_usage.json", None),
            ("md", "webhook_validity_usage.json", None),
            ("md", "webhook_esim_status_cancel.json", None),
        ],
    },
    "flexiroam": {
        "document": "flexiroam.md",
        "samples": [("md", "list_inventory_free.json", None)],
    },
    "roamify": {
        "document": "roamify.md",
        "samples": [
            ("text", "create_order_request.json", "Create eSIM Order"),
            ("text", "create_order.json", "Create eSIM Order"),
            ("text", "create_topup_request.json", "Create Top-up Order"),
            ("text", "create_topup.json", "Create Top-up Order"),
            ("text", "get_order.json", "Get eSIM Order"),
            ("text", "get_orders.json", "Get eSIM Orders"),
        ],
    },
    "microesim": {
        "document": "raw/microesim-postman.json",
        "samples": [
            ("postman", "esimDataplanList.json", "/allesim/v1/esimDataplanList", 0),
            ("postman", "esimDataplanListPage.json", "/allesim/v1/esimDataplanListPage", 0),
            ("postman", "esimSubscribe.json", "/allesim/v1/esimSubscribe", 0),
            ("postman", "topupDetail.json", "/allesim/v1/topupDetail", 0),
            ("postman", "topupDetail_async.json", "/allesim/v1/topupDetail-async", 0),
            ("postman", "deviceDetail.json", "/allesim/v1/deviceDetail", 0),
            ("postman", "eventDetail.json", "/allesim/v1/eventDetail", 0),
            ("postman", "accountBalance.json", "/allesim/v1/accountBalance", 0),
        ],
    },
}

JSON_BLOCK = re.compile(r"```\s*json\s*\n(.*?)```", flags=re.S)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def md_section(text: str, pos: int) -> str:
    """The headings above pos within its top-level part, outermost first: 'Order eSIM > Request Parameters'."""
    chain: dict[int, str] = {}
    for m in re.finditer(r"^(#{1,6}) (.*)$", text[:pos], flags=re.M):
        level = len(m.group(1))
        chain = {k: v for k, v in chain.items() if k < level}
        chain[level] = m.group(2).strip()
    return " > ".join(chain[k] for k in sorted(chain) if k > 1)


def postman_items(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    root = doc.get("collection", doc)
    out: dict[str, dict[str, Any]] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for it in items:
            if "item" in it:
                walk(it["item"])
            else:
                out[it["name"]] = it

    walk(root.get("item", []))
    return out


def build(docs: Path, problems: list[str]) -> dict[str, Any]:
    """sources.json's content from the documents, noting in problems every file that is not what they show."""
    out: dict[str, Any] = {}
    for vendor, spec in SPEC.items():
        doc_path = docs / spec["document"]
        text = doc_path.read_text(encoding="utf-8")
        entries: list[dict[str, Any]] = []
        blocks = list(JSON_BLOCK.finditer(text))
        md_index = 0
        text_from = 0
        items = postman_items(json.loads(text)) if doc_path.suffix == ".json" else {}
        for kind, name, *rest in spec["samples"]:
            path = FIXTURES / vendor / name
            if not path.is_file():
                problems.append(f"{vendor}/{name}: missing")
                continue
            mine = path.read_text(encoding="utf-8")
            entry: dict[str, Any] = {"file": name}
            if kind == "md":
                fix = rest[0]
                if md_index >= len(blocks):
                    problems.append(f"{vendor}/{name}: {spec['document']} has only {len(blocks)} json blocks")
                    continue
                m = blocks[md_index]
                block = m.group(1)
                entry["section"] = md_section(text, m.start())
                entry["block"] = md_index
                md_index += 1
                if fix is None:
                    entry["verbatim"] = True
                    if block.strip() != mine.strip():
                        problems.append(f"{vendor}/{name}: not the text of json block {entry['block']}")
                else:
                    entry["verbatim"] = False
                    entry["fix"] = fix
                    try:
                        json.loads(block)
                        problems.append(
                            f"{vendor}/{name}: block {entry['block']} parses now; copy it verbatim"
                        )
                    except ValueError:
                        pass
                    # the fix touches punctuation only: same text once commas and blank space are removed
                    squash = re.compile(r"[\s,]")
                    if squash.sub("", block) != squash.sub("", mine):
                        problems.append(
                            f"{vendor}/{name}: differs from block {entry['block']} beyond the fix"
                        )
            elif kind == "text":
                section = rest[0]
                start = text.find(f"\n{section}\n")
                at = text.find(mine.strip(), max(start, text_from)) if start >= 0 else -1
                if at < 0:
                    problems.append(f"{vendor}/{name}: not found verbatim in section {section!r}")
                    continue
                text_from = at + 1
                before = text[:at].rstrip().rsplit("\n", 1)[-1]
                entry["section"] = (
                    f"{section} > {'Sample Response' if before == 'Sample Response' else 'Example'}"
                )
                entry["verbatim"] = True
            elif kind == "postman":
                item_name, index = rest
                item = items.get(item_name)
                if item is None:
                    problems.append(f"{vendor}/{name}: no request {item_name!r} in the collection")
                    continue
                req = item.get("request") or {}
                url = req.get("url")
                response = (item.get("response") or [])[index]
                entry["section"] = f"request {item_name!r}, saved response {response.get('name')!r}"
                entry["verbatim"] = True
                entry["postman"] = {
                    "name": item_name,
                    "method": req.get("method"),
                    "url": url.get("raw") if isinstance(url, dict) else url,
                    "body": (req.get("body") or {}).get("raw"),
                    "response": {"name": response.get("name"), "code": response.get("code")},
                }
                if (response.get("body") or "").strip() != mine.strip():
                    problems.append(f"{vendor}/{name}: not the body of {item_name!r}'s saved response")
            entry["sha256"] = sha256(path)
            entries.append(entry)
        if md_index and md_index != len(blocks):
            problems.append(
                f"{vendor}: {spec['document']} has {len(blocks)} json blocks, SPEC lists {md_index}"
            )
        out[vendor] = {"document": spec["document"], "samples": entries}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=Path, default=REPO.parent / "shared" / "vendor-docs")
    ap.add_argument("--write", action="store_true", help="rewrite tests/fixtures/sources.json")
    args = ap.parse_args(argv)
    if not args.docs.is_dir():
        print(f"vendor documents not found at {args.docs} (pass --docs DIR)", file=sys.stderr)
        return 2
    problems: list[str] = []
    content = {
        "about": "Where each vendor sample in tests/fixtures comes from (documents: the vendors' published "
        "API documentation), and the SHA-256 of the committed file. Written by tools/vendor_samples.py "
        "--write; checked by tests/test_fixtures.py.",
        **build(args.docs, problems),
    }
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    rendered = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
    if args.write:
        SOURCES.write_text(rendered, encoding="utf-8")
        print(f"wrote {SOURCES.relative_to(REPO)}")
        return 0
    if not SOURCES.is_file() or SOURCES.read_text(encoding="utf-8") != rendered:
        print(f"{SOURCES.relative_to(REPO)} is out of date: run with --write", file=sys.stderr)
        return 1
    print("every fixture is what the documents show")
    return 0


if __name__ == "__main__":
    sys.exit(main())

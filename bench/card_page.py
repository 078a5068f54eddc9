"""docs/card-page.png: one A4 page of three customer cards, as written by write_pdf and rasterised by pdftoppm.

Run: QT_QPA_PLATFORM=offscreen python bench/card_page.py docs/   (needs pdftoppm from poppler-utils)
The codes are the vendors' document samples (tests/fixtures) and one with a lower-case matching id.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from esimdesk.domain import activation as A
from esimdesk.services import card_paint as P
from esimdesk.services import cards as C

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def sample_cards() -> list[C.Card]:
    roumio = json.loads((FIXTURES / "roumio/query_response.json").read_text())["obj"]["esimList"][0]
    micro = json.loads((FIXTURES / "microesim/topupDetail_async.json").read_text())["data"]
    rows = [
        ("roumio", roumio["iccid"], roumio["ac"], "Spain 5GB 30Days", "5 GB", 30, "ES", None, None, roumio["transactionId"]),
        ("microesim", micro["device_id"], micro["lpa_str"], "Japan 3GB 7 days", "3 GB", 7, "JP",
         micro["ios_esim_install_link"], micro["android_esim_install_link"], "shop-20231127-0042"),
        ("roamify", "8910300000012345678", "LPA:1$smdp.example.com$k7-aBcD-ef9Qx-lower", "Europe 10GB 30 days", "10 GB",
         30, "AT, BE, BG, HR, CY, CZ, DK and 26 more", None, None, "shop-20231127-0043"),
    ]
    out = []
    for vendor, iccid, code, plan, data, days, countries, ios, android, ref in rows:
        address, matching = A.split_activation_code(code)
        out.append(C.Card(iccid, code, vendor, plan, data, days, countries, address, matching, ios, android, ref,
                          "Globetrotter SIMs"))
    return out


def main(folder: str) -> None:
    P.ensure_gui_app()
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "cards.pdf"
        P.write_pdf(sample_cards(), pdf, "A4")
        subprocess.run(["pdftoppm", "-r", "110", "-png", "-singlefile", str(pdf), str(Path(folder) / "card-page")],
                       check=True)
    print(Path(folder) / "card-page.png")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs")

"""Customer cards (issue 14): 100 cards to one A4 PDF (target: under 3 s) and QR codes per second.

Run: QT_QPA_PLATFORM=offscreen python bench/cards.py   (writes bench/results/cards.json)
Times, as medians: ``write_pdf`` of 100 cards (34 A4 pages at 300 dpi), one card painted into a
1200-px image (what a preview or Copy image costs), the QR of an activation code with segno alone
(``qr``), and the PNG file an agent saves with ``esimdesk qr --out X.png``.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save, timed  # noqa: E402

from esimdesk.domain import activation as A  # noqa: E402
from esimdesk.services import card_paint as P  # noqa: E402
from esimdesk.services import cards as C  # noqa: E402
from esimdesk.services import qr_codes as Q  # noqa: E402


def make_cards(n: int) -> list[C.Card]:
    out = []
    for i in range(n):
        code = f"LPA:1$rsp-eu.simlessly.com${i:08X}FFEE57965B6EECA132DA088D"
        address, matching = A.split_activation_code(code)
        out.append(C.Card(
            iccid=f"89852350824{i:09d}", activation_code=code, vendor="microesim",
            plan_name="Europe 33 countries 10GB 30 days", data="10 GB", validity_days=30,
            countries="AT, BE, BG, HR, CY, CZ, DK and 26 more", smdp_address=address, matching_id=matching,
            ios_link=f"https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={code}", android_link=None,
            reference=f"shop-{i:05d}", reseller="Globetrotter SIMs"))
    return out


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    P.ensure_gui_app()
    cards = make_cards(100)
    codes = [c.activation_code for c in cards]
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "cards.pdf"
        pages = P.write_pdf(cards, pdf)
        pdf_100 = timed(lambda: P.write_pdf(cards, pdf), repeat=5, warmup=1)
        size = pdf.stat().st_size
        image = timed(lambda: P.card_image(cards[0], 1200), repeat=20)
        it = iter(range(10**9))
        qr = timed(lambda: Q.qr(codes[next(it) % 100]), repeat=200)
        png = timed(lambda: Q.write_qr_png(codes[next(it) % 100], Path(tmp) / "q.png"), repeat=100)
    save("cards", {
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "pdf_100_cards_a4": {**pdf_100, "pages": pages, "bytes": size, "target_ms": 3000,
                             "ok": pdf_100["median_ms"] < 3000},
        "card_image_1200px": image,
        "qr_generate": {**qr, "per_second": round(1000 / qr["median_ms"])},
        "qr_png_file": {**png, "per_second": round(1000 / png["median_ms"])},
    })


if __name__ == "__main__":
    main()

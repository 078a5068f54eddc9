"""`esimdesk qr ICCID_OR_ORDER_ID --out FILE.png|FILE.svg|FILE.pdf` through the real CLI (issue 14): what it
writes decodes to exactly the activation codes (and on PDF cards, issue 30, to an iPhone and an Android
one-tap link carrying each code); every refusal is one sentence and exit 1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from esimdesk.domain import Esim, EsimStatus, Order, OrderStatus, Plan
from esimdesk.domain.install_links import ANDROID_BASE, APPLE_BASE, carddata_of
from esimdesk.store import SqliteStore
from esimdesk.store.backups import DATA_FILE

REPO = Path(__file__).resolve().parents[2]
LOWER = "LPA:1$smdp.example.com$k7-aBcD-ef9Qx-lower"
ROUMIO = json.loads((REPO / "tests/fixtures/roumio/query_response.json").read_text())["obj"]["esimList"][0]["ac"]
ORDER_CODES = [ROUMIO, LOWER, "LPA:1$rsp.example.org$QR-g-5c-1LS-1w1Z9P7$1.3.6.1.4.1.31746$1",
               "LPA:1$rsp-eu.example.net$Card4-xYz"]


def esimdesk(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_") and k != "QT_QPA_PLATFORM"}
    env["ESIMDESK_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "esimdesk", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=str(REPO))


def refused(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 1, res
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("esimdesk qr: ") and "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    store = SqliteStore(home / DATA_FILE)
    now = datetime.now(UTC)
    store.upsert_plans([Plan("roumio", "CKH003", "Spain 5GB 30Days", ("ES",), 5120, 30, Decimal("4.5"), "USD")])
    esims = [Esim("roumio", f"8900000000000000{i:03d}", EsimStatus.NEW, "allocated", order_id="B77", plan_id="CKH003",
                  activation_code=code) for i, code in enumerate(ORDER_CODES)]
    esims.append(Esim("roumio", "8900000000000000999", EsimStatus.NEW, "new", order_id="B78", plan_id="CKH003"))
    store.upsert_esims(esims)
    store.upsert_orders([Order("roumio", "B77", "shop-77", OrderStatus.COMPLETED, now, esims=tuple(esims[:-1])),
                         Order("roumio", "B78", "shop-78", OrderStatus.ALLOCATING, now, esims=(esims[-1],))])
    store.close()
    (home / "settings.json").write_text(json.dumps({"reseller_name": "Globetrotter SIMs"}))
    return home


def decoders(png: Path) -> list[list[str]]:
    found = [[r.text for r in zxingcpp.read_barcodes(Image.open(png))]]
    if shutil.which("zbarimg"):
        out = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True, timeout=60)
        found.append([line for line in out.stdout.splitlines() if line])
    return found


def test_png_of_one_esim(home, tmp_path):
    out = tmp_path / "code.png"
    res = esimdesk(home, "qr", "8900000000000000001", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out)
    for found in decoders(out):
        assert found == [LOWER]


def test_svg_of_one_esim(home, tmp_path, qapp):
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    out = tmp_path / "code.svg"
    res = esimdesk(home, "qr", "8900000000000000000", "--out", str(out))
    assert res.returncode == 0, res.stderr
    image = QImage(500, 500, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    QSvgRenderer(str(out)).render(painter, QRectF(0, 0, 500, 500))
    painter.end()
    image.save(str(tmp_path / "svg.png"))
    for found in decoders(tmp_path / "svg.png"):
        assert found == [ROUMIO]


@pytest.mark.parametrize("target", ["B77", "shop-77", "8900000000000000002"])
def test_pdf_cards(home, tmp_path, target):
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) is not installed: cannot rasterise the PDF")
    out = tmp_path / "cards.pdf"
    res = esimdesk(home, "qr", target, "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out)
    expected = ORDER_CODES if target != "8900000000000000002" else [ORDER_CODES[2]]
    pages = -(-len(expected) // 3)
    assert f"on {pages} page" in res.stderr
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(out), str(tmp_path / "p")], check=True, timeout=120)
    pngs = sorted(tmp_path.glob("p*.png"))
    assert len(pngs) == pages
    per_decoder: list[list[str]] = []
    for png in pngs:
        for i, found in enumerate(decoders(png)):
            if len(per_decoder) <= i:
                per_decoder.append([])
            per_decoder[i] += found
    for found in per_decoder:
        assert Counter(t for t in found if t.startswith("LPA:")) == Counter(expected)
        links = [t for t in found if not t.startswith("LPA:")]
        assert Counter(carddata_of(link) for link in links) == Counter(expected * 2)
        assert sorted(links) == sorted([ANDROID_BASE + code for code in expected]
                                       + [APPLE_BASE + code for code in expected])


def test_refusals(home, tmp_path):
    refused(esimdesk(home, "qr", "nope", "--out", str(tmp_path / "x.png")),
            "no eSIM or order 'nope' in the local cache; run a sync")
    refused(esimdesk(home, "qr", "8900000000000000999", "--out", str(tmp_path / "x.pdf")), "not allocated")
    refused(esimdesk(home, "qr", "B77", "--out", str(tmp_path / "x.png")), "4 eSIMs", ".pdf")
    refused(esimdesk(home, "qr", "8900000000000000001", "--out", str(tmp_path / "no" / "x.png")), "cannot write")
    refused(esimdesk(home, "qr", "B77", "--out", str(tmp_path / "no" / "x.pdf")), "cannot write")
    assert not list(tmp_path.glob("x.*"))

"""Customer cards and QR codes (issue 14): what is written decodes, with two independent decoders, to
exactly the vendor's activation codes; an order gives one whole card per eSIM, none cut by a page edge."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from esimdesk.domain import Esim, EsimStatus, Order, OrderStatus, Plan
from esimdesk.domain import activation as A
from esimdesk.domain.errors import ValidationError
from esimdesk.services import card_paint as P
from esimdesk.services import card_settings as S
from esimdesk.services import cards as C
from esimdesk.services import qr_codes as Q
from esimdesk.store import SqliteStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def vendor_sample_codes() -> dict[str, str]:
    """One activation code from each vendor document sample that has one (Roamify's and Flexiroam's
    published samples carry none: tests/fixtures has no 'LPA:1$' for them)."""
    roumio = json.loads((FIXTURES / "roumio/query_response.json").read_text())["obj"]["esimList"][0]["ac"]
    micro = json.loads((FIXTURES / "microesim/topupDetail_async.json").read_text())
    micro_code = next(v for v in _walk(micro) if isinstance(v, str) and v.startswith("LPA:1$"))
    return {"roumio": roumio, "microesim": micro_code}


def _walk(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
    else:
        yield node


SAMPLES = vendor_sample_codes()
LOWER = "LPA:1$smdp.example.com$k7-aBcD-ef9Qx-lower"  # lower-case letters in the matching id
SGP22 = "LPA:1$rsp.example.org$QR-g-5c-1LS-1w1Z9P7$1.3.6.1.4.1.31746$1"  # more '$' fields (SM-DP+ OID, flag)
MICRO_ORDER = [c for c in _walk(json.loads((FIXTURES / "microesim/topupDetail.json").read_text()))
               if isinstance(c, str) and c.startswith("LPA:1$")]


def _iccid(n: int) -> str:
    return f"89000000000000{n:05d}"


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "esimdesk.sqlite3")
    yield s
    s.close()


def fill(store, codes: list[str], *, vendor="roumio", order_id="B1001", reference="ref-1001", plan_id="CKH003",
         first=1, ios=None):
    now = datetime.now(UTC)
    store.upsert_plans([Plan(vendor, plan_id, "Spain 5GB 30Days", ("ES",), 5120, 30, Decimal("4.50"), "USD")])
    esims = [Esim(vendor, _iccid(first + i), EsimStatus.NEW, "allocated", order_id=order_id, plan_id=plan_id,
                  activation_code=code, install_url=ios) for i, code in enumerate(codes)]
    store.upsert_esims(esims)
    store.upsert_orders([Order(vendor, order_id, reference, OrderStatus.COMPLETED, now, esims=tuple(esims))])
    return esims


def decode(image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


def zbar(png: Path) -> list[str]:
    out = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True, timeout=60)
    return [line for line in out.stdout.splitlines() if line]


def rasterise(pdf: Path, tmp_path: Path, dpi: int = 150) -> list[Path]:
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) is not installed: cannot rasterise the PDF")
    prefix = tmp_path / f"{pdf.stem}-page"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True, timeout=120)
    return sorted(tmp_path.glob(f"{pdf.stem}-page*.png"))


def card_crops(page_png: Path, page: str, dpi: int = 150) -> list[Image.Image]:
    """Each card's rect of the layout (card_rects), cut out of the rasterised page."""
    from PySide6.QtCore import QRectF

    im = Image.open(page_png).convert("L")
    margin = P.MARGIN_MM[page] / 25.4 * dpi
    area = QRectF(0, 0, im.width - 2 * margin, im.height - 2 * margin)
    return [im.crop((round(margin + r.left()) - 2, round(margin + r.top()) - 2,
                     round(margin + r.right()) + 2, round(margin + r.bottom()) + 2))
            for r in P.card_rects(area, page, dpi)]


# --- activation codes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [*SAMPLES.values(), LOWER, SGP22, *MICRO_ORDER])
def test_valid_codes_split(code):
    address, matching = A.split_activation_code(code)
    assert code == f"LPA:1${address}${matching}" or code.startswith(f"LPA:1${address}${matching}$")
    assert "$" not in matching


@pytest.mark.parametrize("bad, words", [
    (None, "missing"), ("", "missing"), ("1$smdp.example.com$ABC", "LPA:1$"),
    ("LPA:1$smdp.example.com", "not LPA:1$"), ("LPA:1$not a host$ABC", "SM-DP+ address"),
    ("LPA:1$smdp.example.com$", "matching id"), ("LPA:1$smdp.example.com$AB C", "matching id"),
])
def test_invalid_codes_in_words(bad, words):
    with pytest.raises(ValidationError, match=words.replace("$", r"\$").replace("+", r"\+")):
        A.split_activation_code(bad)


# --- from the store ---------------------------------------------------------------------------------------

def test_cards_for_iccid_and_order(store):
    codes = [SAMPLES["roumio"], LOWER, SGP22]
    ios = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=" + codes[0]
    fill(store, codes, ios=ios)
    one = C.cards_for(store, _iccid(2))
    assert [c.activation_code for c in one] == [LOWER]
    card = one[0]
    assert (card.smdp_address, card.matching_id) == ("smdp.example.com", "k7-aBcD-ef9Qx-lower")
    assert card.plan_name == "Spain 5GB 30Days" and card.data == "5 GB" and card.validity_days == 30
    assert card.countries == "ES" and card.reference == "ref-1001" and card.vendor == "roumio"
    assert card.reseller == S.DEFAULT_RESELLER and card.ios_link == ios and card.android_link is None
    for target in ("B1001", "ref-1001"):
        assert [c.activation_code for c in C.cards_for(store, target, reseller="Acme")] == codes
    assert C.cards_for(store, "B1001", reseller="Acme")[0].reseller == "Acme"


def test_the_price_paid_is_on_the_card_only_when_the_reseller_chooses_it(store, tmp_path):
    """Issue 27: the customer's price as sold (kept with the order) on its cards, shared by its eSIMs."""
    from esimdesk.domain import Sale

    store.journal_create(vendor="roumio", kind="order", reference="ref-1001", plan_id="CKH003", quantity=2,
                         unit_price=Decimal("4.50"), currency="USD",
                         sale=Sale(Decimal("11.98"), "EUR", Decimal("8.57"), "every plan: +30 % up to .99"))
    fill(store, [LOWER, SGP22])
    assert [c.price for c in C.cards_for(store, "B1001")] == [None, None]  # off unless chosen
    S.save_card_settings(tmp_path, "Acme", None, price_on_card=True)
    assert [c.price for c in C.cards_for(store, "ref-1001")] == ["5.99 EUR", "5.99 EUR"]
    card = C.cards_for(store, _iccid(1))[0]
    assert card.price == "5.99 EUR" and ("text", "Price paid: 5.99 EUR") in C.card_lines(card)
    S.save_card_settings(tmp_path, "Acme", None, price_on_card=False)
    assert C.cards_for(store, _iccid(1))[0].price is None


def test_reseller_from_settings(store, tmp_path):
    fill(store, [LOWER])
    (tmp_path / "settings.json").write_text(json.dumps({"reseller_name": "Globetrotter SIMs"}))
    assert C.cards_for(store, _iccid(1))[0].reseller == "Globetrotter SIMs"


def test_unknown_target_and_unallocated(store):
    fill(store, [LOWER])
    with pytest.raises(ValidationError, match="no eSIM or order 'nope' in the local cache; run a sync"):
        C.cards_for(store, "nope")
    store.upsert_esims([Esim("roumio", _iccid(50), EsimStatus.NEW, "new", order_id="B2", plan_id="CKH003")])
    with pytest.raises(ValidationError, match="not allocated"):
        C.cards_for(store, _iccid(50))


# --- QR files ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [*SAMPLES.values(), LOWER, SGP22])
def test_png_decodes_exactly(code, tmp_path):
    path = Q.write_qr_png(code, tmp_path / "code.png")
    assert decode(Image.open(path)) == [code]
    if shutil.which("zbarimg"):
        assert zbar(path) == [code]


@pytest.mark.parametrize("code", [*SAMPLES.values(), LOWER, SGP22])
def test_svg_rendered_decodes_exactly(code, tmp_path, qapp):
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    path = Q.write_qr_svg(code, tmp_path / "code.svg")
    renderer = QSvgRenderer(str(path))
    assert renderer.isValid()
    image = QImage(517, 517, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    renderer.render(painter, QRectF(0, 0, 517, 517))
    painter.end()
    png = tmp_path / "svg.png"
    image.save(str(png))
    assert decode(Image.open(png)) == [code]
    if shutil.which("zbarimg"):
        assert zbar(png) == [code]


def test_qr_settings():
    symbol = Q.qr(LOWER)
    assert symbol.error == "M"
    with pytest.raises(ValidationError):
        Q.qr("https://example.com")


def test_unwritable_path(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        Q.write_qr_png(LOWER, tmp_path / "missing" / "x.png")


# --- cards and PDF pages -----------------------------------------------------------------------------------

def test_card_image_decodes(store, qapp, tmp_path):
    fill(store, [SGP22])
    image = P.card_image(C.cards_for(store, _iccid(1))[0], 1200)
    assert image.width() == 1200
    path = tmp_path / "card.png"
    image.save(str(path))
    assert decode(Image.open(path)) == [SGP22]


@pytest.mark.parametrize("page, n", [("A4", 7), ("Letter", 4), ("label", 3)])
def test_pdf_every_card_whole_and_decodes(store, qapp, tmp_path, page, n):
    codes = [*SAMPLES.values(), LOWER, SGP22, *MICRO_ORDER][:n]
    codes += [f"LPA:1$rsp-eu.example.net$Card{i}-xYz" for i in range(n - len(codes))]
    fill(store, codes, ios="https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=" + codes[0])
    found = C.cards_for(store, "B1001")
    assert len(found) == n
    pages = P.write_pdf(found, tmp_path / "cards.pdf", page=page)
    per = P.CARDS_PER_PAGE[page]
    assert pages == -(-n // per)
    pngs = rasterise(tmp_path / "cards.pdf", tmp_path)
    assert len(pngs) == pages
    per_card, zxing_all, zbar_all = [], [], []
    for png in pngs:
        for crop in card_crops(png, page):
            per_card.append(decode(crop))
        zxing_all += decode(Image.open(png))
        if shutil.which("zbarimg"):
            zbar_all += zbar(png)
    # each card rect of the layout holds exactly its own code (the empty slots of the last page none)
    assert [d for d in per_card if d] == [[c] for c in codes]
    assert Counter(zxing_all) == Counter(codes)
    if shutil.which("zbarimg"):
        assert Counter(zbar_all) == Counter(codes)


def test_zbar_present_or_skip():
    if not shutil.which("zbarimg"):
        pytest.skip("zbarimg (zbar-tools) is not installed: the second decoder's checks were skipped")


def test_pdf_unwritable_and_unknown_page(tmp_path, qapp):
    card = C.Card("8900", LOWER, "roumio", None, None, None, None, "smdp.example.com", "k7-aBcD-ef9Qx-lower",
                  None, None, None)
    with pytest.raises(ValidationError, match="does not exist"):
        P.write_pdf([card], tmp_path / "no" / "x.pdf")
    with pytest.raises(ValidationError, match="page size"):
        P.write_pdf([card], tmp_path / "x.pdf", page="A3")


def test_ensure_gui_app_keeps_the_running_application(qapp):
    assert P.ensure_gui_app() is qapp


def test_card_checks_its_code():
    with pytest.raises(ValidationError, match="missing"):
        C.Card("8900", "", "roumio", None, None, None, None, "", "", None, None, None)
    with pytest.raises(ValidationError, match="do not match"):
        C.Card("8900", LOWER, "roumio", None, None, None, None, "smdp.example.com", "OTHER", None, None, None)


# --- the reseller's logo -------------------------------------------------------------------------------------

def red_png(path: Path, size=(120, 60)) -> Path:
    from PySide6.QtGui import QColor, QImage

    image = QImage(*size, QImage.Format.Format_RGB32)
    image.fill(QColor(255, 0, 0))
    assert image.save(str(path), "PNG")
    return path


def _red(pixel: int) -> bool:
    r, g, b = (pixel >> 16) & 0xFF, (pixel >> 8) & 0xFF, pixel & 0xFF
    return r > 200 and g < 60 and b < 60


def red_pixels(image, rect) -> int:
    """How many pure-red pixels of ``image`` lie inside ``rect`` (a QRectF)."""
    left, top = max(0, int(rect.left())), max(0, int(rect.top()))
    right, bottom = min(image.width(), int(rect.right()) + 1), min(image.height(), int(rect.bottom()) + 1)
    return sum(_red(image.pixel(x, y)) for y in range(top, bottom, 2) for x in range(left, right, 2))


def test_card_with_logo_decodes_and_logo_is_in_the_text_column(store, qapp, tmp_path):
    from PySide6.QtCore import QRectF

    fill(store, [SGP22])
    logo = red_png(tmp_path / "logo.png")
    (tmp_path / "settings.json").write_text(json.dumps({"reseller_name": "Globetrotter SIMs",
                                                        "reseller_logo": str(logo)}))
    card = C.cards_for(store, _iccid(1))[0]
    assert card.logo == logo.read_bytes() and card.reseller == "Globetrotter SIMs"
    image = P.card_image(card, 1200)
    qr_rect, text_rect = P.card_layout(QRectF(0, 0, image.width(), image.height()))
    assert red_pixels(image, text_rect) > 100  # the logo is drawn beside the code
    assert red_pixels(image, qr_rect) == 0  # never over the code or its quiet zone
    path = tmp_path / "card.png"
    image.save(str(path))
    assert decode(Image.open(path)) == [SGP22]
    without = P.card_image(C.cards_for(store, _iccid(1), logo=b"")[0], 1200)
    assert red_pixels(without, QRectF(0, 0, 1200, without.height())) == 0


def test_svg_logo_drawn(store, qapp, tmp_path):
    from PySide6.QtCore import QRectF

    fill(store, [LOWER])
    svg = tmp_path / "logo.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" '
                   'fill="#ff0000"/></svg>')
    card = C.cards_for(store, _iccid(1), logo=S.load_logo(svg))[0]
    image = P.card_image(card, 1200)
    qr_rect, text_rect = P.card_layout(QRectF(0, 0, image.width(), image.height()))
    assert red_pixels(image, text_rect) > 100 and red_pixels(image, qr_rect) == 0
    image.save(str(tmp_path / "card.png"))
    assert decode(Image.open(tmp_path / "card.png")) == [LOWER]


@pytest.mark.parametrize("make", ["missing", "folder", "not-an-image", "png-named-garbage"])
def test_unreadable_logo_gives_a_card_without_logo(store, qapp, tmp_path, make, caplog):
    fill(store, [LOWER])
    path = tmp_path / "logo.png"
    if make == "folder":
        path.mkdir()
    elif make == "not-an-image":
        path.write_text("hello")
    elif make == "png-named-garbage":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a PNG signature, no image behind it
    (tmp_path / "settings.json").write_text(json.dumps({"reseller_logo": str(path)}))
    with caplog.at_level("WARNING", logger="esimdesk.cards"):
        card = C.cards_for(store, _iccid(1))[0]
        image = P.card_image(card, 900)  # never an error at print time
        pages = P.write_pdf([card], tmp_path / "cards.pdf", "A4")
    assert pages == 1 and "logo" in caplog.text
    if make != "png-named-garbage":
        assert card.logo is None
    image.save(str(tmp_path / "card.png"))
    assert decode(Image.open(tmp_path / "card.png")) == [LOWER]


def test_save_card_settings_keeps_the_rest(tmp_path, qapp):
    from esimdesk.services.config import load_settings

    (tmp_path / "settings.json").write_text(json.dumps({"urls": {"roumio": "http://127.0.0.1:9/r"}}))
    logo = red_png(tmp_path / "logo.png")
    S.save_card_settings(tmp_path, "  Acme eSIMs ", logo)
    assert load_settings(tmp_path) == {"urls": {"roumio": "http://127.0.0.1:9/r"}, "reseller_name": "Acme eSIMs",
                                       "reseller_logo": str(logo.resolve())}
    assert S.card_settings(tmp_path) == ("Acme eSIMs", str(logo.resolve()))
    with pytest.raises(ValidationError, match="not a PNG, JPEG or SVG"):
        S.save_card_settings(tmp_path, "Other", tmp_path / "settings.json")
    assert S.card_settings(tmp_path) == ("Acme eSIMs", str(logo.resolve()))
    S.save_card_settings(tmp_path, "", None)
    assert load_settings(tmp_path) == {"urls": {"roumio": "http://127.0.0.1:9/r"}}


# --- characters no font here draws (issue 29, item 9) ---------------------------------------------------

NO_GLYPH = "\U0010fffd"  # a private-use character of plane 16: no font anywhere draws it


def test_a_character_no_font_draws_is_left_out_of_the_pdf_and_said(store, qapp, tmp_path, caplog):
    """An emoji in a reference printed as an empty box on a desk without an emoji font: a character no font
    here draws is left out of the card (the rasterised PDF is the card without it, pixel for pixel) and the
    card that lost it is said (the command line shows the warning on stderr)."""
    fill(store, [SGP22], reference=f"Trip 👍 {NO_GLYPH} ok")
    [card] = C.cards_for(store, _iccid(1))
    left = P.card_left_out(card)
    assert NO_GLYPH in left
    assert set(left) <= {"👍", NO_GLYPH}  # 👍 where this desk has no emoji font; nothing else is touched
    without = dataclasses.replace(card, reference="".join(ch for ch in card.reference if ch not in left))
    with caplog.at_level("WARNING", logger="esimdesk.cards"):
        P.write_pdf([card], tmp_path / "with.pdf", page="label")
    P.write_pdf([without], tmp_path / "without.pdf", page="label")
    [drawn] = rasterise(tmp_path / "with.pdf", tmp_path, dpi=200)
    [expected] = rasterise(tmp_path / "without.pdf", tmp_path, dpi=200)
    assert Image.open(drawn).tobytes() == Image.open(expected).tobytes()  # no box where a character was
    assert P.left_out_sentences([card]) == [
        f"the card of {card.iccid} leaves out " + ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in left)
        + f": no font on this computer draws {'it' if len(left) == 1 else 'them'}"]
    assert "leaves out" in caplog.text and "U+10FFFD" in caplog.text


def test_an_emoji_a_font_here_draws_is_printed(store, qapp, tmp_path):
    """Where a font draws the emoji (DejaVu Sans has 😀; Windows and macOS fall back to their emoji fonts) it
    is on the card: the rasterised reference differs from the card without it."""
    fill(store, [SGP22], reference="Trip 😀 ok")
    [card] = C.cards_for(store, _iccid(1))
    if P.card_left_out(card):
        pytest.skip("no font on this machine draws 😀")
    without = dataclasses.replace(card, reference="Trip  ok")
    P.write_pdf([card], tmp_path / "with.pdf", page="label")
    P.write_pdf([without], tmp_path / "without.pdf", page="label")
    [drawn] = rasterise(tmp_path / "with.pdf", tmp_path, dpi=200)
    [other] = rasterise(tmp_path / "without.pdf", tmp_path, dpi=200)
    assert Image.open(drawn).tobytes() != Image.open(other).tobytes()

"""Customer cards and QR codes (issue 14): what is written decodes, with two independent decoders, to
exactly the vendor's activation codes; an order gives one whole card per eSIM, none cut by a page edge.
Issue 30: every card also carries the one-tap iPhone and Android links as small QR codes, each decoded back
to the card's own activation code (``carddata_of``)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
import zxingcpp
from PIL import Image

from esimdesk.domain import Esim, EsimStatus, Order, OrderStatus, Plan
from esimdesk.domain import activation as A
from esimdesk.domain.errors import ValidationError
from esimdesk.domain.install_links import ANDROID_BASE, APPLE_BASE, InstallLinks, carddata_of
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


def codes_of(texts: list[str]) -> list[str]:
    """The activation codes among decoded QR codes (the cards' main codes)."""
    return [t for t in texts if t.startswith("LPA:")]


def links_of(texts: list[str]) -> list[str]:
    """The one-tap links among decoded QR codes, sorted (Android's before Apple's)."""
    return sorted(t for t in texts if not t.startswith("LPA:"))


def assert_card_symbols(texts: list[str], code: str, apple: str | None = None) -> None:
    """One card's decoded QR codes: its activation code once, an Apple and an Android link (``apple``: the
    vendor's own, unchanged), both carrying exactly that code; nothing else."""
    assert codes_of(texts) == [code]
    android_link, apple_link = links_of(texts)
    assert len(texts) == 3
    assert android_link.startswith(ANDROID_BASE) and carddata_of(android_link) == code
    assert apple_link.startswith("https://esimsetup.apple.com/") and carddata_of(apple_link) == code
    assert apple_link == (apple or APPLE_BASE + code)


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
    assert_card_symbols(decode(Image.open(path)), SGP22)


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
    # each card rect of the layout holds exactly its own code and links (the empty slots of the last page none)
    per_card = [d for d in per_card if d]
    assert [codes_of(d) for d in per_card] == [[c] for c in codes]
    for found, code in zip(per_card, codes, strict=True):
        assert_card_symbols(found, code)
    for found in (zxing_all, zbar_all) if shutil.which("zbarimg") else (zxing_all,):
        assert Counter(codes_of(found)) == Counter(codes)
        assert Counter(carddata_of(link) for link in links_of(found)) == Counter(codes * 2)


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
    regions = P.card_regions(QRectF(0, 0, image.width(), image.height()))
    qr_rect, text_rect = regions.qr, regions.text
    assert red_pixels(image, text_rect) > 100  # the logo is drawn beside the code
    assert red_pixels(image, qr_rect) == 0  # never over the code or its quiet zone
    path = tmp_path / "card.png"
    image.save(str(path))
    assert_card_symbols(decode(Image.open(path)), SGP22)
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
    regions = P.card_regions(QRectF(0, 0, image.width(), image.height()))
    qr_rect, text_rect = regions.qr, regions.text
    assert red_pixels(image, text_rect) > 100 and red_pixels(image, qr_rect) == 0
    image.save(str(tmp_path / "card.png"))
    assert_card_symbols(decode(Image.open(tmp_path / "card.png")), LOWER)


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
    assert_card_symbols(decode(Image.open(tmp_path / "card.png")), LOWER)


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


# --- one-tap install links on every card (issue 30) -----------------------------------------------------

OWN_APPLE = APPLE_BASE + quote(LOWER, safe="")  # a vendor's own link: percent-encoded, unlike the one we build


def test_a_vendors_own_link_is_used_unchanged_and_one_with_another_code_never(store):
    fill(store, [LOWER], ios=OWN_APPLE)
    [card] = C.cards_for(store, _iccid(1))
    assert card.ios_link == OWN_APPLE
    card = dataclasses.replace(card, android_link=ANDROID_BASE + "LPA:1$smdp.example.com$SOMEONE-ELSE")
    links = C.card_install_links(card)
    assert links.apple == OWN_APPLE  # unchanged, though we would write it otherwise
    assert links.android == ANDROID_BASE + LOWER  # the vendor's carries another code: built from the card's
    assert carddata_of(links.apple) == carddata_of(links.android) == LOWER
    # On the card the links are QR codes, not text: the other code is printed nowhere.
    assert not any("esimsetup" in text or "SOMEONE" in text for _, text in C.card_lines(card, links_drawn=True))
    assert ("link", f"iPhone: {OWN_APPLE}") in C.card_lines(card)  # card_lines(card) as before for its callers
    # A vendor's own universal link (no code in it) stays as text; the QR code is Apple's, built.
    universal = dataclasses.replace(card, ios_link="https://vendor.example.com/i/ABC", android_link=None)
    assert ("link", "iPhone: https://vendor.example.com/i/ABC") in C.card_lines(universal, links_drawn=True)
    assert C.card_install_links(universal) == InstallLinks(APPLE_BASE + LOWER, ANDROID_BASE + LOWER)


def test_link_qr_is_level_l_and_only_for_https():
    symbol = Q.link_qr(APPLE_BASE + LOWER)
    assert symbol.error == "L" and symbol.version <= 6  # 41 modules: the largest modules in the little room
    with pytest.raises(ValidationError, match="https"):
        Q.link_qr("LPA:1$smdp.example.com$X")


def symbols(image) -> list[tuple[str, float, float, float]]:
    """(text, centre x, centre y, width) of each QR code zxing finds in a PIL image."""
    out = []
    for r in zxingcpp.read_barcodes(image):
        p = r.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        out.append((r.text, sum(xs) / 4, sum(ys) / 4, max(xs) - min(xs)))
    return out


@pytest.mark.parametrize("page", ["A4", "Letter", "label"])
def test_every_layout_carries_both_links_apart_from_the_code(store, qapp, tmp_path, page):
    """Each card of an A4, Letter and label PDF: the activation code's QR code in its place and as large as
    ever, and in the framed panel beside it the iPhone link (the vendor's own where it gave one) and the
    Android link, each decoding to that card's code, each at most half the code's size."""
    from PySide6.QtCore import QPointF, QRectF

    codes = [LOWER, SAMPLES["roumio"], SGP22]
    fill(store, codes[:1], ios=OWN_APPLE)
    fill(store, codes[1:], order_id="B1002", reference="ref-1002", first=2)
    cards = C.cards_for(store, "B1001") + C.cards_for(store, "B1002")
    dpi = 150
    P.write_pdf(cards, tmp_path / "cards.pdf", page=page)
    pngs = rasterise(tmp_path / "cards.pdf", tmp_path, dpi)
    crops = [crop for png in pngs for crop in card_crops(png, page, dpi)][:len(codes)]
    mm = 25.4 / dpi
    for crop, code, apple in zip(crops, codes, [OWN_APPLE, None, None], strict=True):
        found = symbols(crop)
        assert_card_symbols([t for t, *_ in found], code, apple)
        regions = P.card_regions(QRectF(2, 2, crop.width - 4, crop.height - 4))  # the crop's 2-pixel edge
        main = next(s for s in found if s[0] == code)
        assert regions.qr.contains(QPointF(main[1], main[2]))
        assert main[3] * mm >= (52 if page != "label" else 38)  # the code itself: 1.2 mm modules and more
        for text, x, y, width in found:
            if text != code:
                assert regions.links.contains(QPointF(x, y)) and not regions.qr.contains(QPointF(x, y))
                assert 13 <= width * mm <= main[3] * mm / 2  # clearly the small, secondary codes
    if shutil.which("zbarimg"):  # the second decoder reads every link too
        found = [t for png in pngs for t in zbar(png)]
        assert Counter(codes_of(found)) == Counter(codes)
        assert Counter(carddata_of(link) for link in links_of(found)) == Counter(codes * 2)
        assert OWN_APPLE in found

"""The words of the e-mail to the customer, per language: English, Spanish and German. A language is chosen per
customer (kept with their address); one missing here falls back to English. Placeholders in braces."""

from __future__ import annotations

from types import MappingProxyType

LANGUAGES = MappingProxyType({"en": "English", "es": "Español", "de": "Deutsch"})

_EN = {
    "subject_one": "Your eSIM from {reseller}: {plan}",
    "subject_many": "Your {count} eSIMs from {reseller}",
    "hello": "Hello,",
    "intro_one": "here is your eSIM from {reseller}. Install it before you travel, with Wi-Fi on.",
    "intro_many": "here are your {count} eSIMs from {reseller}, one for each phone. Install each one before you "
                  "travel, with Wi-Fi on.",
    "esim_head": "eSIM {n} of {count}",
    "facts": "{plan}: {data}, valid {days} days, {countries}",
    "facts_no_days": "{plan}: {data}, {countries}",
    "one_tap": "On the phone that will use it, tap to install in one step:",
    "iphone": "iPhone (iOS 17.4 or later)",
    "android": "Android",
    "vendor_page": "Install page from {vendor}",
    "access_code": "access code {code}",
    "or_scan": "Or scan the QR code (in this e-mail or on the attached card) from another screen: Settings → "
               "Mobile data (Cellular) → Add eSIM → Use QR code.",
    "manual": "Or enter it by hand:",
    "smdp": "SM-DP+ address",
    "matching": "Activation code",
    "full_code": "Full code",
    "arrive": "When you arrive, turn the new line on and allow data roaming for it.",
    "reference": "Your reference: {reference}",
    "attached": "The attached PDF has a printable card for each eSIM.",
    "bye": "Have a good trip,\n{reseller}",
    "test_subject": "Test message from esimdesk ({reseller})",
    "test_body": "This is a test message sent from Settings → E-mail in esimdesk. If you read it, the SMTP "
                 "settings work.\n\n{reseller}",
}

_ES = {
    "subject_one": "Tu eSIM de {reseller}: {plan}",
    "subject_many": "Tus {count} eSIM de {reseller}",
    "hello": "Hola:",
    "intro_one": "aquí tienes tu eSIM de {reseller}. Instálala antes de viajar, con el Wi-Fi activado.",
    "intro_many": "aquí tienes tus {count} eSIM de {reseller}, una para cada teléfono. Instala cada una antes de "
                  "viajar, con el Wi-Fi activado.",
    "esim_head": "eSIM {n} de {count}",
    "facts": "{plan}: {data}, válida {days} días, {countries}",
    "facts_no_days": "{plan}: {data}, {countries}",
    "one_tap": "En el teléfono que la usará, toca para instalarla en un paso:",
    "iphone": "iPhone (iOS 17.4 o posterior)",
    "android": "Android",
    "vendor_page": "Página de instalación de {vendor}",
    "access_code": "código de acceso {code}",
    "or_scan": "O escanea el código QR (en este correo o en la tarjeta adjunta) desde otra pantalla: Ajustes → "
               "Datos móviles → Añadir eSIM → Usar código QR.",
    "manual": "O introdúcela a mano:",
    "smdp": "Dirección SM-DP+",
    "matching": "Código de activación",
    "full_code": "Código completo",
    "arrive": "Al llegar, activa la nueva línea y permite la itinerancia de datos en ella.",
    "reference": "Tu referencia: {reference}",
    "attached": "El PDF adjunto tiene una tarjeta imprimible para cada eSIM.",
    "bye": "¡Buen viaje!\n{reseller}",
    "test_subject": "Mensaje de prueba de esimdesk ({reseller})",
    "test_body": "Este es un mensaje de prueba enviado desde Ajustes → Correo en esimdesk. Si lo lees, la "
                 "configuración SMTP funciona.\n\n{reseller}",
}

_DE = {
    "subject_one": "Ihre eSIM von {reseller}: {plan}",
    "subject_many": "Ihre {count} eSIMs von {reseller}",
    "hello": "Guten Tag,",
    "intro_one": "hier ist Ihre eSIM von {reseller}. Installieren Sie sie vor der Reise, mit eingeschaltetem WLAN.",
    "intro_many": "hier sind Ihre {count} eSIMs von {reseller}, eine pro Telefon. Installieren Sie jede vor der "
                  "Reise, mit eingeschaltetem WLAN.",
    "esim_head": "eSIM {n} von {count}",
    "facts": "{plan}: {data}, {days} Tage gültig, {countries}",
    "facts_no_days": "{plan}: {data}, {countries}",
    "one_tap": "Auf dem Telefon, das sie nutzen soll, mit einem Tippen installieren:",
    "iphone": "iPhone (ab iOS 17.4)",
    "android": "Android",
    "vendor_page": "Installationsseite von {vendor}",
    "access_code": "Zugangscode {code}",
    "or_scan": "Oder scannen Sie den QR-Code (in dieser E-Mail oder auf der angehängten Karte) von einem anderen "
               "Bildschirm: Einstellungen → Mobilfunk → eSIM hinzufügen → QR-Code verwenden.",
    "manual": "Oder geben Sie sie von Hand ein:",
    "smdp": "SM-DP+-Adresse",
    "matching": "Aktivierungscode",
    "full_code": "Vollständiger Code",
    "arrive": "Schalten Sie bei der Ankunft die neue Leitung ein und erlauben Sie Daten-Roaming für sie.",
    "reference": "Ihre Referenz: {reference}",
    "attached": "Das angehängte PDF enthält eine druckbare Karte für jede eSIM.",
    "bye": "Gute Reise,\n{reseller}",
    "test_subject": "Testnachricht von esimdesk ({reseller})",
    "test_body": "Dies ist eine Testnachricht aus Einstellungen → E-Mail in esimdesk. Wenn Sie sie lesen, "
                 "funktionieren die SMTP-Einstellungen.\n\n{reseller}",
}

_WORDS = {"en": _EN, "es": _ES, "de": _DE}


def language_of(code: str | None) -> str:
    """A language we have words for: ``code`` ("ES", "es-MX" → "es"), else English."""
    short = (code or "en").strip().lower().replace("_", "-").split("-")[0]
    return short if short in _WORDS else "en"


def words(language: str) -> dict[str, str]:
    return _WORDS[language_of(language)]

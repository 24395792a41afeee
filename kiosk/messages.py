"""What the screen says, in Ukrainian and English: plain tables, no I/O.

Tables over branches: a new reason or a better wording is a one-line change here. Lookups
never raise: an unknown reason gets a generic line, an unknown language falls back to
Ukrainian. Ukrainian text uses the typographic apostrophe ’ (U+2019).
"""

from __future__ import annotations

from collections.abc import Iterable

from kiosk.model import Fault, Phase, State

DEFAULT_LANGUAGE = "uk"
LANGUAGES = ("uk", "en")

# Phase → (headline, detail). The detail of a result phase comes from REASONS instead.
PHASES: dict[str, dict[Phase, tuple[str, str]]] = {
    "uk": {
        Phase.IDLE: (
            "Покажіть штрихкод або QR-код з Дії",
            "Відкрийте документ у Дії та покажіть код камері",
        ),
        Phase.READING: ("Тримайте телефон нерухомо", "Зчитуємо код…"),
        Phase.CHECKING: ("Перевіряємо…", "Це займе кілька секунд"),
        Phase.PASS: ("Документ дійсний", ""),
        Phase.FAIL: ("Перевірку не пройдено", ""),
        Phase.UNKNOWN: ("Не вдалося перевірити — зверніться до працівника", ""),
        Phase.ATTENDED_WAIT: (
            "Покличте працівника",
            "Перевірку віку вмикає працівник",
        ),
    },
    "en": {
        Phase.IDLE: (
            "Show the barcode or QR code from Diia",
            "Open the document in Diia and show the code to the camera",
        ),
        Phase.READING: ("Hold the phone still", "Reading the code…"),
        Phase.CHECKING: ("Checking…", "This takes a few seconds"),
        Phase.PASS: ("Document valid", ""),
        Phase.FAIL: ("Check failed", ""),
        Phase.UNKNOWN: ("Could not verify — please ask a member of staff", ""),
        Phase.ATTENDED_WAIT: (
            "Please call a member of staff",
            "A member of staff starts the age check",
        ),
    },
}

# A pass says what was confirmed, which depends on the configured mode ([kiosk] mode).
PASS_HEADLINES: dict[str, dict[str, str]] = {
    "uk": {
        "validate": "Документ дійсний",
        "age": "Вік підтверджено",
        "name": "Ім’я підтверджено",
    },
    "en": {
        "validate": "Document valid",
        "age": "Age confirmed",
        "name": "Name confirmed",
    },
}

# Verdict reason → one line of explanation.
REASONS: dict[str, dict[str, str]] = {
    "uk": {
        "valid": "Перевірено в Дії",
        "not_valid": "Документ недійсний",
        "underage": "Вік не підтверджено",
        "name_mismatch": "Ім’я не збігається з документом",
        "expired": "Код прострочено — оновіть код у Дії",
        "used": "Код уже використано — оновіть код у Дії",
        "not_found": "Код не знайдено — оновіть код у Дії",
        "bad_request": "Дія не прийняла запит",
        "auth_failed": "Кіоск не зміг увійти в Дію",
        "diia_unavailable": "Дія тимчасово недоступна",
        "timeout": "Дія не відповіла вчасно",
        "network": "Немає зв’язку з Дією",
        "bad_response": "Незрозуміла відповідь від Дії",
        "clock_untrusted": "Годинник кіоску не синхронізовано",
        "qr_not_supported": "Перемкніть Дію на штрихкод",
        "name_missing": "Немає даних замовлення для перевірки імені",
    },
    "en": {
        "valid": "Checked with Diia",
        "not_valid": "The document is not valid",
        "underage": "Age not confirmed",
        "name_mismatch": "The name does not match the document",
        "expired": "The code has expired — refresh it in Diia",
        "used": "The code was already used — refresh it in Diia",
        "not_found": "Code not found — refresh it in Diia",
        "bad_request": "Diia did not accept the request",
        "auth_failed": "The kiosk could not sign in to Diia",
        "diia_unavailable": "Diia is temporarily unavailable",
        "timeout": "Diia did not answer in time",
        "network": "No connection to Diia",
        "bad_response": "Unexpected answer from Diia",
        "clock_untrusted": "The kiosk clock is not synchronised",
        "qr_not_supported": "Switch to the barcode in Diia",
        "name_missing": "No order details to check the name against",
    },
}

# A reason this table does not know yet still gets a sensible line, chosen by outcome.
FALLBACK_DETAILS: dict[str, dict[Phase, str]] = {
    "uk": {
        Phase.PASS: "Перевірено в Дії",
        Phase.FAIL: "Зверніться до працівника",
        Phase.UNKNOWN: "Перевірте документ іншим способом",
    },
    "en": {
        Phase.PASS: "Checked with Diia",
        Phase.FAIL: "Please ask a member of staff",
        Phase.UNKNOWN: "Check the document another way",
    },
}

FAULTS: dict[str, dict[Fault, str]] = {
    "uk": {
        Fault.CAMERA: "Камера недоступна",
        Fault.NETWORK: "Немає зв’язку з Дією",
        Fault.CLOCK: "Годинник не синхронізовано",
        Fault.CONFIG: "Налаштування відхилено",
    },
    "en": {
        Fault.CAMERA: "Camera unavailable",
        Fault.NETWORK: "No connection to Diia",
        Fault.CLOCK: "Clock not synchronised",
        Fault.CONFIG: "Settings rejected",
    },
}

# A verdict held for staff (attended mode) says, in small type, how it goes away.
STAFF_HINTS: dict[str, str] = {
    "uk": "Працівник: натисніть кнопку, щоб продовжити",
    "en": "Staff: press the button to continue",
}

_RESULT_PHASES = (Phase.PASS, Phase.FAIL, Phase.UNKNOWN)
_BANNER_SEPARATOR = " · "


def _language(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def reason_text(reason: str, phase: Phase, language: str = DEFAULT_LANGUAGE) -> str:
    """One line explaining `reason`; a generic line for a reason not in the table."""
    lang = _language(language)
    known = REASONS[lang].get(reason)
    if known is not None:
        return known
    return FALLBACK_DETAILS[lang].get(phase, FALLBACK_DETAILS[lang][Phase.UNKNOWN])


def text_for(state: State, language: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
    """(headline, detail) for what `state` shows; never the code, never raises."""
    lang = _language(language)
    headline, detail = PHASES[lang][state.phase]
    if state.phase not in _RESULT_PHASES:
        return headline, detail
    verdict = state.verdict
    if verdict is None:  # a result phase without its verdict: say as little as is true
        return headline, FALLBACK_DETAILS[lang][state.phase]
    if state.phase is Phase.PASS:
        headline = PASS_HEADLINES[lang].get(verdict.mode, headline)
    return headline, reason_text(verdict.reason, state.phase, lang)


def hint_for(state: State, language: str = DEFAULT_LANGUAGE) -> str | None:
    """The small line at the foot of the screen, or None: only a held verdict has one."""
    return STAFF_HINTS[_language(language)] if state.awaiting_staff else None


def banner_for(faults: Iterable[Fault], language: str = DEFAULT_LANGUAGE) -> str | None:
    """The fault banner's text, faults in a fixed order; None when there is nothing wrong."""
    lang = _language(language)
    present = set(faults)
    parts = [text for fault, text in FAULTS[lang].items() if fault in present]
    return _BANNER_SEPARATOR.join(parts) if parts else None

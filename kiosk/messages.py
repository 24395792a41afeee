"""What the screen says, in Ukrainian and English: plain tables, no I/O.

Tables over branches: a new reason or a better wording is a one-line change here. Reasons
are a closed enum, so every one has its words (a test checks both languages); an unknown
language falls back to Ukrainian. Ukrainian text uses the typographic apostrophe ’ (U+2019).
"""

from __future__ import annotations

from collections.abc import Iterable

from kiosk.config import LANGUAGES
from kiosk.model import RESULT_PHASES, CodeKind, Fault, Phase, Reason, State, Verdict

DEFAULT_LANGUAGE = LANGUAGES[0]

# Phase → (headline, detail). A result phase's detail comes from its verdict's reason
# (REASONS); the one here is only for a result shown without a verdict.
PHASES: dict[str, dict[Phase, tuple[str, str]]] = {
    "uk": {
        Phase.IDLE: (
            "Покажіть код з Дії",
            "Відкрийте документ у Дії та покажіть його код камері",
        ),
        Phase.READING: ("Тримайте нерухомо", "Зчитуємо код з телефона…"),
        Phase.CHECKING: ("Перевіряємо…", "Це займе кілька секунд"),
        Phase.PASS: ("Документ дійсний", "Перевірено в Дії"),
        Phase.FAIL: ("Перевірку не пройдено", "Зверніться до працівника"),
        Phase.UNKNOWN: ("Не вдалося перевірити", "Перевірте документ іншим способом"),
        Phase.ATTENDED_WAIT: (
            "Покличте працівника",
            "Перевірку віку вмикає працівник",
        ),
    },
    "en": {
        Phase.IDLE: (
            "Show the code from Diia",
            "Open the document in Diia and show it to the camera",
        ),
        Phase.READING: ("Hold the phone still", "Reading the code…"),
        Phase.CHECKING: ("Checking…", "This takes a few seconds"),
        Phase.PASS: ("Document valid", "Checked with Diia"),
        Phase.FAIL: ("Check failed", "Please ask a member of staff"),
        Phase.UNKNOWN: ("Could not verify", "Check the document another way"),
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
        "share": "Документ передано",
    },
    "en": {
        "validate": "Document valid",
        "age": "Age confirmed",
        "name": "Name confirmed",
        "share": "Document shared",
    },
}

# What an unknown verdict asks first, on the line under its short headline.
UNKNOWN_SUBLINES: dict[str, str] = {
    "uk": "Зверніться до працівника",
    "en": "Please ask a member of staff",
}

# A failed check whose reason needs its own headline. "Not found" is what Diia answers for a
# product barcode (13 digits with a valid check digit may be Diia's, so it is asked): the
# customer holding up a bottle is told what to show, not that they failed.
REASON_HEADLINES: dict[str, dict[Reason, str]] = {
    "uk": {Reason.NOT_FOUND: "Покажіть код з Дії"},
    "en": {Reason.NOT_FOUND: "Show the code from Diia"},
}

# While a share request waits for the customer (the till's mode "share").
SHARE_CONFIRM: dict[str, tuple[str, str]] = {
    "uk": ("Підтвердьте запит у Дії", "Відкрийте Дію на телефоні та дозвольте передачу"),
    "en": ("Confirm the request in Diia", "Open Diia on your phone and allow the sharing"),
}

# While an online share's QR is on screen (the till's mode "share_online").
SHARE_SCAN: dict[str, tuple[str, str]] = {
    "uk": ("Скануйте телефоном у Дії", "Підтвердьте передачу в Дії"),
    "en": ("Scan with your phone in Diia", "Then confirm the sharing in Diia"),
}

# Verdict reason → one line of explanation; every reason in both languages (a test checks).
# An unknown verdict's reason stands under "ask staff", each on a line of its own: kept short
# enough for one line on the smallest panel at its reading distance (tests/test_screen.py).
REASONS: dict[str, dict[Reason, str]] = {
    "uk": {
        Reason.VALID: "Перевірено в Дії",
        Reason.NOT_VALID: "Документ недійсний",
        Reason.UNDERAGE: "Вік не підтверджено",
        Reason.NAME_MISMATCH: "Ім’я не збігається з документом",
        Reason.EXPIRED: "Код прострочено — оновіть код у Дії",
        Reason.USED: "Код уже використано — оновіть код у Дії",
        Reason.USED_AFTER_FAILED_ATTEMPT: "Зв’язок з Дією перервався",
        Reason.NOT_FOUND: "Дія не знає цього коду — відкрийте документ у Дії",
        Reason.BAD_REQUEST: "Дія не прийняла запит",
        Reason.AUTH_FAILED: "Кіоск не зміг увійти в Дію",
        Reason.DIIA_UNAVAILABLE: "Дія тимчасово недоступна",
        Reason.TIMEOUT: "Дія не відповіла вчасно",
        Reason.NETWORK: "Немає зв’язку з Дією",
        Reason.BAD_RESPONSE: "Незрозуміла відповідь Дії",
        Reason.CLOCK_UNTRUSTED: "Кіоск не знає точного часу",
        Reason.QR_NOT_SUPPORTED: "Увімкніть штрихкод у Дії",
        Reason.NAME_MISSING: "Немає імені із замовлення",
        Reason.SHARED: "Передачу підтверджено",
        Reason.SHARE_REFUSED: "Передачу відхилено",
        Reason.SHARE_EXPIRED: "Запит прострочено",
        Reason.SHARE_TIMEOUT: "Запит не підтверджено",
    },
    "en": {
        Reason.VALID: "Checked with Diia",
        Reason.NOT_VALID: "The document is not valid",
        Reason.UNDERAGE: "Age not confirmed",
        Reason.NAME_MISMATCH: "The name does not match the document",
        Reason.EXPIRED: "The code has expired — refresh it in Diia",
        Reason.USED: "The code was already used — refresh it in Diia",
        Reason.USED_AFTER_FAILED_ATTEMPT: "The connection to Diia broke",
        Reason.NOT_FOUND: "Not a Diia code — open the document in Diia",
        Reason.BAD_REQUEST: "Diia refused the request",
        Reason.AUTH_FAILED: "The kiosk could not sign in",
        Reason.DIIA_UNAVAILABLE: "Diia is unavailable for now",
        Reason.TIMEOUT: "Diia did not answer in time",
        Reason.NETWORK: "No connection to Diia",
        Reason.BAD_RESPONSE: "Unexpected answer from Diia",
        Reason.CLOCK_UNTRUSTED: "Kiosk clock not synchronised",
        Reason.QR_NOT_SUPPORTED: "Switch to the barcode in Diia",
        Reason.NAME_MISSING: "No order details for the name",
        Reason.SHARED: "Sharing confirmed",
        Reason.SHARE_REFUSED: "Sharing declined",
        Reason.SHARE_EXPIRED: "The request expired",
        Reason.SHARE_TIMEOUT: "Not confirmed in time",
    },
}

# Faults a customer can act on (wait, or ask staff: their code cannot be checked now) are
# told on the screen's banner. The others are for staff only, who see them as a mark in the
# screen's corner, on the LEDs and in the till's `GET /v1/health`: a customer can do nothing
# about a rejected setting, an unsynchronised clock (its verdicts say why they are amber) or
# a failed output.
CUSTOMER_FAULTS = frozenset({Fault.CAMERA, Fault.NETWORK})

FAULTS: dict[str, dict[Fault, str]] = {
    "uk": {
        Fault.CAMERA: "Камера недоступна",
        Fault.NETWORK: "Немає зв’язку з Дією",
        Fault.CLOCK: "Годинник не синхронізовано",
        Fault.CONFIG: "Налаштування відхилено",
        Fault.CONFIG_STALE: "Налаштування застаріли",
        Fault.STORAGE: "Пам’ять заповнена",
        Fault.OUTPUT: "Збій одного з виходів — див. журнал",
    },
    "en": {
        Fault.CAMERA: "Camera unavailable",
        Fault.NETWORK: "No connection to Diia",
        Fault.CLOCK: "Clock not synchronised",
        Fault.CONFIG: "Settings rejected",
        Fault.CONFIG_STALE: "Settings out of date",
        Fault.STORAGE: "Storage full",
        Fault.OUTPUT: "An output failed — see the log",
    },
}

# A verdict held for staff (attended mode) says, in small type, how it goes away.
STAFF_HINTS: dict[str, str] = {
    "uk": "Працівник: натисніть кнопку, щоб продовжити",
    "en": "Staff: press the button to continue",
}

# The same note where there is no button and the till is the staff step.
TILL_STAFF_HINTS: dict[str, str] = {
    "uk": "Працівник: підтвердіть на касі, щоб продовжити",
    "en": "Staff: acknowledge at the till to continue",
}

_RESULT_PHASES = (Phase.PASS, Phase.FAIL, Phase.UNKNOWN)
_BANNER_SEPARATOR = " · "


def _language(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def reason_text(reason: Reason, language: str = DEFAULT_LANGUAGE) -> str:
    """One line explaining `reason`."""
    return REASONS[_language(language)][reason]


def text_for(state: State, language: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
    """(headline, detail) for what `state` shows; never the code, never raises."""
    lang = _language(language)
    if state.phase is Phase.CHECKING and state.offer_link:
        return SHARE_SCAN[lang]
    if state.phase is Phase.CHECKING and state.sharing:
        return SHARE_CONFIRM[lang]
    headline, detail = PHASES[lang][state.phase]
    if state.phase not in _RESULT_PHASES:
        return headline, detail
    verdict = state.verdict
    if verdict is not None:  # else a result phase without its verdict: as little as is true
        detail = reason_text(verdict.reason, lang)
        headline = REASON_HEADLINES[lang].get(verdict.reason, headline)
        if state.phase is Phase.PASS:
            headline = PASS_HEADLINES[lang].get(verdict.mode, headline)
    if state.phase is Phase.UNKNOWN:  # short headline, what to do, then why (own lines)
        detail = f"{UNKNOWN_SUBLINES[lang]}\n{detail}"
    return headline, detail


def one_line(text: str) -> str:
    """A screen text for a terminal: its lines as sentences on one line."""
    return ". ".join(text.split("\n"))


def staff_hint(language: str = DEFAULT_LANGUAGE, till: bool = False) -> str:
    """The note at the foot of a verdict held for staff: the button's, or the till's."""
    return (TILL_STAFF_HINTS if till else STAFF_HINTS)[_language(language)]


def hint_for(state: State, language: str = DEFAULT_LANGUAGE, till: bool = False) -> str | None:
    """The small line at the foot of the screen, or None: only a held verdict has one."""
    return staff_hint(language, till) if state.awaiting_staff else None


def verdict_texts(language: str = DEFAULT_LANGUAGE) -> set[tuple[str, str]]:
    """Every (headline, detail) a verdict can show: what the screen keeps room for."""
    modes = (*PASS_HEADLINES[_language(language)], "share_online")
    return {text_for(State(RESULT_PHASES[reason.outcome], Verdict(reason, mode, CodeKind.QR,
                                                                   "")), language)
            for reason in Reason for mode in modes}


def staff_faults(faults: Iterable[Fault]) -> frozenset[Fault]:
    """The faults in `faults` that are for staff only (no banner: a mark in the corner)."""
    return frozenset(faults) - CUSTOMER_FAULTS


def banner_for(faults: Iterable[Fault], language: str = DEFAULT_LANGUAGE) -> str | None:
    """The fault banner's text for the customer, faults in a fixed order; None when nothing
    they can act on is wrong (`staff_faults` are left out)."""
    lang = _language(language)
    present = set(faults) & CUSTOMER_FAULTS
    parts = [text for fault, text in FAULTS[lang].items() if fault in present]
    return _BANNER_SEPARATOR.join(parts) if parts else None

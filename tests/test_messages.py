"""The screen's words: complete in both languages, never failing on something new."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk import messages
from kiosk.messages import banner_for, hint_for, reason_text, text_for
from kiosk.model import CodeKind, Fault, Outcome, Phase, State, Verdict

REASONS = [
    "valid",
    "not_valid",
    "underage",
    "name_mismatch",
    "expired",
    "used",
    "not_found",
    "bad_request",
    "auth_failed",
    "diia_unavailable",
    "timeout",
    "network",
    "bad_response",
    "qr_not_supported",
    "name_missing",
    "clock_untrusted",
]
LANGUAGES = ["uk", "en"]
OUTCOME_OF = {Phase.PASS: Outcome.PASS, Phase.FAIL: Outcome.FAIL, Phase.UNKNOWN: Outcome.UNKNOWN}


def result(phase: Phase, reason: str, mode: str = "validate") -> State:
    verdict = Verdict(OUTCOME_OF[phase], reason, mode, CodeKind.BARCODE, "9f2c1a7e")
    return State(phase, verdict)


def every_text() -> list[str]:
    texts: list[str] = []
    for lang in LANGUAGES:
        for headline, detail in messages.PHASES[lang].values():
            texts += [headline, detail]
        texts += messages.PASS_HEADLINES[lang].values()
        texts += messages.REASONS[lang].values()
        texts += messages.FALLBACK_DETAILS[lang].values()
        texts += messages.FAULTS[lang].values()
        texts.append(messages.STAFF_HINTS[lang])
    return texts


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_phase_has_a_headline(lang: str) -> None:
    assert set(messages.PHASES[lang]) == set(Phase)
    for phase in Phase:
        headline, _ = text_for(State(phase), lang)
        assert headline.strip()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("reason", REASONS)
def test_every_reason_has_its_own_explanation(lang: str, reason: str) -> None:
    assert messages.REASONS[lang][reason].strip()


def test_both_languages_know_the_same_things() -> None:
    assert set(messages.STAFF_HINTS) == set(LANGUAGES)
    for table in ("PHASES", "PASS_HEADLINES", "REASONS", "FALLBACK_DETAILS", "FAULTS"):
        uk, en = getattr(messages, table)["uk"], getattr(messages, table)["en"]
        assert set(uk) == set(en), table


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_fault_has_a_banner(lang: str) -> None:
    for fault in Fault:
        assert banner_for({fault}, lang) == messages.FAULTS[lang][fault]


def test_idle_tells_what_to_show_and_how() -> None:
    assert text_for(State(Phase.IDLE), "uk") == (
        "Покажіть штрихкод або QR-код з Дії",
        "Відкрийте документ у Дії та покажіть код камері",
    )
    assert text_for(State(Phase.IDLE), "en")[0] == "Show the barcode or QR code from Diia"


def test_pass_names_what_was_confirmed_by_mode() -> None:
    assert text_for(result(Phase.PASS, "valid", "validate"), "uk")[0] == "Документ дійсний"
    assert text_for(result(Phase.PASS, "valid", "age"), "uk")[0] == "Вік підтверджено"
    assert text_for(result(Phase.PASS, "valid", "age"), "en")[0] == "Age confirmed"
    assert text_for(result(Phase.PASS, "valid", "future_mode"), "uk")[0] == "Документ дійсний"


def test_a_fail_explains_the_reason_and_what_to_do() -> None:
    headline, detail = text_for(result(Phase.FAIL, "expired"), "uk")
    assert headline == "Перевірку не пройдено"
    assert detail == "Код прострочено — оновіть код у Дії"
    assert (
        text_for(result(Phase.FAIL, "used"), "uk")[1] == "Код уже використано — оновіть код у Дії"
    )
    assert text_for(result(Phase.FAIL, "underage"), "uk")[1] == "Вік не підтверджено"


def test_unknown_sends_the_customer_to_a_person() -> None:
    headline, detail = text_for(result(Phase.UNKNOWN, "timeout"), "uk")
    assert headline == "Не вдалося перевірити — зверніться до працівника"
    assert detail == "Дія не відповіла вчасно"


@pytest.mark.parametrize("phase", [Phase.PASS, Phase.FAIL, Phase.UNKNOWN])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_unknown_reason_falls_back_to_a_generic_line(phase: Phase, lang: str) -> None:
    _, detail = text_for(result(phase, "something_new"), lang)
    assert detail == messages.FALLBACK_DETAILS[lang][phase]
    assert "something_new" not in detail


def test_a_result_without_a_verdict_still_has_words() -> None:
    assert text_for(State(Phase.FAIL), "uk") == (
        "Перевірку не пройдено",
        "Зверніться до працівника",
    )


def test_an_unknown_language_falls_back_to_ukrainian() -> None:
    assert text_for(State(Phase.CHECKING), "de") == text_for(State(Phase.CHECKING), "uk")
    assert reason_text("expired", Phase.FAIL, "de") == messages.REASONS["uk"]["expired"]
    assert banner_for({Fault.CAMERA}, "de") == "Камера недоступна"


def test_the_banner_lists_faults_in_a_fixed_order_and_is_none_without_faults() -> None:
    assert banner_for(frozenset(), "uk") is None
    both = banner_for([Fault.CLOCK, Fault.CAMERA], "uk")
    assert both == "Камера недоступна · Годинник не синхронізовано"
    assert banner_for({Fault.NETWORK}, "uk") == "Немає зв’язку з Дією"


def test_ukrainian_text_uses_the_typographic_apostrophe() -> None:
    ukrainian = [t for t in every_text() if any("\u0400" <= c <= "\u04ff" for c in t)]
    assert any("’" in t for t in ukrainian)
    for text in ukrainian:
        assert "'" not in text and "ʼ" not in text, text


def test_no_message_can_carry_the_code_or_its_id() -> None:
    for phase in (Phase.PASS, Phase.FAIL, Phase.UNKNOWN):
        headline, detail = text_for(result(phase, "valid"), "uk")
        assert "9f2c1a7e" not in headline + detail


def test_waiting_for_staff_tells_the_customer_to_call_someone() -> None:
    assert text_for(State(Phase.ATTENDED_WAIT), "uk") == (
        "Покличте працівника",
        "Перевірку віку вмикає працівник",
    )
    assert text_for(State(Phase.ATTENDED_WAIT), "en")[0] == "Please call a member of staff"


def test_only_a_verdict_held_for_staff_has_a_hint_at_its_foot() -> None:
    held = replace(result(Phase.FAIL, "underage", "age"), awaiting_staff=True)
    assert hint_for(held, "uk") == "Працівник: натисніть кнопку, щоб продовжити"
    assert hint_for(held, "en") == "Staff: press the button to continue"
    assert hint_for(held, "de") == hint_for(held, "uk")
    for phase in Phase:
        assert hint_for(State(phase), "uk") is None
    assert text_for(held, "uk") == text_for(result(Phase.FAIL, "underage", "age"), "uk")


def test_every_reason_the_kiosk_can_give_has_words() -> None:
    # Reasons come from Diia's error classes, the mode's "no", and the checker's own refusals.
    from kiosk.checker import REFUSAL_REASONS
    from kiosk.diia import errors

    produced = {cls.reason for cls in vars(errors).values()
                if isinstance(cls, type) and issubclass(cls, errors.DiiaError)}
    produced |= set(REFUSAL_REASONS.values())
    for lang in LANGUAGES:
        assert produced - {"valid"} <= set(messages.REASONS[lang]), lang
        assert set(REASONS) <= set(messages.REASONS[lang]), lang

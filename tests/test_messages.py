"""The screen's words: complete in both languages, never failing on something new."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk import messages
from kiosk.messages import banner_for, hint_for, reason_text, staff_faults, text_for
from kiosk.model import RESULT_PHASES, CodeKind, Fault, Phase, Reason, State, Verdict

LANGUAGES = ["uk", "en"]


def result(phase: Phase, reason: Reason, mode: str = "validate") -> State:
    verdict = Verdict(reason, mode, CodeKind.BARCODE, "9f2c1a7e")
    assert RESULT_PHASES[verdict.outcome] is phase
    return State(phase, verdict)


def every_text() -> list[str]:
    texts: list[str] = []
    for lang in LANGUAGES:
        for headline, detail in messages.PHASES[lang].values():
            texts += [headline, detail]
        texts += messages.PASS_HEADLINES[lang].values()
        texts += messages.REASONS[lang].values()
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
@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_its_own_explanation(lang: str, reason: Reason) -> None:
    assert messages.REASONS[lang][reason].strip()
    headline, detail = text_for(State(RESULT_PHASES[reason.outcome], Verdict(
        reason, "age", CodeKind.BARCODE, "9f2c1a7e")), lang)
    assert headline.strip() and detail.split("\n")[-1] == messages.REASONS[lang][reason]


def test_both_languages_know_the_same_things() -> None:
    assert set(messages.STAFF_HINTS) == set(messages.UNKNOWN_SUBLINES) == set(LANGUAGES)
    for table in ("PHASES", "PASS_HEADLINES", "REASON_HEADLINES", "REASONS", "FAULTS"):
        uk, en = getattr(messages, table)["uk"], getattr(messages, table)["en"]
        assert set(uk) == set(en), table


@pytest.mark.parametrize("lang", LANGUAGES)
def test_faults_a_customer_can_act_on_have_a_banner_the_others_are_for_staff(
    lang: str,
) -> None:
    for fault in Fault:
        if fault in (Fault.CAMERA, Fault.NETWORK):  # wait, or ask staff: no check now
            assert banner_for({fault}, lang) == messages.FAULTS[lang][fault]
            assert not staff_faults({fault})
        else:  # a rejected setting, the clock, a failed output: nothing for a customer to do
            assert banner_for({fault}, lang) is None
            assert staff_faults({fault}) == {fault}
        assert messages.FAULTS[lang][fault]  # the words: for the log, selftest, the till


def test_idle_tells_what_to_show_and_how() -> None:
    assert text_for(State(Phase.IDLE), "uk") == (
        "Покажіть код з Дії",
        "Відкрийте документ у Дії та покажіть його код камері",
    )
    assert text_for(State(Phase.IDLE), "en")[0] == "Show the code from Diia"


def test_pass_names_what_was_confirmed_by_mode() -> None:
    assert text_for(result(Phase.PASS, Reason.VALID, "validate"), "uk")[0] == "Документ дійсний"
    assert text_for(result(Phase.PASS, Reason.VALID, "age"), "uk")[0] == "Вік підтверджено"
    assert text_for(result(Phase.PASS, Reason.VALID, "age"), "en")[0] == "Age confirmed"
    assert text_for(result(Phase.PASS, Reason.VALID, "future_mode"), "uk")[0] == "Документ дійсний"


def test_a_fail_explains_the_reason_and_what_to_do() -> None:
    headline, detail = text_for(result(Phase.FAIL, Reason.EXPIRED), "uk")
    assert headline == "Перевірку не пройдено"
    assert detail == "Код прострочено — оновіть код у Дії"
    used = text_for(result(Phase.FAIL, Reason.USED), "uk")[1]
    assert used == "Код уже використано — оновіть код у Дії"
    assert text_for(result(Phase.FAIL, Reason.UNDERAGE), "uk")[1] == "Вік не підтверджено"


def test_unknown_sends_the_customer_to_a_person() -> None:
    headline, detail = text_for(result(Phase.UNKNOWN, Reason.TIMEOUT), "uk")
    assert headline == "Не вдалося перевірити"  # short: read from a distance
    assert detail == "Зверніться до працівника\nДія не відповіла вчасно"  # what to do, then why
    assert text_for(State(Phase.UNKNOWN), "en") == (
        "Could not verify", "Please ask a member of staff\nCheck the document another way")


def test_a_used_code_we_may_have_used_ourselves_does_not_blame_the_customer() -> None:
    _, plain = text_for(result(Phase.FAIL, Reason.USED), "en")
    _, ours = text_for(result(Phase.UNKNOWN, Reason.USED_AFTER_FAILED_ATTEMPT), "en")
    assert "refresh" in plain and "refresh" not in ours and "staff" in ours


def test_a_code_diia_does_not_know_asks_for_the_diia_code_without_accusing() -> None:
    """A product barcode with a valid check digit may be Diia's, so Diia is asked; its "not
    found" tells the customer what to show."""
    assert text_for(result(Phase.FAIL, Reason.NOT_FOUND), "uk") == (
        "Покажіть код з Дії", "Дія не знає цього коду — відкрийте документ у Дії")
    headline, detail = text_for(result(Phase.FAIL, Reason.NOT_FOUND), "en")
    assert headline == "Show the code from Diia"
    assert "failed" not in headline + detail and "not found" not in headline + detail


def test_a_result_without_a_verdict_still_has_words() -> None:
    assert text_for(State(Phase.FAIL), "uk") == (
        "Перевірку не пройдено",
        "Зверніться до працівника",
    )


def test_an_unknown_language_falls_back_to_ukrainian() -> None:
    assert text_for(State(Phase.CHECKING), "de") == text_for(State(Phase.CHECKING), "uk")
    assert reason_text(Reason.EXPIRED, "de") == messages.REASONS["uk"][Reason.EXPIRED]
    assert banner_for({Fault.CAMERA}, "de") == "Камера недоступна"


def test_the_banner_lists_faults_in_a_fixed_order_and_is_none_without_faults() -> None:
    assert banner_for(frozenset(), "uk") is None
    both = banner_for([Fault.NETWORK, Fault.CLOCK, Fault.CAMERA], "uk")
    assert both == "Камера недоступна · Немає зв’язку з Дією"
    assert banner_for({Fault.NETWORK}, "uk") == "Немає зв’язку з Дією"


def test_ukrainian_text_uses_the_typographic_apostrophe() -> None:
    ukrainian = [t for t in every_text() if any("\u0400" <= c <= "\u04ff" for c in t)]
    assert any("’" in t for t in ukrainian)
    for text in ukrainian:
        assert "'" not in text and "ʼ" not in text, text


def test_no_message_can_carry_the_code_or_its_id() -> None:
    for reason in Reason:
        headline, detail = text_for(result(RESULT_PHASES[reason.outcome], reason), "uk")
        assert "9f2c1a7e" not in headline + detail


def test_waiting_for_staff_tells_the_customer_to_call_someone() -> None:
    assert text_for(State(Phase.ATTENDED_WAIT), "uk") == (
        "Покличте працівника",
        "Перевірку віку вмикає працівник",
    )
    assert text_for(State(Phase.ATTENDED_WAIT), "en")[0] == "Please call a member of staff"


def test_only_a_verdict_held_for_staff_has_a_hint_at_its_foot() -> None:
    held = replace(result(Phase.FAIL, Reason.UNDERAGE, "age"), awaiting_staff=True)
    assert hint_for(held, "uk") == "Працівник: натисніть кнопку, щоб продовжити"
    assert hint_for(held, "en") == "Staff: press the button to continue"
    assert hint_for(held, "de") == hint_for(held, "uk")
    for phase in Phase:
        assert hint_for(State(phase), "uk") is None
    assert text_for(held, "uk") == text_for(result(Phase.FAIL, Reason.UNDERAGE, "age"), "uk")


def test_every_error_the_diia_client_raises_has_a_reason() -> None:
    from kiosk.checking.checker import DIIA_ERROR_REASONS, reason_for
    from kiosk.diia import errors

    raised = [error for error in vars(errors).values()
              if isinstance(error, type) and issubclass(error, errors.DiiaError)
              and error not in (errors.DiiaError, errors.CodeRejected)]  # bases only
    assert len(raised) >= 9
    for error in raised:
        assert any(kind in DIIA_ERROR_REASONS for kind in error.__mro__), error
    assert reason_for(errors.UsedAfterFailedAttempt("x")) is Reason.USED_AFTER_FAILED_ATTEMPT

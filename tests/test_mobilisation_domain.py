"""Mobilisation calls as pure domain: needs, start times, the one-line call, live counts,
deadlines and answer-button data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.i18n import Translator
from alerts.mobilisations.buttons import Press, press_data, read_press
from alerts.mobilisations.counts import all_covered, count_line, count_needs
from alerts.mobilisations.draft import parse_mobilisation_line
from alerts.mobilisations.lifecycle import Timings, deadlines, raised, should_escalate
from alerts.mobilisations.needs import Need, parse_needs
from alerts.mobilisations.texts import TEXTS
from alerts.mobilisations.times import StartTimeError, parse_start
from alerts.parsing import AlertInputError
from alerts.types import Urgency
from bot.wiring.vocabulary import vocabulary_from
from config.loader import load_config

VOCABULARY = vocabulary_from(load_config(None, {}).settings)
# 14:00 in Paris (winter: UTC+1)
NOW = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
TRANSLATE = Translator(TEXTS)


@pytest.mark.parametrize(
    ("text", "needs"),
    [
        ("2 observateurs, 1 interprète gare d'Hendaye", {Need.OBSERVERS: 2, Need.INTERPRETER: 1}),
        ("un avocat pour l'audience", {Need.LAWYER: 1}),
        ("a car to bring a family to shelter", {Need.TRANSPORT: 1, Need.SHELTER: 1}),
        ("3 observers and two interpreters", {Need.OBSERVERS: 3, Need.INTERPRETER: 2}),
        ("une infirmière, 2 bénévoles", {Need.MEDICAL: 1, Need.OTHER: 2}),
        ("1 juriste et 1 avocate", {Need.LAWYER: 2}),
        ("rendez-vous à la gare de Menton", {}),
        ("2 observateurs à Hendaye car la PAF refoule", {Need.OBSERVERS: 2}),
        ("two cars and one other", {Need.TRANSPORT: 2, Need.OTHER: 1}),
        ("no other way than a lawyer", {Need.LAWYER: 1}),
    ],
)
def test_needs(text: str, needs: dict[Need, int]) -> None:
    assert parse_needs(text) == needs


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("gare d'Hendaye 18h", (2, 18, 0)),
        ("à 18h30", (2, 18, 30)),
        ("18:00", (2, 18, 0)),
        ("demain 9h", (3, 9, 0)),
        ("demain à 9h15", (3, 9, 15)),
        ("tomorrow 9am", (3, 9, 0)),
        ("at 6pm", (2, 18, 0)),
        ("tomorrow at 10:30", (3, 10, 30)),
    ],
)
def test_start_times(text: str, local: tuple[int, int, int]) -> None:
    start = parse_start(text, NOW)
    assert start is not None
    day, hour, minute = local
    # Paris is UTC+1 in December.
    assert start.at == datetime(2026, 12, day, hour - 1, minute, tzinfo=UTC)


def test_relative_start_times() -> None:
    assert parse_start("dans 1h", NOW).at == NOW + timedelta(hours=1)  # type: ignore[union-attr]
    assert parse_start("dans 30 min", NOW).at == NOW + timedelta(minutes=30)  # type: ignore[union-attr]
    assert parse_start("in 2 hours", NOW).at == NOW + timedelta(hours=2)  # type: ignore[union-attr]
    assert parse_start("dans 1h30", NOW).at == NOW + timedelta(minutes=90)  # type: ignore[union-attr]
    assert parse_start("2 observateurs à Menton", NOW) is None


def test_a_start_in_the_past_is_refused_not_moved_to_tomorrow() -> None:
    with pytest.raises(StartTimeError) as error:
        parse_start("gare 9h", NOW)
    assert error.value.code == "start_past"
    with pytest.raises(StartTimeError):
        parse_start("25h", NOW)


def test_the_issue_example_line() -> None:
    draft = parse_mobilisation_line(
        "2 observateurs, 1 interprète gare d'Hendaye 18h !urgent !escalate=15m",
        VOCABULARY,
        now=NOW,
        max_length=2000,
    )
    assert draft.needs == {Need.OBSERVERS: 2, Need.INTERPRETER: 1}
    assert draft.alert.border == "franco-espagnole"
    assert draft.alert.place == "Hendaye"
    assert draft.alert.urgency is Urgency.URGENT
    assert draft.starts_at == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    assert draft.escalate_after == timedelta(minutes=15)
    assert "!escalate" not in draft.alert.text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("venez tous à Hendaye", "no_need"),
        ("2 observateurs Hendaye 8h", "start_past"),
        ("2 observateurs Hendaye !escalate=soon", "escalate_bad"),
        ("", "empty"),
    ],
)
def test_bad_lines_name_what_is_wrong(text: str, code: str) -> None:
    with pytest.raises(AlertInputError) as error:
        parse_mobilisation_line(text, VOCABULARY, now=NOW, max_length=2000)
    assert error.value.code == code


def test_count_line_in_french_and_english() -> None:
    wanted = {Need.OBSERVERS: 2, Need.INTERPRETER: 1}
    counts = count_needs(wanted, [Need.OBSERVERS])

    def fr(key: str, /, **params: object) -> str:
        return TRANSLATE("fr", key, **params)

    def en(key: str, /, **params: object) -> str:
        return TRANSLATE("en", key, **params)

    assert count_line(counts, fr) == (
        "Observateur·ices 1/2 · Interprète 0/1 — manque : 1 observateur·ice, 1 interprète"
    )
    assert count_line(counts, en) == (
        "Observers 1/2 · Interpreter 0/1 — missing: 1 observer, 1 interpreter"
    )
    full = count_needs(wanted, [Need.OBSERVERS, Need.OBSERVERS, Need.INTERPRETER, None])
    assert all_covered(full)
    assert count_line(full, fr).endswith("complet ✅")
    assert not all_covered(counts)


def test_an_answer_without_a_need_covers_the_first() -> None:
    counts = count_needs({Need.LAWYER: 1}, [None])
    assert counts[0].covered == 1


def test_deadlines() -> None:
    timings = Timings(
        escalate_after=timedelta(minutes=30),
        remind_before=timedelta(hours=1),
        close_after=timedelta(hours=6),
        edit_every=timedelta(seconds=5),
    )
    start = NOW + timedelta(hours=4)
    fixed = deadlines(timings, NOW, start)
    assert fixed.escalate_at == NOW + timedelta(minutes=30)
    assert fixed.remind_at == start - timedelta(hours=1)
    assert fixed.close_at == start + timedelta(hours=6)
    soon = deadlines(timings, NOW, NOW + timedelta(minutes=20), timedelta(seconds=5))
    assert soon.remind_at is None  # no room to remind before
    assert soon.escalate_at == NOW + timedelta(seconds=5)
    assert deadlines(timings, NOW, None).close_at == NOW + timedelta(hours=24)


def test_escalation_fires_once_and_only_while_needed() -> None:
    assert should_escalate(is_open=True, covered=False, escalated=False)
    assert not should_escalate(is_open=True, covered=True, escalated=False)
    assert not should_escalate(is_open=False, covered=False, escalated=False)
    assert not should_escalate(is_open=True, covered=False, escalated=True)
    assert raised(Urgency.NORMAL) is Urgency.URGENT
    assert raised(Urgency.VITAL) is Urgency.VITAL


@pytest.mark.parametrize(
    "data",
    [
        "mb:12",
        "mb:x:g",
        "mb:12:z",
        "mb:12:g:pilots",
        "mb:12:c:observers",
        "mb:0:g",
        "ga:1:2:3",
        "mb:99999999999999999999:g",
        "mb:-1:g",
    ],
)
def test_forged_button_data_names_nothing(data: str) -> None:
    assert read_press(data) is None


def test_button_data_round_trip() -> None:
    assert read_press(press_data(12, "going", Need.LAWYER)) == Press(12, "going", Need.LAWYER)
    assert read_press(press_data(12, "withdraw")) == Press(12, "withdraw")
    assert len(press_data(10**14, "going", Need.INTERPRETER)) <= 64  # Telegram's limit


def test_an_english_line() -> None:
    draft = parse_mobilisation_line(
        "2 observers and an interpreter at Hendaye station at 6pm !vital",
        VOCABULARY,
        now=NOW,
        max_length=2000,
    )
    assert draft.needs == {Need.OBSERVERS: 2, Need.INTERPRETER: 1}
    assert draft.alert.place == "Hendaye"
    assert draft.alert.urgency is Urgency.VITAL
    assert draft.starts_at == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    later = parse_mobilisation_line(
        "a lawyer for a hearing in the Roissy waiting zone tomorrow 9am",
        VOCABULARY,
        now=NOW,
        max_length=2000,
    )
    assert later.needs == {Need.LAWYER: 1}
    assert later.alert.border == "zones-attente"
    assert later.starts_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


_CODES = {"empty", "too_long", "no_need", "start_past", "start_bad", "escalate_bad"}


def _read(text: str) -> str:
    """What a line is: "call", or the code of the clear error it gets."""
    try:
        draft = parse_mobilisation_line(text, VOCABULARY, now=NOW, max_length=2000)
    except AlertInputError as error:
        return error.code
    if not all(0 < count <= 500 for count in draft.needs.values()):
        return "bad counts"
    return "call" if draft.needs else "no needs"


@given(st.text(max_size=300))
def test_any_line_is_a_call_or_a_clear_error(text: str) -> None:
    assert _read(text) in {"call", *_CODES}


@given(st.text(max_size=80))
def test_any_button_data_is_read_or_refused(data: str) -> None:
    press = read_press(data)
    assert press is None or read_press(press_data(press.call, press.action, press.need)) == press

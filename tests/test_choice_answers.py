"""The one reading of a typed answer both relays share (`relays.choices.answer_of`), over
the choices a Matrix question's event carries (`relays.matrix.outbound.event_choices`)."""

from __future__ import annotations

from alerts.messages import Button, OutboundMessage, Paragraph, Span
from relays.choices import answer_of
from relays.matrix.outbound import (
    CHOICE_LABELS_KEY,
    CHOICES_KEY,
    event_choices,
    message_content,
)

COUNTS = OutboundMessage(
    (Paragraph((Span("Combien ?"),)),),
    buttons=(
        (Button("1", "n:1"), Button("2", "n:2"), Button("5", "n:5")),
        (Button("Je ne sais pas", "n:?"),),
    ),
)


def test_an_event_sent_before_labels_were_stored_keeps_numbers_as_the_nth_choice() -> None:
    old = {"msgtype": "m.notice", "body": "1. 1\n2. 2\n3. 5", CHOICES_KEY: ["n:1", "n:2", "n:5"]}
    choices = event_choices(old)
    assert answer_of(choices, "3") == Button("", "n:5")
    assert answer_of(choices, "3\ufe0f\u20e3") == Button("", "n:5")
    assert answer_of(choices, "4") is None  # out of range: an ordinary message
    assert answer_of(choices, "Je ne sais pas") is None  # no labels to name


def test_labels_that_do_not_match_the_data_are_read_as_an_older_event() -> None:
    odd = {CHOICES_KEY: ["n:1", "n:2"], CHOICE_LABELS_KEY: ["1"]}
    assert answer_of(event_choices(odd), "2") == Button("", "n:2")
    assert event_choices({CHOICES_KEY: "n:1"}) == ()  # not a list: no choices


def test_a_count_question_reads_a_number_as_the_count_from_its_event() -> None:
    content = message_content(COUNTS)
    choices = event_choices(content)
    assert content[CHOICE_LABELS_KEY] == ["1", "2", "5", "Je ne sais pas"]
    assert "• 5\n• Je ne sais pas" in content["body"]
    assert "3. " not in content["body"]
    assert answer_of(choices, "4") == "4"  # not the 4th choice ("Je ne sais pas")
    assert answer_of(choices, "3.") == "3"
    assert answer_of(choices, "4\ufe0f\u20e3") == "4"
    assert answer_of(choices, "5") == Button("5", "n:5")
    assert answer_of(choices, "je ne sais") == Button("Je ne sais pas", "n:?")
    assert answer_of(choices, "sept") is None


def test_an_ordinary_question_keeps_its_numbered_choices() -> None:
    question = OutboundMessage(
        (Paragraph((Span("Tu viens ?"),)),),
        buttons=((Button("J'y vais", "yes"), Button("Non", "no")),),
    )
    content = message_content(question)
    assert "1. J'y vais\n2. Non" in content["body"]
    choices = event_choices(content)
    assert answer_of(choices, "2") == Button("Non", "no")
    assert answer_of(choices, "1\ufe0f\u20e3") == Button("J'y vais", "yes")
    assert answer_of(choices, "3") is None

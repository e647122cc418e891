"""The one-line alert syntax, text hygiene and splitting: pure domain, no I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.messages import OutboundMessage, Paragraph, Span
from alerts.parsing import AlertInputError, parse_alert_line
from alerts.splitting import TextBudget, split_message, utf16_length
from alerts.text import clean_text
from alerts.types import Urgency
from bot.wiring.vocabulary import vocabulary_from
from config.loader import load_config
from relays.markup import to_html
from relays.telegram.traits import TRAITS as TELEGRAM

VOCABULARY = vocabulary_from(load_config(None, {}).settings)


def parse(text: str, max_length: int = 20_000):  # type: ignore[no-untyped-def]
    return parse_alert_line(text, VOCABULARY, max_length=max_length)


def test_the_issue_example() -> None:
    draft = parse("12 personnes refoulées à Menton dont 3 mineurs !urgent")
    assert draft.border == "franco-italienne"
    assert draft.place == "Menton"
    assert set(draft.themes) == {"refoulement", "mineurs"}
    assert draft.urgency is Urgency.URGENT
    assert (draft.people, draft.minors) == (12, 3)
    assert "!urgent" not in draft.text


@pytest.mark.parametrize(
    ("text", "border"),
    [
        ("contrôle au pont de HENDAYE", "franco-espagnole"),
        ("refoulement à briancon", "franco-italienne"),  # accent-insensitive
        ("#franco-italienne personnes bloquées", "franco-italienne"),
        ("#Manche campement évacué", "manche"),
        ("#roissy une famille en ZAPI", "zones-attente"),
        ("arrivée à Cerbère", "franco-espagnole"),
    ],
)
def test_border_from_place_or_hashtag(text: str, border: str) -> None:
    assert parse(text).border == border


def test_default_urgency_is_normal_and_vital_wins() -> None:
    assert parse("contrôle à Irun").urgency is Urgency.NORMAL
    assert parse("personne disparue à Montgenèvre !urgent !vital").urgency is Urgency.VITAL


def test_no_border_means_ask_instead_of_guessing() -> None:
    draft = parse("il se passe quelque chose")
    assert draft.needs_border
    assert draft.border_choices == ()


def test_two_borders_mean_ask_which() -> None:
    draft = parse("bus de Menton vers Hendaye")
    assert draft.needs_border
    assert set(draft.border_choices) == {"franco-italienne", "franco-espagnole"}


def test_place_names_match_whole_words_only() -> None:
    # "Irun" must not match inside another word.
    assert parse("rien à Irunville").needs_border


def test_empty_alert() -> None:
    for text in ("", "   ", "!urgent", "\u202e\u0007"):
        with pytest.raises(AlertInputError) as caught:
            parse(text)
        assert caught.value.code == "empty"


def test_too_long_alert() -> None:
    with pytest.raises(AlertInputError) as caught:
        parse("Menton " + "x" * 200, max_length=100)
    assert caught.value.code == "too_long"
    assert caught.value.params["maximum"] == 100


def test_control_characters_and_bidi_overrides_are_removed() -> None:
    text = "Menton\u202e evil\u2066 \x00\x1b[31mred\x07 ok\nline two\tend"
    assert clean_text(text) == "Menton evil [31mred ok\nline two\tend"
    draft = parse(text)
    assert "\u202e" not in draft.text
    assert "\x1b" not in draft.text
    assert draft.border == "franco-italienne"


@given(st.text())
def test_clean_text_never_keeps_controls_or_bidi(text: str) -> None:
    cleaned = clean_text(text)
    assert not any(ch in cleaned for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in cleaned)


def _message(texts: list[str]) -> OutboundMessage:
    return OutboundMessage(tuple(Paragraph((Span(t, "bold"), Span(" & <x> " + t))) for t in texts))


def test_short_message_is_one_part() -> None:
    message = _message(["a", "b"])
    assert split_message(message, TELEGRAM.text_budget) == [message]


def test_split_on_paragraph_boundaries_keeps_every_character() -> None:
    paragraphs = [f"paragraphe {i} " + "é" * 900 for i in range(12)]
    message = _message(paragraphs)
    parts = split_message(message, TELEGRAM.text_budget)
    assert len(parts) > 1
    assert all(utf16_length(p.plain) <= 4096 for p in parts)
    # paragraphs are never cut when each fits: the parts hold them whole, in order
    assert [par for part in parts for par in part.paragraphs] == list(message.paragraphs)


@given(
    st.lists(st.text(min_size=0, max_size=300), min_size=1, max_size=8),
    st.integers(min_value=20, max_value=400),
)
def test_split_never_loses_text_and_respects_the_limit(texts: list[str], limit: int) -> None:
    message = OutboundMessage(tuple(Paragraph((Span(t, "italic"),)) for t in texts))
    budget = TextBudget(limit, utf16_length, reserve=0)
    parts = split_message(message, budget)
    assert all(utf16_length(p.plain) <= limit for p in parts)
    joined = "".join(span.text for part in parts for par in part.paragraphs for span in par.spans)
    original = "".join(texts)
    # Cuts at a newline or space drop that one separator character only.
    assert len(original) - len(joined) <= sum(1 for _ in parts) * len(texts)
    assert set(joined) <= set(original)


def test_a_10000_character_alert_splits_without_cutting_markup() -> None:
    text = ("<b>pas une balise</b> & " * 500)[:10_000]
    message = OutboundMessage(
        (Paragraph((Span("Alerte", "bold"),)), Paragraph((Span(text, "bold"),)))
    )
    parts = split_message(message, TELEGRAM.text_budget)
    assert len(parts) == 3
    for part in parts:
        html = to_html(part)
        assert html.count("<b>") == html.count("</b>")
        assert "<b>pas" not in html  # user text escaped
    assert "".join(s.text for p in parts for par in p.paragraphs for s in par.spans).replace(
        " ", ""
    ) == ("Alerte" + text).replace(" ", "")

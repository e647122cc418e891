"""The one-line alert syntax: `/alert 12 personnes refoulées à Menton dont 3 mineurs !urgent`.

Border from a place name or a `#hashtag`, themes from hashtags and keywords, urgency from
a `!marker` (default `normal`). When no border can be found, the draft says so and the
bot asks instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alerts.text import clean_text, fold
from alerts.types import Kind, Urgency
from alerts.vocabulary import Vocabulary

_URGENCY_MARK = re.compile(
    r"(?<!\S)!(info|normal|urgent|urgente|urgence|vital|vitale)\b", re.IGNORECASE
)
_URGENCY_WORDS = {
    "info": Urgency.INFO,
    "normal": Urgency.NORMAL,
    "urgent": Urgency.URGENT,
    "urgente": Urgency.URGENT,
    "urgence": Urgency.URGENT,
    "vital": Urgency.VITAL,
    "vitale": Urgency.VITAL,
}
_HASHTAG = re.compile(r"(?<![\w#])#([\w'-]+)")
_PEOPLE = re.compile(
    r"\b(\d{1,4})\s+(?:personnes?|pers\.?|exil[ée]e?s?|migrant(?:e|s|es)?|"
    r"hommes?|femmes?|adultes?|people|persons?)\b",
    re.IGNORECASE,
)
_MINORS = re.compile(
    r"\b(\d{1,4})\s+(?:mineur(?:e|s|es)?|enfants?|MNA|minors?|children)\b", re.IGNORECASE
)


class AlertInputError(ValueError):
    """Bad alert text; `code` selects the user-facing message, `params` fill it."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class AlertDraft:
    text: str
    urgency: Urgency = Urgency.NORMAL
    border: str | None = None
    place: str | None = None
    themes: tuple[str, ...] = ()
    people: int | None = None
    minors: int | None = None
    kind: Kind = Kind.ALERT
    border_choices: tuple[str, ...] = ()  # when several borders were named

    @property
    def needs_border(self) -> bool:
        return self.border is None


def check_length(text: str, max_length: int) -> str:
    cleaned = clean_text(text)
    if not cleaned:
        raise AlertInputError("empty")
    if len(cleaned) > max_length:
        raise AlertInputError("too_long", length=len(cleaned), maximum=max_length)
    return cleaned


def parse_alert_line(
    text: str,
    vocabulary: Vocabulary,
    *,
    max_length: int,
    urgency: Urgency | None = None,
    kind: Kind = Kind.ALERT,
) -> AlertDraft:
    """Read a one-line alert. Raises `AlertInputError` for empty or over-long text."""
    found_urgency, body = _urgency_and_body(check_length(text, max_length), urgency)
    borders, themes, place = _tagged(body, vocabulary)
    for found in vocabulary.places_in(
        _HASHTAG.sub(" ", body)
        + " "
        + " ".join(tag.replace("-", " ") for tag in _HASHTAG.findall(body))
    ):
        place = place or found.name
        _add(borders, found.border_id)
    for theme_id in vocabulary.themes_in(body):
        _add(themes, theme_id)

    people = _first_number(_PEOPLE, body)
    minors = _first_number(_MINORS, body)
    if minors and "mineurs" in vocabulary.theme_ids:
        _add(themes, "mineurs")
    border = borders[0] if len(borders) == 1 else None
    if border is None:
        place = None if len(borders) > 1 else place
    return AlertDraft(
        text=body,
        urgency=found_urgency or Urgency.NORMAL,
        border=border,
        place=place,
        themes=tuple(themes),
        people=people,
        minors=minors,
        kind=kind,
        border_choices=tuple(borders) if len(borders) > 1 else (),
    )


def _urgency_and_body(cleaned: str, urgency: Urgency | None) -> tuple[Urgency | None, str]:
    """The highest urgency marked (or given), and the text without its marks."""
    found = urgency
    for match in _URGENCY_MARK.finditer(cleaned):
        word = _URGENCY_WORDS[match.group(1).lower()]
        if found is None or word.rank > found.rank:
            found = word
    body = _URGENCY_MARK.sub("", cleaned)
    body = re.sub(r"[ \t]{2,}", " ", body).strip()
    if not body:
        raise AlertInputError("empty")
    return found, body


def _tagged(body: str, vocabulary: Vocabulary) -> tuple[list[str], list[str], str | None]:
    """Borders, themes and the first place named by the hashtags, in order."""
    borders: list[str] = []
    themes: list[str] = []
    place: str | None = None
    for tag in _HASHTAG.findall(body):
        tagged_border = vocabulary.border_by_label(tag)
        theme = vocabulary.theme_by_label(tag)
        tagged_place = vocabulary.place_by_name(tag.replace("-", " ")) or vocabulary.place_by_name(
            tag
        )
        if tagged_border:
            _add(borders, tagged_border.id)
        if theme:
            _add(themes, theme.id)
        if tagged_place:
            place = place or tagged_place.name
            _add(borders, tagged_place.border_id)
    return borders, themes, place


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _first_number(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    return int(match.group(1)) if match else None


def place_key(place: str | None, border: str | None) -> str | None:
    """The grouping key of a place: same place, same key, whatever the accents."""
    if place:
        return fold(place)
    return f"#{border}" if border else None

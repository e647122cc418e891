"""Which borders and themes a feed item concerns, and whether the feed keeps it at all.

Matching reuses the vocabulary's whole-word, accent- and case-insensitive patterns: a
border is found from its places' names (and its own name, e.g. "frontière
franco-italienne"), a theme from its keywords. The labels fixed on the feed in the
configuration are added to whatever the text says. A feed's ``keywords`` (for broad
sources such as all the Senate's press releases) keep only the items that mention one of
them. Keywords are plain words matched like the vocabulary, never regular expressions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from alerts.text import fold, word_pattern
from alerts.vocabulary import Vocabulary


@dataclass(frozen=True)
class FeedLabels:
    """What the configuration (or the chat command) fixed on a feed."""

    borders: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Classification:
    borders: tuple[str, ...]
    themes: tuple[str, ...]
    # False when the feed has keywords and the item mentions none of them: it is recorded
    # (so it is not looked at again) but never announced.
    kept: bool
    matched_keywords: tuple[str, ...] = ()


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


@dataclass(frozen=True)
class ItemClassifier:
    vocabulary: Vocabulary
    labels: FeedLabels = FeedLabels()
    _keyword_patterns: tuple[tuple[re.Pattern[str], str], ...] = field(
        init=False, repr=False, compare=False
    )
    _border_name_patterns: tuple[tuple[re.Pattern[str], str], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        keywords = tuple(
            (word_pattern(keyword), keyword) for keyword in self.labels.keywords if keyword.strip()
        )
        border_names = tuple(
            (word_pattern(border.name), border.id)
            for border in self.vocabulary.borders
            if border.name.strip()
        )
        object.__setattr__(self, "_keyword_patterns", keywords)
        object.__setattr__(self, "_border_name_patterns", border_names)

    def classify(self, title: str, summary: str) -> Classification:
        text = f"{title}\n{summary}"
        folded = fold(text)
        matched = tuple(
            keyword for pattern, keyword in self._keyword_patterns if pattern.search(folded)
        )
        kept = not self._keyword_patterns or bool(matched)
        found_borders = [place.border_id for place in self.vocabulary.places_in(text)]
        found_borders += [
            border_id for pattern, border_id in self._border_name_patterns if pattern.search(folded)
        ]
        return Classification(
            borders=_unique([*self.labels.borders, *found_borders]),
            themes=_unique([*self.labels.themes, *self.vocabulary.themes_in(text)]),
            kept=kept,
            matched_keywords=matched,
        )

"""Root stage: the domain's vocabulary (borders, places, themes) from the validated settings."""

from __future__ import annotations

from alerts.vocabulary import Border, Place, Theme, Vocabulary
from config.schema import Settings


def vocabulary_from(settings: Settings) -> Vocabulary:
    return Vocabulary(
        borders=tuple(
            Border(
                id=border.id,
                name=border.name,
                places=tuple(
                    Place(place.name, border.id, place.lat, place.lon, place.aliases)
                    for place in border.places
                ),
            )
            for border in settings.borders
        ),
        themes=tuple(Theme(theme.id, theme.name, theme.keywords) for theme in settings.themes),
    )

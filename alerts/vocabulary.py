"""Borders with their places and themes with their keywords, as the domain sees them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from alerts.text import fold, word_pattern

_WORD = re.compile(r"\w+")


def _leading_word(phrase: str) -> str | None:
    """The first word of a phrase as folded text splits it: a text can only match the
    phrase if it holds that word, so most patterns are skipped without a regex search."""
    match = _WORD.match(fold(phrase).strip())
    return match.group(0) if match else None


@dataclass(frozen=True)
class Place:
    name: str
    border_id: str
    lat: float | None = None
    lon: float | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Border:
    id: str
    name: str
    places: tuple[Place, ...] = ()


@dataclass(frozen=True)
class Theme:
    id: str
    name: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlaceMatch:
    place: Place
    distance_km: float


@dataclass(frozen=True)
class Vocabulary:
    borders: tuple[Border, ...]
    themes: tuple[Theme, ...]
    _place_patterns: tuple[tuple[re.Pattern[str], str | None, Place], ...] = field(
        init=False, repr=False, compare=False
    )
    _theme_patterns: tuple[tuple[re.Pattern[str], str | None, str], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        places = [
            (word_pattern(name), _leading_word(name), place)
            for border in self.borders
            for place in border.places
            for name in (place.name, *place.aliases)
        ]
        # Longest names first, so "Lyon Saint-Exupéry" wins over a shorter overlapping one.
        places.sort(key=lambda entry: -len(entry[0].pattern))
        themes = [
            (word_pattern(keyword), _leading_word(keyword), theme.id)
            for theme in self.themes
            for keyword in (theme.id, *theme.keywords)
        ]
        object.__setattr__(self, "_place_patterns", tuple(places))
        object.__setattr__(self, "_theme_patterns", tuple(themes))

    @property
    def border_ids(self) -> frozenset[str]:
        return frozenset(border.id for border in self.borders)

    @property
    def theme_ids(self) -> frozenset[str]:
        return frozenset(theme.id for theme in self.themes)

    def border(self, border_id: str) -> Border | None:
        return next((b for b in self.borders if b.id == border_id), None)

    def theme(self, theme_id: str) -> Theme | None:
        return next((t for t in self.themes if t.id == theme_id), None)

    def border_by_label(self, label: str) -> Border | None:
        """A border from its id or name, accent- and case-insensitive (`#franco-italienne`)."""
        wanted = fold(label.lstrip("#"))
        for border in self.borders:
            if wanted in (fold(border.id), fold(border.name)):
                return border
        return None

    def theme_by_label(self, label: str) -> Theme | None:
        wanted = fold(label.lstrip("#"))
        for theme in self.themes:
            if wanted in (fold(theme.id), fold(theme.name)):
                return theme
        return None

    def places_in(self, text: str) -> list[Place]:
        folded = fold(text)
        words = set(_WORD.findall(folded))
        found: list[Place] = []
        for pattern, lead, place in self._place_patterns:
            if (lead is None or lead in words) and place not in found and pattern.search(folded):
                found.append(place)
        return found

    def themes_in(self, text: str) -> list[str]:
        folded = fold(text)
        words = set(_WORD.findall(folded))
        found: list[str] = []
        for pattern, lead, theme_id in self._theme_patterns:
            if (lead is None or lead in words) and theme_id not in found and pattern.search(folded):
                found.append(theme_id)
        return found

    def place_by_name(self, name: str) -> Place | None:
        wanted = fold(name.strip())
        for border in self.borders:
            for place in border.places:
                if wanted in {fold(n) for n in (place.name, *place.aliases)}:
                    return place
        return None

    def nearest_place(self, lat: float, lon: float, radius_km: float = 30.0) -> PlaceMatch | None:
        """The closest named place within `radius_km`, so exact coordinates need not travel."""
        best: PlaceMatch | None = None
        for border in self.borders:
            for place in border.places:
                if place.lat is None or place.lon is None:
                    continue
                distance = haversine_km(lat, lon, place.lat, place.lon)
                if distance <= radius_km and (best is None or distance < best.distance_km):
                    best = PlaceMatch(place, distance)
        return best


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))

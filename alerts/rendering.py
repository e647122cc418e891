"""Facts rendered as neutral rich messages, in the receiving channel's language."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.i18n import Translator
from alerts.messages import Location, OutboundMessage, Paragraph, PhotoRef, Span
from alerts.types import Kind, Urgency
from alerts.vocabulary import Vocabulary

_ICONS = {Urgency.INFO: "ℹ️", Urgency.NORMAL: "📣", Urgency.URGENT: "🚨", Urgency.VITAL: "🆘"}


@dataclass(frozen=True)
class AlertView:
    """What a rendered alert shows; built from the stored row."""

    id: int
    kind: Kind
    text: str
    urgency: Urgency
    border: str | None
    place: str | None
    themes: tuple[str, ...]
    people: int | None
    minors: int | None
    organisation_name: str | None
    parent_id: int | None = None
    location: Location | None = None
    photo: PhotoRef | None = None


class AlertRenderer:
    def __init__(self, vocabulary: Vocabulary, translate: Translator) -> None:
        self._vocabulary = vocabulary
        self._t = translate

    def render(self, alert: AlertView, language: str, share_location: bool) -> OutboundMessage:
        t, lang = self._t, language
        kind = t(lang, f"kind.{alert.kind.value}")
        header = t(
            lang,
            "alert.header",
            icon=_ICONS[alert.urgency],
            kind=kind,
            id=alert.id,
            urgency=t(lang, f"urgency.{alert.urgency.value}"),
        )
        paragraphs = [Paragraph((Span(header, "bold"),))]
        if alert.parent_id is not None:
            paragraphs.append(
                Paragraph((Span(t(lang, "alert.followup", parent=alert.parent_id), "italic"),))
            )
        details = self._where(alert, lang)
        people = _people_line(alert, t, lang)
        if people:
            details.append(people)
        if details:
            paragraphs.append(Paragraph((Span("\n".join(details)),)))
        paragraphs.append(Paragraph((Span(alert.text),)))
        if alert.themes:
            names = ", ".join(self._theme_name(theme) for theme in alert.themes)
            paragraphs.append(Paragraph((Span(t(lang, "alert.themes", themes=names), "italic"),)))
        location = alert.location if share_location else None
        if location is not None:
            paragraphs.append(
                Paragraph(
                    (
                        Span(
                            t(
                                lang,
                                "alert.coordinates",
                                lat=location.latitude,
                                lon=location.longitude,
                            )
                        ),
                    )
                )
            )
        if alert.organisation_name:
            paragraphs.append(
                Paragraph(
                    (Span(t(lang, "alert.footer", organisation=alert.organisation_name), "italic"),)
                )
            )
        return OutboundMessage(tuple(paragraphs), photo=alert.photo, location=location)

    def _where(self, alert: AlertView, lang: str) -> list[str]:
        border = self._vocabulary.border(alert.border) if alert.border else None
        if alert.place:
            suffix = f" ({border.name})" if border else ""
            return [self._t(lang, "alert.where", place=alert.place, border=suffix)]
        if border:
            return [self._t(lang, "alert.where_border", border=border.name)]
        return []

    def _theme_name(self, theme_id: str) -> str:
        theme = self._vocabulary.theme(theme_id)
        return theme.name if theme else theme_id


def _people_line(alert: AlertView, t: Translator, lang: str) -> str | None:
    if alert.people and alert.minors:
        return t(lang, "alert.people_minors", people=alert.people, minors=alert.minors)
    if alert.people:
        return t(lang, "alert.people", people=alert.people)
    if alert.minors:
        return t(lang, "alert.minors", minors=alert.minors)
    return None

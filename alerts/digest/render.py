"""Digests rendered from Jinja2 templates (autoescape on): the chat digest as a neutral
message, in the channel's language."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from alerts.digest.model import DigestView, Period
from alerts.digest.neutral import read_message
from alerts.i18n import DEFAULT_LANGUAGE, Translator
from alerts.messages import OutboundMessage
from alerts.text import clean_user_text
from alerts.vocabulary import Vocabulary

_SPACES = re.compile(r"\s+")
ELLIPSIS = "…"


def shorten(text: str | None, limit: int = 200) -> str:
    """A user's text as a digest shows it: cleaned (no controls, no bidi overrides), on
    one line, at most `limit` characters, cut with '…'."""
    flat = _SPACES.sub(" ", clean_user_text(text or "")).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + ELLIPSIS


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("alerts.digest", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["shorten"] = shorten
    return env


class Words:
    """The names and dates a template shows, in one language."""

    def __init__(self, vocabulary: Vocabulary, translate: Translator, language: str) -> None:
        self._vocabulary = vocabulary
        self._translate = translate
        # A language with no catalogue reads French, the digest's texts included.
        self.language = language if language in translate.languages else DEFAULT_LANGUAGE

    def t(self, key: str, /, **params: object) -> str:
        return self._translate(self.language, key, **params)

    def border(self, border_id: str | None) -> str:
        if border_id is None:
            return self.t("digest.no_border")
        border = self._vocabulary.border(border_id)
        return border.name if border else shorten(border_id, 64)

    def theme(self, theme_id: str | None) -> str:
        if theme_id is None:
            return self.t("digest.no_theme")
        theme = self._vocabulary.theme(theme_id)
        return theme.name if theme else shorten(theme_id, 64)

    def need(self, need: str) -> str:
        text = self.t(f"digest.need.{need}")
        return text if text != f"digest.need.{need}" else shorten(need, 32)

    def date(self, moment: datetime, period: Period, key: str = "digest.date") -> str:
        return moment.astimezone(ZoneInfo(period.timezone)).strftime(self.t(key))

    def period(self, period: Period) -> str:
        return self.t(
            "digest.period",
            start=self.date(period.start, period),
            end=self.date(period.end, period),
        )

    def status(self, status: str, outcome: str | None, limit: int = 200) -> str:
        closed = status == "closed"
        text = self.t("digest.status.closed" if closed else "digest.status.open")
        if closed and outcome:
            text += " — " + self.t("digest.outcome", outcome=shorten(outcome, limit))
        return text


class ChatRenderer:
    """The digest a channel receives (and `/digest` previews)."""

    def __init__(self, vocabulary: Vocabulary, translate: Translator) -> None:
        self._vocabulary = vocabulary
        self._translate = translate
        self._template = environment().get_template("chat.html.j2")

    def html(self, view: DigestView, language: str) -> str:
        words = Words(self._vocabulary, self._translate, language)
        return self._template.render(view=view, w=words, t=words.t)

    def render(self, view: DigestView, language: str) -> OutboundMessage:
        return read_message(self.html(view, language))


Render = Callable[[DigestView, str], OutboundMessage]

"""Root stage: the one Translator, holding the base texts and every module's `TEXTS`.

A module that speaks to people declares `TEXTS = {"fr": {...}, "en": {...}}`; add it
to `MODULE_TEXTS` and it is merged here, once. A key two modules define differently
stops the start (see `Translator`)."""

from __future__ import annotations

from alerts import feed_announcements
from alerts.digest import texts as digest_texts
from alerts.i18n import TextTable, Translator
from alerts.mobilisations import texts as mobilisation_texts
from bot import channel_commands, event_notices, feed_commands
from bot.intake import texts as intake_texts
from bot.people import texts as people_texts
from feeds import watcher

MODULE_TEXTS: tuple[TextTable, ...] = (
    feed_announcements.TEXTS,
    channel_commands.TEXTS,
    digest_texts.TEXTS,
    event_notices.TEXTS,
    feed_commands.TEXTS,
    intake_texts.TEXTS,
    people_texts.TEXTS,
    mobilisation_texts.TEXTS,
    watcher.TEXTS,
)


def translator() -> Translator:
    return Translator(*MODULE_TEXTS)

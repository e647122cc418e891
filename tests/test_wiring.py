"""The composition root's shared pieces: one Translator from every module's texts, one
platform catalogue from the relays' declared traits, relays built together."""

from __future__ import annotations

import pytest

from alerts.i18n import TextDefinedTwice, Translator
from alerts.messages import OutboundMessage, Paragraph, Span
from alerts.outbox import Outbox
from bot.wiring.platforms import platform_catalogue
from bot.wiring.texts import MODULE_TEXTS, translator
from relays.base import PhotoSources, build_relays
from relays.console import ConsoleRelay
from relays.telegram.relay import TelegramRelay


def test_a_key_two_modules_define_differently_stops_the_start() -> None:
    first = {"fr": {"demo.hello": "Bonjour"}}
    same = {"fr": {"demo.hello": "Bonjour"}}
    other = {"fr": {"demo.hello": "Salut"}}

    assert Translator(first, same)("fr", "demo.hello") == "Bonjour"
    with pytest.raises(TextDefinedTwice, match=r"fr:demo\.hello"):
        Translator(first, other)


def test_the_root_translator_holds_every_module_text_in_both_languages() -> None:
    translate = translator()
    for table in MODULE_TEXTS:
        for language, texts in table.items():
            for key in texts:
                assert translate(language, key) == texts[key]  # the template, unformatted
    assert translate("en", "help.cancel", prefix="/") == "/cancel — give up the alert in progress"
    assert translate.languages == ("fr", "en")


def test_a_language_without_a_catalogue_reads_every_module_text_in_french() -> None:
    translate = Translator({"fr": {"module.hello": "Bonjour {name}"}, "en": {}})

    assert translate("de", "module.hello", name="Ana") == "Bonjour Ana"
    assert translate("en", "module.hello", name="Ana") == "Bonjour Ana"


def test_every_platform_is_split_even_without_its_relay_in_the_process() -> None:
    """A worker runs no Telegram relay but writes Telegram rows: they still fit Telegram."""
    platforms = platform_catalogue()
    long = OutboundMessage(tuple(Paragraph((Span("mot " * 400),)) for _ in range(10)))
    outbox = Outbox(platforms)

    telegram = outbox.split(long, "telegram")
    matrix = outbox.split(long, "matrix")

    assert set(platforms) == {"telegram", "matrix", "console"}
    assert len(telegram) > 1
    assert len(matrix) == 1
    assert all(platforms["telegram"].text_budget.limit >= len(p.plain) for p in telegram)
    assert outbox.split(long, "unknown-platform") == [long]


def test_relays_built_together_see_each_others_photo_downloads() -> None:
    seen: list[PhotoSources] = []
    console = ConsoleRelay(interactive=False)

    def telegram(photos: PhotoSources) -> TelegramRelay:
        seen.append(photos)
        return TelegramRelay("123:fake-token-for-a-relay-never-started", photo_sources=photos)

    relays = build_relays([lambda _photos: console, telegram])

    assert list(relays) == ["console", "telegram"]
    [photos] = seen
    assert list(photos) == ["telegram"]  # the console has no photos to fetch
    assert photos["telegram"] == relays["telegram"].fetch_photo  # type: ignore[attr-defined]
    with pytest.raises(KeyError):
        photos["console"]

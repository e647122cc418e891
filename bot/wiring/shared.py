"""Root stage: what every other part uses, built first and once. The feed benchmark and
the feed tests build it here too, so they measure and test what `tocsin run` runs."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.channel_cache import ChannelCache
from alerts.i18n import Translator
from alerts.outbox import Outbox
from alerts.platforms import PlatformCatalogue
from alerts.vocabulary import Vocabulary
from bot.wiring.platforms import platform_catalogue
from bot.wiring.texts import translator
from bot.wiring.vocabulary import vocabulary_from
from config.schema import Settings
from storage.database import Database


@dataclass(frozen=True)
class SharedParts:
    platforms: PlatformCatalogue  # what each platform is like, as its relay declares it
    vocabulary: Vocabulary
    translate: Translator
    outbox: Outbox  # its signal wakes this process's dispatcher when rows are committed
    directory: ChannelCache  # the routing cache of channels and subscriptions


def shared_parts(settings: Settings, database: Database) -> SharedParts:
    platforms = platform_catalogue()
    return SharedParts(
        platforms=platforms,
        vocabulary=vocabulary_from(settings),
        translate=translator(),
        outbox=Outbox(platforms),
        directory=ChannelCache(database.sessions),
    )

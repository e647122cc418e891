"""Root stage: the relays this process runs, built together (`relays.base.build_relays`)
so each can forward the others' photos, and why the others are not running here."""

from __future__ import annotations

from collections.abc import Sequence

from alerts.clock import Clock
from alerts.i18n import Translator
from bot.context import Command
from bot.wiring.matrix import matrix_relay, matrix_skip_reason
from bot.wiring.telegram import telegram_relay, telegram_skip_reason
from config.loader import LoadedConfig
from relays.base import BotIdentity, Relay, RelayBuilder, build_relays
from relays.console import ConsoleRelay
from relays.matrix.traits import TRAITS as MATRIX
from relays.telegram.traits import TRAITS as TELEGRAM
from storage.database import Database


def process_relays(
    config: LoadedConfig,
    console: ConsoleRelay,
    *,
    database: Database,
    clock: Clock,
    worker: bool,
    telegram_identity: BotIdentity,
    commands: Sequence[Command],
    translate: Translator,
) -> dict[str, Relay]:
    """Platform → relay, started in this order: the console, Matrix, Telegram."""
    builders: list[RelayBuilder] = [
        lambda _photos: console,
        lambda photos: matrix_relay(
            config, database=database, clock=clock, worker=worker, photo_sources=photos
        ),
        lambda photos: telegram_relay(
            config,
            database=database,
            clock=clock,
            identity=telegram_identity,
            photo_sources=photos,
            commands=commands,
            translate=translate,
        ),
    ]
    return build_relays(builders)


def skipped_relays(config: LoadedConfig, *, worker: bool) -> dict[str, str]:
    """Platform → why its relay is not built in this process (logged at start)."""
    reasons = (
        (TELEGRAM.name, telegram_skip_reason(config)),
        (MATRIX.name, matrix_skip_reason(config, worker=worker)),
    )
    return {platform: reason for platform, reason in reasons if reason is not None}

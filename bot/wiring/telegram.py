"""Root stage: the Telegram relay from the settings, when the deployment has a token."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from alerts.clock import Clock
from alerts.i18n import LANGUAGES, Translator
from alerts.types import Role
from bot.context import Command
from config.loader import LoadedConfig
from relays.base import BotIdentity
from relays.images import PhotoSource
from relays.telegram.relay import TelegramOptions, TelegramRelay
from storage.database import Database


def telegram_skip_reason(config: LoadedConfig) -> str | None:
    """Why this deployment runs no Telegram relay, for the start-up log; None if it runs one."""
    return None if config.secrets.telegram_token else "TOCSIN_TELEGRAM_TOKEN not set"


def telegram_relay(
    config: LoadedConfig,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    identity: BotIdentity | None = None,
    photo_sources: Mapping[str, PhotoSource] | None = None,
    commands: Sequence[Command] = (),
    translate: Translator | None = None,
    concurrency: int = 64,
) -> TelegramRelay | None:
    """The relay when `TOCSIN_TELEGRAM_TOKEN` is set; `concurrency` sizes its HTTP pool;
    `identity` learns the bot's @username (the router reads it)."""
    token = config.secrets.telegram_token
    if not token:
        return None
    settings = config.settings.telegram
    options = TelegramOptions(
        base_url=settings.base_url,
        base_file_url=settings.base_file_url,
        poll_timeout=settings.poll_timeout,
        connection_pool_size=concurrency,
        mode=settings.mode,
        webhook_url=settings.webhook_url,
        listen=settings.listen,
    )
    menus: dict[str, list[tuple[str, str]]] = {}
    if translate is not None and commands:
        menus[""] = command_menu(commands, translate, config.settings.language)
        for language in LANGUAGES:
            menus[language] = command_menu(commands, translate, language)
    return TelegramRelay(
        token,
        options=options,
        database=database,
        clock=clock,
        identity=identity,
        photo_sources=photo_sources,
        menus=menus,
    )


_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


def command_menu(
    commands: Sequence[Command], translate: Translator, language: str
) -> list[tuple[str, str]]:
    """What every member may type, as (command, description) from the help texts."""
    menu: list[tuple[str, str]] = []
    for command in commands:
        if command.min_role is not Role.OBSERVER or not command.help_key:
            continue
        if not _NAME.match(command.name):
            continue
        text = translate(language, command.help_key, prefix="/")
        description = text.split(" — ", 1)[-1].strip()[:256]
        if description and (command.name, description) not in menu:
            menu.append((command.name, description))
    return menu

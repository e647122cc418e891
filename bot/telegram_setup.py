"""Building the Telegram relay from the settings, when the deployment has a token."""

from __future__ import annotations

from collections.abc import Callable

from alerts.clock import Clock
from config.loader import LoadedConfig
from relays.telegram import TelegramOptions, TelegramRelay
from storage.database import Database


def telegram_relay(
    config: LoadedConfig,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    on_username: Callable[[str], None] | None = None,
    concurrency: int = 64,
) -> TelegramRelay | None:
    """The relay when `TOCSIN_TELEGRAM_TOKEN` is set; `concurrency` sizes its HTTP pool."""
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
    return TelegramRelay(
        token, options=options, database=database, clock=clock, on_username=on_username
    )

"""The Telegram relay (python-telegram-bot), and what the composition root needs to build it."""

from relays.telegram.relay import TelegramOptions, TelegramRelay

__all__ = ["TelegramOptions", "TelegramRelay"]

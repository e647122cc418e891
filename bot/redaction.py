"""A logging filter that keeps secrets out of every log line.

The Telegram token sits in each Bot API URL (`/bot<token>/sendMessage`), and libraries log
URLs (httpx at INFO, PTB and httpcore at DEBUG) or put them in exception texts. The filter
rewrites a record's message and traceback before any handler formats it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# A bot token: the bot's numeric id, a colon, then 20+ URL-safe characters.
TELEGRAM_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
REDACTED = "<redacted>"


class SecretRedactor(logging.Filter):
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return TELEGRAM_TOKEN.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw template only
            message = str(record.msg)
        cleaned = self.redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


# Libraries that log request URLs: redacted at the source too, whatever handler is used.
URL_LOGGERS = ("httpx", "httpcore", "telegram", "telegram.ext", "tornado")


def install(redactor: SecretRedactor, *, root: logging.Logger | None = None) -> None:
    """Attach to the root logger's handlers and to the URL-logging libraries' loggers."""
    root = root or logging.getLogger()
    for handler in root.handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if redactor not in logger.filters:
            logger.addFilter(redactor)

"""Keep secrets out of every log line, whatever logger wrote it and however it is encoded.

The Telegram token sits in each Bot API URL (`/bot<token>/sendMessage`), and libraries log
URLs (httpx at INFO, PTB and httpcore at DEBUG) or put them in exception texts; a server
may echo the URL back percent-encoded (`…%3A…`) in an error body, which PTB then logs. So
each configured secret is redacted in every form it plausibly takes in a log: as is,
percent-encoded (once or twice, either hex case), form-encoded, JSON-escaped and base64
(at each of the three byte alignments it can have inside a longer encoded text), and
token-shaped strings are redacted even when nobody configured them. A URL's user name
and password (a feed's credentials) are removed too.

The redaction happens when a record is created (a log record factory), so every logger,
handler and formatter, including ones added later, sees only the clean message; the
traceback is rendered and cleaned at the same moment. The same filter is also attached
to the root handlers and the URL-logging libraries' loggers, as before.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from config.secrets import TOKEN_SHAPES
from feeds.addresses import hide_userinfo

REDACTED = "<redacted>"
# A base64 fragment shorter than this could match ordinary text by chance.
_MIN_BASE64_FRAGMENT = 16


def _base64_fragments(secret: bytes) -> set[str]:
    """The part of the base64 text that is the same wherever ``secret`` sits in the
    encoded data: for each alignment, only the 4-character groups made of secret bytes."""
    fragments = set()
    for skip in range(3):
        aligned = secret[skip:]
        aligned = aligned[: len(aligned) // 3 * 3]
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            fragment = encode(aligned).decode("ascii")
            if len(fragment) >= _MIN_BASE64_FRAGMENT:
                fragments.add(fragment)
    return fragments


def encodings(secret: str) -> set[str]:
    """The forms of ``secret`` worth looking for in a log line."""
    once = quote(secret, safe="")
    forms = {
        secret,
        once,
        quote(secret),  # "/" left as is, as in a URL path
        quote_plus(secret),
        quote(once, safe=""),  # encoded twice over
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    forms |= {form.lower() for form in forms if "%" in form}  # %3a as well as %3A
    forms |= _base64_fragments(secret.encode("utf-8"))
    return {form for form in forms if form}


class SecretRedactor(logging.Filter):
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= 8:
                forms |= encodings(secret)
        self._forms = sorted(forms, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        for shape in TOKEN_SHAPES:
            text = shape.sub(REDACTED, text)
        return hide_userinfo(text)

    def clean(self, record: logging.LogRecord) -> None:
        """Rewrite the record's message, traceback and stack in place."""
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

    def filter(self, record: logging.LogRecord) -> bool:
        self.clean(record)
        return True


RecordFactory = Callable[..., logging.LogRecord]


class RedactingRecordFactory:
    """Wraps the log record factory: every record is cleaned as it is made."""

    def __init__(self, inner: RecordFactory, redactor: SecretRedactor) -> None:
        self.inner = inner
        self.redactor = redactor

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        self.redactor.clean(record)
        return record


# Libraries that log request URLs: redacted at the source too, whatever handler is used.
URL_LOGGERS = ("httpx", "httpcore", "telegram", "telegram.ext", "tornado")


def install(redactor: SecretRedactor, *, root: logging.Logger | None = None) -> None:
    """Clean every record from now on (replacing a redactor installed earlier, e.g. one
    installed before the secrets were known); also attach to the root logger's handlers
    and the URL-logging libraries' loggers."""
    current = logging.getLogRecordFactory()
    inner = current.inner if isinstance(current, RedactingRecordFactory) else current
    logging.setLogRecordFactory(RedactingRecordFactory(inner, redactor))
    root = root or logging.getLogger()
    for handler in root.handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if redactor not in logger.filters:
            logger.addFilter(redactor)


def uninstall(redactor: SecretRedactor, *, root: logging.Logger | None = None) -> None:
    """Undo ``install`` (tests)."""
    current = logging.getLogRecordFactory()
    if isinstance(current, RedactingRecordFactory) and current.redactor is redactor:
        logging.setLogRecordFactory(current.inner)
    for handler in (root or logging.getLogger()).handlers:
        handler.removeFilter(redactor)
    for name in URL_LOGGERS:
        logging.getLogger(name).removeFilter(redactor)

"""What a secret looks like, for refusing one in the configuration file and for keeping
every form of one out of the logs (bot/redaction.py)."""

from __future__ import annotations

import re

# A Telegram bot token: the bot's numeric id, a colon, then 20+ URL-safe characters. The
# colon may come percent-encoded (%3A, or %253A twice over) or JSON/JS-escaped (\u003a).
TELEGRAM_TOKEN = re.compile(r"\d{5,}(?::|%3[Aa]|%253[Aa]|\\u003[Aa])[A-Za-z0-9_-]{20,}")
# Matrix access tokens as Synapse (syt_) and the Matrix Authentication Service (mat_)
# issue them.
MATRIX_TOKEN = re.compile(r"\b(?:syt|mat)_[A-Za-z0-9_]{20,}")
TOKEN_SHAPES = (TELEGRAM_TOKEN, MATRIX_TOKEN)


def token_shape(text: str) -> str | None:
    """What kind of token ``text`` holds, if it holds one."""
    if TELEGRAM_TOKEN.search(text):
        return "a Telegram bot token"
    if MATRIX_TOKEN.search(text):
        return "a Matrix access token"
    return None

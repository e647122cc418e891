"""The project's own Telegram Bot API server for tests and benchmarks.

    async with BotApiServer(token, rate_scale=10.0) as server:
        bot = Bot(token, base_url=server.api_url, base_file_url=server.file_url)
        server.inject_message(chat_id, "/alert Menton")   # a user speaks
        ...                                                # the code under test runs
        [reply] = await server.wait_for_sent(1, chat_id=chat_id)

server.py has the lifecycle and configuration, state.py the memory and readback
(records.py its records, injection.py what users do),
methods.py the Bot API methods (checks.py what they check, params.py how they read
parameters), limits.py the flood limits, markup.py Telegram's HTML,
control.py the same over HTTP under /_control for another process; ``python -m
tests.telegram_api`` runs it alone.
"""

from .errors import ApiError
from .limits import RateLimiter, RateLimits
from .markup import EntityParseError, ParsedText, parse_html, utf16_length
from .records import ChatRecord, Counters, StoredFile, StoredMessage, UserRecord
from .server import DEFAULT_TOKEN, TOKEN_PATTERN, BotApiServer, FaultConfig

__all__ = [
    "DEFAULT_TOKEN",
    "TOKEN_PATTERN",
    "ApiError",
    "BotApiServer",
    "ChatRecord",
    "Counters",
    "EntityParseError",
    "FaultConfig",
    "ParsedText",
    "RateLimiter",
    "RateLimits",
    "StoredFile",
    "StoredMessage",
    "UserRecord",
    "parse_html",
    "utf16_length",
]

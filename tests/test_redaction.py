"""Secrets never reach a log line, whatever logger writes it and however it is encoded."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from bot.redaction import REDACTED, SecretRedactor, install, uninstall
from tests.support.telegram_app import add_scene_chats, running_tocsin, scene_config
from tests.telegram_api import BotApiServer

TOKEN = "123456789:AAH-some_real_looking_token_value_xyz"
SECRET_PART = TOKEN.split(":")[1]


def base64_forms(secret: str) -> list[str]:
    """What base64 shows of ``secret`` inside a longer text, at each byte alignment."""
    return [
        base64.b64encode((prefix + secret).encode()).decode()[4:-4] for prefix in ("", "x", "xx")
    ]


def fail(message: str) -> None:
    """Raise, so that a logged traceback holds `message` and the raising frame."""
    raise RuntimeError(message)


def test_token_in_a_url_argument_and_a_traceback_is_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("tests.redaction")
    redactor = SecretRedactor(["s3cret-password"])
    caplog.handler.addFilter(redactor)
    with caplog.at_level(logging.DEBUG, logger="tests.redaction"):
        logger.info('HTTP Request: POST %s "HTTP/1.1 200 OK"', f"https://x/bot{TOKEN}/getMe")
        logger.debug("password is %s", "s3cret-password")
        try:
            fail(f"failed on /bot{TOKEN}/sendMessage")
        except RuntimeError:
            logger.exception("send failed")

    text = caplog.text
    assert TOKEN not in text
    assert "s3cret-password" not in text
    assert text.count(REDACTED) == 3
    assert "HTTP Request: POST https://x/bot<redacted>/getMe" in text


def test_install_is_idempotent() -> None:
    root = logging.getLogger("tests.redaction.root")
    handler = logging.NullHandler()
    root.addHandler(handler)
    redactor = SecretRedactor()
    install(redactor, root=root)
    install(redactor, root=root)
    try:
        assert handler.filters.count(redactor) == 1
        assert logging.getLogger("httpx").filters.count(redactor) == 1
    finally:
        uninstall(redactor, root=root)
    assert logging.getLogger("httpx").filters.count(redactor) == 0


@pytest.mark.parametrize(
    "form",
    [
        TOKEN,
        quote(TOKEN, safe=""),
        quote(TOKEN, safe="").lower(),
        quote_plus(TOKEN),
        quote(quote(TOKEN, safe=""), safe=""),
        json.dumps(TOKEN)[1:-1],
        TOKEN.replace(":", "\\u003a"),
    ],
)
def test_every_encoding_of_a_token_is_redacted_even_unconfigured(form: str) -> None:
    line = f"answer: Internal Server Error: upstream request https://api/bot{form}/x failed"
    for redactor in (SecretRedactor([TOKEN]), SecretRedactor()):
        cleaned = redactor.redact(line)
        assert SECRET_PART not in cleaned
        assert REDACTED in cleaned


@pytest.mark.parametrize("secret", ["p@ss/wörd with spaces & co", TOKEN])
def test_every_encoding_of_a_configured_secret_is_redacted(secret: str) -> None:
    redactor = SecretRedactor([secret])
    forms = [
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    ]
    for form in forms:
        cleaned = redactor.redact(f"before {form} after")
        assert cleaned == f"before {REDACTED} after", form
    for prefix in ("", "x", "xx", "bot:"):  # inside a longer base64 text, any alignment
        encoded = base64.b64encode(f"{prefix}{secret}!".encode()).decode()
        cleaned = redactor.redact(f"Authorization: Basic {encoded}")
        assert REDACTED in cleaned
        assert encoded[8:-8] not in cleaned


def test_a_url_password_is_removed_from_every_log_line() -> None:
    redactor = SecretRedactor()
    assert (
        redactor.redact("HTTP Request: GET https://veille:s3cret@example.org/feed 200")
        == "HTTP Request: GET https://example.org/feed 200"
    )


def test_every_logger_and_handler_gets_clean_records(caplog: pytest.LogCaptureFixture) -> None:
    # No filter on caplog's handler nor on this logger: the record is clean from birth.
    redactor = SecretRedactor([TOKEN])
    install(redactor, root=logging.getLogger("tests.redaction.elsewhere"))
    try:
        logger = logging.getLogger("some.library.deep.inside")
        with caplog.at_level(logging.DEBUG):
            error = RuntimeError(f"500: {quote(TOKEN, safe='')}")
            logger.warning("polling failed: %s", error)
            try:
                raise error
            except RuntimeError:
                logger.exception("again")
    finally:
        uninstall(redactor, root=logging.getLogger("tests.redaction.elsewhere"))
    assert SECRET_PART not in caplog.text
    assert caplog.text.count(REDACTED) == 2
    assert all(SECRET_PART not in str(record.msg) for record in caplog.records)


async def test_a_bot_api_error_quoting_the_url_leaves_no_form_of_the_token_in_the_logs(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    redactor = SecretRedactor([TOKEN])
    install(redactor)
    caplog.set_level(logging.DEBUG)
    try:
        async with BotApiServer(TOKEN, limits=False) as server:
            topic = add_scene_chats(server)
            async with running_tocsin(server, scene_config(server, database_url, topic)):
                # getUpdates now answers 500 with its own URL, percent-encoded, in the body.
                server.set_faults(error_ratio=1.0, methods=["getUpdates"], echo_url=True)
                async with asyncio.timeout(30):
                    while server.state.counters.errors[500] < 2:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                server.set_faults()
    finally:
        uninstall(redactor)

    text = caplog.text
    assert "Internal Server Error: upstream request" in text  # the answer was logged...
    assert f"bot{REDACTED}" in text  # ...with the token redacted
    for form in [SECRET_PART, quote(SECRET_PART), *base64_forms(TOKEN)]:
        assert form not in text
    for record in caplog.records:
        assert SECRET_PART not in record.getMessage()
        assert SECRET_PART not in (record.exc_text or "")

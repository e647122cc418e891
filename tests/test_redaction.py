"""The logging filter that keeps tokens out of every line, message and traceback alike."""

from __future__ import annotations

import logging

import pytest

from bot.redaction import REDACTED, SecretRedactor, install

TOKEN = "123456789:AAH-some_real_looking_token_value_xyz"


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
            raise RuntimeError(f"failed on /bot{TOKEN}/sendMessage")
        except RuntimeError:
            logger.exception("send failed")

    text = caplog.text
    assert TOKEN not in text and "s3cret-password" not in text
    assert text.count(REDACTED) == 3
    assert "HTTP Request: POST https://x/bot<redacted>/getMe" in text


def test_install_is_idempotent() -> None:
    root = logging.getLogger("tests.redaction.root")
    handler = logging.NullHandler()
    root.addHandler(handler)
    redactor = SecretRedactor()
    install(redactor, root=root)
    install(redactor, root=root)
    assert handler.filters.count(redactor) == 1
    assert logging.getLogger("httpx").filters.count(redactor) == 1
    logging.getLogger("httpx").removeFilter(redactor)
    for name in ("httpcore", "telegram", "telegram.ext", "tornado"):
        logging.getLogger(name).removeFilter(redactor)

"""The parsing process: same results as parsing in place, errors carried back, and a
process that dies or overruns is replaced without losing the next document."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator

import pytest

from feeds.parse import FeedParseError, parse_feed
from feeds.parse_worker import ParserStopped, ParseWorker
from tests.feed_server import billion_laughs, load_fixture, nested_tags

URL = "https://www.conseil-etat.test/rss"


@pytest.fixture
async def worker() -> AsyncIterator[ParseWorker]:
    parse_worker = ParseWorker(timeout=1.0)
    yield parse_worker
    await parse_worker.close()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("conseil_etat.rss", "application/rss+xml; charset=utf-8"),
        ("echr.atom", "application/atom+xml"),
        ("defenseur_latin1.rss", "text/xml"),
        ("malformed.rss", "application/rss+xml"),
    ],
)
async def test_results_are_those_of_parse_feed(
    worker: ParseWorker, name: str, content_type: str
) -> None:
    body = load_fixture(name)
    assert await worker.parse(body, content_type, URL) == parse_feed(body, content_type, URL)


async def test_a_refused_document_is_a_parse_error_and_the_process_stays(
    worker: ParseWorker,
) -> None:
    with pytest.raises(FeedParseError, match="declares XML entities"):
        await worker.parse(billion_laughs(), None, URL)
    pid = worker.pid
    await worker.parse(load_fixture("echr.atom"), None, URL)
    assert worker.pid == pid


async def test_a_dead_process_is_reported_then_replaced(worker: ParseWorker) -> None:
    await worker.parse(load_fixture("echr.atom"), None, URL)
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)

    with pytest.raises(ParserStopped, match="the parser stopped while reading the document"):
        await worker.parse(load_fixture("echr.atom"), None, URL)
    parsed = await worker.parse(load_fixture("echr.atom"), None, URL)
    assert len(parsed.items) > 0


async def test_an_overrun_kills_the_process_and_the_next_document_is_parsed(
    worker: ParseWorker,
) -> None:
    await worker.parse(load_fixture("echr.atom"), None, URL)
    first = worker.pid
    with pytest.raises(FeedParseError, match="took longer than 1 s to parse; refused") as caught:
        await worker.parse(nested_tags(), None, "https://veille:s3cret@feeds.test/rss")
    assert "from https://feeds.test/rss took" in str(caught.value)
    assert worker.pid is None
    assert first is not None
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)  # gone, not left running
    assert len((await worker.parse(load_fixture("echr.atom"), None, URL)).items) > 0

"""The digest archive served by the real web server on loopback, read by feedparser and by
headless Chromium (Debian's `chromium` + `chromium-driver`, driven by selenium), and the
scheduler present in `tocsin run` only."""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import feedparser
import pytest

from alerts.clock import ManualClock
from bot.app import Wiring, build
from bot.digest.scheduler import JOB_ID
from tests.support.console import config_from
from tests.support.running import RunningApp
from tests.test_digest import MONDAY, scene, week_of_facts

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
PAGE = "digest-2026-11-30-0800.html"


@asynccontextmanager
async def serving(database_url: str, archive: Path, *, receive: bool) -> AsyncIterator[Wiring]:
    raw = scene(database_url, archive)
    raw["web"] = {"listen": "127.0.0.1:0"}
    wiring = await build(
        config_from(raw, database_url), clock=ManualClock(MONDAY), console_output=io.StringIO()
    )
    async with RunningApp(wiring, receive=receive):
        assert wiring.web is not None
        for _ in range(1000):  # bound by the supervisor's tasks starting (10 s at most)
            if wiring.web.port and (not receive or _scheduled(wiring)):
                break
            await asyncio.sleep(0.01)
        yield wiring


def _scheduled(wiring: Wiring) -> bool:
    assert wiring.digest is not None
    return wiring.digest.scheduler.scheduler is not None


async def fetch(port: int, path: str) -> tuple[int, str, bytes]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}", allow_redirects=False) as response,
    ):
        return response.status, response.headers.get("Content-Type", ""), await response.read()


async def test_the_archive_is_served_at_digests_and_its_feed_parses(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(database_url, tmp_path / "archive", receive=False) as wiring:
        await week_of_facts(wiring)
        assert wiring.digest is not None
        assert wiring.web is not None
        assert wiring.web.port
        await wiring.digest.service.fire(MONDAY, MONDAY)
        port = wiring.web.port
        index = await fetch(port, "/digests/")
        page = await fetch(port, f"/digests/{PAGE}")
        feed = await fetch(port, "/digests/feed.atom")
        moved = await fetch(port, "/digests")
        refused = [
            (await fetch(port, path))[0]
            for path in ("/digests/..%2Ftocsin-test.db", "/digests/.hidden.html", "/digests/x.db")
        ]

    assert index[0] == 200
    assert index[1].startswith("text/html")
    assert f'href="{PAGE}"'.encode() in index[2]
    assert page[0] == 200
    assert b"<svg" in page[2]
    assert moved[0] == 301
    assert refused == [404, 404, 404]
    assert feed[0] == 200
    assert feed[1].startswith("application/atom+xml")
    parsed = feedparser.parse(feed[2])
    assert not parsed.bozo, parsed.get("bozo_exception")
    [entry] = parsed.entries
    assert entry.id == "tag:tocsin.invalid,2026-11-30:digest/2026-11-30T0800"
    assert entry.link == PAGE
    assert "3 alerte(s), 1 mobilisation(s), 2 annonce(s)." in entry.summary


async def test_tocsin_run_schedules_the_digest_and_a_worker_never_does(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(database_url, tmp_path / "a", receive=True) as wiring:
        assert wiring.digest is not None
        scheduler = wiring.digest.scheduler.scheduler
        assert scheduler is not None
        assert scheduler.running
        [job] = scheduler.get_jobs()
        assert job.id == JOB_ID
        assert str(job.trigger).startswith("cron[")
        assert job.next_run_time is not None
    async with serving(database_url, tmp_path / "b", receive=False) as worker:
        assert worker.digest is not None
        assert worker.digest.scheduler.scheduler is None


# -- a real browser ------------------------------------------------------------------------


def chromium_driver() -> object:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "headless Chromium is not installed (apt-get install chromium chromium-driver; "
            ".ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=420,900",  # a phone's width
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


async def test_a_reader_sees_the_sections_the_chart_and_the_links_in_chromium(
    database_url: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    driver = chromium_driver()
    assert isinstance(driver, WebDriver)
    try:
        async with serving(database_url, tmp_path / "archive", receive=False) as wiring:
            await week_of_facts(wiring)
            assert wiring.digest is not None
            assert wiring.web is not None
            await wiring.digest.service.fire(MONDAY, MONDAY)
            base = f"http://127.0.0.1:{wiring.web.port}/digests/"

            def read() -> dict[str, object]:
                driver.get(base)
                seen: dict[str, object] = {"title": driver.find_element(By.TAG_NAME, "h1").text}
                driver.find_element(By.CSS_SELECTOR, "#periods a").click()
                seen["url"] = driver.current_url
                seen["headings"] = [h.text for h in driver.find_elements(By.TAG_NAME, "h2")]
                seen["bars"] = [
                    (bar.get_attribute("data-count"), bar.size["width"] > 0)
                    for bar in driver.find_elements(By.CSS_SELECTOR, "svg rect.bar")
                ]
                seen["labels"] = [
                    t.text for t in driver.find_elements(By.CSS_SELECTOR, "svg text.theme-label")
                ]
                seen["borders"] = [
                    t.text for t in driver.find_elements(By.CSS_SELECTOR, "svg text.border-label")
                ]
                seen["links"] = {
                    a.text: a.get_attribute("href") for a in driver.find_elements(By.TAG_NAME, "a")
                }
                seen["scripts"] = len(driver.find_elements(By.TAG_NAME, "script"))
                seen["text"] = driver.find_element(By.TAG_NAME, "body").text
                return seen

            seen = await asyncio.to_thread(read)
    finally:
        await asyncio.to_thread(driver.quit)

    assert seen["title"] == "Archives des synthèses"
    assert seen["url"] == base + PAGE
    assert seen["headings"] == [
        "Alertes par frontière et thème",
        "Alertes les plus urgentes",
        "Mobilisations",
        "Annonces : Décisions de justice",
        "Annonces : Législation",
        "Flux en échec",
        "Canaux injoignables",
    ]
    # Franco-italienne: mineurs 1, refoulements 2; franco-espagnole: refoulements 1.
    assert seen["borders"] == ["Frontière franco-espagnole", "Frontière franco-italienne"]
    assert seen["labels"] == ["Refoulements", "Mineurs", "Refoulements"]
    assert seen["bars"] == [("1", True), ("1", True), ("2", True)]
    links = seen["links"]
    assert isinstance(links, dict)
    assert links["Nouveau décret"] == "https://example.org/decret"
    assert links["← Toutes les périodes"] == base + "index.html"
    assert "Décision <CE> n° 1" in str(seen["text"])  # shown as text, and not a link
    assert "Décision <CE> n° 1" not in links
    assert seen["scripts"] == 0
    for private in ("Menton", "43.77", "Longue alerte"):
        assert private not in str(seen["text"])

"""parse_feed on fixtures shaped like the real sources, and on hostile documents."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime

import pytest

from feeds.parse import (
    SUMMARY_MAX_CHARS,
    FeedParseError,
    ParsedFeed,
    html_to_text,
    parse_feed,
)
from tests.feed_server import billion_laughs, load_fixture, quadratic_blowup

BASE = "https://www.conseil-etat.test/rss/actualites-rss"


def parse_fixture(name: str, content_type: str | None = "application/rss+xml") -> ParsedFeed:
    return parse_feed(load_fixture(name), content_type, BASE)


def rss(items: str, *, head: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{head}<rss version="2.0"><channel>'
        f"<title>Flux de test</title>{items}</channel></rss>"
    ).encode()


# --- the shapes of the real sources ------------------------------------------------------


def test_rss2_items_are_plain_text_with_absolute_links_and_utc_dates() -> None:
    feed = parse_fixture("conseil_etat.rss")

    assert feed.title == "Conseil d'État - Actualités"
    assert feed.link == "https://www.conseil-etat.test/actualites"
    assert feed.warning is None
    first, second = feed.items
    assert first.key == first.guid == "ce-actu-2025-0113-za"
    assert first.title.startswith("Zones d'attente : le juge des référés")
    # A relative link is resolved against the feed's own URL.
    assert first.link == (
        "https://www.conseil-etat.test/fr/actualites/zones-d-attente-acces-des-associations"
    )
    assert first.summary.startswith("Par une ordonnance du 13 janvier 2025")
    assert "<" not in first.summary
    assert "zone d'attente de l'aéroport" in first.summary
    # Paragraphs do not run together once their tags are gone.
    assert "au droit d'asile." in first.summary
    assert "maintenus. Le juge" in first.summary
    assert first.published == datetime(2025, 1, 13, 16, 45, tzinfo=UTC)
    assert second.published == datetime(2025, 1, 8, 9, 0, tzinfo=UTC)
    assert second.key.endswith("/decision/2025-01-08/478123")


def test_atom_html_title_is_stripped_and_entities_decoded() -> None:
    feed = parse_fixture("echr.atom", "application/atom+xml")

    assert feed.title == "CEDH - Arrêts et décisions"
    first, second = feed.items
    assert first.title == "Affaire M.A. et autres c. France – refoulements à la frontière"
    assert first.summary.startswith("La Cour conclut à la violation de l'article 3 & de")
    assert first.key == "urn:echr:001-240001"
    # <published> wins over <updated>.
    assert first.published == datetime(2025, 2, 4, 8, 0, tzinfo=UTC)
    # No summary: the XHTML content stands in.
    assert second.summary == (
        "Requête déclarée irrecevable pour non-épuisement des voies de recours internes."
    )
    assert second.published == datetime(2025, 2, 3, 16, 20, tzinfo=UTC)


def test_rss1_and_netscape_rss091_with_doctype_are_read() -> None:
    senat = parse_fixture("senat_rss1.rdf", "application/rdf+xml")
    assert senat.items[0].title.startswith("Projet de loi immigration")
    assert senat.items[0].published == datetime(2025, 1, 22, 17, 0, tzinfo=UTC)

    # An external DOCTYPE without entity declarations is fine (and never fetched).
    assemblee = parse_fixture("netscape_rss091.xml", "text/xml")
    assert assemblee.title == "Assemblée nationale - documents"
    assert assemblee.items[0].title == "Rapport d'information sur les zones d'attente"
    assert assemblee.items[0].published is None


@pytest.mark.parametrize(
    "content_type", ["text/xml", None, "application/rss+xml", "text/xml; charset=utf-8"]
)
def test_iso_8859_1_feed_accents_are_decoded(content_type: str | None) -> None:
    # Even a header that wrongly claims UTF-8 must not turn "é" into mojibake.
    feed = parse_fixture("defenseur_latin1.rss", content_type)

    assert feed.title == "Défenseur des droits - communiqués"
    assert feed.items[0].title == (
        "Mineurs isolés étrangers à Menton : la Défenseure des droits demande la fin des "
        "privations de liberté"
    )
    assert "« préfabriqués » à la frontière" in feed.items[0].summary
    assert feed.items[1].title == "Hébergement d'urgence à Briançon : saisine d'office"


def test_items_without_guid_get_stable_keys() -> None:
    with_link, without_link = parse_fixture("defenseur_latin1.rss").items
    assert with_link.guid is None
    assert with_link.key == "https://www.defenseurdesdroits.test/communique/2025/01/mineurs-menton"
    assert without_link.guid is None
    assert without_link.link is None
    assert without_link.key.startswith("sha256:")
    assert len(without_link.key) == 7 + 64

    again = parse_fixture("defenseur_latin1.rss").items[1]
    assert again.key == without_link.key  # same item polled again: same key


def test_hash_key_depends_on_title_and_date() -> None:
    def key_of(title: str, date: str) -> str:
        body = rss(f"<item><title>{title}</title><pubDate>{date}</pubDate></item>")
        return parse_feed(body, None, BASE).items[0].key

    base = key_of("Expulsion à Calais", "Mon, 20 Jan 2025 07:00:00 +0000")
    assert base == key_of("Expulsion à Calais", "Mon, 20 Jan 2025 07:00:00 +0000")
    assert base != key_of("Expulsion à Grande-Synthe", "Mon, 20 Jan 2025 07:00:00 +0000")
    assert base != key_of("Expulsion à Calais", "Tue, 21 Jan 2025 07:00:00 +0000")


def test_duplicates_are_dropped_and_html_is_turned_into_text() -> None:
    feed = parse_fixture("duplicates_html.rss")

    assert feed.title == "La Cimade & partenaires"
    assert [item.key for item in feed.items] == ["https://www.lacimade.test/?p=1201", "cimade-1202"]
    calais = feed.items[0]
    assert calais.title == "Calais : expulsions de campements & violences policières"
    assert calais.summary == (
        "Les observateurs ont relevé 12 expulsions en une semaine à Calais et "
        "Grande-Synthe. Coquelles Marck"
    )
    assert "alert" not in calais.summary  # script content is not text


def test_non_web_links_are_never_kept() -> None:
    relaxe = parse_fixture("duplicates_html.rss").items[1]
    assert relaxe.title == "Délit de solidarité : relaxe à Nice"
    assert relaxe.link is None  # it was javascript:alert(1)
    assert relaxe.key == "cimade-1202"


def test_plain_text_title_keeps_a_literal_less_than_sign() -> None:
    feed = parse_feed(rss("<item><title>Mineurs &lt;16 ans à Menton</title></item>"), None, BASE)
    assert feed.items[0].title == "Mineurs <16 ans à Menton"


def test_long_summary_is_truncated_on_a_word() -> None:
    long_text = "Témoignage recueilli à la frontière franco-espagnole. " * 200
    feed = parse_feed(
        rss(f"<item><title>t</title><description>{long_text}</description></item>"), None, BASE
    )
    summary = feed.items[0].summary
    assert len(summary) <= SUMMARY_MAX_CHARS
    assert summary.endswith("…")
    assert not summary[:-1].endswith(" ")


def test_huge_html_field_is_cut_without_leaking_a_half_tag() -> None:
    markup = '<a href="https://www.gisti.test/spip.php?article7001">Menton</a> ' * 10_000
    body = rss(f"<item><title>t</title><description><![CDATA[{markup}]]></description></item>")

    summary = parse_feed(body, None, BASE).items[0].summary

    assert summary.startswith("Menton Menton")
    assert len(summary) <= SUMMARY_MAX_CHARS
    assert "<" not in summary
    assert "href" not in summary


def test_empty_feed_is_not_an_error() -> None:
    feed = parse_feed(rss(""), "application/rss+xml", BASE)
    assert feed.title == "Flux de test"
    assert feed.items == ()


def test_html_to_text() -> None:
    # Non-breaking spaces become plain spaces, so keyword matching sees ordinary text.
    assert html_to_text("<p>Un&nbsp;&amp;&#233;<br/>deux</p><style>p{}</style>trois") == (
        "Un &é deux trois"
    )


# --- broken documents --------------------------------------------------------------------


def test_malformed_feed_keeps_its_complete_items() -> None:
    feed = parse_fixture("malformed.rss")

    assert [item.key for item in feed.items] == [
        "https://www.gisti.test/spip.php?article7001",
        "https://www.gisti.test/spip.php?article7002",
    ]
    assert feed.items[1].title == "Communiqué : enfermement d'enfants en zone d'attente à Marseille"
    assert feed.warning is not None
    assert "not well-formed XML" in feed.warning
    assert "kept the 2 complete item(s)" in feed.warning


def test_item_cut_off_by_a_truncated_download_is_dropped() -> None:
    body = rss(
        "<item><title>Complet</title><guid>a</guid></item>"
        "<item><title>Coupé en plein</title><link>https://x.test/b</link><description>Le t"
    )[: -len("</channel></rss>")]

    feed = parse_feed(body, None, BASE)

    assert [item.title for item in feed.items] == ["Complet"]
    assert feed.warning is not None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (load_fixture("not_a_feed.html"), "text/html; charset=utf-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b'{"items": []}', "application/json"),
    ],
)
def test_documents_that_are_not_feeds_raise(body: bytes, content_type: str) -> None:
    with pytest.raises(FeedParseError, match="is not an RSS or Atom feed") as caught:
        parse_feed(body, content_type, BASE)
    assert BASE in str(caught.value)
    assert content_type in str(caught.value)


def test_empty_body_raises() -> None:
    with pytest.raises(FeedParseError, match="is empty"):
        parse_feed(b"  \n", "application/rss+xml", BASE)


# --- entity-expansion bombs --------------------------------------------------------------


BOMBS = {
    "billion laughs": billion_laughs(),
    "billion laughs on one line": billion_laughs().replace(b"\n", b""),
    "quadratic blowup": quadratic_blowup(),
    "quadratic blowup then garbage": quadratic_blowup() + b"<<<&&&",
    "billion laughs in UTF-16": billion_laughs()
    .decode()
    .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    .encode("utf-16"),
    "quadratic blowup in UTF-16": quadratic_blowup()
    .decode()
    .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    .encode("utf-16"),
    "lowercase declaration": billion_laughs().replace(b"<!ENTITY", b"<!entity"),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_entity_bombs_are_refused_in_bounded_memory_and_time(name: str) -> None:
    body = BOMBS[name]
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(FeedParseError, match="declares XML entities") as caught:
            parse_feed(body, "application/rss+xml", BASE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert "billion laughs" in str(caught.value)
    # Left alone, feedparser's fallback parser takes the quadratic blowup to a 6 GB peak.
    assert peak < 2 * len(body) + 1024 * 1024
    assert time.monotonic() - started < 1


def test_a_feed_mentioning_entities_escaped_in_text_is_still_read() -> None:
    feed = parse_feed(
        rss("<item><title>Le guide XML &lt;!ENTITY&gt; expliqué</title><guid>x</guid></item>"),
        None,
        BASE,
    )
    assert feed.items[0].title == "Le guide XML <!ENTITY> expliqué"

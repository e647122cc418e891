"""Classification of feed items: borders from place names, themes from keywords, the
feed's fixed labels, and its keyword filter — whole words, no regular expressions."""

from __future__ import annotations

from bot.wiring.vocabulary import vocabulary_from
from config.loader import build_settings
from feeds.classify import Classification, FeedLabels, ItemClassifier

VOCABULARY = vocabulary_from(build_settings({}, "test.toml"))


def classify(title: str, summary: str = "", **labels: tuple[str, ...]) -> Classification:
    return ItemClassifier(VOCABULARY, FeedLabels(**labels)).classify(title, summary)


def test_places_give_borders_and_keywords_give_themes_whatever_the_case_and_accents() -> None:
    found = classify("REFOULEMENT à MENTON", "Un enfant renvoyé vers Vintimille ; briancon aussi")
    assert found.borders == ("franco-italienne",)
    assert found.themes == ("refoulement", "mineurs")
    assert found.kept


def test_only_whole_words_match() -> None:
    found = classify("Les Mentonnais et l'Irunais", "mineurité, décrets")
    assert found.borders == ()
    assert found.themes == ()


def test_a_border_named_in_full_counts_like_its_places() -> None:
    found = classify("Contrôles à la frontière franco-espagnole")
    assert found.borders == ("franco-espagnole",)


def test_an_item_may_concern_several_borders() -> None:
    assert set(classify("De Calais à Hendaye").borders) == {"manche", "franco-espagnole"}


def test_fixed_labels_come_first_without_duplicates() -> None:
    found = classify("Décision du Conseil d'État", borders=("manche",), themes=("juridique",))
    assert found.borders == ("manche",)
    assert found.themes == ("juridique",)


def test_keywords_keep_only_the_items_that_mention_one() -> None:
    keywords = ("zone d'attente", "étranger")
    kept = classify("Projet de loi", "Maintien en ZONE D’ATTENTE des etrangers", keywords=keywords)
    dropped = classify("Projet de loi de finances", "Crédits de l'agriculture", keywords=keywords)
    assert kept.kept
    assert kept.matched_keywords == ("zone d'attente",)
    assert not dropped.kept
    assert dropped.matched_keywords == ()
    assert classify("Loi", keywords=()).kept  # no keywords: everything is kept


def test_keywords_are_plain_text_not_regular_expressions() -> None:
    found = classify("Article L.213-2 (CESEDA)", keywords=("L.213-2", ".*", "(", "a+"))
    assert found.matched_keywords == ("L.213-2",)
    assert not classify("Article L-213-2", keywords=(".*", "L.213")).kept

"""Text hygiene shared by every intake: cleaning user text and matching words in it."""

from __future__ import annotations

import re
import unicodedata

# Bidi overrides/isolates can disguise text ("Trojan source"); other C0/C1 controls can
# break terminals and logs. Newlines and tabs are kept. ZWJ stays for emoji sequences.
_BIDI = dict.fromkeys(
    map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# JSON may escape half of a UTF-16 pair alone ("\\ud800"): such a code point cannot be
# encoded, stored or sent. (A whole pair decodes to one character, so any left is lone.)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# ... and a NUL, which no PostgreSQL text value can hold: the query or write fails.
_UNSTORABLE = re.compile(r"[\ud800-\udfff\x00]")
_REPLACEMENT = "\ufffd"


def well_formed(text: str) -> str:
    """Lone surrogate halves (and NULs) replaced by U+FFFD, as a UTF-8 decoder does with
    bad bytes: what is left can be stored, queried and sent."""
    return _UNSTORABLE.sub(_REPLACEMENT, text) if _UNSTORABLE.search(text) else text


# Anything `clean_user_text` changes: most text has none, and is returned as it is.
_UNCLEAN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff" + "".join(map(chr, _BIDI)) + "]"
)


def clean_user_text(text: str) -> str:
    """A user's string as the bot may repeat it: no control characters (newlines and tabs
    kept), no bidi overrides, no lone surrogates. Nothing else changes: no trimming."""
    if not _UNCLEAN.search(text):
        return text
    return _CONTROL.sub("", _SURROGATE.sub(_REPLACEMENT, text).translate(_BIDI))


def clean_text(text: str) -> str:
    """`clean_user_text`, with newlines made uniform, normalised to NFC and trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", clean_user_text(text)).strip()


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for matching place names and keywords."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Apostrophes and dashes vary between keyboards; treat them as one.
    stripped = stripped.replace("\u2019", "'").replace("\u2018", "'").replace("\u2010", "-")
    return stripped


def word_pattern(phrase: str) -> re.Pattern[str]:
    """A whole-word, accent- and case-insensitive matcher for a folded phrase."""
    words = [re.escape(part) for part in re.split(r"[\s-]+", fold(phrase).strip()) if part]
    return re.compile(r"(?<![\w])" + r"[\s-]+".join(words) + r"(?![\w])")

"""The needs of a call — observers, interpreter, lawyer, medical, transport, shelter,
other — each with a count, read from a coordinator's words in French or English."""

from __future__ import annotations

import re
from enum import Enum

from alerts.text import fold


class Need(Enum):
    OBSERVERS = "observers"
    INTERPRETER = "interpreter"
    LAWYER = "lawyer"
    MEDICAL = "medical"
    TRANSPORT = "transport"
    SHELTER = "shelter"
    OTHER = "other"


# Word stems (accents folded, lower case) that name each need.
_WORDS: dict[Need, tuple[str, ...]] = {
    Need.OBSERVERS: (r"observat(?:eur|rice)s?", r"observers?"),
    Need.INTERPRETER: (
        r"interpretes?",
        r"interpreters?",
        r"tradu(?:cteur|ctrice)s?",
        r"translators?",
    ),
    Need.LAWYER: (r"avocat(?:e|s|es)?", r"juristes?", r"lawyers?", r"legal", r"attorneys?"),
    Need.MEDICAL: (
        r"medecins?",
        r"medical(?:e|es)?",
        r"infirmi(?:er|ere)s?",
        r"soignant(?:e|s|es)?",
        r"doctors?",
        r"nurses?",
        r"medics?",
    ),
    Need.TRANSPORT: (
        r"transports?",
        r"voitures?",
        r"vehicules?",
        r"chauffeur(?:e|s|es)?",
        r"drivers?",
        r"vehicles?",
    ),
    Need.SHELTER: (r"hebergements?", r"abris?", r"logements?", r"shelters?", r"housing"),
    Need.OTHER: (r"autres?\s+benevoles?", r"benevoles?", r"volunteers?"),
}
# Words that are needs only after a count or an article: French "car" is "because",
# English "other" is everywhere.
_COUNTED_WORDS: dict[Need, tuple[str, ...]] = {
    Need.TRANSPORT: (r"cars?",),
    Need.OTHER: (r"others?",),
}
_NUMBER_WORDS = {
    "un": 1,
    "une": 1,
    "a": 1,
    "an": 1,
    "one": 1,
    "deux": 2,
    "two": 2,
    "trois": 3,
    "three": 3,
    "quatre": 4,
    "four": 4,
    "cinq": 5,
    "five": 5,
}
_COUNT = r"(?:(\d{1,3})|(" + "|".join(_NUMBER_WORDS) + r"))\s+"
_PATTERNS = [
    (need, re.compile(rf"(?<![\w-])(?:{_COUNT})?(?:{'|'.join(words)})(?![\w-])"))
    for need, words in _WORDS.items()
] + [
    (need, re.compile(rf"(?<![\w-])(?:{_COUNT})(?:{'|'.join(words)})(?![\w-])"))
    for need, words in _COUNTED_WORDS.items()
]
MAX_WANTED = 500


def parse_needs(text: str) -> dict[Need, int]:
    """Every need the text names with its count (1 when no count is written); the same
    need named twice adds up. Empty when no need is recognisable: the caller asks."""
    folded = fold(text)
    found: dict[Need, int] = {}
    for need, pattern in _PATTERNS:
        for match in pattern.finditer(folded):
            digits, word = match.group(1), match.group(2)
            count = int(digits) if digits else _NUMBER_WORDS.get(word or "", 1)
            if count <= 0:
                continue
            found[need] = min(MAX_WANTED, found.get(need, 0) + count)
    return {need: found[need] for need in Need if need in found}


# One word per need that `parse_needs` reads back (the guided call writes its choices so).
CANONICAL_WORD = {
    Need.OBSERVERS: "observers",
    Need.INTERPRETER: "interpreters",
    Need.LAWYER: "lawyers",
    Need.MEDICAL: "medics",
    Need.TRANSPORT: "transports",
    Need.SHELTER: "shelters",
    Need.OTHER: "volunteers",
}

"""Invitation codes: random, readable on a phone, stored only as their SHA-256.

16 symbols from an alphabet without look-alikes (no I, L, O, U, 0, 1) carry about 78
bits: guessing one, online or from a copy of the database, is out of reach, so a fast
hash is enough (a salted slow hash would add nothing, and could not be looked up).
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
LENGTH = 16
GROUP = 4


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def normalise(code: str) -> str:
    """What the person typed (lowercase, spaces, dashes) as the canonical code."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode("ascii", "replace")).hexdigest()


def looks_like_code(text: str) -> bool:
    raw = normalise(text)
    return len(raw) == LENGTH and all(ch in ALPHABET for ch in raw)

"""The domain's small vocabulary types: urgency, kind, role."""

from __future__ import annotations

from enum import Enum


class Urgency(Enum):
    INFO = "info"
    NORMAL = "normal"
    URGENT = "urgent"
    VITAL = "vital"

    @property
    def rank(self) -> int:
        return _URGENCY_RANK[self]

    def at_least(self, other: Urgency) -> bool:
        return self.rank >= other.rank


_URGENCY_RANK = {Urgency.INFO: 0, Urgency.NORMAL: 1, Urgency.URGENT: 2, Urgency.VITAL: 3}


class Kind(Enum):
    ALERT = "alert"
    MOBILISATION = "mobilisation"
    ANNOUNCEMENT = "announcement"
    DIGEST = "digest"


class Role(Enum):
    OBSERVER = "observer"
    COORDINATOR = "coordinator"
    ORG_ADMIN = "org-admin"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_RANK = {Role.OBSERVER: 0, Role.COORDINATOR: 1, Role.ORG_ADMIN: 2, Role.ADMIN: 3}


def delivery_priority(kind: Kind, urgency: Urgency) -> int:
    """Higher goes first: a life at risk never waits behind a weekly digest.

    Replies to people (receipts, refusals) sit between urgent facts and routine ones.
    """
    if kind in (Kind.ANNOUNCEMENT, Kind.DIGEST):
        return 0
    return {Urgency.INFO: 10, Urgency.NORMAL: 20, Urgency.URGENT: 80, Urgency.VITAL: 90}[urgency]


NOTICE_PRIORITY = 50
# Below or level with announcements: what can wait for everything else (an answer to a
# stranger in a group).
LOWEST_PRIORITY = 0

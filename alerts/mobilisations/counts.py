"""The live count of a call: each need `covered/wanted`, what is still missing, `complet`
once every need is covered. Pure: the caller gives the current answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from alerts.mobilisations.needs import Need

Translate = Callable[..., str]  # (key, **params) → text in the reader's language


@dataclass(frozen=True)
class NeedCount:
    need: Need
    wanted: int
    covered: int

    @property
    def missing(self) -> int:
        return max(0, self.wanted - self.covered)


def count_needs(wanted: Mapping[Need, int], going: Iterable[Need | None]) -> list[NeedCount]:
    """`going`: the need each current "going" answer covers (None: the call's first
    need, for an answer given without choosing one)."""
    covered: dict[Need, int] = dict.fromkeys(wanted, 0)
    first = next(iter(wanted), None)
    for need in going:
        need = need if need in covered else first
        if need is not None:
            covered[need] += 1
    return [NeedCount(need, count, covered[need]) for need, count in wanted.items()]


def all_covered(counts: Iterable[NeedCount]) -> bool:
    return all(count.missing == 0 for count in counts)


def count_line(counts: list[NeedCount], t: Translate) -> str:
    """`Observateurs 1/2 · Interprète 0/1 — manque : 1 observateur, 1 interprète`."""
    shown = " · ".join(
        f"{need_label(c.need, c.wanted, t, title=True)} {c.covered}/{c.wanted}" for c in counts
    )
    missing = [c for c in counts if c.missing]
    if not missing:
        return f"{shown} — {t('mob.complete')}"
    names = ", ".join(f"{c.missing} {need_label(c.need, c.missing, t)}" for c in missing)
    return f"{shown} — {t('mob.missing', needs=names)}"


def need_label(need: Need, count: int, t: Translate, *, title: bool = False) -> str:
    label = t(f"mob.need.{need.value}.{'one' if count == 1 else 'many'}")
    return label[:1].upper() + label[1:] if title else label

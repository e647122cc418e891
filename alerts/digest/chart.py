"""The geometry of the archive's chart: alerts by border × theme as horizontal bars,
one group per border. Computed here (integers only, sorted input), drawn by
`chart.svg.j2`: the same counts always give the same bytes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alerts.digest.model import CountRow

# Units close to a phone's CSS pixels: the chart is drawn at about its own size there.
WIDTH = 400
LABEL = 160  # room for the theme names left of the bars
ROW = 26
GROUP_HEAD = 28
BAR_ROOM = WIDTH - LABEL - 40  # leaves room for the count right of the longest bar


@dataclass(frozen=True)
class Bar:
    theme: str
    count: int
    previous: int
    y: int
    width: int
    tone: int  # 0..5: the theme's colour, by its order in the vocabulary


@dataclass(frozen=True)
class Group:
    border: str
    y: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label: int
    groups: tuple[Group, ...]

    @property
    def empty(self) -> bool:
        return not self.groups


def chart(
    rows: tuple[CountRow, ...],
    border_name: dict[str | None, str],
    theme_name: dict[str | None, str],
    theme_order: list[str | None],
) -> Chart:
    """`rows` come sorted by border then theme; bars show this period's counts."""
    shown = [row for row in rows if row.count > 0]
    top = max((row.count for row in shown), default=1)
    groups: list[Group] = []
    y = 0
    for border in _in_order(row.border for row in shown):
        group_y = y
        y += GROUP_HEAD
        bars = []
        for row in (r for r in shown if r.border == border):
            tone = theme_order.index(row.theme) % 6 if row.theme in theme_order else 5
            bars.append(
                Bar(
                    theme=theme_name.get(row.theme, row.theme or ""),
                    count=row.count,
                    previous=row.previous,
                    y=y,
                    width=max(2, round(BAR_ROOM * row.count / top)),
                    tone=tone,
                )
            )
            y += ROW
        groups.append(Group(border_name.get(border, border or ""), group_y, tuple(bars)))
        y += 8
    return Chart(WIDTH, max(y, ROW), LABEL, tuple(groups))


def _in_order(values: Iterable[str | None]) -> list[str | None]:
    seen: list[str | None] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen

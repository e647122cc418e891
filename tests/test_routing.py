"""Routing decisions: kind × border × theme × urgency, quiet hours, silences, bad rows."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from alerts.routing import (
    ALL,
    ChannelTarget,
    RoutableFact,
    SubscriptionSpec,
    deliver_at,
    route,
)
from alerts.types import Kind, Urgency
from storage.database import open_database
from storage.models import Subscription
from tests.support.console import config_from, demo_raw, run_console


def channel(
    name: str,
    spec: SubscriptionSpec,
    *,
    quiet: str | None = None,
    muted_until: datetime | None = None,
) -> ChannelTarget:
    return ChannelTarget(
        id=name,
        platform="console",
        address=name,
        organisation_id="o",
        language="fr",
        timezone="Europe/Paris",
        quiet=quiet,
        muted_until=muted_until,
        share_locations=False,
        subscriptions=(spec,),
    )


def spec(
    borders: set[str],
    themes: set[str],
    kinds: set[Kind] | None = None,
    min_urgency: Urgency = Urgency.NORMAL,
) -> SubscriptionSpec:
    return SubscriptionSpec(
        frozenset(kinds or set(Kind)), frozenset(borders), frozenset(themes), min_urgency
    )


def fact(
    border: str | None, themes: set[str], urgency: Urgency = Urgency.NORMAL, kind: Kind = Kind.ALERT
) -> RoutableFact:
    return RoutableFact(kind, border, frozenset(themes), urgency)


CHANNELS = [
    channel("italie", spec({"franco-italienne"}, {ALL})),
    channel("mineurs", spec({ALL}, {"mineurs"})),
    channel("vital", spec({ALL}, {ALL}, {Kind.ALERT, Kind.MOBILISATION}, Urgency.VITAL)),
    channel("juridique", spec({ALL}, {"juridique"}, kinds={Kind.ANNOUNCEMENT})),
]


def names(targets: list[ChannelTarget]) -> set[str]:
    return {t.id for t in targets}


def test_border_theme_and_urgency_select_channels() -> None:
    assert names(route(fact("franco-italienne", {"refoulement"}), CHANNELS)) == {"italie"}
    assert names(route(fact("manche", {"mineurs"}), CHANNELS)) == {"mineurs"}
    assert names(route(fact("manche", set(), Urgency.VITAL), CHANNELS)) == {"vital"}
    assert names(route(fact("manche", {"mineurs"}, kind=Kind.ANNOUNCEMENT), CHANNELS)) == {
        "mineurs"
    }


def test_a_fact_without_border_only_reaches_all_border_channels() -> None:
    found = names(route(fact(None, {"juridique"}, kind=Kind.ANNOUNCEMENT), CHANNELS))
    assert found == {"juridique"}


def test_min_urgency_does_not_filter_announcements() -> None:
    target = channel("c", spec({ALL}, {ALL}, min_urgency=Urgency.URGENT))
    assert route(fact(None, set(), Urgency.INFO, Kind.ANNOUNCEMENT), [target])
    assert not route(fact("manche", set(), Urgency.NORMAL), [target])


NIGHT = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 00:30 in Paris


@pytest.mark.parametrize(
    ("urgency", "held"),
    [
        (Urgency.INFO, True),
        (Urgency.NORMAL, True),
        (Urgency.URGENT, False),
        (Urgency.VITAL, False),
    ],
)
def test_quiet_hours_hold_routine_facts_until_morning(urgency: Urgency, held: bool) -> None:
    target = channel("c", spec({ALL}, {ALL}), quiet="22:00-07:00")
    at = deliver_at(target, fact("manche", set(), urgency), NIGHT)
    if held:
        assert at == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 07:00 Paris (UTC+1)
    else:
        assert at == NIGHT


def test_outside_quiet_hours_nothing_waits() -> None:
    target = channel("c", spec({ALL}, {ALL}), quiet="22:00-07:00")
    noon = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    assert deliver_at(target, fact("manche", set()), noon) == noon


def test_a_silence_holds_all_but_vital() -> None:
    until = NIGHT + timedelta(hours=2)
    target = channel("c", spec({ALL}, {ALL}), muted_until=until)
    assert deliver_at(target, fact("manche", set(), Urgency.URGENT), NIGHT) == until
    assert deliver_at(target, fact("manche", set(), Urgency.VITAL), NIGHT) == NIGHT


async def test_a_subscription_row_that_no_longer_parses_is_skipped(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_from(demo_raw(), database_url)
    lines = await run_console(config, ["/subscribe franco-italienne"])
    assert lines[-1].startswith("[local] ✅ Ce canal reçoit désormais")
    db = await open_database(database_url)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.source == "chat")
            .values(spec='{"kinds": ["alert"], "borders": 42')
        )
    await db.close()
    caplog.set_level(logging.ERROR, logger="alerts.routing")
    lines = await run_console(config, ["/alert 3 mineurs refoulés à Menton"])
    relayed = {line.split("]")[0][1:] for line in lines if "mineurs refoulés" in line}
    assert relayed == {"vigie-italie", "mineurs-partout"}  # the broken one alone is skipped
    assert any("does not parse" in record.getMessage() for record in caplog.records)

"""Retention on SQLite and PostgreSQL: what a purge erases and what stays (anonymous
counts), the daily turn over a restart, `tocsin purge` and `tocsin audit`, and a purge
killed half-way (a real `tocsin purge` process, SIGKILLed) that leaves nothing half
erased and resumes without counting anything twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from alerts.clock import ManualClock
from alerts.messages import OutboundMessage
from alerts.retention import EMPTY_PAYLOAD, PurgeJob, Purger
from storage.database import Database
from storage.models import (
    Alert,
    AlertCount,
    AuditEntry,
    Conversation,
    Delivery,
    InboundSeen,
    MobilisationAnswer,
)
from tests.support.people_scene import COORDINATOR, NOW, OBSERVER, people_scene

ROOT = Path(__file__).resolve().parents[1]
RETENTION = timedelta(days=90)


async def alerts_of(database: Database) -> list[Alert]:
    async with database.sessions() as session:
        return list((await session.scalars(select(Alert).order_by(Alert.id))).all())


async def totals(database: Database) -> dict[tuple[str, str, str], int]:
    async with database.sessions() as session:
        rows = (await session.scalars(select(AlertCount))).all()
    return {(row.border, row.theme, row.kind): row.count for row in rows}


async def test_a_purge_erases_old_content_and_keeps_counts(database: Database) -> None:  # noqa: PLR0915
    async with people_scene(database.url, database=database) as scene:
        await scene.say(OBSERVER, "/alert 4 mineurs refoulés à Menton #mineurs !urgent")
        await scene.say(OBSERVER, "/alert 2 personnes refoulées à Hendaye")
        await scene.say(COORDINATOR, "/mobilise 2 observateurs à Vintimille demain")
        await scene.say(OBSERVER, "/alert")  # a guided draft, left open
        observer = await scene.member_id(OBSERVER)
        async with database.transaction() as session:
            await session.execute(update(Delivery).values(status="sent"))
            await session.execute(
                insert(MobilisationAnswer).values(
                    alert_id=3, member_id=observer, answer="going", created_at=NOW, updated_at=NOW
                )
            )
        scene.clock.advance(RETENTION + timedelta(seconds=1))
        await scene.say(OBSERVER, "/alert 1 personne refoulée à Menton")  # recent: stays
        assert scene.wiring.purge is not None
        report = await scene.wiring.purge.tick()
        assert report is not None
        assert (report.alerts, report.answers, report.drafts) == (3, 1, 1)
        assert await scene.wiring.purge.tick() is None  # today's turn is taken

        old, old2, call, recent = await alerts_of(database)
        for alert in (old, old2, call):
            assert alert.text == ""
            assert alert.place is None
            assert alert.author_member_id is None
            assert alert.source_chat is None
            assert alert.purged_at is not None
        assert "Menton" in recent.text
        assert recent.author_member_id == observer
        assert await totals(database) == {
            ("franco-italienne", "*", "alert"): 1,
            ("franco-italienne", "mineurs", "alert"): 1,
            ("franco-italienne", "refoulement", "alert"): 1,  # keyword "refoulés"
            ("franco-espagnole", "*", "alert"): 1,
            ("franco-espagnole", "refoulement", "alert"): 1,
            ("franco-italienne", "*", "mobilisation"): 1,
        }
        async with database.sessions() as session:
            private = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.status == "sent",
                    Delivery.channel_id.is_(None),
                    Delivery.address != "erased",
                )
            )
            payloads = list(
                await session.scalars(select(Delivery.payload).where(Delivery.status == "sent"))
            )
            pending = list(
                await session.scalars(select(Delivery.payload).where(Delivery.status == "pending"))
            )
            answer = await session.scalar(select(MobilisationAnswer))
            seen = await session.scalar(select(func.count()).select_from(InboundSeen))
            drafts = await session.scalar(select(func.count()).select_from(Conversation))
            purge = await session.scalar(select(AuditEntry).where(AuditEntry.action == "purge"))
            audit_details = list(await session.scalars(select(AuditEntry.detail)))
        assert private == 0  # answers to people: body and address gone
        assert payloads
        assert set(payloads) == {EMPTY_PAYLOAD}
        assert any("Menton" in OutboundMessage.from_json(p).plain for p in pending)
        assert answer is not None
        assert answer.member_id is None
        assert answer.answer == "going"
        assert seen == 1
        assert drafts == 0
        assert purge is not None
        assert purge.detail is not None
        assert "alerts=3" in purge.detail
        assert not any("Menton" in (detail or "") for detail in audit_details)

        scene.clock.advance(timedelta(days=1))
        again = await scene.wiring.purge.tick()
        assert again is not None
        assert again.alerts == 0
        assert (await totals(database))[("franco-italienne", "*", "alert")] == 1


def _config(tmp_path: Path, url: str, batch: int) -> Path:
    path = tmp_path / "tocsin.toml"
    path.write_text(
        f'[storage]\nurl = "{url}"\n[privacy]\nretention = "1d"\npurge_batch = {batch}\n',
        encoding="utf-8",
    )
    return path


def _tocsin(*args: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env=environment,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def _old_alerts(database: Database, count: int) -> None:
    old = NOW - timedelta(days=30)
    rows = [
        {
            "kind": "alert",
            "text": f"alerte {number} à Menton",
            "border": "franco-italienne",
            "themes": json.dumps(["refoulement"]),
            "urgency": "normal",
            "place": "Menton",
            "latitude": 43.77,
            "longitude": 7.5,
            "status": "open",
            "created_at": old + timedelta(seconds=number),
            "updated_at": old,
        }
        for number in range(count)
    ]
    async with database.transaction() as session:
        await session.execute(insert(Alert), rows)


async def _purged(database: Database) -> int:
    async with database.sessions() as session:
        query = select(func.count()).select_from(Alert).where(Alert.purged_at.is_not(None))
        return int(await session.scalar(query) or 0)


async def _consistent(database: Database) -> int:
    """Every alert whole or purged-and-counted; returns how many were purged."""
    alerts = await alerts_of(database)
    for alert in alerts:
        if alert.purged_at is None:
            assert alert.text.startswith("alerte")
            assert alert.latitude == 43.77
        else:
            assert alert.text == ""
            assert alert.latitude is None
            assert alert.place is None
    purged = sum(alert.purged_at is not None for alert in alerts)
    counted = await totals(database)
    assert counted.get(("franco-italienne", "*", "alert"), 0) == purged
    assert counted.get(("franco-italienne", "refoulement", "alert"), 0) == purged
    return purged


async def test_a_purge_killed_half_way_resumes_and_counts_once(
    database: Database, tmp_path: Path
) -> None:
    total = 3000
    await _old_alerts(database, total)
    config = _config(tmp_path, database.url, batch=1)
    child = _tocsin("purge", "--config", str(config))
    try:
        async with asyncio.timeout(60):
            while await _purged(database) < 20:
                assert child.poll() is None, child.communicate()
                await asyncio.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    half = await _consistent(database)
    assert 20 <= half < total  # killed half-way

    finisher = _tocsin("purge", "--config", str(_config(tmp_path, database.url, batch=500)))
    out, err = finisher.communicate(timeout=120)
    assert finisher.returncode == 0, err
    assert f"alerts: {total - half}" in out
    assert await _consistent(database) == total


async def test_tocsin_audit_prints_the_log_without_text(database: Database, tmp_path: Path) -> None:
    async with people_scene(database.url, database=database) as scene:
        await scene.say(OBSERVER, "/alert 4 mineurs refoulés à Menton")
        await scene.say(COORDINATOR, "/invite")
    config = _config(tmp_path, database.url, 5)  # the CLI reads the same database
    result = _tocsin("audit", "--since", "3650d", "--config", str(config))
    out, err = result.communicate(timeout=60)
    assert result.returncode == 0, err
    lines = out.splitlines()
    assert [line.split(" · ")[1] for line in lines] == ["alert.raised", "invitation.made"]
    assert "Menton" not in out
    bad = _tocsin("audit", "--since", "soon", "--config", str(config))
    _, bad_err = bad.communicate(timeout=60)
    assert bad.returncode == 2
    assert "--since" in bad_err


_FAULT = {
    "sqlite": [
        "CREATE TRIGGER purge_fault BEFORE UPDATE ON alerts WHEN OLD.id = 5 "
        "BEGIN SELECT RAISE(ABORT, 'disk fault'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION purge_fault() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'disk fault'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER purge_fault BEFORE UPDATE ON alerts FOR EACH ROW "
        "WHEN (OLD.id = 5) EXECUTE FUNCTION purge_fault()",
    ],
}


async def test_a_database_fault_mid_purge_rolls_back_one_batch_and_the_job_retries(
    database: Database,
) -> None:
    """The database itself refuses one write (a trigger): the batch holding it is
    rolled back whole, those before stay purged and counted, and the daily turn is given
    back so the job tries again without waiting for tomorrow."""
    await _old_alerts(database, 10)
    dialect = "postgresql" if database.url.startswith("postgresql") else "sqlite"
    async with database.transaction() as session:
        for statement in _FAULT[dialect]:
            await session.execute(text(statement))
    clock = ManualClock(NOW)
    purger = Purger(database=database, clock=clock, retention=timedelta(days=1), batch=3)
    job = PurgeJob(purger, database=database, clock=clock)
    with pytest.raises(DBAPIError, match="disk fault"):
        await job.tick()
    assert await _consistent(database) == 3  # the first batch; the second rolled back
    async with database.transaction() as session:
        await session.execute(
            text("DROP TRIGGER purge_fault" + (" ON alerts" if dialect == "postgresql" else ""))
        )
    report = await job.tick()  # the turn was given back
    assert report is not None
    assert report.alerts == 7
    assert await _consistent(database) == 10

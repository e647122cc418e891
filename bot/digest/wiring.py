"""Building the digest's parts from the settings (called by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alerts.clock import Clock
from alerts.digest.archive import ArchiveRenderer
from alerts.digest.render import ChatRenderer
from bot.digest.archive import ArchiveWriter
from bot.digest.command import DigestCommand
from bot.digest.schedule import DigestSchedule
from bot.digest.scheduler import DigestScheduler
from bot.digest.service import DigestService
from bot.web.digests import DigestArchive
from bot.web.server import Route
from bot.wiring.shared import SharedParts
from config.schema import Settings
from storage.database import Database


@dataclass
class DigestParts:
    service: DigestService
    scheduler: DigestScheduler
    command: DigestCommand
    archive: ArchiveWriter
    archive_renderer: ArchiveRenderer

    def routes(self) -> list[Route]:
        return DigestArchive(self.archive.folder).routes()


def build_digest(
    settings: Settings, shared: SharedParts, *, database: Database, clock: Clock
) -> DigestParts:
    digest = settings.digest
    vocabulary, translate = shared.vocabulary, shared.translate
    archive_renderer = ArchiveRenderer(
        vocabulary, translate, settings.language, digest.archive_authority
    )
    archive = ArchiveWriter(Path(digest.archive_dir), archive_renderer, database, digest.timezone)
    service = DigestService(
        database=database,
        directory=shared.directory,
        outbox=shared.outbox,
        renderer=ChatRenderer(vocabulary, translate),
        archive=archive,
        period=digest.period,
        timezone=digest.timezone,
        empty_policy={channel.id: channel.digest_empty for channel in settings.channels},
    )
    scheduler = DigestScheduler(
        service=service,
        schedule=DigestSchedule(digest.cron, digest.timezone),
        clock=clock,
        database=database,
    )
    return DigestParts(
        service=service,
        scheduler=scheduler,
        command=DigestCommand(service, shared.directory),
        archive=archive,
        archive_renderer=archive_renderer,
    )

"""Writing the network's archive to `[digest] archive_dir`: the period's page, the index
of periods and the Atom feed, each replaced atomically (a reader never sees half a file).
The index and the feed are rebuilt from the database's archive rows, so they list every
archived period even after the folder was emptied."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path

from alerts.digest.archive import ArchiveRenderer, Entry, page_name, read_totals
from alerts.digest.model import DigestView, Period
from storage import digest_queries
from storage.database import Database

log = logging.getLogger(__name__)


class ArchiveWriter:
    def __init__(
        self, folder: Path, renderer: ArchiveRenderer, database: Database, timezone: str
    ) -> None:
        self.folder = folder
        self._renderer = renderer
        self._database = database
        self._timezone = timezone

    async def entries(self) -> list[Entry]:
        async with self._database.sessions() as session:
            rows = await digest_queries.network_digests(session)
        return [
            Entry(
                row.scheduled_for,
                Period(row.period_start, row.period_end, self._timezone),
                read_totals(row.totals),
            )
            for row in rows
        ]

    async def write(self, view: DigestView) -> None:
        """The page of `view`'s period (its end is the scheduled time), then the index
        and the feed. A disk problem is logged: the digests were sent all the same."""
        try:
            entries = await self.entries()
            files = {
                page_name(view.period.end, self._timezone): self._renderer.page(view).encode(),
                "index.html": self._renderer.index(entries).encode(),
                "feed.atom": self._renderer.atom(entries),
            }
            await asyncio.to_thread(self._write_files, files)
        except OSError as error:
            log.error("digest archive not written to %s: %s", self.folder, error.strerror)

    def _write_files(self, files: dict[str, bytes]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(content)
                os.chmod(temporary, 0o644)
                os.replace(temporary, self.folder / name)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise

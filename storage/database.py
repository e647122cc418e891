"""Engine and sessions, SQLite pragmas, and migrations applied at start.

Every failure to reach or read the database becomes a `StorageError` phrased for the
operator (URL shown without its password), never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import after_commit, delivery_buffer
from storage.sqlite_inline import inline_url

MIGRATIONS = Path(__file__).with_name("migrations")
# The advisory lock that start-up writers (migrations, the sync of the configuration file)
# take on PostgreSQL, so processes started together take turns instead of colliding.
START_LOCK = text("SELECT pg_advisory_xact_lock(7598820944209604129)")  # b"itocsin!"


class StorageError(Exception):
    """A database problem, already phrased for the operator."""


class SchemaTooNew(StorageError):
    pass


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    url: str
    # SQLite has one writer at a time. Queueing this process's transactions here, in
    # order, spares them SQLite's busy-wait sleeps, which would otherwise add tens of
    # milliseconds to an alert while the dispatcher records its sends.
    _writer: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed on success, rolled back on any error."""
        if self.dialect != "sqlite":
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._writer, self.sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


# PostgreSQL's codes for failures that a later attempt may not meet: connection lost or
# refused (class 08), serialisation failure and deadlock, lock or statement timeout, the
# server shutting down or over its connection limit.
_TRANSIENT_SQLSTATES = frozenset(
    {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300"}
)
# SQLite's OperationalError also means "no such table", which no retry fixes.
_TRANSIENT_SQLITE = (
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "unable to open database",
    "database or disk is full",
)


def is_transient(error: BaseException) -> bool:
    """Whether the same work may succeed if tried again shortly: the database was
    unreachable, busy or out of room, not wrong about this piece of work."""
    if isinstance(error, TimeoutError | ConnectionError | PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    code = getattr(error.orig, "sqlstate", None)
    if isinstance(code, str):
        return code.startswith("08") or code in _TRANSIENT_SQLSTATES
    if isinstance(error.orig, ConnectionError | TimeoutError):
        return True
    message = str(error.orig).lower()
    return isinstance(error, OperationalError) and any(m in message for m in _TRANSIENT_SQLITE)


def _prepare_sqlite(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    return {"timeout": 30}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL is durable at each checkpoint in WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


async def open_database(url: str, *, migrate: bool = True, pool_size: int = 10) -> Database:
    """Connect, check the schema, and (by default) bring it to the newest revision."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise StorageError(f"invalid database URL {url!r}: {error}") from None
    options: dict[str, Any] = {}
    engine_url: str | URL = url
    if parsed.get_backend_name() == "sqlite":
        options["connect_args"] = _prepare_sqlite(url)
        engine_url = inline_url(parsed)
    elif parsed.get_backend_name() == "postgresql":
        # A network server may drop idle connections: check each one as it is taken.
        options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    else:
        raise StorageError(
            f"unsupported database {shown_url(url)}: use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    try:
        engine = create_async_engine(engine_url, **options)
    except (ArgumentError, ImportError) as error:
        raise StorageError(f"invalid database URL {shown_url(url)}: {error}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    delivery_buffer.install()
    after_commit.install()
    sessions = async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=delivery_buffer.OutboxSession
    )
    database = Database(engine=engine, sessions=sessions, url=url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_check_and_migrate, migrate)
    except StorageError:
        await engine.dispose()
        raise
    except (SQLAlchemyError, OSError) as error:
        await engine.dispose()
        raise StorageError(f"cannot use the database {shown_url(url)}: {_reason(error)}") from None
    return database


def _reason(error: BaseException) -> str:
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    if isinstance(error, ConnectionRefusedError):  # the system's text names no cause
        return "connection refused: no database server listens at that address"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


async def ping(session: AsyncSession) -> None:
    """`SELECT 1`: raises when the database does not answer."""
    await session.execute(text("SELECT 1"))


async def hold_start_lock(session: AsyncSession) -> None:
    """Wait for, then hold until this transaction ends, the start-up lock (PostgreSQL).

    SQLite needs none: one process uses it (`tocsin worker` refuses it), and that
    process's transactions already queue behind its writer lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(START_LOCK)


def _check_and_migrate(connection: Connection, migrate: bool) -> None:
    if connection.dialect.name == "postgresql":
        # Held until this transaction commits: a process that waited here then finds the
        # schema at head and has nothing to do.
        connection.execute(START_LOCK)
    current = MigrationContext.configure(connection).get_current_revision()
    config = alembic_config(connection)
    scripts = ScriptDirectory.from_config(config)
    known = {revision.revision for revision in scripts.walk_revisions()}
    if current is not None and current not in known:
        raise SchemaTooNew(
            f"the database schema (revision {current}) was created by a newer Tocsin; "
            "upgrade Tocsin or point it at another database"
        )
    if migrate:
        command.upgrade(config, "head")
    elif current != scripts.get_current_head():
        raise StorageError("the database schema is not up to date: run `tocsin db upgrade`")


async def upgrade(url: str) -> str:
    """`tocsin db upgrade`: apply the migrations and return the revision reached."""
    database = await open_database(url, migrate=True)
    try:
        async with database.engine.connect() as connection:
            revision = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await database.close()
    return str(revision)

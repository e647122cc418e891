"""SQLite for SQLAlchemy's asyncio API, run on the event loop's own thread.

aiosqlite runs every call in a helper thread and hands the result back through the event
loop; SQLAlchemy's adapter makes four such hand-offs per statement. On this project's
2-core machines that costs about 0.4 ms per statement, ten times what SQLite itself takes
(an indexed read or an insert in WAL mode with `synchronous=NORMAL` is 20–80 µs, a commit
writes the WAL without an fsync). This dialect is SQLAlchemy's own pysqlite dialect
(stdlib `sqlite3`, same SQL, same types) declared asyncio-capable: SQLAlchemy's greenlet
bridge runs its calls inline, without a thread.

The price is that a call blocks the event loop while it runs, so it must never wait for a
lock: this process's writers queue on `Database`'s asyncio lock before they begin, and
SQLite is a one-process database here (`tocsin worker` needs PostgreSQL). Readers never
wait in WAL mode.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util import await_
from typing_extensions import override

DRIVER = "tocsin_inline"


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's asyncio API awaits before handing over a result that still
        holds rows: an aiosqlite cursor fetches them here; this one is read synchronously
        later, on the same thread, so there is nothing to do."""


class _ExecutionContext(SQLiteExecutionContext):
    def create_default_cursor(self) -> Any:
        return self._dbapi_connection.cursor(_Cursor)


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    driver = DRIVER
    supports_statement_cache = True
    is_async = True
    execution_ctx_cls = _ExecutionContext

    # Statements go through the greenlet bridge's `await_`, as with any asyncio driver,
    # and complete at once on the loop's thread; SQLAlchemy's asyncio API checks that an
    # await happened.
    @override
    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        await_(_call(cursor.execute, statement, parameters))

    @override
    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        await_(_call(cursor.execute, statement))

    @override
    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        await_(_call(cursor.executemany, statement, parameters))

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool  # one shared in-memory database


def inline_url(url: URL) -> URL:
    """The same SQLite database, opened with this dialect."""
    registry.register(f"sqlite.{DRIVER}", __name__, InlineSQLiteDialect.__name__)
    return url.set(drivername=f"sqlite+{DRIVER}")

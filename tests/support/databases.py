"""Test databases: SQLite always, PostgreSQL when TOCSIN_TEST_DATABASE_URL is set.

Each test process works in its own PostgreSQL database (`<name>_p<pid>`, created on first
use, dropped at exit), so concurrent runs never reset each other's schema; each test
starts from an empty `public` schema and the migrations build it as in production.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import URL, make_url

POSTGRES_ENV = "TOCSIN_TEST_DATABASE_URL"
_private: dict[str, str] = {}


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


async def _connect(url: URL, database: str | None = None) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432,
        user=url.username or "postgres", password=url.password,
        database=database or url.database,
    )


async def reset_postgres(url: str) -> None:
    connection = await _connect(make_url(url))
    try:
        await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()


async def private_postgres_url(shared: str) -> str:
    """This process's own database next to the shared one named by the environment."""
    if shared in _private:
        return _private[shared]
    parsed = make_url(shared)
    name = f"{parsed.database}_p{os.getpid()}"
    connection = await _connect(parsed, "postgres")
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    _private[shared] = parsed.set(database=name).render_as_string(hide_password=False)
    atexit.register(_drop, parsed, name)
    return _private[shared]


def _drop(parsed: URL, name: str) -> None:
    async def drop() -> None:
        connection = await _connect(parsed, "postgres")
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    with contextlib.suppress(OSError, asyncpg.PostgresError):  # the server may be gone
        asyncio.run(drop())


async def fresh_database_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/tocsin-test.db"
    shared = postgres_url()
    if shared is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (.ci/run sets it)")
    url = await private_postgres_url(shared)
    await reset_postgres(url)
    return url

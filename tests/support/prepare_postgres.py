"""Create the PostgreSQL test database if it is missing (used by .ci/run)."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg  # type: ignore[import-untyped]

DATABASE = "tocsin_test"


async def main() -> int:
    host = os.environ.get("PGHOST", "127.0.0.1")
    try:
        connection = await asyncpg.connect(
            host=host, port=5432, user="postgres", database="postgres", timeout=10
        )
    except (OSError, asyncpg.PostgresError) as error:
        print(f"PostgreSQL not reachable on {host}:5432: {error}", file=sys.stderr)
        return 1
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""A database that cannot be used at start: `tocsin run` and `tocsin worker` print one line
(`tocsin: cannot use the database …`, password hidden) and exit with code 2, no traceback.
Real refused connections, a real PostgreSQL refusing an unknown role or database, and a
loopback server speaking the PostgreSQL protocol that refuses the password."""

from __future__ import annotations

import socket
import socketserver
import struct
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.databases import postgres_url
from tests.test_cli import tocsin

COMMANDS = ["run", "worker"]


def tocsin_with(command: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return tocsin(command, cwd=cwd, env={"TOCSIN_DATABASE_URL": database_url})


def assert_one_clear_line(result: subprocess.CompletedProcess[str], shown: str) -> str:
    """The process exited 2 with one line naming the database; returns the reason."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    prefix = f"tocsin: cannot use the database {shown}: "
    assert lines[0].startswith(prefix), lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return lines[0][len(prefix) :]


def free_loopback_port() -> int:
    """A port nobody listens on: bound by the system, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", COMMANDS)
def test_refused_connection(command: str, tmp_path: Path) -> None:
    port = free_loopback_port()
    url = f"postgresql+asyncpg://tocsin:s3cret-pw@127.0.0.1:{port}/tocsin"
    result = tocsin_with(command, url, tmp_path)
    reason = assert_one_clear_line(
        result, f"postgresql+asyncpg://tocsin:***@127.0.0.1:{port}/tocsin"
    )
    assert "s3cret-pw" not in result.stderr
    assert reason == "connection refused: no database server listens at that address"


needs_postgres = pytest.mark.skipif(postgres_url() is None, reason="needs TOCSIN_TEST_DATABASE_URL")


@needs_postgres
@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_database_name(command: str, tmp_path: Path) -> None:
    shared = postgres_url()
    assert shared is not None
    url = make_url(shared).set(database="tocsin_no_such_database")
    shown = url.render_as_string(hide_password=True)
    result = tocsin_with(command, url.render_as_string(hide_password=False), tmp_path)
    reason = assert_one_clear_line(result, shown)
    assert reason == 'database "tocsin_no_such_database" does not exist'


@needs_postgres
@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_role(command: str, tmp_path: Path) -> None:
    shared = postgres_url()
    assert shared is not None
    url = make_url(shared).set(username="tocsin_no_such_role", password="pw-not-shown")
    result = tocsin_with(command, url.render_as_string(hide_password=False), tmp_path)
    reason = assert_one_clear_line(result, url.render_as_string(hide_password=True))
    assert reason == 'role "tocsin_no_such_role" does not exist'
    assert "pw-not-shown" not in result.stderr


class PasswordRefusingServer(socketserver.ThreadingTCPServer):
    """Answers like a PostgreSQL server with password authentication and a wrong password
    (the machine's PostgreSQL trusts loopback, so it cannot refuse one itself)."""

    daemon_threads = True
    allow_reuse_address = True


class _RefusePassword(socketserver.BaseRequestHandler):
    SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104

    def handle(self) -> None:
        connection: socket.socket = self.request
        reader = connection.makefile("rb")
        while True:  # SSL / GSS encryption requests are declined, then the startup packet
            header = reader.read(8)
            if len(header) < 8:
                return
            length, code = struct.unpack("!ii", header)
            if code in (self.SSL_REQUEST, self.GSSENC_REQUEST):
                connection.sendall(b"N")
                continue
            startup = reader.read(length - 8)
            break
        user = startup.split(b"\0")[startup.split(b"\0").index(b"user") + 1].decode()
        connection.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        kind, size = reader.read(1), struct.unpack("!i", reader.read(4))[0]
        assert kind == b"p"
        reader.read(size - 4)
        fields = b"".join(
            tag + text.encode() + b"\0"
            for tag, text in (
                (b"S", "FATAL"),
                (b"V", "FATAL"),
                (b"C", "28P01"),
                (b"M", f'password authentication failed for user "{user}"'),
            )
        )
        connection.sendall(b"E" + struct.pack("!i", len(fields) + 5) + fields + b"\0")


@contextmanager
def password_refusing_server() -> Iterator[int]:
    server = PasswordRefusingServer(("127.0.0.1", 0), _RefusePassword)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("command", COMMANDS)
def test_wrong_password(command: str, tmp_path: Path) -> None:
    with password_refusing_server() as port:
        url = f"postgresql+asyncpg://tocsin:wrong-pw@127.0.0.1:{port}/tocsin"
        result = tocsin_with(command, url, tmp_path)
    reason = assert_one_clear_line(
        result, f"postgresql+asyncpg://tocsin:***@127.0.0.1:{port}/tocsin"
    )
    assert reason == 'password authentication failed for user "tocsin"'
    assert "wrong-pw" not in result.stderr

"""A real Synapse homeserver for the test suite, and client-server helpers around it.

`SynapseServer.start()` writes a throw-away configuration into a temporary folder (SQLite,
generated signing key, a single plain-HTTP `client` listener on 127.0.0.1, no federation)
and runs `python -m synapse.app.homeserver` as a subprocess. Users are created through the
shared-secret admin API, which hands back an access token and a device id directly: tests
never log in, because Synapse allows only a few logins per address before answering 429.

Synapse's default rate limits are kept unless `relaxed_ratelimits=True`, so tests can see
real `M_LIMIT_EXCEEDED` answers. Users are exempted one by one instead (the default of
`register_user`), which is what a deployed bot account would get from its admin.

The async helpers (synapse_api.py) speak plain HTTP (httpx), independently of any Matrix
SDK, so a test can check what a relay did without trusting the relay's own client.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import pytest

from tests.support.synapse_api import (
    CLIENT_API,
    MatrixRequestError,
    RegisteredUser,
    SynapseClient,
    unique_localpart,
)

__all__ = [
    "CLIENT_API",
    "RELAXED_RATELIMITS",
    "MatrixRequestError",
    "RegisteredUser",
    "SynapseServer",
    "SynapseStartError",
    "synapse_server",
    "unique_localpart",
]


# Generous limits for tests that are about something other than rate limiting.
_RELAXED = {"per_second": 1000, "burst_count": 1000}
RELAXED_RATELIMITS: dict[str, Any] = {
    "rc_message": _RELAXED,
    "rc_registration": _RELAXED,
    "rc_login": {"address": _RELAXED, "account": _RELAXED, "failed_attempts": _RELAXED},
    "rc_joins": {"local": _RELAXED, "remote": _RELAXED},
    "rc_joins_per_room": _RELAXED,
    "rc_invites": {"per_room": _RELAXED, "per_user": _RELAXED, "per_issuer": _RELAXED},
    "rc_room_creation": _RELAXED,
    "rc_admin_redaction": _RELAXED,
    "rc_media_create": _RELAXED,
    "rc_presence": {"per_user": _RELAXED},
}


class SynapseStartError(RuntimeError):
    """Synapse did not come up; the message carries the tail of its logs."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge `overlay` into a copy of `base` (mappings merge, everything else replaces)."""
    merged = dict(base)
    for key, value in overlay.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM Synapse if the test process dies without cleanup."""
    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path.name} does not exist)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path.name} is empty)"


class SynapseServer(SynapseClient):
    """One Synapse process with its own temporary data folder."""

    def __init__(
        self,
        *,
        server_name: str = "tocsin.test",
        relaxed_ratelimits: bool = False,
        extra_config: Mapping[str, Any] | None = None,
        start_timeout: float = 60.0,
        keep_folder: bool = False,
    ) -> None:
        self.server_name = server_name
        self.relaxed_ratelimits = relaxed_ratelimits
        self.extra_config: Mapping[str, Any] = extra_config or {}
        self.start_timeout = start_timeout
        self.keep_folder = keep_folder
        self.registration_shared_secret = secrets.token_hex(32)
        self.port = 0
        self.folder: Path | None = None
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._admin: RegisteredUser | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._require_folder() / "homeserver.log"

    @property
    def console_path(self) -> Path:
        return self._require_folder() / "console.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def config(self) -> dict[str, Any]:
        """The homeserver configuration `start()` writes (after the overlays)."""
        folder = self._require_folder()
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": self.base_url + "/",
            "pid_file": str(folder / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(folder / "homeserver.db")}},
            "media_store_path": str(folder / "media_store"),
            "signing_key_path": str(folder / "signing.key"),
            "log_config": str(folder / "log_config.yaml"),
            "registration_shared_secret": self.registration_shared_secret,
            "macaroon_secret_key": secrets.token_hex(32),
            "form_secret": secrets.token_hex(32),
            "enable_registration": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "bcrypt_rounds": 4,
            "enable_metrics": False,
            "url_preview_enabled": False,
        }
        if self.relaxed_ratelimits:
            config = _merge(config, RELAXED_RATELIMITS)
        return _merge(config, self.extra_config)

    def _log_config(self) -> dict[str, Any]:
        return {
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "plain",
                    "filename": str(self.log_path),
                    "encoding": "utf8",
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }

    def start(self) -> None:
        """Write the configuration, start Synapse and wait until the client API answers."""
        if self._process is not None:
            raise RuntimeError("Synapse is already started")
        if importlib.util.find_spec("synapse") is None:
            raise SynapseStartError("matrix-synapse is not installed (pip install -e '.[test]')")
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="tocsin-synapse-"))
            self.port = _free_port()
            # JSON is YAML, and needs no YAML writer.
            (self.folder / "homeserver.yaml").write_text(json.dumps(self.config(), indent=2))
            (self.folder / "log_config.yaml").write_text(json.dumps(self._log_config(), indent=2))
        self._spawn()

    def _spawn(self) -> None:
        folder = self._require_folder()
        began = time.monotonic()
        with self.console_path.open("ab") as console:
            # Synapse generates the missing signing key itself on first start.
            self._process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", "homeserver.yaml"],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        try:
            self._wait_until_ready(began)
        except BaseException:
            self._terminate()
            raise
        self.startup_seconds = time.monotonic() - began

    def _wait_until_ready(self, began: float) -> None:
        deadline = began + self.start_timeout
        last_error = "no attempt yet"
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise SynapseStartError(
                        f"Synapse exited with status {self._process.returncode}\n"
                        + self.diagnostics()
                    )
                try:
                    response = client.get("/_matrix/client/versions")
                    if response.status_code == 200:
                        return
                    last_error = f"HTTP {response.status_code}"
                except httpx.TransportError as error:
                    last_error = repr(error)
                time.sleep(0.1)
        raise SynapseStartError(
            f"Synapse did not answer on {self.base_url} within {self.start_timeout:.0f} s "
            f"(last: {last_error})\n" + self.diagnostics()
        )

    def diagnostics(self, lines: int = 40) -> str:
        """The tails of Synapse's log file and of its console output."""
        return (
            f"--- {self.log_path} ---\n{_tail(self.log_path, lines)}\n"
            f"--- {self.console_path} ---\n{_tail(self.console_path, lines)}"
        )

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def restart(self) -> None:
        """Stop and start the same server: same port, database and users (tokens stay valid)."""
        self._terminate()
        self._spawn()

    def stop(self) -> None:
        """Stop Synapse (SIGTERM, then SIGKILL after 10 s) and remove its folder."""
        self._terminate()
        self._admin = None
        if self.folder is not None and not self.keep_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _require_folder(self) -> Path:
        if self.folder is None:
            raise RuntimeError("SynapseServer.start() has not been called")
        return self.folder


_SERVER_KEY = pytest.StashKey[SynapseServer]()


@pytest.fixture(scope="session")
def synapse_server(request: pytest.FixtureRequest) -> SynapseServer:
    """One Synapse for the whole session, with default rate limits (but for logins: every
    password start of the bot and every encrypting peer logs in from 127.0.0.1, and the
    default allows five per address); give users unique names.

    The server hangs off the pytest config rather than the fixture, so importing this
    fixture into several modules (or conftest files) still starts a single Synapse.
    """
    if importlib.util.find_spec("synapse") is None:
        pytest.skip("matrix-synapse is not installed (pip install -e '.[test]')")
    server = request.config.stash.get(_SERVER_KEY, None)
    if server is None:
        server = SynapseServer(extra_config={"rc_login": RELAXED_RATELIMITS["rc_login"]})
        server.start()
        request.config.stash[_SERVER_KEY] = server
        request.config.add_cleanup(server.stop)
    return server

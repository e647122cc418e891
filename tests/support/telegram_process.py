"""The Bot API test server in its own process, driven over `/_control` (benchmarks, and
tests where Tocsin itself runs in another process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.telegram_api import DEFAULT_TOKEN

ROOT = Path(__file__).resolve().parents[2]


class TelegramServerProcess:
    def __init__(self, *, rate_scale: float = 1.0, limits: bool = True, seed: int = 1,
                 token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        arguments = [sys.executable, "-m", "tests.telegram_api", "--token", token,
                     "--rate-scale", str(rate_scale), "--seed", str(seed)]
        if not limits:
            arguments.append("--no-limits")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self._process = subprocess.Popen(arguments, stdout=subprocess.PIPE, text=True, env=env,
                                         cwd=ROOT)
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"Bot API test server did not start: {self.base_url!r}")
        self.control = httpx.Client(base_url=f"{self.base_url}/_control", timeout=120)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/bot"

    def call(self, method: str, path: str, **payload: Any) -> Any:
        if method == "GET":
            response = self.control.get(path, params=payload)
        else:
            response = self.control.post(path, json=payload)
        response.raise_for_status()
        return response.json()

    def add_chat(self, chat_id: int, **fields: Any) -> None:
        self.call("POST", "/chats", chat_id=chat_id, **fields)

    def stats(self) -> dict[str, Any]:
        return dict(self.call("GET", "/stats")["stats"])

    def sent(self, chat_id: int | None = None, min_count: int = 0, timeout: float = 5
             ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"min_count": min_count, "timeout": timeout}
        if chat_id is not None:
            query["chat_id"] = chat_id
        return list(self.call("GET", "/sent", **query)["messages"])

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()  # the pipe the address was read from
        if hasattr(self, "control"):
            self.control.close()

    def __enter__(self) -> TelegramServerProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

"""A Telegram Bot API server for tests: real HTTP on 127.0.0.1, real envelopes and limits.

python-telegram-bot talks to it through
``Bot(token, base_url=server.base_url + "/bot", base_file_url=server.base_url + "/file/bot")``.
Tests drive the other side in process (``inject_*``, ``sent_messages``, ``set_*``) or, from
another process, through the JSON endpoints under ``/_control`` (see control.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

from aiohttp import web

from . import errors
from .checks import ApiOptions
from .control import control_routes
from .errors import ApiError
from .limits import RateLimiter, RateLimits
from .methods import BotApi
from .params import Params, Upload
from .records import Counters, StoredMessage, UserRecord
from .state import TelegramState

TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
DEFAULT_TOKEN = "123456789:TEST-tocsin-telegram-api-server"
# The methods random faults hit unless told otherwise: those that change something.
DEFAULT_FAULT_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "sendlocation",
        "sendchataction",
        "editmessagetext",
        "editmessagereplymarkup",
        "deletemessage",
        "answercallbackquery",
    }
)
_MAX_BODY = 60 * 1024 * 1024


@dataclass(frozen=True)
class FaultConfig:
    """Random failures: a ratio answered 502 Bad Gateway, a ratio held then dropped.

    A held ("timeout") request is not processed: it waits ``timeout_seconds`` (or until
    the server stops) and then gets a 502, by which time the client has given up.
    With ``echo_url`` an error is a 500 whose description quotes the request URL,
    percent-encoded (bot token included), as a misbehaving server or proxy does.
    """

    error_ratio: float = 0.0
    timeout_ratio: float = 0.0
    timeout_seconds: float = 30.0
    methods: frozenset[str] = DEFAULT_FAULT_METHODS
    echo_url: bool = False


class BotApiServer:
    """The fake Bot API. Start it, point a Bot at ``base_url``, drive the users' side."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        rate_scale: float = 1.0,
        limits: bool = True,
        rate_limits: RateLimits | None = None,
        auto_create_chats: bool = True,
        strict_ampersand: bool = False,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        bot_username: str = "tocsin_test_bot",
        bot_name: str = "Tocsin Test",
    ) -> None:
        if not TOKEN_PATTERN.match(token):
            raise ValueError("a bot token looks like 123456:ABC-... (20+ characters after ':')")
        self.token = token
        self._clock = clock
        self._rate_limits = rate_limits or RateLimits()
        bot = UserRecord(int(token.split(":", 1)[0]), bot_name, username=bot_username, is_bot=True)
        self.state = TelegramState(bot, wall_clock=wall_clock)
        self.api = BotApi(
            self.state,
            RateLimiter(self._rate_limits, scale=rate_scale, clock=clock),
            ApiOptions(
                auto_create_chats=auto_create_chats,
                strict_ampersand=strict_ampersand,
                limits_enabled=limits,
            ),
        )
        self.faults = FaultConfig()
        self._rng = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing: asyncio.Event | None = None

        # The users' side, delegated to the state (same signatures).
        self.add_user = self.state.add_user
        self.add_chat = self.state.add_chat
        self.add_topic = self.state.add_topic
        self.set_chat_state = self.state.set_chat_state
        self.inject_message = self.state.inject_message
        self.inject_photo = self.state.inject_photo
        self.inject_location = self.state.inject_location
        self.inject_sticker = self.state.inject_sticker
        self.inject_voice = self.state.inject_voice
        self.inject_document = self.state.inject_document
        self.inject_edit = self.state.inject_edit
        self.inject_callback = self.state.inject_callback
        self.inject_bot_added = self.state.inject_bot_added
        self.inject_bot_removed = self.state.inject_bot_removed
        self.inject_migration = self.state.inject_migration
        self.sent_messages = self.state.sent_messages
        self.chat_messages = self.state.chat_messages
        self.pending_updates = self.state.pending_updates
        self.file_bytes = self.state.file_bytes

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("the server is already started")
        self._closing = asyncio.Event()
        self.api.closing = False
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_routes(control_routes(self))
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        site = web.SockSite(runner, sock)
        await site.start()
        bound_host, bound_port = sock.getsockname()[:2]
        self._runner = runner
        self._base_url = f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        if self._closing is not None:
            self._closing.set()
        self.api.closing = True
        self.state.notify()
        await runner.cleanup()

    async def __aenter__(self) -> BotApiServer:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; the Bot's base_url is this plus ``/bot``."""
        if self._base_url is None:
            raise RuntimeError("the server is not started")
        return self._base_url

    @property
    def api_url(self) -> str:
        """What to give PTB as ``base_url``."""
        return self.base_url + "/bot"

    @property
    def file_url(self) -> str:
        """What to give PTB as ``base_file_url``."""
        return self.base_url + "/file/bot"

    # -- configuration at runtime ------------------------------------------------------

    def set_faults(
        self,
        *,
        error_ratio: float = 0.0,
        timeout_ratio: float = 0.0,
        timeout_seconds: float = 30.0,
        seed: int | None = None,
        methods: Iterable[str] | None = None,
        echo_url: bool = False,
    ) -> FaultConfig:
        """Replace the random fault settings; ``methods=["*"]`` hits every method."""
        if min(error_ratio, timeout_ratio) < 0 or error_ratio + timeout_ratio > 1:
            raise ValueError("ratios are between 0 and 1 and add up to at most 1")
        if timeout_seconds < 0:
            raise ValueError("timeout_seconds is not negative")
        chosen = DEFAULT_FAULT_METHODS
        if methods is not None:
            names = frozenset(name.lower() for name in methods)
            chosen = frozenset(self.api.handlers) if "*" in names else names
        if seed is not None:
            self._rng.seed(seed)
        self.faults = FaultConfig(error_ratio, timeout_ratio, timeout_seconds, chosen, echo_url)
        return self.faults

    def set_limits(self, *, enabled: bool | None = None, rate_scale: float | None = None) -> None:
        """Turn the flood limits on/off, or rescale them (which starts them afresh)."""
        if enabled is not None:
            self.api.options.limits_enabled = enabled
        if rate_scale is not None:
            self.api.limiter = RateLimiter(self._rate_limits, scale=rate_scale, clock=self._clock)

    @property
    def limits_enabled(self) -> bool:
        return self.api.options.limits_enabled

    @property
    def rate_scale(self) -> float:
        return self.api.limiter.scale

    @property
    def counters(self) -> Counters:
        return self.state.counters

    def reset_counters(self) -> None:
        self.state.counters = Counters()

    def stats(self) -> dict[str, Any]:
        """Counters and sizes, JSON-able (what ``GET /_control/stats`` answers)."""
        return {
            **self.state.counters.snapshot(),
            "pending_updates": len(self.state.updates),
            "messages_stored": sum(len(chat) for chat in self.state.messages.values()),
            "limits_enabled": self.limits_enabled,
            "rate_scale": self.rate_scale,
            "rate_limited_chats": self.api.limiter.tracked_chats(),
        }

    # -- readback helpers --------------------------------------------------------------

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        message = self.state.messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        return message

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        return list(self.state.callback_answers)

    @property
    def webhook(self) -> dict[str, Any]:
        return dict(self.state.webhook)

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        values: dict[str, Any] = {"language_code": language_code}
        if scope is not None:
            values["scope"] = scope
        return list(self.state.commands.get(BotApi._commands_key(Params(values)), []))

    async def wait_for_sent(
        self, count: int, *, chat_id: int | None = None, within: float = 5.0
    ) -> list[StoredMessage]:
        """The bot's sent messages once there are at least ``count`` (TimeoutError if not)."""
        reached = await self.state.wait_until(
            lambda: len(self.state.sent_messages(chat_id)) >= count, within
        )
        if not reached:
            raise TimeoutError(
                f"{len(self.state.sent_messages(chat_id))} messages sent, {count} awaited"
            )
        return self.state.sent_messages(chat_id)

    async def wait_until_consumed(self, within: float = 5.0) -> bool:
        """True once the bot confirmed (getUpdates offset) every injected update."""
        return await self.state.wait_until(lambda: not self.state.updates, within)

    # -- HTTP: the Bot API -------------------------------------------------------------

    def _draw_fault(self, method: str) -> str | None:
        faults = self.faults
        if method not in faults.methods or not (faults.error_ratio or faults.timeout_ratio):
            return None
        draw = self._rng.random()
        if draw < faults.error_ratio:
            return "error"
        if draw < faults.error_ratio + faults.timeout_ratio:
            return "timeout"
        return None

    async def _hold(self, seconds: float) -> None:
        assert self._closing is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    @staticmethod
    async def _read_params(request: web.Request) -> Params:
        values: dict[str, Any] = dict(request.query)
        files: dict[str, Upload] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise errors.bad_request("can't parse JSON request body") from None
                if not isinstance(body, dict):
                    raise errors.bad_request("JSON request body must be an object")
                values.update(body)
            else:
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        files[name] = Upload(value.filename, value.content_type, value.file.read())
                    else:
                        values[name] = value
        return Params(values, files)

    @staticmethod
    def _chat_hint(params: Params | None) -> int | None:
        if params is None:
            return None
        try:
            return int(params.values.get("chat_id", ""))
        except (TypeError, ValueError):
            return None

    def _error(self, error: ApiError, params: Params | None = None) -> web.Response:
        counters = self.state.counters
        counters.errors[error.code] += 1
        if error.code >= 500:
            counters.server_errors += 1
        chat_id = self._chat_hint(params)
        if chat_id is not None:
            counters.per_chat_errors[chat_id] += 1
        return web.json_response(error.envelope(), status=error.code)

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if not TOKEN_PATTERN.match(token):
            return web.json_response(errors.not_found().envelope(), status=404)
        if token != self.token:
            return web.json_response(errors.unauthorized().envelope(), status=401)
        method = request.match_info["method"].lower()
        handler = self.api.handlers.get(method)
        if handler is None:
            return web.json_response(errors.not_found().envelope(), status=404)
        self.state.counters.requests[method] += 1
        fault = self._draw_fault(method)
        if fault == "timeout":
            self.state.counters.timeouts += 1
            await self._hold(self.faults.timeout_seconds)
        if fault is not None and self.faults.echo_url:
            url = quote(str(request.url), safe="")
            return self._error(errors.internal_error(f"upstream request {url} failed"))
        if fault is not None:
            return self._error(errors.bad_gateway())
        params: Params | None = None
        try:
            params = await self._read_params(request)
            result = await handler(params)
        except ApiError as error:
            return self._error(error, params)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if token != self.token:
            return web.json_response(errors.unauthorized().envelope(), status=401)
        stored = self.state.files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.json_response(errors.not_found().envelope(), status=404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

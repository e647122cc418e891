"""``/_control``: the users' side of the fake Telegram over JSON, for other processes.

Every POST takes a JSON object whose keys are the keyword arguments of the Python method
of the same name (bytes as ``data_base64``); every answer is JSON, ``400 {"ok": false,
"error": ...}`` when the request does not make sense.

  GET  /_control/health                      {"ok": true, "base_url": ...}
  POST /_control/users                       add_user(user_id, first_name, username, ...)
  POST /_control/chats                       add_chat(chat_id, type, title, username, is_forum)
  GET  /_control/chats/{chat_id}             the chat and its fault state
  POST /_control/topics                      add_topic(chat_id, name) -> message_thread_id
  POST /_control/chat_state                  set_chat_state(chat_id, blocked, kicked, ...)
  POST /_control/faults                      set_faults(error_ratio, timeout_ratio, ...)
  POST /_control/limits                      set_limits(enabled, rate_scale)
  POST /_control/reset_counters
  POST /_control/inject/{kind}               inject_<kind>(...) -> {"update": ...}
       kind: message photo location sticker voice document edit callback
             bot_added bot_removed migration ("updates": [...])
  GET  /_control/sent?chat_id=&min_count=&timeout=   bot messages (waits for min_count)
  GET  /_control/messages?chat_id=           every message of a chat
  GET  /_control/stats                       counters
  GET  /_control/updates                     updates not yet confirmed by the bot
  POST /_control/wait_consumed               {"timeout": s} -> {"consumed": bool}
  GET  /_control/callback_answers            answerCallbackQuery calls
  GET  /_control/commands?language_code=     setMyCommands (default scope)
  GET  /_control/webhook                     setWebhook's record
  GET  /_control/files/{file_id}             the stored bytes
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import BotApiServer

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_BYTES_KEYS = ("data_base64",)


def _ok(**payload: Any) -> web.Response:
    return web.json_response({"ok": True, **payload})


def _refuse(error: Exception) -> web.Response:
    return web.json_response({"ok": False, "error": f"{type(error).__name__}: {error}"}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        # ValueError: `_refuse` answers it as a 400, like any malformed body.
        raise ValueError("the body is a JSON object")  # noqa: TRY004
    for key in _BYTES_KEYS:
        if key in body:
            body["data"] = base64.b64decode(body.pop(key))
    return body


def _guarded(handler: RouteHandler) -> RouteHandler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (ValueError, TypeError, KeyError) as error:
            return _refuse(error)

    return guarded


def _chat_query(request: web.Request) -> int | None:
    raw = request.query.get("chat_id")
    return int(raw) if raw not in (None, "") else None


class _ControlApi:
    """The control endpoints: what a test does to the simulated Telegram and reads back."""

    def __init__(self, server: BotApiServer) -> None:
        self._server = server
        self._state = server.state
        self._injectors: dict[str, Callable[..., Any]] = {
            "message": self._state.inject_message,
            "photo": self._state.inject_photo,
            "location": self._state.inject_location,
            "sticker": self._state.inject_sticker,
            "voice": self._state.inject_voice,
            "document": self._state.inject_document,
            "edit": self._state.inject_edit,
            "callback": self._state.inject_callback,
            "bot_added": self._state.inject_bot_added,
            "bot_removed": self._state.inject_bot_removed,
            "migration": self._state.inject_migration,
        }

    async def health(self, _request: web.Request) -> web.StreamResponse:
        return _ok(base_url=self._server.base_url)

    async def users(self, request: web.Request) -> web.StreamResponse:
        return _ok(user=self._state.add_user(**await _body(request)).to_api())

    async def chats(self, request: web.Request) -> web.StreamResponse:
        return _ok(chat=self._state.add_chat(**await _body(request)).to_api())

    async def chat(self, request: web.Request) -> web.StreamResponse:
        record = self._state.chats[int(request.match_info["chat_id"])]
        return _ok(chat=record.to_api(), state=record.fault_state(), topics=record.topics)

    async def topics(self, request: web.Request) -> web.StreamResponse:
        return _ok(message_thread_id=self._state.add_topic(**await _body(request)))

    async def chat_state(self, request: web.Request) -> web.StreamResponse:
        record = self._state.set_chat_state(**await _body(request))
        return _ok(chat=record.to_api(), state=record.fault_state())

    async def faults(self, request: web.Request) -> web.StreamResponse:
        config = self._server.set_faults(**await _body(request))
        return _ok(
            error_ratio=config.error_ratio,
            timeout_ratio=config.timeout_ratio,
            timeout_seconds=config.timeout_seconds,
            methods=sorted(config.methods),
            echo_url=config.echo_url,
        )

    async def limits(self, request: web.Request) -> web.StreamResponse:
        self._server.set_limits(**await _body(request))
        return _ok(enabled=self._server.limits_enabled, rate_scale=self._server.rate_scale)

    async def reset_counters(self, _request: web.Request) -> web.StreamResponse:
        self._server.reset_counters()
        return _ok()

    async def inject(self, request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        injector = self._injectors.get(kind)
        if injector is None:
            raise ValueError(f"unknown injection {kind!r}; one of {sorted(self._injectors)}")
        result = injector(**await _body(request))
        if isinstance(result, list):
            return _ok(updates=result)
        return _ok(update=result)

    async def sent(self, request: web.Request) -> web.StreamResponse:
        chat_id = _chat_query(request)
        min_count = int(request.query.get("min_count", "0"))
        timeout = float(request.query.get("timeout", "5"))
        if min_count:
            await self._state.wait_until(
                lambda: len(self._state.sent_messages(chat_id)) >= min_count, timeout
            )
        return _ok(messages=self._state.records(self._state.sent_messages(chat_id)))

    async def messages(self, request: web.Request) -> web.StreamResponse:
        chat_id = _chat_query(request)
        if chat_id is None:
            raise ValueError("chat_id is required")
        return _ok(messages=self._state.records(self._state.chat_messages(chat_id)))

    async def stats(self, _request: web.Request) -> web.StreamResponse:
        return _ok(stats=self._server.stats())

    async def updates(self, _request: web.Request) -> web.StreamResponse:
        return _ok(updates=self._state.pending_updates())

    async def wait_consumed(self, request: web.Request) -> web.StreamResponse:
        within = float((await _body(request)).get("timeout", 5.0))
        return _ok(consumed=await self._server.wait_until_consumed(within))

    async def callback_answers(self, _request: web.Request) -> web.StreamResponse:
        return _ok(answers=self._server.callback_answers)

    async def commands(self, request: web.Request) -> web.StreamResponse:
        language = request.query.get("language_code", "")
        return _ok(commands=self._server.commands(language_code=language))

    async def webhook(self, _request: web.Request) -> web.StreamResponse:
        return _ok(webhook=self._server.webhook)

    async def files(self, request: web.Request) -> web.StreamResponse:
        stored = self._state.files[request.match_info["file_id"]]
        return web.Response(body=stored.data, content_type="application/octet-stream")


def control_routes(server: BotApiServer) -> list[web.RouteDef]:
    api = _ControlApi(server)
    routes: list[tuple[str, str, RouteHandler]] = [
        ("GET", "/_control/health", api.health),
        ("POST", "/_control/users", api.users),
        ("POST", "/_control/chats", api.chats),
        ("GET", "/_control/chats/{chat_id}", api.chat),
        ("POST", "/_control/topics", api.topics),
        ("POST", "/_control/chat_state", api.chat_state),
        ("POST", "/_control/faults", api.faults),
        ("POST", "/_control/limits", api.limits),
        ("POST", "/_control/reset_counters", api.reset_counters),
        ("POST", "/_control/inject/{kind}", api.inject),
        ("GET", "/_control/sent", api.sent),
        ("GET", "/_control/messages", api.messages),
        ("GET", "/_control/stats", api.stats),
        ("GET", "/_control/updates", api.updates),
        ("POST", "/_control/wait_consumed", api.wait_consumed),
        ("GET", "/_control/callback_answers", api.callback_answers),
        ("GET", "/_control/commands", api.commands),
        ("GET", "/_control/webhook", api.webhook),
        ("GET", "/_control/files/{file_id}", api.files),
    ]
    return [web.route(method, path, _guarded(handler)) for method, path, handler in routes]

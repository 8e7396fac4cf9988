"""A fake Telegram Bot API server on 127.0.0.1: serves queued updates, records every request."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_ID = 7000001
BOT_USERNAME = "newsbot_test_bot"
# Parameters that stay strings; every other form value is JSON-decoded (PTB encodes them so).
_STRING_PARAMS = {"text", "caption", "data", "callback_query_id", "url", "secret_token",
                  "action", "parse_mode", "description", "short_description"}
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")
MAX_POLL = 1.0  # seconds a getUpdates call is held open at most


@dataclass
class Call:
    """One request the bot made, and what the fake answered."""

    method: str
    params: dict[str, Any]
    result: Any = None


class FakeBotApi:
    """A Bot API server in a thread: `with FakeBotApi(token) as api: ... api.url ...`."""

    def __init__(self, token: str, username: str = BOT_USERNAME) -> None:
        self.token = token
        self.me = {"id": BOT_ID, "is_bot": True, "first_name": "Newsbot", "username": username,
                   "can_join_groups": True, "can_read_all_group_messages": False,
                   "supports_inline_queries": False}
        self.calls: list[Call] = []
        # Called with each answered call (on the server's request thread), e.g. by a load driver.
        self.listeners: list[Callable[[Call], None]] = []
        self.raw_paths: list[str] = []
        self._updates: list[dict[str, Any]] = []
        self._chats: dict[int, dict[str, Any]] = {}
        self._next_update = 1
        self._next_message = 1000
        self._changed = threading.Condition()
        self._closed = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        """The server root, e.g. http://127.0.0.1:PORT (the bot appends /bot<token>/<method>)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeBotApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    # ---------- feeding updates ----------
    def push(self, **update: Any) -> int:
        """Queue an update (e.g. message={...}); returns its update_id."""
        with self._changed:
            update_id = self._next_update
            self._next_update += 1
            self._updates.append({"update_id": update_id, **update})
            self._changed.notify_all()
        return update_id

    def user(self, user_id: int, name: str = "Ada") -> dict[str, Any]:
        """A Telegram user object."""
        return {"id": user_id, "is_bot": False, "first_name": name, "language_code": "en"}

    def chat(self, chat_id: int, kind: str = "private") -> dict[str, Any]:
        """A chat object, remembered so that the bot's replies come from the same chat."""
        chat = {"id": chat_id, "type": kind}
        chat.update({"title": "Newsroom"} if kind != "private" else {"first_name": "Ada"})
        self._chats[chat_id] = chat
        return chat

    def message(self, text: str | None, *, user_id: int = 111, chat_id: int | None = None,
                kind: str = "private", reply_to: dict[str, Any] | None = None,
                **extra: Any) -> dict[str, Any]:
        """A message object from a user (text None for stickers etc., passed in extra)."""
        with self._changed:
            self._next_message += 1
            message_id = self._next_message
        message = {"message_id": message_id, "date": int(time.time()),
                   "from": self.user(user_id), "chat": self.chat(chat_id or user_id, kind), **extra}
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                length = len(text.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return message

    def send_text(self, text: str, **kwargs: Any) -> int:
        """Queue a text message update."""
        return self.push(message=self.message(text, **kwargs))

    def press(self, data: str, on: dict[str, Any], user_id: int = 111) -> int:
        """Queue a callback query: the user pressed a button with `data` on the bot's message."""
        query = {"id": f"cq{self._next_update}", "from": self.user(user_id),
                 "chat_instance": "ci-1", "data": data, "message": on}
        return self.push(callback_query=query)

    # ---------- looking at what the bot did ----------
    def requests(self, method: str | None = None) -> list[Call]:
        """The calls so far, optionally only one method's."""
        with self._changed:
            return [c for c in self.calls if method is None or c.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Parameters of every sendMessage, optionally to one chat."""
        return [c.params for c in self.requests("sendMessage")
                if chat_id is None or c.params.get("chat_id") == chat_id]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until condition() is truthy and return it; AssertionError after the timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = condition()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; the bot called: {self.summary()}")
                self._changed.wait(min(remaining, 0.1))

    def wait_sent(self, count: int, chat_id: int | None = None,
                  timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least `count` messages were sent (to the chat) and return them all."""
        return self.wait_for(lambda: (lambda s: s if len(s) >= count else None)(
            self.sent(chat_id)), timeout)

    def wait_idle(self, seconds: float = 0.3) -> None:
        """Wait until every queued update was fetched, then a little longer for the replies."""
        self.wait_for(lambda: self._all_fetched())
        time.sleep(seconds)

    def summary(self) -> str:
        """The methods called so far, for failure messages."""
        return ", ".join(c.method for c in self.requests() if c.method != "getUpdates")

    # ---------- serving ----------
    def _all_fetched(self) -> bool:
        """Whether the bot has confirmed every queued update."""
        offsets = [c.params.get("offset", 0) or 0 for c in self.calls if c.method == "getUpdates"]
        return not self._updates or max(offsets, default=0) > self._updates[-1]["update_id"]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """A request handler class bound to this server."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are written separately: without this, Nagle's algorithm and the
            # client's delayed ACK hold every response back ~40 ms.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                api._serve(self)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one HTTP request."""
        match = _PATH.match(request.path.split("?")[0])
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        with self._changed:
            self.raw_paths.append(request.path)
        if not match:
            return _reply(request, 404, {"ok": False, "error_code": 404,
                                         "description": "Not Found"})
        if match["token"] != self.token:
            return _reply(request, 401, {"ok": False, "error_code": 401,
                                         "description": "Unauthorized"})
        call = Call(match["method"], _params(request.headers.get("Content-Type", ""), body))
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        result = call.result = self._result(call.method, call.params)
        for listener in self.listeners:
            listener(call)
        if result is None:
            return _reply(request, 404, {"ok": False, "error_code": 404,
                                         "description": "Not Found: method not found"})
        _reply(request, 200, {"ok": True, "result": result})

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        """What the Bot API would return for a method (None: unknown method)."""
        if method == "getUpdates":
            return self._poll(int(params.get("offset") or 0), float(params.get("timeout") or 0))
        if method == "getMe":
            return self.me
        if method in ("sendMessage", "editMessageText"):
            return self._bot_message(params)
        if method in ("deleteWebhook", "setWebhook", "sendChatAction", "answerCallbackQuery",
                      "setMyCommands", "deleteMyCommands", "close", "logOut"):
            return True
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return None

    def _poll(self, offset: int, timeout: float) -> list[dict[str, Any]]:
        """Updates from offset on, waiting up to the timeout (capped) for one to arrive."""
        deadline = time.monotonic() + min(timeout, MAX_POLL)
        with self._changed:
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset] \
                    if offset else self._updates
                if self._updates or self._closed or time.monotonic() >= deadline:
                    return list(self._updates)
                self._changed.wait(max(0.0, min(0.1, deadline - time.monotonic())))

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        """The Message object for a message the bot sent or edited."""
        chat_id = params.get("chat_id")
        with self._changed:
            self._next_message += 1
            message_id = params.get("message_id") or self._next_message
        message = {"message_id": message_id, "date": int(time.time()), "from": self.me,
                   "chat": self._chats.get(chat_id, {"id": chat_id, "type": "private"}),
                   "text": params.get("text", "")}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    """Request parameters from a form or JSON body, JSON values decoded."""
    if not body:
        return {}
    if content_type.startswith("application/json"):
        return json.loads(body)
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        params[key] = value if key in _STRING_PARAMS else _json_or_text(value)
    return params


def _json_or_text(value: str) -> Any:
    """A JSON-encoded form value decoded, or the text as is."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _reply(request: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    """Write a JSON response; a client that hung up (a cancelled long poll) is fine."""
    data = json.dumps(payload).encode("utf-8")
    try:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
    except OSError:
        pass

"""A local chat model server for tests: OpenAI's /v1/chat/completions (plain JSON and streamed
SSE) and Ollama's /api/chat (NDJSON), on 127.0.0.1, answering with scripted models.

A script is a function of the request (its model name picks the script) returning a Reply: the
text, in how many pieces to stream it, delays, or an HTTP status to fail with. Every wait is
bounded and ends when the server stops.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# No wait in a script lasts longer than this, whatever it asks for.
MAX_WAIT_SECONDS = 10.0
_EVIDENCE_LINE = re.compile(r"^\[(\d+)\] (.*)$", re.M)


@dataclass
class Request:
    """One chat request as the server received it."""

    path: str
    model: str
    messages: list[dict[str, Any]]
    stream: bool
    headers: dict[str, str]

    @property
    def system(self) -> str:
        """The system prompt."""
        return "\n".join(_content(m) for m in self.messages if m.get("role") == "system")

    @property
    def last_user(self) -> str:
        """The last user message (the evidence and the question)."""
        users = [_content(m) for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else ""

    @property
    def evidence(self) -> dict[int, str]:
        """The numbered evidence lines of the last user message: number -> sentence."""
        return {int(n): text for n, text in _EVIDENCE_LINE.findall(self.last_user)}

    @property
    def question(self) -> str:
        """The question, from the line `Question: ...` (or the last line)."""
        lines = self.last_user.strip().splitlines()
        asked = [
            line.split(":", 1)[1].strip()
            for line in lines
            if line.startswith(("Question:", "Last question:"))
        ]
        return asked[-1] if asked else (lines[-1] if lines else "")


def _content(message: dict[str, Any]) -> str:
    """A message's text (content given as a string or as parts)."""
    content = message.get("content", "")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


@dataclass
class Reply:
    """What a scripted model answers: text streamed in `pieces`, `delay` seconds before the first
    byte and `piece_delay` between pieces, or an error `status` with `error_body`, or a `raw`
    body that is no chat reply at all."""

    text: str = ""
    pieces: int = 4
    delay: float = 0.0
    piece_delay: float = 0.0
    status: int = 200
    error_body: str = '{"error": {"message": "scripted failure", "type": "server_error"}}'
    raw: str | None = None  # sent as the whole 200 body instead of a well-formed reply


Script = Callable[[Request], Reply]


@dataclass
class ModelServer:
    """The server; `scripts` maps model names to scripts. Use as a context manager."""

    scripts: dict[str, Script]
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> ModelServer:
        self._http = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    @property
    def root(self) -> str:
        """http://127.0.0.1:PORT (Ollama's base URL)."""
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def openai_url(self) -> str:
        """The OpenAI-compatible base URL."""
        return f"{self.root}/v1"

    def wait(self, seconds: float) -> None:
        """Sleep up to `seconds` (at most MAX_WAIT_SECONDS), less when the server stops."""
        self.stopping.wait(min(seconds, MAX_WAIT_SECONDS))


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to one server."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            ollama = self.path.rstrip("/").endswith("/api/chat")
            if not (ollama or self.path.rstrip("/").endswith("/chat/completions")):
                self._send(404, '{"error": "not found"}')
                return
            request = Request(
                self.path,
                body.get("model", ""),
                body.get("messages", []),
                bool(body.get("stream", ollama)),
                {k.lower(): v for k, v in self.headers.items()},
            )
            server.requests.append(request)
            script = server.scripts.get(request.model)
            if script is None:
                self._send(404, json.dumps({"error": {"message": f"model {request.model} not found"}}))
                return
            reply = script(request)
            server.wait(reply.delay)
            try:
                if reply.status != 200:
                    self._send(reply.status, reply.error_body)
                elif reply.raw is not None:
                    self._send(200, reply.raw)
                elif ollama:
                    self._ollama(request, reply)
                elif request.stream:
                    self._sse(request, reply)
                else:
                    self._send(200, json.dumps(_completion(request.model, reply.text)))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout)

        def _send(self, status: int, body: str, kind: str = "application/json") -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, kind: str, lines: list[str], reply: Reply) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Connection", "close")
            self.end_headers()
            for n, line in enumerate(lines):
                if n and reply.piece_delay:
                    server.wait(reply.piece_delay)
                self.wfile.write(line.encode("utf-8"))
                self.wfile.flush()
            self.close_connection = True

        def _sse(self, request: Request, reply: Reply) -> None:
            events = [json.dumps(_chunk(request.model, piece)) for piece in split(reply.text, reply.pieces)]
            events.append(json.dumps(_chunk(request.model, "", finish="stop")))
            self._stream(
                "text/event-stream", [f"data: {e}\n\n" for e in events] + ["data: [DONE]\n\n"], reply
            )

        def _ollama(self, request: Request, reply: Reply) -> None:
            pieces = split(reply.text, reply.pieces) if request.stream else [reply.text]
            lines = [json.dumps(_ollama_line(request.model, piece, done=False)) for piece in pieces]
            lines.append(json.dumps(_ollama_line(request.model, "", done=True)))
            self._stream("application/x-ndjson", [line + "\n" for line in lines], reply)

    return Handler


def split(text: str, pieces: int) -> list[str]:
    """The text in about `pieces` consecutive parts (cut at spaces), which join to it."""
    words = re.findall(r"\S+\s*", text)
    if not words:
        return [text]
    size = max(1, -(-len(words) // max(pieces, 1)))
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(model: str, piece: str, finish: str | None = None) -> dict[str, Any]:
    delta = {"role": "assistant", "content": piece} if not finish else {}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _ollama_line(model: str, piece: str, *, done: bool) -> dict[str, Any]:
    line: dict[str, Any] = {
        "model": model,
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": piece},
        "done": done,
    }
    if done:
        line.update(done_reason="stop", total_duration=1, prompt_eval_count=1, eval_count=1)
    return line

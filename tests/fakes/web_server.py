"""A real HTTP server on 127.0.0.1 for the web tests: pages, feeds, redirects, errors, a slow
answer and an endless body, each route a canned `Reply` (or a function of the request count).

Every loop is bounded: an endless body stops after `ENDLESS_CHUNKS` chunks or when the client
hangs up, a slow reply sleeps at most `delay` seconds.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WEB = Path(__file__).resolve().parents[1] / "data" / "web"
ENDLESS_CHUNKS = 20_000  # × 64 KB: 1.3 GB at most, never reached by a client that stops reading
CHUNK = b"<p>" + b"x" * 65_530 + b"</p>"


@dataclass
class Reply:
    """What a route answers."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    endless: bool = False


Route = Reply | Callable[[int, dict[str, str]], Reply]


class WebServer:
    """Serves `routes` (path with query -> Reply, or f(request number, headers) -> Reply)."""

    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._answer(self)

            def log_message(self, *_args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def fixture(self, name: str, **values: str) -> bytes:
        """A file of tests/data/web with {BASE} (and any {KEY} given) filled in."""
        text = (WEB / name).read_text(encoding="utf-8").replace("{BASE}", self.base)
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text.encode("utf-8")

    def article(self, path: str, title: str, date: str, *paragraphs: str, author: str = "APA") -> Reply:
        """A news page (navigation, cookie banner, comments, JSON-LD date) served at `path`."""
        body = "\n".join(f"    <p>{p}</p>" for p in paragraphs)
        data = self.fixture(
            "article-template.html", TITLE=title, DATE=date, BODY=body, AUTHOR=author, URL=self.url(path)
        )
        reply = Reply(body=data)
        self.routes[path] = reply
        return reply

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _wait(self, seconds: float) -> None:
        """A request's think time, counted as in flight. It ends before any byte of the reply is
        written, so a client that has its reply (and sends the next request) never sees it
        counted twice."""
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if seconds:
                time.sleep(seconds)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.hits[path] += 1
            self.requests.append((path, headers))
            count = self.hits[path]
        route = self.routes.get(path)
        if route is None:
            reply = Reply(404, b"<html><body><h1>Not found</h1></body></html>")
        else:
            reply = route if isinstance(route, Reply) else route(count, headers)
        self._wait(reply.delay)
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            if reply.endless:
                handler.end_headers()
                for _ in range(ENDLESS_CHUNKS):
                    handler.wfile.write(CHUNK)
                return
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            return


HOCHWASSER = "/chronik/hochwasser-graz.html?utm_source=rss&utm_medium=feed"
STREIK = "/chronik/aerztestreik-salzburg.html"


def serve_news(web: WebServer) -> None:
    """The Tagesblatt RSS feed (summaries), two of its three article pages, and an Atom feed."""
    web.routes["/feeds/chronik.rss"] = Reply(
        body=web.fixture("rss-summaries.xml"), content_type="application/rss+xml; charset=utf-8"
    )
    web.routes["/feeds/world.atom"] = Reply(
        body=web.fixture("atom-full.xml"), content_type="application/atom+xml"
    )
    web.article(
        HOCHWASSER,
        "Hochwasser in Graz: Mur tritt über die Ufer",
        "2015-06-02T16:45:00+02:00",
        "Nach heftigen Regenfällen ist die Mur in Graz am Dienstagnachmittag über die Ufer getreten. "
        "Mehr als 300 Feuerwehrleute waren im Einsatz, um die Altstadt vor dem Wasser zu schützen.",
        "Verletzt wurde niemand, sagte ein Sprecher der Polizei. Der Pegel soll in der Nacht sinken, "
        "die Feuerwehr bleibt aber bis Mittwochfrüh in Bereitschaft.",
    )
    web.article(
        STREIK,
        "Spitalsärzte in Salzburg streiken",
        "2015-10-01",
        "Die Salzburger Spitalsärzte haben am Donnerstag die Arbeit niedergelegt. Geplante "
        "Operationen wurden verschoben, die Notfallversorgung bleibt aufrecht.",
        "Die Ärztekammer fordert höhere Grundgehälter und weniger Nachtdienste. Gespräche mit dem "
        "Land sollen in der kommenden Woche fortgesetzt werden.",
    )


if __name__ == "__main__":  # serve the news fixtures for a walk-through: python -m tests.fakes.web_server
    import sys

    web = WebServer(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    serve_news(web)
    print(
        f"serving {web.url('/feeds/chronik.rss')} and {web.url('/feeds/world.atom')}; Ctrl-C stops",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        web.close()

"""Polite and safe fetching over real HTTP from a local server: robots.txt (disallow, missing,
unreachable, read once per site), per-host spacing and Crawl-delay on a fake clock, and the guard
against internal addresses (127.0.0.1, a public name redirecting there, DNS rebinding)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from retrieval.config import Settings
from retrieval.documents import LoadResult
from retrieval.readers.fetch import Fetcher, FetchError, FetchOptions
from retrieval.readers.netguard import GuardedTransport, blocked_reason, check_url
from retrieval.readers.robots import HostPacer, parse_robots
from retrieval.readers.web import read_urls
from tests.fakes.web_server import Reply, WebServer

PAGE = Reply(body=b"<html><body><p>Hello</p></body></html>")
PUBLIC = "93.184.216.34"  # a global address; never connected to (the fake transport answers for it)


class FakeClock:
    """Time that passes only when slept; records every wait (thread-safe)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            self.now += seconds


@pytest.fixture
def server() -> Iterator[WebServer]:
    web = WebServer()
    yield web
    web.close()


def local(clock: FakeClock | None = None, **options: object) -> Fetcher:
    """A fetcher for the local server (internal addresses allowed), on a fake clock."""
    values: dict = {"timeout": 5.0, "retries": 1, "backoff": 0.0, "allow_private": True, **options}
    clock = clock or FakeClock()
    return Fetcher(FetchOptions(**values), sleep=clock.sleep, clock=clock)


def robots(text: str) -> Reply:
    return Reply(body=text.encode(), content_type="text/plain")


# ---------- robots.txt ----------
def test_a_url_robots_txt_disallows_is_skipped_and_the_rest_is_read(server: WebServer) -> None:
    server.routes["/robots.txt"] = robots("User-agent: *\nDisallow: /private/\n")
    server.routes["/private/page.html"] = PAGE
    server.article(
        "/news/page.html",
        "Spitalsärzte in Salzburg streiken",
        "2015-10-01",
        "Die Salzburger Spitalsärzte haben am Donnerstag die Arbeit niedergelegt. Geplante Operationen "
        "wurden verschoben, die Notfallversorgung bleibt aufrecht, sagte ein Sprecher des Landes.",
    )
    result = LoadResult()
    urls = [server.url("/private/page.html"), server.url("/news/page.html")]
    with local(host_delay=0.0) as fetcher:
        read_urls(urls, fetcher, result)
    [problem] = result.problems
    host = server.base.removeprefix("http://")
    assert str(problem) == f"{urls[0]}: robots.txt of {host} disallows {urls[0]}"
    assert server.hits["/private/page.html"] == 0 and server.hits["/news/page.html"] == 1
    assert server.hits["/robots.txt"] == 1  # read once per site
    assert [a.title for a in result.articles] == ["Spitalsärzte in Salzburg streiken"]


def test_rules_for_newsbot_beat_the_catch_all_and_the_longest_path_wins(server: WebServer) -> None:
    server.routes["/robots.txt"] = robots(
        "User-agent: *\nDisallow: /\n\nUser-agent: newsbot\nDisallow: /archiv/\nAllow: /archiv/2015/\n"
    )
    for path in ("/a.html", "/archiv/2015/b.html", "/archiv/2014/c.html"):
        server.routes[path] = PAGE
    with local(host_delay=0.0) as fetcher:
        assert fetcher.fetch(server.url("/a.html")).status == 200
        assert fetcher.fetch(server.url("/archiv/2015/b.html")).status == 200
        with pytest.raises(FetchError, match="disallows"):
            fetcher.fetch(server.url("/archiv/2014/c.html"))


def test_a_url_a_wildcard_rule_disallows_is_skipped_with_its_line(server: WebServer) -> None:
    server.routes["/robots.txt"] = robots("User-agent: *\nDisallow: /*.pdf$\n")
    server.routes["/files/report.pdf"] = Reply(body=b"%PDF-1.4", content_type="application/pdf")
    server.article(
        "/files/report.pdf.html",
        "Spitalsärzte in Salzburg streiken",
        "2015-10-01",
        "Die Salzburger Spitalsärzte haben am Donnerstag die Arbeit niedergelegt. Geplante Operationen "
        "wurden verschoben, die Notfallversorgung bleibt aufrecht, sagte ein Sprecher des Landes.",
    )
    result = LoadResult()
    urls = [server.url("/files/report.pdf"), server.url("/files/report.pdf.html")]
    with local(host_delay=0.0) as fetcher:
        read_urls(urls, fetcher, result)
    [problem] = result.problems
    host = server.base.removeprefix("http://")
    assert str(problem) == f"{urls[0]}: robots.txt of {host} disallows {urls[0]}"
    assert server.hits["/files/report.pdf"] == 0 and server.hits["/files/report.pdf.html"] == 1
    assert [a.title for a in result.articles] == ["Spitalsärzte in Salzburg streiken"]


def test_a_missing_robots_txt_allows_everything(server: WebServer) -> None:
    server.routes["/page.html"] = PAGE
    with local(host_delay=0.0) as fetcher:
        assert fetcher.fetch(server.url("/page.html")).status == 200
    assert server.hits["/robots.txt"] == 1  # the server's 404


def test_an_unreachable_robots_txt_disallows_the_site(server: WebServer) -> None:
    server.routes["/robots.txt"] = Reply(503, b"down")
    server.routes["/page.html"] = PAGE
    with local(host_delay=0.0) as fetcher, pytest.raises(FetchError, match=r"RFC 9309 .* disallowed"):
        fetcher.fetch(server.url("/page.html"))
    assert server.hits["/robots.txt"] == 2 and server.hits["/page.html"] == 0  # retried, then refused


def test_robots_false_ignores_robots_txt(server: WebServer) -> None:
    server.routes["/robots.txt"] = robots("User-agent: *\nDisallow: /\n")
    server.routes["/page.html"] = PAGE
    with local(host_delay=0.0, robots=False) as fetcher:
        assert fetcher.fetch(server.url("/page.html")).status == 200
    assert server.hits["/robots.txt"] == 0


def test_robots_rules_match_the_longest_path_and_only_the_first_500_kib_is_read() -> None:
    body = b"User-agent: *\nDisallow: /a\nAllow: /a/b\n" + b"#" * 600_000 + b"\nDisallow: /z\n"
    rules = parse_robots("http://x", body)
    assert rules.allows("http://x/a/b/c", "newsbot/0.1") and not rules.allows("http://x/a/c", "newsbot")
    assert rules.allows("http://x/z", "newsbot")  # past the limit: not read
    assert parse_robots("http://x", b"User-agent: *\nCrawl-delay: 1.5\n").crawl_delay("newsbot") == 2.0


# ---------- spacing per host ----------
def test_requests_to_one_host_are_spaced_and_other_hosts_do_not_wait(server: WebServer) -> None:
    server.routes["/a"] = server.routes["/b"] = PAGE
    clock = FakeClock()
    other = server.base.replace("127.0.0.1", "localhost")  # the same server under another host name
    with local(clock, host_delay=2.0) as fetcher:
        for url in (server.url("/a"), other + "/a", server.url("/b"), other + "/b"):
            fetcher.fetch(url)
    # /a on both hosts at t=0; /b on 127.0.0.1 waits its 2 s, /b on localhost is already due.
    assert clock.waits == [2.0]


def test_one_hosts_spacing_does_not_hold_up_the_other_hosts(server: WebServer) -> None:
    b_served = threading.Event()
    server.routes["/b1"] = lambda _n, _h: (b_served.set(), PAGE)[1]
    for n in range(6):
        server.routes[f"/a{n}"] = PAGE
    spaced_in_time: list[bool] = []

    def sleep(_seconds: float) -> None:  # a's spacing: lasts until b is served (5 s at most)
        spaced_in_time.append(b_served.wait(5.0))

    other = server.base.replace("127.0.0.1", "localhost")
    options = FetchOptions(host_delay=2.0, robots=False, allow_private=True, concurrency=2)
    fetcher = Fetcher(options, sleep=sleep)
    with fetcher:
        results = fetcher.fetch_all([server.url(f"/a{n}") for n in range(6)] + [other + "/b1"])
    assert all(not isinstance(r, FetchError) for r in results) and server.hits["/b1"] == 1
    assert spaced_in_time and all(spaced_in_time)  # b was served while a's requests waited


def test_crawl_delay_is_honoured_up_to_the_cap(server: WebServer) -> None:
    server.routes["/robots.txt"] = robots("User-agent: *\nCrawl-delay: 5\n")
    for n in range(3):
        server.routes[f"/p{n}"] = PAGE
    clock = FakeClock()
    with local(clock, host_delay=1.0) as fetcher:
        for n in range(3):
            fetcher.fetch(server.url(f"/p{n}"))
    assert clock.waits == [5.0, 5.0]
    clock = FakeClock()
    with local(clock, host_delay=1.0, max_crawl_delay=3.0) as fetcher:
        for n in range(3):
            fetcher.fetch(server.url(f"/p{n}"))
    assert clock.waits == [3.0, 3.0]


def test_requests_at_once_to_one_host_are_booked_one_delay_apart() -> None:
    waits: list[float] = []
    pacer = HostPacer(lambda: 100.0, waits.append)  # a clock that stands still: all ask at once
    for host in ("a", "a", "b", "a"):
        pacer.wait(host, 3.0)
    assert waits == [3.0, 6.0]  # a at 100, 103, 106; b at once


def test_settings_carry_the_politeness_and_guard_options() -> None:
    options = Settings(fetch_robots=False, fetch_host_delay=0.5, fetch_allow_private=True).fetch_options()
    assert (options.robots, options.host_delay, options.allow_private) == (False, 0.5, True)
    assert Settings().fetch_options().allow_private is False


# ---------- internal addresses ----------
@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "not public"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
    ],
)
def test_internal_addresses_are_named(address: str, kind: str) -> None:
    assert blocked_reason(address) == kind
    assert blocked_reason(PUBLIC) == "" and blocked_reason("2606:4700::1111") == ""
    assert blocked_reason("64:ff9b::5db8:d822") == ""  # NAT64 of a public address (DNS64 hosts)


def test_the_guard_refuses_127_0_0_1(server: WebServer) -> None:
    server.routes["/page.html"] = PAGE
    result = LoadResult()
    with Fetcher(FetchOptions(host_delay=0.0)) as fetcher:
        read_urls([server.url("/page.html")], fetcher, result)
    [problem] = result.problems
    assert "127.0.0.1 is a loopback address; refused" in str(problem)
    assert "NEWSBOT_FETCH_ALLOW_PRIVATE" in str(problem)
    assert server.requests == []  # not even robots.txt was asked for


class PublicSite(httpx.BaseTransport):
    """A fake public site (news.example) whose page redirects to `target`; other hosts go to the
    real network transport (here: the local server)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "news.example":
            if request.url.path == "/robots.txt":
                return httpx.Response(404)
            return httpx.Response(302, headers={"Location": self.target})
        return self.real.handle_request(request)


def resolve_news_example(host: str, port: int) -> list[str]:
    return [PUBLIC] if host == "news.example" else [host]


@pytest.mark.parametrize("allow_private", [False, True])
def test_a_redirect_to_an_internal_address_is_refused(server: WebServer, allow_private: bool) -> None:
    server.routes["/admin"] = PAGE
    options = FetchOptions(host_delay=0.0, retries=0, allow_private=allow_private)
    transport = PublicSite(server.url("/admin"))
    with Fetcher(options, transport=transport, resolve=resolve_news_example) as fetcher:
        if allow_private:  # the control: without the guard the redirect reaches the server
            assert fetcher.fetch("http://news.example/story").url == server.url("/admin")
            assert server.hits["/admin"] == 1
        else:
            with pytest.raises(FetchError, match=r"127.0.0.1 is a loopback address; refused"):
                fetcher.fetch("http://news.example/story")
            assert server.hits["/admin"] == 0


def test_a_name_that_rebinds_to_127_0_0_1_is_refused_at_connect_time(server: WebServer) -> None:
    server.routes["/admin"] = PAGE
    port = server.base.rsplit(":", 1)[1]
    answers = iter([[PUBLIC], ["127.0.0.1"]])  # first for the check, then for the connection

    def rebinding(host: str, _port: int) -> list[str]:
        return next(answers, ["127.0.0.1"])

    options = FetchOptions(host_delay=0.0, retries=0, robots=False)
    fetcher = Fetcher(options, resolve=rebinding, transport=GuardedTransport(rebinding))
    with fetcher, pytest.raises(FetchError, match=r"rebind.example \(127.0.0.1\) is a loopback address"):
        fetcher.fetch(f"http://rebind.example:{port}/admin")
    assert server.hits["/admin"] == 0


def test_with_env_proxies_a_no_proxy_host_is_still_guarded_at_connect_time(
    server: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/admin"] = PAGE
    port = server.base.rsplit(":", 1)[1]
    for key in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # never reached: localhost goes direct
    monkeypatch.setenv("NO_PROXY", "localhost")
    answers = iter([[PUBLIC]])  # for the check; the connection then finds 127.0.0.1

    def rebinding(host: str, _port: int) -> list[str]:
        return next(answers, ["127.0.0.1"])

    options = FetchOptions(host_delay=0.0, retries=0, robots=False)
    with Fetcher(options, resolve=rebinding) as fetcher:
        assert fetcher._proxied("http://news.example/") and not fetcher._proxied(f"http://localhost:{port}/admin")
        with pytest.raises(FetchError, match=r"localhost \(127.0.0.1\) is a loopback address"):
            fetcher.fetch(f"http://localhost:{port}/admin")
    assert server.hits["/admin"] == 0


def test_check_url_refuses_names_that_do_not_resolve() -> None:
    with pytest.raises(Exception, match="does not resolve"):
        check_url("http://nowhere.invalid/", lambda _h, _p: [])


def test_behind_a_proxy_a_name_only_the_proxy_resolves_passes_but_internal_ones_do_not() -> None:
    check_url("http://intranet-only.example/", lambda _h, _p: [], proxied=True)
    with pytest.raises(Exception, match="loopback"):
        check_url("http://127.0.0.1/", lambda h, _p: [h], proxied=True)


def test_robots_txt_is_fetched_once_even_by_several_threads(server: WebServer) -> None:
    server.routes["/robots.txt"] = Reply(
        body=b"User-agent: *\nDisallow: /x\n", content_type="text/plain", delay=0.1
    )
    for n in range(6):
        server.routes[f"/p{n}"] = PAGE
    with local(host_delay=0.0, concurrency=3) as fetcher:
        results = fetcher.fetch_all([server.url(f"/p{n}") for n in range(6)] + [server.url("/x")])
    assert server.hits["/robots.txt"] == 1
    assert all(not isinstance(r, FetchError) for r in results[:6]) and isinstance(results[6], FetchError)

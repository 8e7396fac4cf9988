"""Fetching over real HTTP from a local server: redirects and loops, retries with back-off and
Retry-After, timeouts, the size limit on an endless body, the User-Agent, conditional GET,
bounded concurrency."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from retrieval.readers.fetch import Fetcher, FetchError, FetchOptions, canonical_url, retry_after, url_id
from tests.fakes.web_server import Reply, WebServer

PAGE = Reply(body=b"<html><body><p>Hello</p></body></html>")
# The server runs on 127.0.0.1: these tests allow that address and do not space their requests.
LOCAL = {"allow_private": True, "host_delay": 0.0}


@pytest.fixture
def server() -> Iterator[WebServer]:
    web = WebServer()
    yield web
    web.close()


def fetcher(waits: list[float] | None = None, **options: object) -> Fetcher:
    """A fetcher that records its back-off waits instead of sleeping."""
    values: dict = {"timeout": 5.0, "retries": 2, "backoff": 0.5, **LOCAL, **options}
    return Fetcher(FetchOptions(**values), sleep=(waits if waits is not None else []).append)


def test_redirects_are_followed_to_the_final_url(server: WebServer) -> None:
    server.routes["/old"] = Reply(301, headers={"Location": "/middle"})
    server.routes["/middle"] = Reply(302, headers={"Location": server.url("/page")})
    server.routes["/page"] = PAGE
    response = fetcher().fetch(server.url("/old"))
    assert response.status == 200 and response.url == server.url("/page")
    assert b"Hello" in response.data


def test_a_redirect_loop_is_reported(server: WebServer) -> None:
    server.routes["/a"] = Reply(302, headers={"Location": "/b"})
    server.routes["/b"] = Reply(302, headers={"Location": "/a"})
    with pytest.raises(FetchError, match="redirect loop"):
        fetcher().fetch(server.url("/a"))
    assert server.hits["/a"] == 1 and server.hits["/b"] == 1


def test_too_many_redirects_are_reported(server: WebServer) -> None:
    for n in range(10):
        server.routes[f"/r{n}"] = Reply(302, headers={"Location": f"/r{n + 1}"})
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetcher(max_redirects=3).fetch(server.url("/r0"))


def test_500_is_retried_with_back_off_then_succeeds(server: WebServer) -> None:
    server.routes["/flaky"] = lambda n, _h: Reply(500, b"oops") if n < 3 else PAGE
    waits: list[float] = []
    response = fetcher(waits).fetch(server.url("/flaky"))
    assert response.status == 200 and server.hits["/flaky"] == 3
    assert waits == [0.5, 1.0]  # doubling


def test_a_lasting_500_gives_up_after_the_retries(server: WebServer) -> None:
    server.routes["/down"] = Reply(503, b"down")
    with pytest.raises(FetchError, match=r"HTTP 503 .*gave up after 3 attempts"):
        fetcher().fetch(server.url("/down"))
    assert server.hits["/down"] == 3


def test_404_is_not_retried(server: WebServer) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher().fetch(server.url("/missing"))
    assert server.hits["/missing"] == 1


def test_429_waits_as_retry_after_says(server: WebServer) -> None:
    server.routes["/busy"] = lambda n, _h: Reply(429, headers={"Retry-After": "7"}) if n == 1 else PAGE
    waits: list[float] = []
    assert fetcher(waits).fetch(server.url("/busy")).status == 200
    assert waits == [7.0]


def test_a_retry_after_too_long_is_not_waited_for(server: WebServer) -> None:
    server.routes["/busy"] = Reply(429, headers={"Retry-After": "3600"})
    waits: list[float] = []
    with pytest.raises(FetchError, match="asks to wait 3600 s"):
        fetcher(waits, max_wait=60).fetch(server.url("/busy"))
    assert waits == [] and server.hits["/busy"] == 1


def test_retry_after_as_an_http_date() -> None:
    now = dt.datetime(2015, 9, 18, 10, 0, tzinfo=dt.UTC)
    assert retry_after("Fri, 18 Sep 2015 10:00:30 GMT", now) == 30.0
    assert retry_after("120") == 120.0
    assert retry_after("soon") is None and retry_after("") is None


def test_a_slow_server_hits_the_timeout(server: WebServer) -> None:
    server.routes["/slow"] = Reply(body=b"late", delay=1.0)
    with pytest.raises(FetchError, match=r"timed out after 0.2 s"):
        fetcher(timeout=0.2, retries=0).fetch(server.url("/slow"))


def test_an_endless_body_is_cut_at_the_size_limit(server: WebServer) -> None:
    server.routes["/endless"] = Reply(endless=True)
    with pytest.raises(FetchError, match=r"cut off: over the 1.0 MB limit"):
        fetcher(max_bytes=1_000_000).fetch(server.url("/endless"))


def test_a_declared_huge_body_is_not_read(server: WebServer) -> None:
    server.routes["/huge"] = Reply(body=b"x" * 2_000_000)
    with pytest.raises(FetchError, match=r"2.0 MB is over the 1.0 MB limit"):
        fetcher(max_bytes=1_000_000).fetch(server.url("/huge"))


def test_requests_name_newsbot_and_send_validators(server: WebServer) -> None:
    server.routes["/feed"] = lambda _n, h: (
        Reply(304) if h.get("if-none-match") == '"v1"' else Reply(body=b"<rss/>", headers={"ETag": '"v1"'})
    )
    first = fetcher().fetch(server.url("/feed"))
    assert first.etag == '"v1"' and not first.not_modified
    again = fetcher().fetch(
        server.url("/feed"), etag=first.etag, last_modified="Fri, 18 Sep 2015 10:00:00 GMT"
    )
    assert again.not_modified and again.data == b""
    headers = server.requests[-1][1]
    assert headers["user-agent"].startswith("newsbot/")
    assert headers["if-modified-since"] == "Fri, 18 Sep 2015 10:00:00 GMT"


def test_fetch_all_keeps_order_and_a_few_at_a_time(server: WebServer) -> None:
    for n in range(8):
        server.routes[f"/p{n}"] = Reply(body=f"<p>{n}</p>".encode(), delay=0.05)
    results = fetcher(concurrency=3).fetch_all([server.url(f"/p{n}") for n in range(8)] + [server.url("/x")])
    assert [r.data for r in results[:8]] == [f"<p>{n}</p>".encode() for n in range(8)]
    assert isinstance(results[8], FetchError) and "HTTP 404" in results[8].reason
    assert 1 <= server.most_in_flight <= 3


def test_only_http_urls_are_fetched() -> None:
    with pytest.raises(FetchError, match="not an http"):
        fetcher().fetch("file:///etc/passwd")


def test_url_ids_drop_scheme_www_fragment_and_tracking() -> None:
    assert url_id("https://www.example.com/a/b/?utm_source=rss&id=7#top") == "example.com/a/b?id=7"
    assert url_id("http://127.0.0.1:8080/x?fbclid=1") == "127.0.0.1:8080/x"


def test_url_ids_and_canonical_urls_drop_the_same_tracking_parameters() -> None:
    url = "https://www.example.com:443/a/?msclkid=1&ref=home&at_custom1=x&id=7"
    assert canonical_url(url) == "https://www.example.com/a/?id=7"
    assert url_id(url) == "example.com/a?id=7"

"""URLs and feeds read into articles over real HTTP from a local server: a news page by URL, an
RSS feed with summaries only (full articles fetched from the links, the summary kept where the
link 404s), an Atom feed with full content, feed files, and a clear line per bad URL while the
rest is still read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.documents import load_articles
from retrieval.readers.fetch import Fetcher, FetchOptions
from tests.fakes.web_server import STREIK, Reply, WebServer, serve_news


@pytest.fixture
def web() -> Iterator[WebServer]:
    server = WebServer()
    serve_news(server)
    yield server
    server.close()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchOptions(
            timeout=2.0, retries=1, backoff=0.0, max_bytes=1_000_000, allow_private=True, host_delay=0.0
        )) as f:
        yield f


def test_rss_summaries_get_their_full_articles_and_a_404_keeps_the_summary(
    web: WebServer, fetcher: Fetcher
) -> None:
    result = load_articles([web.url("/feeds/chronik.rss")], fetcher=fetcher)
    host = web.base.removeprefix("http://")
    by_id = {a.id: a for a in result.articles}
    assert set(by_id) == {
        f"{host}/chronik/hochwasser-graz.html",
        f"{host}/chronik/aerztestreik-salzburg.html",
        f"{host}/chronik/geloescht.html",
    }
    flood = by_id[f"{host}/chronik/hochwasser-graz.html"]
    assert "Mehr als 300 Feuerwehrleute" in flood.text  # the page's text, not the summary
    assert "Cookies" not in flood.text and "Kommentare" not in flood.text and "Schande" not in flood.text
    assert (flood.title, flood.date, flood.source, flood.lang) == (
        "Hochwasser in Graz: Mur tritt über die Ufer",
        "2015-06-02",
        "Tagesblatt",
        "de",
    )
    assert flood.meta["author"] == "Peter Gruber" and flood.meta["entry_id"] == "tagesblatt-2000019001"
    assert flood.meta["feed"] == web.url("/feeds/chronik.rss")
    gone = by_id[f"{host}/chronik/geloescht.html"]
    assert gone.text.startswith("Auf der Zugspitze ist am Donnerstag der erste Schnee gefallen.")
    assert gone.meta["summary_only"] is True and gone.date == "2015-08-20"
    [problem] = result.problems
    assert problem.kept and str(problem) == (
        f"{web.url('/chronik/geloescht.html')}: HTTP 404 Not Found; the feed's summary kept"
    )


def test_atom_full_content_needs_no_page(web: WebServer, fetcher: Fetcher) -> None:
    result = load_articles([web.url("/feeds/world.atom")], fetcher=fetcher)
    assert [a.title for a in result.articles] == [
        "Vienna to build a new metro line for 950 million euros",
        "Flood in Graz: river Mur bursts its banks",
    ]
    assert [a.date for a in result.articles] == ["2015-09-18", "2015-06-02"]
    assert all(a.lang == "en" and a.source == "The Daily Ledger – World" for a in result.articles)
    assert not result.problems and web.hits["/world/vienna-metro-u5"] == 0


def test_a_page_url_is_read_with_its_url_as_id(web: WebServer, fetcher: Fetcher) -> None:
    web.routes["/go"] = Reply(301, headers={"Location": STREIK + "?utm_campaign=x"})
    web.routes[STREIK + "?utm_campaign=x"] = web.routes[STREIK]
    [article] = load_articles([web.url("/go")], fetcher=fetcher).articles
    assert article.id == web.base.removeprefix("http://") + STREIK
    assert article.title == "Spitalsärzte in Salzburg streiken" and article.date == "2015-10-01"
    assert article.meta["url"] == web.url(STREIK)  # the page's canonical URL


def test_each_bad_url_is_one_line_and_the_rest_is_read(web: WebServer, fetcher: Fetcher) -> None:
    web.routes["/report.pdf"] = Reply(body=b"%PDF-1.4 ...", content_type="application/pdf")
    web.routes["/sitemap.xml"] = Reply(
        body=b'<?xml version="1.0"?><urlset><url/></urlset>', content_type="application/rss+xml"
    )
    web.routes["/error"] = Reply(500, b"oops")
    web.routes["/loop"] = Reply(302, headers={"Location": "/loop"})
    web.routes["/front"] = Reply(
        body=(Path(__file__).parents[1] / "data/pages/section-front.html").read_bytes()
    )
    web.routes["/endless"] = Reply(endless=True)
    bad = ["/report.pdf", "/sitemap.xml", "/error", "/loop", "/front", "/missing", "/endless"]
    result = load_articles([web.url(p) for p in bad] + [web.url(STREIK)], fetcher=fetcher)
    assert [a.title for a in result.articles] == ["Spitalsärzte in Salzburg streiken"]
    lines = {str(p.path).removeprefix(web.base): p.message for p in result.problems}
    assert lines == {
        "/report.pdf": "not an HTML page or a feed (Content-Type: application/pdf)",
        "/sitemap.xml": "not an RSS or Atom feed (no <rss>, <feed> or <rdf:RDF> root element)",
        "/error": "HTTP 500 Internal Server Error (gave up after 2 attempts)",
        "/loop": "redirect loop (back to " + web.url("/loop") + ")",
        "/front": lines["/front"],
        "/missing": "HTTP 404 Not Found",
        "/endless": "response cut off: over the 1.0 MB limit (NEWSBOT_FETCH_MAX_BYTES)",
    }
    assert "no article in this page" in lines["/front"]


def test_feed_files_are_read_and_their_links_fetched(
    web: WebServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    (tmp_path / "chronik.rss").write_bytes(web.fixture("rss-summaries.xml"))
    (tmp_path / "world.atom").write_bytes(web.fixture("atom-full.xml"))
    (tmp_path / "sitemap.xml").write_bytes(b'<?xml version="1.0"?><urlset/>')
    result = load_articles([tmp_path], fetcher=fetcher)
    assert len(result.articles) == 5
    assert {str(p) for p in result.problems if not p.kept} == {
        f"{tmp_path / 'sitemap.xml'}: not an RSS or Atom feed (no <rss>, <feed> or <rdf:RDF> root element)"
    }
    assert sum(a.meta.get("summary_only", False) for a in result.articles) == 1


def test_a_page_in_an_unknown_encoding_is_read_as_detected(web: WebServer, fetcher: Fetcher) -> None:
    page = (Path(__file__).parents[1] / "data/pages/kleine-latin1.htm").read_bytes()
    page = page.replace(b"charset=iso-8859-1", b"charset=x-klingon-8")  # a label no codec knows
    web.routes["/graz"] = Reply(body=page, content_type="text/html; charset=x-klingon-8")
    result = load_articles([web.url("/graz")], fetcher=fetcher)
    [article] = result.articles
    assert article.title == "Hochwasser in Graz: Mur tritt über die Ufer"
    assert "über" in article.text and "\ufffd" not in article.text

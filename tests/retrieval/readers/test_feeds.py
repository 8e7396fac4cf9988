"""RSS and Atom feeds: page or feed by Content-Type and sniffing, entries with their dates,
authors, links and ids, full content or summary only; bytes that are no feed give FeedError,
never a crash (hypothesis)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.readers.feeds import Feed, FeedError, html_text, kind_of, read_feed

WEB = Path(__file__).resolve().parents[2] / "data" / "web"
BASE = "http://127.0.0.1:9"


def fixture(name: str) -> bytes:
    return (WEB / name).read_text(encoding="utf-8").replace("{BASE}", BASE).encode("utf-8")


@pytest.mark.parametrize(
    ("data", "content_type", "kind"),
    [
        (b'<?xml version="1.0"?>\n<!-- c -->\n<rss version="2.0"><channel/></rss>', "", "feed"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>', "text/html", "feed"),  # mislabelled
        (b"<rdf:RDF xmlns:rdf='x'></rdf:RDF>", "application/xml", "feed"),
        (b'<!DOCTYPE rss [\n<!ENTITY id "tag:x,">\n]>\n<rss version="2.0"/>', "", "feed"),
        ('<?xml version="1.0" encoding="utf-16"?><rss version="2.0"/>'.encode("utf-16"), "", "feed"),
        ('<feed xmlns="http://www.w3.org/2005/Atom"/>'.encode("utf-16-be"), "", "feed"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "", "page"),
        (b"<html><body>x</body></html>", "application/rss+xml", "page"),
        (b"<p>loose markup</p>", "text/html; charset=utf-8", "page"),
        (b"%PDF-1.4 binary", "application/pdf", ""),
        (b"\x89PNG\r\n", "image/png", ""),
        (b"just words", "text/plain", ""),
    ],
)
def test_page_or_feed_by_content_type_and_sniffing(data: bytes, content_type: str, kind: str) -> None:
    assert kind_of(data, content_type) == kind


def test_rss_entries_with_summaries_only() -> None:
    feed = read_feed(fixture("rss-summaries.xml"), BASE + "/feeds/chronik.rss")
    assert feed.title == "Tagesblatt – Chronik" and not feed.notes
    first, second, third = feed.entries
    assert (first.key, first.date, first.author, first.lang) == (
        "tagesblatt-2000019001",
        "2015-06-02",
        "Peter Gruber",
        "de",
    )
    assert first.link == BASE + "/chronik/hochwasser-graz.html?utm_source=rss&utm_medium=feed"
    assert first.text == "Nach heftigen Regenfällen ist die Mur in Graz über die Ufer getreten."
    assert not any(e.full for e in feed.entries)
    assert (second.date, third.date) == ("2015-10-01", "2015-08-20")


def test_atom_entries_with_full_content() -> None:
    feed = read_feed(fixture("atom-full.xml"))
    metro, flood = feed.entries
    assert metro.full and flood.full
    assert metro.key == "tag:dailyledger.example,2015:world/4711" and metro.author == "James Miller"
    assert metro.date == "2015-09-18"  # published, as written (not moved to UTC)
    assert metro.lang == "en"
    assert metro.text.startswith("The city of Vienna is going to build a new metro line.")
    assert metro.text.count("\n\n") == 2  # three paragraphs
    assert flood.text.startswith("After heavy rain the river Mur burst its banks")


def test_future_and_unreadable_dates_are_left_empty_with_a_note() -> None:
    rss = (
        b'<rss version="2.0"><channel><title>T</title>'
        b"<item><guid>a</guid><title>A</title><description>Text a.</description>"
        b"<pubDate>Mon, 01 Jan 2091 10:00:00 +0000</pubDate></item>"
        b"<item><guid>b</guid><title>B</title><description>Text b.</description>"
        b"<pubDate>someday soon</pubDate></item></channel></rss>"
    )
    a, b = read_feed(rss, today=dt.date(2026, 1, 1)).entries
    assert a.date == "" and "future" in a.notes[0]
    assert b.date == "" and "left empty" in b.notes[0]


@pytest.mark.parametrize(
    "data",
    [
        b"<html><body><p>A page, not a feed.</p></body></html>",
        b'<?xml version="1.0"?><sitemap/>',
        b"",
        b"\x00\x01\x02",
        b"plain text",
    ],
)
def test_what_is_no_feed_is_refused(data: bytes) -> None:
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        read_feed(data)


def test_a_broken_feed_gives_what_it_can_with_a_note() -> None:
    feed = read_feed(
        b'<rss version="2.0"><channel><title>T</title><item><guid>a</guid>'
        b"<title>A &amp; B</title><description>Text &nope; here.</description></item>"
    )
    assert [e.key for e in feed.entries] == ["a"] and "not well-formed" in feed.notes[0]


def test_html_text_keeps_paragraphs_and_drops_scripts() -> None:
    assert html_text("<p>One.</p><script>x()</script><p>Two <b>bold</b>.</p>") == "One.\n\nTwo bold."


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.builds(
            lambda head, body: f"<{head}>{body}</{head}>".encode(),
            st.sampled_from(["rss", "feed", "rdf:RDF", "channel", "html"]),
            st.text(max_size=400),
        ),
        st.builds(
            lambda items: (
                '<rss version="2.0"><channel>'
                + "".join(
                    f"<item><title>{t}</title><link>{t}</link><pubDate>{t}</pubDate></item>" for t in items
                )
                + "</channel></rss>"
            ).encode(),
            st.lists(st.text(max_size=40), max_size=5),
        ),
    )
)
def test_random_bytes_and_xml_give_a_feed_or_a_clear_error(data: bytes) -> None:
    try:
        feed = read_feed(data)
    except FeedError as exc:
        assert str(exc)
    else:
        assert isinstance(feed, Feed)

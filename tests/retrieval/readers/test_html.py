"""Web pages: the article's text without the page around it, its metadata, pages without an
article skipped and reported, and pages in other encodings read right."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import trafilatura
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.documents import load_articles
from retrieval.readers.html import PageError, agrees, decode_html, hints, prose_chars, read_page
from retrieval.readers.pagedate import page_date
from retrieval.readers.pagemeta import Hints, choose_title, titles_given

PAGES = Path(__file__).resolve().parents[2] / "data" / "pages"
BODY = ("Die Stadt Wien baut eine neue U-Bahn-Linie.", "Bürgermeister Michael Häupl sprach",
        "Die Bauarbeiten beginnen im kommenden Frühjahr", "Kritik kam von der Opposition")
# What the page holds around the article: navigation, cookie banner, ads, related articles,
# reader comments, footer.
AROUND = ("Sportnachrichten aus aller Welt", "Abonnement bestellen", "Startseite", "Cookies",
          "Anzeige", "Traumurlaub", "Kredite im Vergleich", "Mehr zum Thema", "Straßenbahnlinien",
          "Stadtbahn", "Parkpickerl", "Postings", "Donauwalzer77", "Hernals", "doppelt so teuer",
          "Radwege", "Alle Rechte vorbehalten", "Impressum", "Newsletter")


def test_a_news_page_gives_its_article_and_nothing_around_it() -> None:
    page = read_page((PAGES / "standard-article.html").read_bytes())
    for sentence in BODY:
        assert sentence in page.text
    for boilerplate in AROUND:
        assert boilerplate not in page.text, boilerplate
    assert page.title == "Neue U-Bahn-Linie U5: Wien baut für 950 Millionen Euro"
    assert page.date == "2015-09-18"  # datePublished, not dateModified
    assert page.source == "Der Standard" and page.lang == "de"
    assert page.meta == {"url": "https://www.derstandard.at/story/2000022001/neue-u-bahn-linie-u5",
                         "author": "Maria Huber"}
    assert page.text.count("\n\n") == 3  # one paragraph each, apart: sentences never run across


def test_a_page_without_an_article_is_refused_with_the_reason() -> None:
    with pytest.raises(PageError, match="no article in this page"):
        read_page((PAGES / "section-front.html").read_bytes())


def test_a_latin1_page_with_a_declared_charset_is_decoded_right() -> None:
    data = (PAGES / "kleine-latin1.htm").read_bytes()
    assert "ü".encode("latin-1") in data and "ü".encode() not in data
    page = read_page(data)
    assert page.title == "Hochwasser in Graz: Mur tritt über die Ufer"
    assert "Mehr als 300 Feuerwehrleute" in page.text and "Straßen zu sichern" in page.text
    assert "\ufffd" not in page.text and "Ã" not in page.text
    assert page.date == "2015-06-02" and page.source == "Kleine Zeitung" and page.lang == "de"
    assert page.meta["encoding"] == "cp1252" and "Startseite" not in page.text


@pytest.mark.parametrize(
    ("head", "encoding"),
    [
        (b'<meta charset="windows-1252">', "cp1252"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-15">', "iso8859-15"),
        (b"", "cp1252"),  # nothing declared: detected (or windows-1252 at worst), never U+FFFD
    ],
)
def test_single_byte_pages_are_read_by_their_declared_or_detected_charset(head: bytes, encoding: str) -> None:
    body = "<body><p>Grüße aus Österreich: Die Straße ist gesperrt.</p></body></html>"
    data = b"<html><head>" + head + b"</head>" + body.encode("cp1252")
    decoded, used = decode_html(data)
    assert "Grüße aus Österreich: Die Straße" in decoded
    if head:
        assert used == encoding


def test_utf8_bytes_win_over_a_wrong_declaration() -> None:
    data = '<html><head><meta charset="iso-8859-1"></head><body><p>Grüße</p></body></html>'.encode()
    assert decode_html(data) == (data.decode(), "utf-8")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x01\x02binary\x00" * 50, "not an HTML page"),
        (b"Just a line of text without any markup at all.", "not an HTML page"),
        (b"", "not an HTML page"),
        (b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no article"),
    ],
)
def test_what_is_no_article_page_says_so(data: bytes, reason: str) -> None:
    with pytest.raises(PageError, match=reason):
        read_page(data)


def _article_page(head: str = "", html_attrs: str = "") -> bytes:
    body = "".join(f"<p>{s} Dazu gab es am Abend eine weitere Stellungnahme der Behörden.</p>" for s in BODY)
    return f"<html{html_attrs}><head>{head}</head><body><article>{body}</article></body></html>".encode()


def test_a_date_in_the_future_is_not_taken() -> None:
    ld = '{"@type": "NewsArticle", "datePublished": "2099-01-01"}'
    head = f'<script type="application/ld+json">{ld}</script>'
    page = read_page(_article_page(head))
    assert page.date == ""


def test_a_bare_page_gets_a_title_from_its_text_and_a_guessed_language(tmp_path: Path) -> None:
    path = tmp_path / "bare.html"
    path.write_bytes(_article_page())
    [article] = load_articles([path]).articles
    assert article.title.startswith("Die Stadt Wien baut") and article.lang == "de"
    assert article.source == "" and article.date == "" and article.meta == {}


def test_declared_language_wins(tmp_path: Path) -> None:
    assert read_page(_article_page(html_attrs=' lang="en-GB"')).lang == "en"
    assert read_page(_article_page('<meta http-equiv="content-language" content="fr">')).lang == "fr"


def test_a_folder_of_pages_indexes_articles_with_text_ids_and_reports_the_rest(tmp_path: Path) -> None:
    (tmp_path / "wien").mkdir()
    shutil.copy(PAGES / "standard-article.html", tmp_path / "wien" / "u5.html")
    shutil.copy(PAGES / "kleine-latin1.htm", tmp_path / "graz.HTM")
    shutil.copy(PAGES / "section-front.html", tmp_path / "inland.html")
    (tmp_path / "notes.txt").write_text("Notiz\n\nEin Text.\n", encoding="utf-8")
    result = load_articles([tmp_path])
    assert sorted(a.id for a in result.articles) == ["graz", "notes", "wien/u5"]
    [problem] = result.problems
    assert problem.path == tmp_path / "inland.html" and "no article in this page" in str(problem)
    assert str(problem).startswith(f"{tmp_path / 'inland.html'}: ")
    u5 = next(a for a in result.articles if a.id == "wien/u5")
    assert (u5.date, u5.source, u5.lang) == ("2015-09-18", "Der Standard", "de")
    [page] = load_articles([tmp_path / "wien" / "u5.html"]).articles
    assert page.id == "u5" and page == u5.__class__(**{**u5.__dict__, "id": "u5"})


def test_pages_may_be_larger_than_text_articles(tmp_path: Path) -> None:
    path = tmp_path / "big.html"
    script = "<script>" + "var x = 1;\n" * 2000 + "</script>"
    path.write_bytes(_article_page(script))
    assert len(path.read_bytes()) > 20_000
    assert [a.id for a in load_articles([path], max_bytes=10_000).articles] == ["big"]
    result = load_articles([path], max_bytes=2_000)
    assert result.articles == [] and "pages over 0.0 MB are skipped" in str(result.problems[0])


_TAGS = st.sampled_from(["p", "div", "article", "nav", "script", "h1", "li", "section", "meta", "title"])
_HTML = st.recursive(
    st.text(max_size=40),
    lambda inner: st.builds(lambda tag, parts: f"<{tag}>{''.join(parts)}</{tag}>", _TAGS,
                            st.lists(inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(markup=_HTML, data=st.binary(max_size=400))
def test_any_markup_or_bytes_give_an_article_or_a_reason(tmp_path: Path, markup: str, data: bytes) -> None:
    page = f"<html><body>{markup}</body></html>".encode("utf-8", "surrogatepass")
    for i, content in enumerate((page, data)):
        path = tmp_path / f"fuzz{i}.html"
        path.write_bytes(content)
        result = load_articles([path])
        assert len(result.articles) + len([p for p in result.problems if not p.kept]) == 1
        for article in result.articles:
            article.text.encode("utf-8")
            article.title.encode("utf-8")


@pytest.mark.parametrize(
    ("title", "site", "expected"),
    [
        ("Wien baut die U5 - Der Standard", "Der Standard", "Wien baut die U5"),
        ("Wien baut die U5 | derStandard.at", "", "Wien baut die U5"),  # the canonical URL's host
        ("DER STANDARD – Wien baut die U5", "Der Standard", "Wien baut die U5"),
        ("Wien baut die U5", "Der Standard", "Wien baut die U5"),
        # a part holding the host's name, and what follows it
        ("Wien baut die U5 - derStandard Online | Nachrichten, Wetter", "", "Wien baut die U5"),
    ],
)
def test_the_site_name_is_cut_from_the_title(title: str, site: str, expected: str) -> None:
    meta = f'<meta property="og:site_name" content="{site}">' if site else ""
    head = f'<title>{title}</title>{meta}<link rel="canonical" href="https://www.derstandard.at/story/1">'
    assert read_page(_article_page(head)).title == expected


def test_a_few_nul_bytes_in_a_page_are_dropped() -> None:
    data = _article_page().replace(b"<article>", b"<article>\x00\x00")
    page = read_page(data)
    assert "\x00" not in page.text and page.text.startswith("Die Stadt Wien baut")


def _headed_page(head: str, header: str) -> bytes:
    """A page whose article starts with `header` (its <h1> and kicker) before the paragraphs."""
    body = "".join(f"<p>{s} Dazu gab es am Abend eine weitere Stellungnahme der Behörden.</p>" for s in BODY)
    logo = '<header><h1 class="logo">Der Standard</h1><nav><a href="/">Startseite</a></nav></header>'
    return f"<html><head>{head}</head><body>{logo}<article>{header}{body}</article></body></html>".encode()


@pytest.mark.parametrize(
    ("og_title", "header", "expected"),
    [
        # the headline as shown, where og:title is a shorter teaser version of it
        ("U5: Wien baut neue U-Bahn-Linie", "<h1>U5: Wien baut eine neue U-Bahn-Linie für 950 Millionen</h1>",
         "U5: Wien baut eine neue U-Bahn-Linie für 950 Millionen"),
        # the <h1> within og:title that carries the site's name and a section
        ("Wien baut die U5 | Wien | Der Standard Online", "<h1>Wien baut die U5</h1>", "Wien baut die U5"),
        # a kicker in the <h1>: the metadata's title, not "U-Bahn Wien baut die U5"
        ("Wien baut die U5", "<h1><span>U-Bahn</span>Wien baut die U5</h1>", "Wien baut die U5"),
        # the site's logo link in the <h1> is not part of the title
        ("Wien baut die U5 » Wien » Der Standard",
         '<h1><span>Wien baut die U5</span><a href="/">Der Standard</a></h1>', "Wien baut die U5"),
        # an <h1> that is no title of this article (a box heading): og:title
        ("Wien baut die U5", "<h1>Newsletter bestellen</h1>", "Wien baut die U5"),
        # soft hyphens and zero-width spaces are not part of the title
        ("Wien baut die U5 für Millionen", "<h1>Wien baut die U\u200b5 für Mil\u00adlionen</h1>",
         "Wien baut die U5 für Millionen"),
    ],
)
def test_the_title_is_the_headline_shown_when_it_agrees_with_the_metadata(
    og_title: str, header: str, expected: str
) -> None:
    site = '<meta property="og:site_name" content="Der Standard">'
    head = f'<meta property="og:title" content="{og_title}">{site}'
    assert read_page(_headed_page(head, header)).title == expected


def test_the_json_ld_headline_decides_which_h1_is_the_title() -> None:
    ld = json.dumps({"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage", "name": "Der Standard: Nachrichten"},
        {"@type": ["NewsArticle"], "headline": "Wien baut die U5",
         "datePublished": "2015-09-18T08:00:00+02:00", "dateModified": "2016-01-02"},
    ]})
    script = '<script type="application/ld+json">'
    head = f"{script}{{broken</script>{script}{ld}</script>"
    page = _headed_page(head, "<h2>Verkehr</h2><h1>Wien baut die U5</h1>")
    assert read_page(page).title == "Wien baut die U5"
    found = hints(trafilatura.load_html(page.decode()))
    assert found.headline == "Wien baut die U5" and found.published == ["2015-09-18T08:00:00+02:00"]
    assert found.h1 == [["Der Standard"], ["Wien baut die U5"]]


@pytest.mark.parametrize(
    ("shown", "meta", "same"),
    [
        ("Wien baut die U5", "Wien baut die U5 - Der Standard", True),
        ("Wien baut die U5", "Wien baut die U5 um 950 Millionen Euro, die Opposition ist dagegen", False),
        ("Wien baut die U5 um 950 Millionen", "Wien baut U5 um 950 Millionen Euro", True),
        ("Newsletter", "Wien baut die U5", False),
        ("", "Wien baut die U5", False),
    ],
)
def test_a_heading_agrees_with_a_title_when_it_is_most_of_it(shown: str, meta: str, same: bool) -> None:
    assert agrees(shown, meta) is same


def test_htmldate_s_date_is_taken_else_the_published_one_and_a_refused_one_is_noted() -> None:
    today = dt.date(2024, 1, 1)
    notes: list[str] = []
    assert page_date("", ["2023-05-06T23:00:00Z", "2023-05-01"], [], "", today, notes) == "2023-05-06"
    assert page_date("2099-01-01", ["6. Mai 2023"], [], "de", today, notes) == "2023-05-06" and notes == []
    assert page_date("2099-01-01", [], [], "", today, notes) == ""
    assert notes == ["date 2099-01-01 lies in the future; left empty"]


def test_a_title_part_that_merely_mentions_the_site_stays() -> None:
    title = "Hochwasser: Bilder unserer Leser auf derStandard.at"
    head = f'<meta property="og:title" content="{title}"><link rel="canonical" href="https://derstandard.at/1">'
    assert read_page(_article_page(head)).title == title


@pytest.mark.parametrize(
    "sentence",
    [
        "Նախարարը այսօր հայտարարեց, որ նոր դպրոցներ կկառուցվեն մայրաքաղաքում։",  # Armenian full stop
        "وزیر نے آج اعلان کیا کہ دارالحکومت میں نئے اسکول بنائے جائیں گے۔",  # Urdu full stop
    ],
)
def test_prose_ending_in_other_scripts_full_stops_is_running_text(sentence: str) -> None:
    assert prose_chars("\n\n".join([sentence] * 4)) == 4 * len(sentence)


def _dated_page(ld: dict[str, str], lang: str) -> bytes:
    script = f'<script type="application/ld+json">{json.dumps({"@type": "NewsArticle", **ld})}</script>'
    return _article_page(script, f' lang="{lang}"')


def test_a_slash_date_is_read_day_first_on_a_german_page_and_month_first_on_an_english_one() -> None:
    ld = {"headline": "Wien baut die U5", "datePublished": "10/05/2022 05:22 pm"}
    assert read_page(_dated_page(ld, "de")).date == "2022-05-10"
    assert read_page(_dated_page(ld, "en")).date == "2022-10-05"


def test_a_published_time_with_an_offset_gives_the_local_day_not_the_utc_one() -> None:
    ld = {"headline": "Wien baut die U5", "datePublished": "2015-09-18T23:30:00-05:00"}
    assert read_page(_dated_page(ld, "es")).date == "2015-09-18"


@pytest.mark.parametrize(
    ("og_title", "header", "expected"),
    [
        # a kicker in an element of its own before the title: left out
        ("Corona-Lockerungen: Autohäuser rechnen mit langsamem Anlaufen | MD",
         "<h1><span>Nach Corona-Lockerungen</span> "
         "<span>Autohäuser rechnen mit langsamem Anlaufen</span></h1>",
         "Autohäuser rechnen mit langsamem Anlaufen"),
        ("Wien baut die U5", "<h1><span>Verkehr</span><span>:</span> <span>Wien baut die U5</span></h1>",
         "Wien baut die U5"),
        # Japanese: no space put where the heading's elements meet
        ("インテルNUCで比較してみた：さらば平成、さらば水冷 - ITmedia",
         "<h1><span>インテルNUCで比較してみた：</span><span>さらば平成、さらば水冷</span></h1>",
         "インテルNUCで比較してみた：さらば平成、さらば水冷"),
        # a first part ending in a colon belongs to the title
        ("Tanz in der Lokremise: Mit allen Wassern gewaschen",
         "<h1><span>Tanz in der Lokremise:</span> <span>Mit allen Wassern gewaschen</span></h1>",
         "Tanz in der Lokremise: Mit allen Wassern gewaschen"),
        # a word set apart inside the title is no kicker
        ("Programmieren mit defadvice", "<h1>Programmieren mit <code>defadvice</code></h1>",
         "Programmieren mit defadvice"),
        # the page's one <h1> over a metadata title written for search engines
        ("Das beste Katzenspielzeug 2022 - Vergleich",
         "<h1>Kaufratgeber: elektronisches Spielzeug sorgt für Abwechslung</h1>",
         "Kaufratgeber: elektronisches Spielzeug sorgt für Abwechslung"),
        # but not one that is the site's slogan
        ("Wien baut die U5", "<h1>Der Standard, die Zeitung für Leserinnen</h1>", "Wien baut die U5"),
        # the site's name after a separator is cut, the site named by og:site_name
        ("Wien baut die U5 – DER STANDARD", "", "Wien baut die U5"),
    ],
)
def test_kickers_sole_headings_and_site_names_in_titles(og_title: str, header: str, expected: str) -> None:
    site = '<meta property="og:site_name" content="Der Standard">'
    head = f'<meta property="og:title" content="{og_title}">{site}'
    assert read_page(_headed_page(head, header)).title == expected


def test_a_json_ld_headline_with_character_references_is_read_as_text() -> None:
    ld = '{"@type": "NewsArticle", "headline": "Wohngew&#x00E4;chshaus&#x20;selber bauen"}'
    head = f'<script type="application/ld+json">{ld}</script>'
    head += '<meta property="og:title" content="Urban Jungle!">'
    page = _headed_page(head, "<h1>Wohngewächshaus selber bauen</h1><h1>Mehr zum Thema</h1>")
    assert hints(trafilatura.load_html(page.decode())).headline == "Wohngewächshaus selber bauen"
    assert read_page(page).title == "Wohngewächshaus selber bauen"


def test_a_title_cut_at_a_quotation_mark_is_taken_whole_from_the_head_title() -> None:
    found = Hints(head_title='Senador califica a Biden de "incapacitado"')
    assert choose_title("Senador califica a Biden de", found, "El Universal", "eluniversal.com") == (
        'Senador califica a Biden de "incapacitado"'
    )


def test_the_titles_a_page_gives_its_article_are_what_its_metadata_states_and_its_h1_shows() -> None:
    ld = '{"@type": "NewsArticle", "headline": "Wien baut die U5 - Der Standard"}'
    head = f'<script type="application/ld+json">{ld}</script>'
    head += '<meta property="og:title" content="U5: Wien baut neue Linie | Der Standard">'
    page = _headed_page(head, "<h1><span>Verkehr</span> <span>Wien baut die U5 für Millionen</span></h1>")
    stated, shown = titles_given(trafilatura.load_html(page.decode()), "Der Standard", "derstandard.at")
    assert stated == ["Wien baut die U5", "U5: Wien baut neue Linie"]
    assert shown == ["Wien baut die U5 für Millionen", "Verkehr Wien baut die U5 für Millionen"]


def test_an_h1_in_the_navigation_is_no_title_the_json_ld_headline_is() -> None:
    ld = '{"@type": "NewsArticle", "headline": "Ampeln tot, S-Bahnen stoppen: Wie sicher ist das Netz?"}'
    head = f'<script type="application/ld+json">{ld}</script>'
    head += '<meta property="og:title" content="Stromausfall Berlin: Ampeln, S-Bahnen">'
    head += '<meta property="og:site_name" content="Der Standard">'
    crumbs = "<nav><ol><li>Politik</li><li><h1>Stromausfall Berlin: Ampeln, S-Bahnen</h1></li></ol></nav>"
    page = _headed_page(head, crumbs + "<h2>Ampeln tot, S-Bahnen stoppen: Wie sicher ist das Netz?</h2>")
    assert read_page(page).title == "Ampeln tot, S-Bahnen stoppen: Wie sicher ist das Netz?"
    assert hints(trafilatura.load_html(page.decode())).h1 == [["Der Standard"]]

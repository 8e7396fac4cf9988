"""robots.txt path matching as RFC 9309 (section 2.2.2, 2.2.3) and Google's documentation describe
it: `*` wildcards, a final `$`, the longest rule winning (Allow on a tie) and %-escapes."""

from __future__ import annotations

import pytest

from retrieval.readers.robots import normalise_path, parse_robots, request_target


def allowed(robots_txt: str, path: str) -> bool:
    rules = parse_robots("http://example.com", f"User-agent: *\n{robots_txt}".encode())
    return rules.allows(f"http://example.com{path}", "newsbot")


@pytest.mark.parametrize(
    ("rules", "path", "expected"),
    [
        # RFC 9309 section 2.2.3 / Google: "/*.gif$" - any path ending in .gif
        ("Disallow: /*.gif$", "/filename.gif", False),
        ("Disallow: /*.gif$", "/folder/filename.gif", False),
        ("Disallow: /*.gif$", "/filename.gif?parameters", True),  # $ is the end of path and query
        ("Disallow: /*.gif$", "/filename.gifs", True),
        ("Disallow: /*.gif$", "/", True),
        # Google: "/fish*" is the same as "/fish"
        ("Disallow: /fish*", "/fish", False),
        ("Disallow: /fish*", "/fishheads/yummy.html", False),
        ("Disallow: /fish*", "/fish.php?id=anything", False),
        ("Disallow: /fish*", "/Fish.asp", True),  # case-sensitive
        ("Disallow: /fish*", "/catfish", True),
        # "/*?": any URL with a query
        ("Disallow: /*?", "/page?x=1", False),
        ("Disallow: /*?", "/page?", True),  # an empty query is no query
        ("Disallow: /*?", "/page", True),
        # "/*.php" matches .php anywhere in the path
        ("Disallow: /*.php", "/index.php", False),
        ("Disallow: /*.php", "/folder/any.php.file.html", False),
        ("Disallow: /*.php", "/windows.PHP", True),
        # "$" without "*": exactly that path
        ("Disallow: /exact$", "/exact", False),
        ("Disallow: /exact$", "/exact/more", True),
        # a "$" inside the path (not last) is literal
        ("Disallow: /a$b", "/a$b/c", False),
        ("Disallow: /a$b", "/ab", True),
    ],
)
def test_wildcards_and_the_end_anchor_match_as_the_rfc_examples(
    rules: str, path: str, expected: bool
) -> None:
    assert allowed(rules, path) is expected


def test_allow_root_only_with_disallow_everything_else() -> None:
    rules = "Allow: /$\nDisallow: /\n"  # Google's example: only the home page
    assert allowed(rules, "/") and allowed(rules, "")
    assert not allowed(rules, "/page.htm") and not allowed(rules, "/?q=1")


def test_the_longest_rule_wins_counting_wildcards_and_allow_wins_a_tie() -> None:
    # Google's example: "/*.htm" (6 characters) is longer than "/page" (5), so it wins
    assert not allowed("Allow: /page\nDisallow: /*.htm\n", "/page.htm")
    assert allowed("Allow: /$\nDisallow: /\n", "/")  # "/$" (2) beats "/" (1)
    assert allowed("Allow: /p\nDisallow: /\n", "/page")
    assert allowed("Allow: /folder\nDisallow: /folder\n", "/folder/page")  # a tie: Allow
    assert allowed("Disallow: /*.htm\nAllow: /page*\n", "/page.htm")  # 6 = 6: Allow
    assert not allowed("Disallow: /*/private/\nAllow: /a/\n", "/a/private/x")  # 11 > 3


def test_percent_escapes_of_unreserved_characters_and_non_ascii_compare_as_octets() -> None:
    assert not allowed("Disallow: /%7Ejoe/", "/~joe/index.html")  # RFC 9309 2.2.2
    assert not allowed("Disallow: /~joe/", "/%7ejoe/index.html")
    assert not allowed("Disallow: /foo/bar/ツ", "/foo/bar/%E3%83%84")
    assert not allowed("Disallow: /foo/bar/%E3%83%84", "/foo/bar/ツ")
    assert not allowed("Disallow: /a%3cb", "/a%3Cb")  # escapes compare case-insensitively
    assert allowed("Disallow: /a%3Fb", "/a?b")  # a reserved character is not its escape
    assert not allowed("Disallow: /a%3Fb", "/a%3fb")


def test_normalisation_of_paths_and_request_targets() -> None:
    assert normalise_path("/%7e%41%2fx%c3%a4") == "/~A%2Fx%C3%A4"
    assert normalise_path("/ä b") == "/%C3%A4%20b"
    assert request_target("http://h") == "/"
    assert request_target("http://h/a?b=1#frag") == "/a?b=1"


def test_an_empty_disallow_allows_and_group_selection_still_holds() -> None:
    assert allowed("Disallow:\n", "/anything")
    body = b"User-agent: *\nDisallow: /\n\nUser-agent: newsbot\nDisallow: /*.pdf$\n"
    rules = parse_robots("http://example.com", body)
    assert rules.allows("http://example.com/a.html", "newsbot/1.0")
    assert not rules.allows("http://example.com/a.pdf", "newsbot/1.0")
    assert not rules.allows("http://example.com/a.html", "otherbot")


def test_crlf_line_ends_and_comments_after_a_path_are_read() -> None:
    body = b"User-agent: *\r\nDisallow: /*.gif$  # no images\r\nAllow: /ok\r\n"
    rules = parse_robots("http://example.com", body)
    assert not rules.allows("http://example.com/a.gif", "newsbot")
    assert rules.allows("http://example.com/a.html", "newsbot")

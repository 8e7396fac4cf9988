"""robots.txt and per-host pacing for the fetcher.

`RobotsCache` fetches a site's robots.txt once per run (per scheme, host and port, as RFC 9309
scopes it), reads at most ROBOTS_MAX_BYTES of it with `urllib.robotparser`, and answers whether our
User-Agent may fetch a URL and what Crawl-delay the site asks for. As RFC 9309 says (section
2.3.1): a robots.txt that is unavailable (HTTP 4xx, e.g. 404) allows everything; one that is
unreachable (5xx, 429, a timeout or network error, after the fetcher's retries) disallows the
whole site for this run. Rules are matched most specific first (the longest path wins, Allow on a
tie), as the RFC asks, rather than in file order as robotparser does. Paths may hold the RFC's
wildcards (section 2.2.3): `*` is any sequence of characters and a final `$` the end of the URL's
path and query (`Disallow: /*.gif$`); a rule's length for "longest wins" is its path as written,
wildcards included (as Google's robots.txt parser counts it). Paths are compared as octets after
one normalisation of both sides (section 2.2.2): %-escapes of unreserved characters (letters,
digits, `-._~`) are decoded, other escapes upper-cased, non-ASCII characters UTF-8 %-encoded; a
reserved character stays distinct from its escape (`?` is not `%3F`). robotparser still finds the
group of our User-Agent and its Crawl-delay; the rules' paths are ours (robotparser would decode
them and drop a trailing `?`).

A decimal Crawl-delay is rounded up to whole seconds.

`HostPacer` spaces the requests to one host by that host's delay while other hosts go on in
parallel; its clock and sleep are injectable (the tests use a fake clock).
"""

from __future__ import annotations

import math
import re
import threading
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

ROBOTS_MAX_BYTES = 512_000  # RFC 9309: parse at least 500 KiB
_DECIMAL_DELAY = re.compile(r"^(\s*crawl-delay\s*:\s*)(\d*\.\d+)", re.IGNORECASE | re.MULTILINE)
# An Allow/Disallow line's path (comments stripped), replaced by a placeholder robotparser keeps as is.
_RULE_LINE = re.compile(r"^(\s*(?:allow|disallow)\s*:[ \t]*)([^#\r\n]*?)([ \t]*(?:#.*)?)$", re.I | re.M)
_PLACEHOLDER = re.compile(r"/newsbot-robots-rule-(\d+)")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class RobotsUnreachable(Exception):
    """robots.txt could not be fetched (5xx, 429, network): the site counts as disallowed."""


@dataclass(frozen=True)
class RobotsRules:
    """One site's rules: a parsed robots.txt, allow-all (None), or disallow-all with the reason."""

    origin: str
    parser: urllib.robotparser.RobotFileParser | None = None
    unreachable: str = ""

    def allows(self, url: str, agent: str) -> bool:
        """Whether `agent` may fetch `url` by these rules."""
        if self.unreachable:
            return False
        if self.parser is None or getattr(self.parser, "allow_all", False):
            return True
        if getattr(self.parser, "disallow_all", False):
            return False
        entries = getattr(self.parser, "entries", [])
        group = next((e for e in entries if e.applies_to(agent)), getattr(self.parser, "default_entry", None))
        return group is None or bool(group.allowance(request_target(url)))

    def crawl_delay(self, agent: str) -> float | None:
        """The Crawl-delay (seconds) the site asks of `agent`, if any."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        return float(delay) if delay is not None else None


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL (the scope of one robots.txt), lower-cased."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower().rpartition('@')[2]}"


def normalise_path(path: str) -> str:
    """A path (or rule path) as compared: escapes of unreserved characters decoded, other escapes
    upper-cased, non-ASCII characters and controls UTF-8 %-encoded (RFC 9309 section 2.2.2)."""

    def escape(m: re.Match[str]) -> str:
        char = chr(int(m[1], 16))
        return char if char in _UNRESERVED else f"%{m[1].upper()}"

    encoded = "".join(
        c if " " < c < "\x7f" else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in path
    )
    return _ESCAPE.sub(escape, encoded)


def request_target(url: str) -> str:
    """The part of a URL robots.txt rules match: its path and query, normalised ("/" if empty)."""
    parts = urlsplit(url)
    return normalise_path((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))


class PathRule:
    """One Allow/Disallow rule; `*` matches any characters, a final `$` the end of the target."""

    def __init__(self, path: str, allowance: bool) -> None:
        self.path = normalise_path(path)
        self.allowance = allowance
        anchored = self.path.endswith("$")
        body = self.path[:-1] if anchored else self.path
        pattern = ".*".join(re.escape(piece) for piece in body.split("*"))
        self._regex = re.compile(pattern + (r"\Z" if anchored else ""), re.DOTALL)

    def applies_to(self, target: str) -> bool:
        """Whether the rule matches a normalised request target (from its start)."""
        return self._regex.match(target) is not None


def parse_robots(origin: str, data: bytes) -> RobotsRules:
    """The rules of a robots.txt body (its first ROBOTS_MAX_BYTES)."""
    text = data[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace").removeprefix("\ufeff")
    # robotparser reads whole seconds only: "Crawl-delay: 1.5" is rounded up to 2.
    text = _DECIMAL_DELAY.sub(lambda m: f"{m[1]}{math.ceil(float(m[2]))}", text)
    paths: list[str] = []

    def placeholder(m: re.Match[str]) -> str:
        if not m[2]:
            return m[0]
        paths.append(m[2])
        return f"{m[1]}/newsbot-robots-rule-{len(paths) - 1}"

    parser = urllib.robotparser.RobotFileParser()
    parser.parse(_RULE_LINE.sub(placeholder, "\n".join(text.splitlines())).splitlines())
    # robotparser's groups (not in its typed interface, hence getattr)
    for entry in [*getattr(parser, "entries", []), getattr(parser, "default_entry", None)]:
        if entry is not None:
            entry.rulelines = [_own_rule(rule, paths) for rule in entry.rulelines]
            # most specific rule first; Allow before Disallow on a tie
            entry.rulelines.sort(key=lambda rule: (-len(rule.path), not rule.allowance))
    return RobotsRules(origin, parser)


def _own_rule(rule: Any, paths: list[str]) -> PathRule:
    """Our rule for one of robotparser's RuleLines (its path a placeholder, or empty: "Disallow:" allows)."""
    found = _PLACEHOLDER.fullmatch(rule.path)
    return PathRule(paths[int(found[1])] if found else unquote(rule.path), rule.allowance)


# fetch(robots_url) -> body; raises RobotsUnreachable, or LookupError for an unavailable (4xx) file.
RobotsFetch = Callable[[str], bytes]


class RobotsCache:
    """Each site's robots.txt, fetched once (one fetch per site even from several threads)."""

    def __init__(self, fetch: RobotsFetch, agent: str) -> None:
        self._fetch = fetch
        self.agent = agent
        self._rules: dict[str, RobotsRules] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def rules(self, url: str) -> RobotsRules:
        """The rules of the URL's site (fetched on first need)."""
        origin = origin_of(url)
        with self._lock:
            site_lock = self._locks.setdefault(origin, threading.Lock())
        with site_lock:
            if origin not in self._rules:
                self._rules[origin] = self._load(origin)
            return self._rules[origin]

    def refusal(self, url: str) -> str:
        """Why robots.txt forbids the URL ('' when it allows it)."""
        rules = self.rules(url)
        if rules.allows(url, self.agent):
            return ""
        host = urlsplit(url).netloc
        if rules.unreachable:
            return (
                f"robots.txt of {host} could not be fetched ({rules.unreachable}); "
                "RFC 9309 treats the site as disallowed"
            )
        return f"robots.txt of {host} disallows {url}"

    def _load(self, origin: str) -> RobotsRules:
        try:
            return parse_robots(origin, self._fetch(f"{origin}/robots.txt"))
        except LookupError:
            return RobotsRules(origin)
        except RobotsUnreachable as exc:
            return RobotsRules(origin, unreachable=str(exc))


class HostPacer:
    """Spaces request starts to one host by a delay; hosts do not wait for each other."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str, delay: float) -> None:
        """Wait for the host's next slot and book the one after it `delay` seconds later."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + max(0.0, delay)
        if start > now:
            self._sleep(start - now)

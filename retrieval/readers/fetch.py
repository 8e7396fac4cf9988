"""Fetching pages and feeds over HTTP(S) with httpx, politely and within bounds.

Every request names newsbot in its User-Agent, has a timeout, follows at most `max_redirects`
redirects (a loop is reported as one), reads the body streamed and stops at `max_bytes` (a huge
or endless response is cut off and reported, never read whole), and is retried a few times with
exponential back-off on 429 and 5xx answers and on network errors, honouring Retry-After (up to
`max_wait` seconds). `fetch_all` fetches from a few hosts at a time. The httpx transport can be given
(a test seam); the tests use a real local server.

Politeness and safety (see robots.py and netguard.py): each site's robots.txt is read once per
fetcher and a URL it disallows is refused (`robots=False` skips this, for one's own sites);
requests to one host are spaced by `host_delay` seconds or the site's Crawl-delay (at most
`max_crawl_delay`); unless `allow_private`, a URL whose host is or resolves to an internal address
(loopback, private, link-local, ...) is refused, on every redirect hop and again at connect time.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from httpx._utils import URLPattern, get_environment_proxies  # httpx's own reading of *_PROXY

from retrieval.readers.netguard import BlockedAddress, GuardedTransport, Resolver, check_url, system_resolver
from retrieval.readers.robots import ROBOTS_MAX_BYTES, HostPacer, RobotsCache, RobotsUnreachable

USER_AGENT = "newsbot/0.1 (news question answering; +https://github.com/newsbot)"
ACCEPT = (
    "text/html, application/xhtml+xml, application/rss+xml, application/atom+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Query parameters that track a click and do not name the article (url_id and canonical_url,
# which dedupe uses).
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|_ga|_gl|"
    r"ref|ref_src|cmpid|wt_mc|wt\.mc_id|ocid|icid|ns_\w+|at_\w+|s_cid|smid|spm)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class FetchOptions:
    """Bounds of one fetcher (Settings.fetch_options() builds them from NEWSBOT_FETCH_*)."""

    timeout: float = 15.0
    max_bytes: int = 10_000_000
    concurrency: int = 4
    retries: int = 2
    backoff: float = 1.0
    max_wait: float = 60.0
    max_redirects: int = 5
    user_agent: str = USER_AGENT
    robots: bool = True
    host_delay: float = 1.0
    max_crawl_delay: float = 30.0
    allow_private: bool = False


@dataclass(frozen=True)
class Response:
    """A fetched resource: its final URL (after redirects), content type and body; `not_modified`
    for a conditional request answered 304 (no body)."""

    url: str
    status: int
    content_type: str
    data: bytes
    etag: str = ""
    last_modified: str = ""

    @property
    def not_modified(self) -> bool:
        """Whether a conditional request found the resource unchanged."""
        return self.status == 304


class FetchError(Exception):
    """A URL that gave no usable response: the URL and what went wrong."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status  # the HTTP status that ended the fetch, if any


class _Retry(Exception):
    """A failed attempt worth repeating, after `wait` seconds (None: the back-off's)."""

    def __init__(self, reason: str, wait: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.wait = wait
        self.status = status


def _env_proxies() -> list[tuple[URLPattern, str | None]]:
    """The environment's proxies as httpx reads them (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY): URL
    patterns in httpx's matching order, each with its proxy URL or None (NO_PROXY: direct)."""
    patterns = [(URLPattern(key), proxy) for key, proxy in get_environment_proxies().items()]
    return sorted(patterns, key=lambda item: item[0])


def _netloc(url: str) -> str:
    """The URL's host (and port), lower-cased: what requests are spaced by."""
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:  # a malformed IPv6 host; fetch reports it
        return url


def is_url(value: object) -> bool:
    """Whether a command-line argument is an http(s) URL."""
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


class Fetcher:
    """Fetches URLs within the options' bounds; `sleep` waits between retries and between requests
    to one host (by `clock`); `resolve` resolves host names for the internal-address guard."""

    def __init__(
        self,
        options: FetchOptions | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        resolve: Resolver = system_resolver,
    ) -> None:
        self.options = options or FetchOptions()
        self._sleep = sleep
        self._resolve = resolve
        self._pacer = HostPacer(clock, sleep)
        self._robots = RobotsCache(self._robots_txt, self.options.user_agent)
        # Direct connections go through GuardedTransport (it checks the address it connects to),
        # URLs the environment sends to a proxy through that proxy (which resolves the name).
        self._proxies = _env_proxies() if transport is None else []
        if transport is None and not self.options.allow_private:
            transport = GuardedTransport(resolve)
        self._client = httpx.Client(
            transport=transport,
            mounts={
                pattern.pattern: httpx.HTTPTransport(proxy=proxy) if proxy else None
                for pattern, proxy in self._proxies
            },
            timeout=httpx.Timeout(self.options.timeout),
            follow_redirects=False,
            headers={
                "User-Agent": self.options.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
        )

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def fetch_all(self, urls: Sequence[str]) -> list[Response | FetchError]:
        """Each URL's response or error, in order: `concurrency` hosts at a time, each host's URLs
        one after another (a host's spacing holds up only that host, not a slot of the others)."""
        out: list[Response | FetchError | None] = [None] * len(urls)

        def host(indices: list[int]) -> None:
            for i in indices:
                try:
                    out[i] = self.fetch(urls[i])
                except FetchError as exc:
                    out[i] = exc

        by_host: dict[str, list[int]] = {}
        for i, url in enumerate(urls):
            by_host.setdefault(_netloc(url), []).append(i)
        if len(by_host) <= 1:
            for indices in by_host.values():
                host(indices)
        else:
            with ThreadPoolExecutor(max_workers=max(1, self.options.concurrency)) as pool:
                list(pool.map(host, by_host.values()))
        return [r for r in out if r is not None]

    def fetch(self, url: str, *, etag: str = "", last_modified: str = "") -> Response:
        """The response for `url` (a 304 when the validators still hold); FetchError otherwise."""
        headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        return self._fetch(url, headers, robots=False)

    def _robots_txt(self, url: str) -> bytes:
        """A robots.txt body for RobotsCache: LookupError when unavailable (4xx but 429),
        RobotsUnreachable when the site cannot say (5xx, 429, network, refused address)."""
        try:
            return self._fetch(url, {}, robots=True).data
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                raise LookupError(exc.reason) from None
            raise RobotsUnreachable(exc.reason) from None

    def _fetch(self, url: str, headers: dict[str, str], *, robots: bool) -> Response:
        """`fetch`, or (robots) the fetch of a robots.txt: not itself checked against robots.txt
        nor paced, its body cut (not refused) at ROBOTS_MAX_BYTES."""
        if not is_url(url):
            raise FetchError(url, "not an http(s) URL")
        attempts = self.options.retries + 1
        for attempt in range(attempts):
            try:
                return self._follow(url, headers, robots)
            except _Retry as retry:
                if attempt + 1 == attempts:
                    raise FetchError(
                        url, f"{retry} (gave up after {attempts} attempts)", retry.status
                    ) from None
                wait = retry.wait if retry.wait is not None else self.options.backoff * 2**attempt
                if wait > self.options.max_wait:
                    raise FetchError(
                        url, f"{retry}; the server asks to wait {wait:.0f} s", retry.status
                    ) from None
                self._sleep(wait)
        raise AssertionError("unreachable")

    def _follow(self, url: str, headers: dict[str, str], robots: bool) -> Response:
        """One attempt: the request and its redirects, each hop checked (address, robots.txt)."""
        seen = {urldefrag(url).url}
        for _ in range(self.options.max_redirects + 1):
            self._check(url, robots)
            response = self._get(url, headers, robots)
            if response.status not in _REDIRECTS:
                return response
            target = response.url  # the Location, resolved by _get
            if not is_url(target):
                raise FetchError(url, f"redirected to a non-http(s) location {target!r}")
            if urldefrag(target).url in seen:
                raise FetchError(url, f"redirect loop (back to {target})")
            seen.add(urldefrag(target).url)
            url = target
        raise FetchError(url, f"more than {self.options.max_redirects} redirects")

    def _proxied(self, url: str) -> bool:
        """Whether httpx sends the URL to a proxy from the environment (the first pattern that
        matches it decides, as in httpx)."""
        if not self._proxies:
            return False
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL:
            return False
        return next((proxy is not None for pattern, proxy in self._proxies if pattern.matches(target)), False)

    def _check(self, url: str, robots: bool) -> None:
        """FetchError when the URL's host is internal (unless allowed) or robots.txt forbids it;
        then wait for the host's turn."""
        if not self.options.allow_private:
            try:
                check_url(url, self._resolve, proxied=self._proxied(url))
            except BlockedAddress as exc:
                raise FetchError(url, str(exc)) from None
        if robots:
            return
        delay = self.options.host_delay
        if self.options.robots:
            refusal = self._robots.refusal(url)
            if refusal:
                raise FetchError(url, refusal)
            asked = self._robots.rules(url).crawl_delay(self._robots.agent)
            delay = max(delay, min(asked or 0.0, self.options.max_crawl_delay))
        self._pacer.wait(urlsplit(url).netloc.lower(), delay)

    def _get(self, url: str, headers: dict[str, str], robots: bool = False) -> Response:
        """One request; a redirect comes back with its Location as `url`."""
        try:
            with self._client.stream("GET", url, headers=headers) as r:
                if r.status_code in _REDIRECTS:
                    location = r.headers.get("Location", "")
                    if not location:
                        raise FetchError(url, f"HTTP {r.status_code} redirect without a Location")
                    return Response(urljoin(url, location), r.status_code, "", b"")
                if r.status_code in RETRY_STATUSES:
                    wait = retry_after(r.headers.get("Retry-After", ""))
                    raise _Retry(f"HTTP {r.status_code} {r.reason_phrase}".strip(), wait, r.status_code)
                if r.status_code == 304:
                    return self._response(url, r, b"")
                if r.status_code >= 400:
                    raise FetchError(url, f"HTTP {r.status_code} {r.reason_phrase}".strip(), r.status_code)
                if robots:
                    return self._response(url, r, self._head(r, ROBOTS_MAX_BYTES))
                return self._response(url, r, self._body(url, r))
        except BlockedAddress as exc:  # found at connect time (GuardedTransport)
            raise FetchError(url, str(exc)) from None
        except httpx.TimeoutException:
            raise _Retry(f"timed out after {self.options.timeout:g} s") from None
        except httpx.TooManyRedirects:  # pragma: no cover - redirects are followed by hand
            raise FetchError(url, "too many redirects") from None
        except (httpx.DecodingError, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FetchError(url, f"bad response: {exc}") from None
        except httpx.TransportError as exc:
            raise _Retry(f"network error: {exc or type(exc).__name__}") from None

    def _body(self, url: str, r: httpx.Response) -> bytes:
        """The body, read in pieces and cut off past max_bytes (FetchError)."""
        limit = self.options.max_bytes
        declared = r.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(
                url,
                f"response of {int(declared) / 1e6:.1f} MB is over the "
                f"{limit / 1e6:.1f} MB limit (NEWSBOT_FETCH_MAX_BYTES); not read",
            )
        parts, size = [], 0
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchError(
                    url, f"response cut off: over the {limit / 1e6:.1f} MB limit (NEWSBOT_FETCH_MAX_BYTES)"
                )
            parts.append(chunk)
        return b"".join(parts)

    @staticmethod
    def _head(r: httpx.Response, limit: int) -> bytes:
        """The body's first `limit` bytes (the rest is not read)."""
        parts, size = [], 0
        for chunk in r.iter_bytes():
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
        return b"".join(parts)[:limit]

    @staticmethod
    def _response(url: str, r: httpx.Response, data: bytes) -> Response:
        return Response(
            url=url,
            status=r.status_code,
            content_type=r.headers.get("Content-Type", ""),
            data=data,
            etag=r.headers.get("ETag", ""),
            last_modified=r.headers.get("Last-Modified", ""),
        )


def retry_after(value: str, now: dt.datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delay seconds or an HTTP date); None if unreadable."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def canonical_url(url: str) -> str:
    """The URL without tracking parameters (utm_*, fbclid, gclid, ...), fragment and default port,
    with its scheme and host lower-cased and its remaining query kept in order; '' for no URL.
    Text that is not an http(s) URL (or not a valid one) is returned stripped."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed IPv6 host
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return url
    host = host.lower().rstrip(".")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def url_id(url: str) -> str:
    """An article id from a URL: its canonical URL (`canonical_url`) without scheme, user, 'www.'
    or trailing '/' ('https://www.example.com/a/b/?utm_source=rss' -> 'example.com/a/b'); text
    that is no http(s) URL keeps its host and path, without fragment or tracking parameters."""
    canon = canonical_url(urldefrag(url).url)
    parts = urlsplit(canon)
    if parts.scheme in _DEFAULT_PORTS and parts.netloc:
        netloc = parts.netloc.rpartition("@")[2].removeprefix("www.")
        path = parts.path.rstrip("/")
        query = f"?{parts.query}" if parts.query else ""
        return f"{netloc}{path}{query}"
    parts = urlsplit(urldefrag(url).url)
    host = (parts.hostname or "").removeprefix("www.")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    path = parts.path.rstrip("/")
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    query = f"?{urlencode(kept)}" if kept else ""
    return f"{host}{port}{path}{query}"

"""GraphiQL's page and assets over HTTP: everything same-origin, a strict CSP, the vendored
files as their README lists them, and cache headers that make an upgrade visible at once.
(tests/e2e/test_browser.py runs the page in a real browser.)"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

from config import Settings
from tests.conftest import http_client_for
from web.graphiql import ASSETS, STATIC

PAGE_URL = "http://campus.test/graphql"
HTML = {"Accept": "text/html"}


class References(HTMLParser):
    """Every src and href of a page, and whether it has inline script or style."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str | None]] = []  # (tag, url, integrity)
        self.inline: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name) is not None:
                self.urls.append((tag, str(values[name]), values.get("integrity")))
        if tag == "style" or "style" in values or any(name.startswith("on") for name in values):
            self.inline.append(tag)

    def handle_data(self, data: str) -> None:
        if self._tag == "script" and data.strip():
            self.inline.append("script")


async def graphiql_page(http: httpx.AsyncClient) -> tuple[httpx.Response, References]:
    page = await http.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    references = References()
    references.feed(page.text)
    return page, references


async def test_the_page_names_only_same_origin_urls_and_no_inline_code(http: httpx.AsyncClient) -> None:
    _, references = await graphiql_page(http)
    assert references.inline == []
    assert references.urls, "the page loads its scripts and styles"
    for tag, url, _ in references.urls:
        absolute = urlsplit(urljoin(PAGE_URL, url))
        assert (absolute.scheme, absolute.netloc) == ("http", "campus.test"), (tag, url)
    loaded = {urlsplit(url).path.rsplit("/", 1)[-1] for _, url, _ in references.urls}
    assert loaded == set(ASSETS)
    assert not any("cookie" in name for name in loaded), "no js-cookie: there is no CSRF cookie"


async def test_every_asset_is_served_as_the_page_expects(http: httpx.AsyncClient) -> None:
    _, references = await graphiql_page(http)
    types = {"script": "text/javascript", "link": "text/css"}
    for tag, url, integrity in references.urls:
        answer = await http.get(urljoin(PAGE_URL, url))
        assert answer.status_code == 200, url
        expected_type = "image/svg+xml" if url.split("?")[0].endswith(".svg") else types[tag]
        assert answer.headers["content-type"].split(";")[0] == expected_type, url
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable", url
        if integrity is not None:  # every script and stylesheet has one
            digest = base64.b64encode(hashlib.sha384(answer.content).digest()).decode()
            assert integrity == f"sha384-{digest}", url
    assert {tag for tag, _, integrity in references.urls if integrity is None} == {"link"}  # the icon


async def test_the_page_has_a_strict_content_security_policy(http: httpx.AsyncClient) -> None:
    page, _ = await graphiql_page(http)
    directives = (directive.split() for directive in page.headers["content-security-policy"].split(";"))
    policy = {name: sources for name, *sources in directives}
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"], "no inline script, no eval, no other host"
    assert policy["connect-src"] == ["'self'"], "this host's HTTP and WebSocket only"
    assert policy["frame-ancestors"] == ["'none'"]
    assert page.headers["x-frame-options"] == "DENY"


async def test_assets_revalidate_unless_versioned_and_compress(http: httpx.AsyncClient) -> None:
    plain = await http.get("/graphiql/graphiql.min.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["cache-control"] == "no-cache"
    assert plain.content == (STATIC / "graphiql.min.js").read_bytes()
    again = await http.get("/graphiql/graphiql.min.js", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    compressed = await http.get("/graphiql/graphiql.min.js", headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip"
    assert int(compressed.headers["content-length"]) < len(plain.content) / 3
    assert compressed.content == plain.content  # httpx decodes it
    assert "accept-encoding" in compressed.headers["vary"].lower()


async def test_only_the_pages_assets_are_served(http: httpx.AsyncClient) -> None:
    for path in (
        "/graphiql/update.sh",
        "/graphiql/README.md",
        "/graphiql/licenses/react.txt",
        "/graphiql/graphiql.min.js.map",
        "/graphiql/..%2F..%2Fgraphiql.py",
        "/graphiql/",
    ):
        assert (await http.get(path)).status_code == 404, path


async def test_no_assets_in_production(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production", "secret_key": "s" * 40})
    async with http_client_for(production) as client:
        assert (await client.get("/graphiql/graphiql.min.js")).status_code == 404


def test_the_vendored_files_are_those_their_readme_lists() -> None:
    readme = (STATIC / "README.md").read_text()
    listed = dict(
        re.findall(r"^\| `([^`]+)` \| [^|]+ \| [^|]+ \| `(sha384-[^`]+)` \|$", readme, re.MULTILINE)
    )
    assert set(listed) == {
        "graphiql.min.js",
        "graphiql.min.css",
        "plugin-explorer.umd.js",
        "plugin-explorer.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    }
    for name, integrity in listed.items():
        digest = base64.b64encode(hashlib.sha384((STATIC / name).read_bytes()).digest()).decode()
        assert integrity == f"sha384-{digest}", f"{name} is not what README.md lists: run update.sh"
    files = {path.name for path in STATIC.rglob("*") if path.is_file()}
    assert not [name for name in files if name.endswith(".map") or "cookie" in name]
    licenses = {path.stem for path in (STATIC / "licenses").iterdir()}
    assert licenses == {"graphiql", "graphiql-plugin-explorer", "graphiql-explorer", "react", "react-dom"}

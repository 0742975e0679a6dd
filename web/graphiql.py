"""GraphiQL, served entirely by this server (no CDN): the page and its vendored assets.

The page is Strawberry's GraphiQL (same packages and versions, see static/graphiql/README.md)
with its inline script and style moved to files, so that it carries a strict
Content-Security-Policy. Assets are served from memory under /graphiql/<file>: the page names
each with `?v=<its hash>` and an `integrity` attribute, so a versioned URL is cached for a year
(`immutable`) and an upgrade is seen at once; other requests revalidate with the ETag.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
from functools import cache, cached_property
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

STATIC = Path(__file__).resolve().parent / "static" / "graphiql"
PREFIX = "/graphiql"

# What the page loads, in order, and nothing else is served (licenses, README and update.sh stay
# in the package, not on the web).
STYLESHEETS = ("graphiql.min.css", "plugin-explorer.css", "campusgraph-graphiql.css")
SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "plugin-explorer.umd.js",
    "campusgraph-graphiql.js",
)
ICON = "favicon.svg"
ASSETS = (*STYLESHEETS, *SCRIPTS, ICON)
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# No inline script may run. connect-src 'self' also allows WebSockets to this host (ws: from
# http:, wss: from https:: CSP Level 3, as Chromium and Firefox implement it; the browser test
# subscribes through it). style-src needs 'unsafe-inline': GraphiQL's dialogs (settings, short
# keys) insert a <style> element (react-remove-scroll-bar) whose text varies, so no hash fits.
# Fonts are data: URLs inside graphiql.min.css; the docs may show data: images from descriptions.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


class Asset:
    """One file, read once: its bytes, their hashes, and (on first need) its gzip form."""

    def __init__(self, name: str, body: bytes, media_type: str) -> None:
        self.name = name
        self.body = body
        self.media_type = media_type
        self.integrity = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
        self.version = hashlib.sha256(body).hexdigest()[:16]
        self.etag = f'W/"{self.version}"'  # weak: the same for the gzip and the identity form

    @property
    def url(self) -> str:
        """Relative to /graphql, so the page also works behind a path prefix."""
        return f"{PREFIX.lstrip('/')}/{self.name}?v={self.version}"

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.body, compresslevel=6, mtime=0)


@cache
def assets() -> dict[str, Asset]:
    return {
        name: Asset(name, (STATIC / name).read_bytes(), MEDIA_TYPES[Path(name).suffix]) for name in ASSETS
    }


@cache
def _page_html() -> str:
    files = assets()

    def attr(value: str) -> str:
        return html.escape(value, quote=True)

    links = "\n".join(
        f'    <link rel="stylesheet" href="{attr(files[name].url)}" integrity="{files[name].integrity}" />'
        for name in STYLESHEETS
    )
    scripts = "\n".join(
        f'    <script src="{attr(files[name].url)}" integrity="{files[name].integrity}" defer></script>'
        for name in SCRIPTS
    )
    icon = files[ICON]
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>CampusGraph GraphiQL</title>
    <link rel="icon" type="image/svg+xml" href="{attr(icon.url)}" />
{links}
{scripts}
  </head>
  <body>
    <div id="graphiql" class="graphiql-container">Loading...</div>
  </body>
</html>
"""


def graphiql_page() -> HTMLResponse:
    """The GraphiQL page for GET /graphql from a browser."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Cache-Control": REVALIDATE,
    }
    return HTMLResponse(_page_html(), headers=headers)


async def serve_asset(request: Request) -> Response:
    asset = assets().get(request.path_params["name"])
    if asset is None:
        return PlainTextResponse("Not Found", status_code=404)
    cache_control = IMMUTABLE if request.query_params.get("v") == asset.version else REVALIDATE
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    seen = {tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")}
    if asset.etag.removeprefix("W/") in seen:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", "") and asset.media_type.startswith("text/"):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)


def graphiql_routes() -> list[BaseRoute]:
    """The routes that serve GraphiQL's assets."""
    assets()  # read (and hash) them now, not on the first request
    return [Route(PREFIX + "/{name}", serve_asset, methods=["GET"])]

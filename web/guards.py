"""HTTP guards in front of the GraphQL view: request size, and CSRF for browser-simple requests."""

from __future__ import annotations

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.responses import error_response

# Content types a browser may send cross-site without a CORS preflight.
SIMPLE_CONTENT_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded", "text/plain")
# Any of these forces a preflight, so a request carrying one was not forged by another site.
PREFLIGHT_HEADERS = (
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-preflight",
    "x-requested-with",
)
# Form posts from other systems, not browsers, each checked by its sender's signature
# (web/webhooks.py): no CSRF check, but the size limits.
SIGNED_FORM_PATHS = ("/webhooks/",)


class BodyTooLarge(Exception):
    pass


class FileTooLarge(Exception):
    pass


class FileSizes:
    """Follows a multipart body as it streams in, and raises FileTooLarge as soon as one file
    part passes `limit` bytes: Starlette spools file parts to disk without a limit of its own.
    A body it cannot parse is left for Starlette to refuse."""

    def __init__(self, boundary: bytes, limit: int) -> None:
        self.limit = limit
        self._size = 0
        self._in_file = False
        self._header: tuple[bytes, bytes] = (b"", b"")
        self._parser: MultipartParser | None = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": lambda data, start, end: self._add_header(data[start:end], b""),
                "on_header_value": lambda data, start, end: self._add_header(b"", data[start:end]),
                "on_header_end": self._header_end,
                "on_part_data": self._part_data,
            },
        )

    def feed(self, chunk: bytes) -> None:
        if self._parser is None:
            return
        try:
            self._parser.write(chunk)
        except FormParserError:
            self._parser = None

    def _part_begin(self) -> None:
        self._size, self._in_file = 0, False

    def _add_header(self, name: bytes, value: bytes) -> None:
        self._header = (self._header[0] + name, self._header[1] + value)

    def _header_end(self) -> None:
        name, value = self._header
        if name.lower() == b"content-disposition":
            # What makes Starlette treat a part as a file.
            self._in_file = b"filename" in parse_options_header(value)[1]
        self._header = (b"", b"")

    def _part_data(self, _data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._size += end - start
            if self._size > self.limit:
                raise FileTooLarge


class RequestGuard:
    """Refuses over-large bodies and files (413, counted while they stream in, whatever
    Content-Length says) and browser-simple POSTs without a preflight-forcing header (400, CSRF)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_multipart_bytes: int, max_file_bytes: int
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_multipart_bytes = max_multipart_bytes
        self.max_file_bytes = max_file_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        signed_form = str(scope["path"]).startswith(SIGNED_FORM_PATHS)
        preflighted = any(name in headers for name in PREFLIGHT_HEADERS)
        if content_type in SIMPLE_CONTENT_TYPES and not preflighted and not signed_form:
            message = (
                "This content type needs a preflight-forcing header such as Apollo-Require-Preflight: true."
            )
            await _refuse(scope, receive, send, status=400, message=message, code="CSRF_REFUSED")
            return
        limit = self.max_multipart_bytes if content_type == "multipart/form-data" else self.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send, limit)
            return
        files = None
        if content_type == "multipart/form-data":
            boundary = parse_options_header(headers.get("content-type", ""))[1].get(b"boundary")
            files = FileSizes(boundary, self.max_file_bytes) if boundary else None
        await self._counting(scope, receive, send, limit, files)

    async def _counting(
        self, scope: Scope, receive: Receive, send: Send, limit: int, files: FileSizes | None
    ) -> None:
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
                if files is not None:
                    files.feed(message.get("body", b""))
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if not started:
                await _too_large(scope, receive, send, limit)
        except FileTooLarge:
            if not started:
                message = f"Each file is limited to {self.max_file_bytes} bytes."
                await _refuse(scope, receive, send, status=413, message=message, code="FILE_TOO_LARGE")


async def _refuse(
    scope: Scope, receive: Receive, send: Send, *, status: int, message: str, code: str
) -> None:
    accept = Headers(scope=scope).get("accept", "")
    await error_response(accept, status=status, message=message, code=code)(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    message = f"The request body is over {limit} bytes."
    await _refuse(scope, receive, send, status=413, message=message, code="PAYLOAD_TOO_LARGE")


API_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
# JSON answers need nothing; GraphiQL (off in production) sets its own CSP (web/graphiql.py).
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class SecurityHeaders:
    """Adds the usual protective headers to every HTTP answer that does not set its own."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = dict(headers).get(b"content-type", b"")
                wanted = [*API_HEADERS, HSTS] if self.production else list(API_HEADERS)
                if not content_type.startswith(b"text/html"):
                    wanted.append(API_CSP)
                headers.extend(header for header in wanted if header[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)

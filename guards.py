"""HTTP guards in front of the GraphQL view: request size, and CSRF for browser-simple requests."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Content types a browser may send cross-site without a CORS preflight.
SIMPLE_CONTENT_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded", "text/plain")
# Any of these forces a preflight, so a request carrying one was not forged by another site.
PREFLIGHT_HEADERS = (
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-preflight",
    "x-requested-with",
)


class BodyTooLarge(Exception):
    pass


class RequestGuard:
    """Refuses over-large bodies (413, counted while they stream in, whatever Content-Length
    says) and browser-simple POSTs without a preflight-forcing header (400, CSRF)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_multipart_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_multipart_bytes = max_multipart_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in SIMPLE_CONTENT_TYPES and not any(name in headers for name in PREFLIGHT_HEADERS):
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
        await self._counting(scope, receive, send, limit)

    async def _counting(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
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


async def _refuse(
    scope: Scope, receive: Receive, send: Send, *, status: int, message: str, code: str
) -> None:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    await JSONResponse(body, status_code=status)(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    message = f"The request body is over {limit} bytes."
    await _refuse(scope, receive, send, status=413, message=message, code="PAYLOAD_TOO_LARGE")

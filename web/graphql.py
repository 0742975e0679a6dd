"""The GraphQL view: Strawberry's ASGI app with our Context (the access token signs the caller
in), orjson encoding, text WebSocket frames, GraphQL-over-HTTP responses (web/responses.py) and
the per-connection watchdog that ends a socket when its sign-in ends."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import cast

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from auth.identity import CurrentUser
from context import AppState, Context
from errors import ServiceUnavailable
from models.db import is_database_unavailable
from resolvers.auth import authenticate
from schema import build_schema
from subscriptions.sign_ins import watch_session
from web.graphiql import graphiql_page
from web.responses import (
    GRAPHQL_RESPONSE,
    JSON,
    error_response,
    negotiated_media_type,
    request_error_status,
)

log = logging.getLogger("campusgraph")

CONNECTION_TASKS = "campusgraph_connection_tasks"
# The connection's slot under the per-user cap (stores/websocket_slots.py), given back when it ends.
CONNECTION_SLOT = "campusgraph_connection_slot"
# The close code and reason of a refused connection_init, instead of Strawberry's generic ones.
CONNECTION_REFUSAL = "campusgraph_connection_refusal"
# graphql-transport-ws's code for "too many" (of connection_inits): graphql-ws clients do not
# retry on it, so a tab over the cap shows an error instead of reconnecting in a loop.
TOO_MANY_CONNECTIONS = (4429, "Too many connections")


def _database_unavailable(request: Request, error: Exception) -> Response:
    """The answer execution would give (see `MaskUnexpectedErrors`), for an outage met before it."""
    request_id = uuid.uuid4().hex[:16]
    log.error("request %s failed: the database is unavailable (%s)", request_id, type(error).__name__)
    return error_response(
        request.headers.get("accept", ""),
        status=503,
        message=ServiceUnavailable.default_message,
        code=ServiceUnavailable.code,
        extensions={"requestId": request_id},
        headers={"Retry-After": "5"},
    )


# Strawberry's refusals before execution (HTTPException), by status: an unknown operation name,
# a mutation over GET, a body that is not JSON...
HTTP_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class TextFrameWebSocket(ASGIWebSocketAdapter):
    """Sends every message of both WebSocket protocols as a text frame. The view's orjson
    encoder returns bytes, which Strawberry would send as binary frames: browsers receive
    those as Blobs, and graphql-ws (GraphiQL, Apollo, urql) closes with 4400/4004."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error

    async def close(self, code: int, reason: str) -> None:
        """With the refusal `on_ws_connect` filed, if any: Strawberry closes a refused
        connection_init with 4403 (graphql-transport-ws) or 1011 (graphql-ws) whatever the cause."""
        code, reason = self.ws.scope["state"].get(CONNECTION_REFUSAL, (code, reason))
        await super().close(code, reason)


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our Context and orjson encoding."""

    websocket_adapter_class = TextFrameWebSocket

    def __init__(self, state: AppState) -> None:
        settings = state.settings
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_connection_init_timeout_seconds),
            allowed_origins=settings.cors_origins,
            # Multipart requests pass RequestGuard's CSRF check (a preflight-forcing header) first.
            multipart_uploads_enabled=True,
        )
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
            return
        tasks: list[asyncio.Task[None]] = []
        scope.setdefault("state", {})[CONNECTION_TASKS] = tasks
        try:
            await super().__call__(scope, receive, send)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if (slot := scope["state"].get(CONNECTION_SLOT)) is not None:
                await self.state.websocket_cap.give_back(slot)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As Strawberry's, but closing the request: it leaves uploads' temporary files open."""
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = error_response(
                request.headers.get("accept", ""),
                status=error.status_code,
                message=error.reason,
                code=HTTP_ERROR_CODES.get(error.status_code, "BAD_REQUEST"),
            )
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            response = _database_unavailable(request, error)  # signing in, before execution, found it down
        finally:
            await request.close()
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        context = Context(
            app=self.state, request=request, response=response if isinstance(response, Response) else None
        )
        if isinstance(request, Request):
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if token and scheme.lower() == "bearer":
                await self._sign_in(context, token)
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """The access token comes in connection_init's payload; without a valid one: 4403. A user
        already holding MAX_WEBSOCKETS_PER_USER open connections (on any process): 4429."""
        params = context.connection_params or {}
        raw = params.get("accessToken") or params.get("authorization") or params.get("Authorization") or ""
        token = str(raw).removeprefix("Bearer ").strip()
        if not token or not await self._sign_in(context, token):
            raise ConnectionRejectionError
        assert isinstance(context.request, WebSocket)
        assert context.claims is not None
        slot = await self.state.websocket_cap.take(context.claims.user_id)
        if slot is None:
            context.request.scope["state"][CONNECTION_REFUSAL] = TOO_MANY_CONNECTIONS
            raise ConnectionRejectionError({"message": TOO_MANY_CONNECTIONS[1]})
        context.request.scope["state"][CONNECTION_SLOT] = slot
        watchdog = asyncio.create_task(watch_session(self.state.bus, context.request, context.claims))
        context.request.scope["state"][CONNECTION_TASKS].append(watchdog)
        return cast(UnsetType, UNSET)

    async def _sign_in(self, context: Context, token: str) -> bool:
        signed_in = await authenticate(self.state, token)
        if signed_in is None:
            context.token_rejected = True
            return False
        user, context.claims = signed_in
        context.user = CurrentUser.from_model(user)
        context.loaders.user_by_id.prime(user.id, user)
        return True

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = negotiated_media_type(request.headers.get("accept", ""))
        return sub_response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        """As the GraphQL-over-HTTP spec says (web/responses.py): under its media type, a request
        error (refused before execution: no error has a path) has no `data` at all, which is how
        clients tell it from a failed execution, and a 4xx/5xx status."""
        media_type = sub_response.media_type or JSON
        if media_type == GRAPHQL_RESPONSE and isinstance(response_data, dict):
            errors = response_data.get("errors") or []
            if (
                response_data.get("data") is None
                and errors
                and all(isinstance(e, dict) and "path" not in e for e in errors)
            ):
                response_data.pop("data", None)
                if not sub_response.status_code:
                    sub_response.status_code = request_error_status(errors)
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = media_type
        return response

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return graphiql_page()

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """orjson: faster, strict about UTF-8, and bounded in nesting; its errors are
        json.JSONDecodeErrors, which Strawberry answers with a 400."""
        return orjson.loads(data)

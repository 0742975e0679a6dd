"""CampusGraph: the Starlette app and the command line.

python server.py serve [--host 127.0.0.1] [--port 8000] [--workers N]
python server.py migrate
python server.py seed --demo [--scale N]
python server.py schema
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, cast

import orjson
from cross_web import HTTPException
from redis import asyncio as aioredis
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from config import Settings, configure_logging, load_settings
from context import AppState, Context, build_state, close_state
from guards import RequestGuard, SecurityHeaders
from models.db import is_database_unavailable
from resolvers.auth import authenticate
from resolvers.errors import ServiceUnavailable
from resolvers.identity import CurrentUser
from resolvers.media import media_routes
from schema import build_schema
from subscriptions.sessions import watch_session
from web.graphiql import graphiql_page, graphiql_routes
from web.responses import (
    GRAPHQL_RESPONSE,
    JSON,
    error_response,
    negotiated_media_type,
    request_error_status,
)
from worker import BackgroundWork

log = logging.getLogger("campusgraph")

CONNECTION_TASKS = "campusgraph_connection_tasks"
CORS_HEADERS = ["Authorization", "Content-Type", "Apollo-Require-Preflight", "X-Include-Cost"]


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
        """The access token comes in connection_init's payload; without a valid one: 4403."""
        params = context.connection_params or {}
        raw = params.get("accessToken") or params.get("authorization") or params.get("Authorization") or ""
        token = str(raw).removeprefix("Bearer ").strip()
        if not token or not await self._sign_in(context, token):
            raise ConnectionRejectionError
        assert isinstance(context.request, WebSocket)
        assert context.claims is not None
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


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    state = build_state(settings)
    graphql = GraphQLApp(state)

    background = BackgroundWork(state)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await state.bus.connect()
        # Every serving process also refreshes dashboards and delivers the notification outbox;
        # `server.py worker` adds processes that do only that.
        background.start()
        try:
            yield
        finally:
            await background.close()
            await close_state(state)

    async def home(_request: Request) -> Response:
        return RedirectResponse("/graphql")

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        checks = await readiness(state) | {"backgroundLoops": background.readiness()}
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
        )

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *media_routes(settings),
            *(graphiql_routes() if settings.graphiql_enabled else []),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(SecurityHeaders, production=settings.is_production),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=CORS_HEADERS,
                allow_credentials=False,  # tokens travel in headers, never in cookies
                max_age=600,
            ),
            Middleware(
                RequestGuard,
                max_body_bytes=settings.max_body_bytes,
                max_multipart_bytes=settings.max_multipart_bytes,
                max_file_bytes=settings.max_upload_bytes,
            ),
        ],
    )
    app.state.campus = state
    return app


async def readiness(state: AppState) -> dict[str, str]:
    """Each dependency: "ok", or why not. Each check has a short deadline."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2), state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unavailable: {type(error).__name__}"
    if state.settings.redis_url:
        checks["redis"] = await _ping_redis(state.settings.redis_url)
    return checks


async def _ping_redis(url: str) -> str:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        async with asyncio.timeout(2):
            await client.ping()
        return "ok"
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    finally:
        await client.aclose()


def app_factory() -> Starlette:
    """For `uvicorn --factory server:app_factory` (what `serve --workers N` runs)."""
    settings = load_settings()
    configure_logging(settings)
    return create_app(settings)


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn  # noqa: PLC0415 - the other commands do not need it

    if settings.is_sqlite:
        from migrations.runner import upgrade_to_head  # noqa: PLC0415

        upgrade_to_head(settings)
    uvicorn.run(
        "server:app_factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        ws="websockets-sansio",
    )


def _migrate(_args: argparse.Namespace, settings: Settings) -> None:
    from migrations.runner import upgrade_to_head  # noqa: PLC0415

    upgrade_to_head(settings)
    print("database is at the newest migration")


def _seed(args: argparse.Namespace, settings: Settings) -> None:
    from seed import seed_demo  # noqa: PLC0415

    if not args.demo:
        raise SystemExit("seed: only --demo data exists; pass --demo")
    if settings.is_sqlite:
        from migrations.runner import upgrade_to_head  # noqa: PLC0415

        upgrade_to_head(settings)
    summary = asyncio.run(seed_demo(settings, scale=args.scale, progress=sys.stderr.isatty()))
    print(summary)


def _worker(_args: argparse.Namespace, settings: Settings) -> None:
    configure_logging(settings)
    asyncio.run(run_worker(settings))


async def run_worker(settings: Settings) -> None:
    """Background work on its own: dashboard refreshes and notification delivery."""
    state = build_state(settings)
    await state.bus.connect()
    try:
        await BackgroundWork(state).run()
    finally:
        await close_state(state)


def _schema(_args: argparse.Namespace, settings: Settings) -> None:
    print(build_schema(settings).as_str())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="server.py", description="CampusGraph GraphQL API server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP/WebSocket server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="upgrade the database to the newest migration")
    seed = commands.add_parser("seed", help="load deterministic demo data (idempotent)")
    seed.add_argument("--demo", action="store_true", help="the demo schools and accounts")
    seed.add_argument(
        "--scale",
        type=int,
        default=None,
        help="multiply each school's size (benchmarks; default: as seeded, or 1)",
    )
    commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    commands.add_parser("worker", help="refresh dashboards from the queue (Redis, or this process)")
    args = parser.parse_args(argv)
    handlers: dict[str, Any] = {
        "serve": _serve,
        "migrate": _migrate,
        "seed": _seed,
        "schema": _schema,
        "worker": _worker,
    }
    handlers[args.command](args, load_settings())


if __name__ == "__main__":
    main()

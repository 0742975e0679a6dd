"""CampusGraph: the Starlette app (its routes, middleware and lifespan) and the command line.

python server.py serve [--host 127.0.0.1] [--port 8000] [--workers N]
python server.py migrate
python server.py seed --demo [--scale N]
python server.py schema
python server.py worker
python server.py import-roster PATH [--dry-run] [--school SLUG]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute

from config import Settings, configure_logging, load_settings
from context import build_state, close_state
from schema import build_schema
from web.calendar import calendar_routes
from web.graphiql import graphiql_routes
from web.graphql import GraphQLApp
from web.guards import RequestGuard, SecurityHeaders
from web.health import health_routes
from web.media import media_routes
from web.sso import sso_routes
from web.webhooks import webhook_routes
from worker import BackgroundWork

CORS_HEADERS = ["Authorization", "Content-Type", "Apollo-Require-Preflight", "X-Include-Cost"]


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

    app = Starlette(
        routes=[
            Route("/", home),
            *health_routes(state, background),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *media_routes(settings),
            *calendar_routes(state),
            *sso_routes(state),
            *webhook_routes(state),
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
        # uvicorn's own default believes X-Forwarded-For from loopback (or FORWARDED_ALLOW_IPS):
        # only the configured proxies are believed, none unless TRUSTED_PROXIES says so.
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies,
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
    """Background work on its own: dashboard refreshes, notification delivery, queued roster imports."""
    state = build_state(settings)
    await state.bus.connect()
    try:
        await BackgroundWork(state).run()
    finally:
        await close_state(state)


def _import_roster(args: argparse.Namespace, settings: Settings) -> None:
    configure_logging(settings)
    if settings.is_sqlite:
        from migrations.runner import upgrade_to_head  # noqa: PLC0415

        upgrade_to_head(settings)
    payload = _roster_set(Path(args.path))
    status = asyncio.run(import_roster(settings, payload, dry_run=args.dry_run, school_slug=args.school))
    if status == "FAILED":
        raise SystemExit(1)


def _roster_set(path: Path) -> bytes:
    """A OneRoster set as one zip: a zip file, a folder of CSV files, or one CSV file."""
    from resolvers.oneroster.csv_files import PackageRejected  # noqa: PLC0415 - only this command needs it
    from resolvers.oneroster.imports import Upload, package_of  # noqa: PLC0415

    if path.is_dir():
        uploads = [Upload(file.name, file.read_bytes()) for file in sorted(path.glob("*.csv"))]
    elif path.is_file():
        uploads = [Upload(path.name, path.read_bytes())]
    else:
        raise SystemExit(f"import-roster: no such file or folder: {path}")
    try:
        return package_of(uploads)
    except PackageRejected as rejected:
        raise SystemExit(f"import-roster: {rejected}") from None


async def import_roster(settings: Settings, payload: bytes, *, dry_run: bool, school_slug: str | None) -> str:
    """Imports a OneRoster set into a school (`school_slug`, or the only one) in this process, with a
    progress bar (tqdm) on stderr; prints the counts and the first problems. Subscribers of
    rosterImportProgress follow it as any import (through Redis when it is configured)."""
    from sqlalchemy import select  # noqa: PLC0415 - only this command needs these
    from tqdm import tqdm  # type: ignore[import-untyped]  # noqa: PLC0415

    from models import RosterImport, RosterImportProblem, School  # noqa: PLC0415
    from resolvers.oneroster.importer import run_import  # noqa: PLC0415
    from resolvers.oneroster.imports import create_import  # noqa: PLC0415

    state = build_state(settings)
    await state.bus.connect()
    try:
        query = select(School) if school_slug is None else select(School).where(School.slug == school_slug)
        async with state.session_factory() as session:
            schools = (await session.scalars(query.limit(2))).all()
        if len(schools) != 1:
            raise SystemExit(
                f"import-roster: {'no such school' if not schools else 'several schools: pass --school'}"
            )
        job = await create_import(
            state, payload, school_id=schools[0].id, started_by_id=None, dry_run=dry_run, inline_max=None
        )
        with tqdm(total=job.total, unit="line", desc="dry run" if dry_run else "import") as bar:

            def progressed(processed: int, total: int) -> None:
                bar.total, bar.n = total, processed
                bar.refresh()

            status = await run_import(state, job.id, on_progress=progressed)
        order = (RosterImportProblem.file, RosterImportProblem.line, RosterImportProblem.id)
        async with state.session_factory() as session:
            done = await session.get(RosterImport, job.id)
            problems = select(RosterImportProblem).where(RosterImportProblem.import_id == job.id)
            first_problems = (await session.scalars(problems.order_by(*order).limit(20))).all()
        assert done is not None
        print(f"{status.value}{' (dry run: nothing written)' if dry_run else ''}: {done.processed} lines")
        for entity, kinds in done.counts.items():
            print(f"  {entity:<15} " + "  ".join(f"{kind} {n}" for kind, n in kinds.items()))
        for problem in first_problems:
            where = f"{problem.file}:{problem.line}" if problem.line else problem.file
            print(f"  {where} {problem.field or ''} {problem.code}: {problem.message}")
        return status.value
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
    commands.add_parser(
        "worker",
        help="background work only: dashboard refreshes, notification delivery, queued roster imports",
    )
    roster = commands.add_parser("import-roster", help="import a OneRoster 1.2 CSV set (zip, folder or file)")
    roster.add_argument("path", help="a zip of the CSV files, a folder of them, or one CSV file")
    roster.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    roster.add_argument("--school", help="the school's slug (default: the only school)")
    args = parser.parse_args(argv)
    handlers: dict[str, Any] = {
        "serve": _serve,
        "migrate": _migrate,
        "seed": _seed,
        "schema": _schema,
        "worker": _worker,
        "import-roster": _import_roster,
    }
    handlers[args.command](args, load_settings())


if __name__ == "__main__":
    main()

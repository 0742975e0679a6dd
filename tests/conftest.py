"""Fixtures: a fresh database per test, the app, GraphQL clients, and real server processes.

The database is SQLite (a migrated template file copied per test) unless DATABASE_URL is
set, in which case it is that PostgreSQL database, migrated once and emptied per test.
REDIS_URL, when set, is used by the app and flushed per test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis import asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import models
from config import Settings
from migrations.runner import upgrade_to_head
from models.db import create_engine, create_session_factory
from server import create_app
from tests.clients import GraphQLClient
from tests.factories import Factory
from tests.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database URL every test starts from, migrated to head once per run."""
    if POSTGRES_URL:
        upgrade_to_head(Settings(database_url=POSTGRES_URL, environment="test"))
        return POSTGRES_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_to_head(Settings(database_url=f"sqlite:///{path}", environment="test"))
    return f"sqlite:///{path}"


@pytest.fixture
async def database_url(migrated_template: str, tmp_path: Path) -> AsyncIterator[str]:
    if not POSTGRES_URL:
        path = tmp_path / "test.db"
        shutil.copyfile(migrated_template.removeprefix("sqlite:///"), path)
        yield f"sqlite:///{path}"
        return
    engine = create_engine(Settings(database_url=POSTGRES_URL, environment="test"))
    tables = ", ".join(table.name for table in models.Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()
    yield POSTGRES_URL


@pytest.fixture
async def redis_url() -> str | None:
    if REDIS_URL:
        client = aioredis.Redis.from_url(REDIS_URL)
        await client.flushdb()
        await client.aclose()
    return REDIS_URL


@pytest.fixture
def settings(database_url: str, redis_url: str | None, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        redis_url=redis_url,
        media_dir=tmp_path / "media",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@contextlib.asynccontextmanager
async def http_client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process app (lifespan run) and an HTTP client talking to it."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://campus.test") as client:
            yield client


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client_for(settings) as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


class ServerProcess:
    """`python server.py serve` on a free loopback port, as a real process."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "server.py", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_healthy(log_path)

    def _wait_until_healthy(self, log_path: Path) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {log_path.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@pytest.fixture
def start_server(settings: Settings, tmp_path: Path) -> Iterator[object]:
    """Starts real server processes sharing this test's database and Redis."""
    servers: list[ServerProcess] = []

    def start(**extra_env: str) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env |= {"DATABASE_URL": settings.database_url, "ENVIRONMENT": "test", "LOG_LEVEL": "WARNING"}
        env |= {"MEDIA_DIR": str(settings.media_dir)}
        if settings.redis_url:
            env["REDIS_URL"] = settings.redis_url
        env |= extra_env
        server = ServerProcess(env, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A real SMTP server on a free loopback port (tests/smtp_sink.py)."""
    smtp = SmtpSink()
    smtp.start()
    yield smtp
    smtp.stop()


@pytest.fixture
def factory(session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> Factory:
    return Factory(session_factory, settings)


class ThrowawayRedis:
    """A redis-server of the test's own on a free port, to stop and start at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = ThrowawayRedis()
    redis.start()
    yield redis
    redis.stop()


class ThrowawayPostgres:
    """A PostgreSQL server of the test's own (initdb into a temporary directory, a free loopback
    port, no Unix socket), to stop and start at will; never the machine's shared server."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.data_dir = Path(tempfile.mkdtemp(prefix="campus-pg-"))
        # PostgreSQL refuses to run as root: then it runs as the `postgres` account.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.data_dir, "postgres")
        self._run("initdb", "-D", str(self.data_dir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "'32MB'",
            "max_connections": "100",
        }
        with (self.data_dir / "data" / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bin_dir / program), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )

    def start(self) -> None:
        log = str(self.data_dir / "postgres.log")
        self._run("pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data_dir / "data"), "-l", log)

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-w", "-t", "30", "-m", mode, "-D", str(self.data_dir / "data"))

    def is_running(self) -> bool:
        status = subprocess.run(
            [*self._as, str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir / "data")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return status.returncode == 0

    def remove(self) -> None:
        if self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian's /usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parent.parent.name)
    )
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        pytest.skip("PostgreSQL's server binaries are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: PostgreSQL cannot be started")
    postgres = ThrowawayPostgres(bin_dir)
    try:
        postgres.start()
        yield postgres
    finally:
        postgres.remove()

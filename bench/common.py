"""Shared helpers of the benchmarks: throwaway databases, Redis, the microservice simulator and
server processes on loopback, demo logins, contract operations, percentiles and the machine.

Nothing here is timed; each bench script says what it measures. Every process started here is
stopped by the context manager that started it, and every PostgreSQL database created here is
dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from graphql import GraphQLSchema, OperationDefinitionNode, OperationType, parse, print_ast

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS_DIR = ROOT / "tests" / "contract" / "operations"
PYTHON = sys.executable
DEMO_PASSWORD = "campus-demo"
BENCH_SECRET = "campusgraph-bench-" + "0123456789abcdef" * 3  # 32+ characters, as production requires
POSTGRES = ("-h", "127.0.0.1", "-p", "5432", "-U", "postgres")
UNLIMITED_BUDGET = "1000000000/hour"  # the per-user query cost budget would throttle a load test

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken user { id } userErrors { code message } }
}
"""


# --- Small utilities -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100) of `values`; nan when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def raise_fd_limit(wanted: int) -> int:
    """Raises this process's open-file limit towards `wanted` (children inherit it); the new limit."""
    import resource  # noqa: PLC0415 - POSIX only

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu} x {os.cpu_count()}",
        "memory": memory,
        "python": platform.python_version(),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": f"{commit}{' + uncommitted changes' if dirty else ''}",
    }


def print_machine() -> None:
    print("; ".join(f"{key}: {value}" for key, value in machine().items()))


def rss_bytes(pid: int) -> int:
    """The resident memory of a process and all its descendants (uvicorn workers), from /proc."""
    total = 0
    for process_id in [pid, *_descendants(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{process_id}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for process_id in [pid, *_descendants(pid)]:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{process_id}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def cpu_seconds_matching(needles: Sequence[str]) -> float:
    """User + system CPU seconds so far of every process whose command line contains one of
    `needles` (e.g. a database name: PostgreSQL puts it in its backends' titles)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if any(needle in command for needle in needles):
                fields = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, every process), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --- Databases -----------------------------------------------------------------------------------


def psql(sql: str, database: str = "postgres") -> str:
    result = subprocess.run(
        ["psql", *POSTGRES, "-d", database, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


@contextlib.contextmanager
def throwaway_database(kind: str, workdir: Path) -> Iterator[str]:
    """A new empty database: a SQLite file in `workdir`, or a PostgreSQL database on
    127.0.0.1:5432 (user postgres) that is dropped afterwards. Yields its DATABASE_URL."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    if kind != "postgres":
        raise ValueError(f"database kind {kind!r}: sqlite or postgres")
    name = f"campusgraph_bench_{os.getpid()}_{secrets.token_hex(3)}"
    psql(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def server_env(
    database_url: str, workdir: Path, redis_url: str | None = None, **extra: str
) -> dict[str, str]:
    """The environment of `server.py` commands: production mode, this database (and Redis), no
    microservices unless `extra` sets them, a query budget that does not throttle the bench."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith(("_API_URL", "_API_KEY", "_MODEL_URL", "_MODEL_KEY"))
        and key not in ("DATABASE_URL", "REDIS_URL", "DEBUG_METRICS", "ENVIRONMENT", "SECRET_KEY")
    }
    env = inherited | {
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "production",
        "SECRET_KEY": BENCH_SECRET,
        "LOG_LEVEL": "WARNING",
        "MEDIA_DIR": str(workdir / "media"),
        "QUERY_COST_BUDGET": UNLIMITED_BUDGET,
        "PYTHONUNBUFFERED": "1",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env | extra


def cli(args: Sequence[str], env: dict[str, str], timeout: float = 900) -> str:
    """Runs `python server.py ARGS` to completion; its output."""
    result = subprocess.run(
        [PYTHON, "server.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"server.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


def migrate_and_seed(env: dict[str, str], scale: int) -> str:
    """Migrates to head and seeds the demo schools at `scale`; the seed's summary line."""
    cli(["migrate"], env)
    return cli(["seed", "--demo", "--scale", str(scale)], env)


async def fetch_all(database_url: str, statement: Any) -> list[Any]:
    """Rows of one SQLAlchemy statement, read through the product's own engine setup."""
    from config import Settings  # noqa: PLC0415 - product imports only where needed
    from models.db import create_engine  # noqa: PLC0415

    engine = create_engine(Settings(database_url=database_url, environment="test", _env_file=None))  # type: ignore[call-arg]
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(statement)).all())
    finally:
        await engine.dispose()


# --- Processes -----------------------------------------------------------------------------------


class Child:
    """A subprocess whose output goes to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            list(args), cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.log_path.name} exited:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _wait_http(child: Child, url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        child.check_alive()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer:\n{child.log_path.read_text()[-3000:]}")


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server on a free loopback port (no persistence); yields its URL."""
    port = free_port()
    child = Child(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        None,
        workdir / "redis.log",
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            child.check_alive()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        child.stop()


@contextlib.contextmanager
def simulator(workdir: Path) -> Iterator[str]:
    """The eight microservices (services/simulator.py) on a free port; yields the base URL."""
    port = free_port()
    child = Child([PYTHON, "-m", "services.simulator", "--port", str(port)], None, workdir / "simulator.log")
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(child, f"{base_url}/_stats")
        yield base_url
    finally:
        child.stop()


def service_env(base_url: str) -> dict[str, str]:
    from services.simulator import service_env as simulator_env  # noqa: PLC0415

    return simulator_env(base_url)


@dataclass
class Server:
    child: Child
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def rss_bytes(self) -> int:
        return rss_bytes(self.child.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.child.pid)


@contextlib.contextmanager
def server(env: dict[str, str], workdir: Path, workers: int = 1, name: str = "server") -> Iterator[Server]:
    """`python server.py serve --port P --workers N` until /healthz answers; stopped afterwards."""
    port = free_port()
    child = Child(
        [PYTHON, "server.py", "serve", "--port", str(port), "--workers", str(workers)],
        env,
        workdir / f"{name}.log",
    )
    try:
        _wait_http(child, f"http://127.0.0.1:{port}/healthz", seconds=90)
        yield Server(child, port)
    finally:
        child.stop()


# --- GraphQL -------------------------------------------------------------------------------------


async def graphql(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


async def login(http: httpx.AsyncClient, email: str) -> str:
    """A demo account's access token."""
    result = await graphql(http, LOGIN, {"input": {"email": email, "password": DEMO_PASSWORD}})
    payload = (result.get("data") or {}).get("login") or {}
    if not payload.get("accessToken"):
        raise RuntimeError(f"login of {email} failed: {result}")
    token: str = payload["accessToken"]
    return token


async def logins(base_url: str, emails: Sequence[str]) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        tokens = await asyncio.gather(*(login(http, email) for email in emails))
    return dict(zip(emails, tokens, strict=True))


@dataclass(frozen=True)
class ContractOperation:
    name: str
    kind: OperationType
    file: str
    text: str


def contract_operations() -> list[ContractOperation]:
    """Every operation of tests/contract/operations/*.graphql, in file order."""
    found = []
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        for definition in parse(path.read_text()).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                found.append(
                    ContractOperation(
                        definition.name.value, definition.operation, path.name, print_ast(definition)
                    )
                )
    return found


def contract_operation(name: str) -> str:
    for operation in contract_operations():
        if operation.name == name:
            return operation.text
    raise KeyError(name)


def schema_errors(operation_text: str) -> list[str]:
    """Why the current schema (built in this process from the working tree) cannot run the
    operation; empty when it validates."""
    from graphql import validate  # noqa: PLC0415

    return [error.message for error in validate(_current_schema(), parse(operation_text))]


@functools.cache
def _current_schema() -> GraphQLSchema:
    from config import Settings  # noqa: PLC0415
    from schema import build_schema  # noqa: PLC0415

    return build_schema(Settings(environment="test", _env_file=None))._schema  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def deadline(seconds: float) -> AsyncIterator[None]:
    """Cancels the block after `seconds` (every bench loop is bounded in time)."""
    async with asyncio.timeout(seconds):
        yield


async def wait_until(condition: Any, seconds: float, step: float = 0.1) -> bool:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if condition():
            return True
        await asyncio.sleep(step)
    return bool(condition())


async def wait_quiet(servers: list[Server], seconds: float) -> None:
    """Until the servers use less than 5% CPU over a second (or `seconds` pass)."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        before = sum(s.cpu_seconds() for s in servers)
        await asyncio.sleep(1.0)
        if sum(s.cpu_seconds() for s in servers) - before < 0.05 * len(servers):
            return

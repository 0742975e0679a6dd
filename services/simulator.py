"""A stand-in for the eight microservices of services.md, over real HTTP, for demos and tests.

    python -m services.simulator [--port 8900] [--host 127.0.0.1] [--key sim-key]

serves every service on one port under its name (`/talentscope/v1/students?ids=...`,
`/notifications/v1/notifications`...) and prints the environment variables that point the
server at it (`service_env`), once it holds the port: `--port 0` takes a free one (what
`make run` does), and a port that is taken ends it with one line saying so, printing nothing.
Its data is made up but deterministic: derived from a hash of the service and the student
number, so "NS-000123" always has the same skills, missions and rank, and about one student in
ten has nothing in a given service (absent from `items`).

For tests: `GET /_stats` counts the contract calls per service, `POST /_reset` clears counts,
faults and received notifications, `POST /_faults` with `{"service": "missions", "mode":
"slow"|"error"|"malformed"|"wrong_shape"|"ok", "delay": 5}` makes a service misbehave, and
`GET /notifications/v1/notifications` lists the notifications received. `running_simulator()`
runs it inside the test's event loop on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import socket
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from config import SERVICE_NAMES

DESCRIPTION = "Serves the eight microservices of services.md with made-up, deterministic data."
DEFAULT_KEY = "sim-key"
DEFAULT_PORT = 8900
MAX_IDS = 100
READ_SERVICES = tuple(name for name in SERVICE_NAMES if name != "notifications")
FAULT_MODES = ("slow", "error", "malformed", "wrong_shape", "ok")
NOTIFICATION_FIELDS = ("id", "userId", "kind", "title", "body", "createdAt")
EPOCH = datetime(2026, 9, 1, tzinfo=UTC)  # the school year the made-up dates fall in

Json = dict[str, Any]


# --- Deterministic data --------------------------------------------------------------------------

SKILLS = ("Algebra", "Geometry", "Essay writing", "Public speaking", "Chemistry", "Python", "Spanish")
COACHES = ("R. Diaz", "M. Okafor", "S. Lindqvist", "A. Tanaka")
GOALS = ("Finish the algebra unit", "Read two novels", "Present at the science fair", "Improve attendance")
TOPICS = ("Build a weather station", "Interview a local artist", "Map the school garden", "Code a quiz game")
COHORTS = ("Fall 2026 A", "Fall 2026 B", "Fall 2026 C")


def _rng(service: str, student_number: str) -> random.Random:
    seed = int.from_bytes(hashlib.sha256(f"{service}:{student_number}".encode()).digest()[:8], "big")
    return random.Random(seed)  # noqa: S311 - made-up demo data, not secrets


def _when(rng: random.Random) -> str:
    moment = EPOCH + timedelta(hours=rng.randrange(24 * 120))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _talentscope(rng: random.Random, _number: str) -> Json:
    skills = [
        {"name": name, "level": rng.randint(1, 5), "percentile": round(rng.uniform(1, 99), 1)}
        for name in rng.sample(SKILLS, rng.randint(1, 4))
    ]
    return {"skills": skills}


def _coaching_os(rng: random.Random, _number: str) -> Json:
    session = {"startsAt": _when(rng), "coachName": rng.choice(COACHES)} if rng.random() < 0.7 else None
    return {"nextSession": session, "goals": rng.sample(GOALS, rng.randint(0, 3))}


def _missions(rng: random.Random, _number: str) -> Json:
    missions = [
        {
            "id": f"m{index}",
            "title": title,
            "progress": round(rng.random(), 2),
            "dueAt": _when(rng) if rng.random() < 0.8 else None,
        }
        for index, title in enumerate(rng.sample(TOPICS, rng.randint(0, 4)), start=1)
    ]
    return {"missions": missions}


def _portfolio(rng: random.Random, number: str) -> Json:
    items = [
        {
            "id": f"p{index}",
            "title": title,
            "url": f"https://portfolio.example.edu/{number}/p{index}",
            "updatedAt": _when(rng),
        }
        for index, title in enumerate(rng.sample(TOPICS, rng.randint(0, 3)), start=1)
    ]
    return {"items": items}


def _cohort(rng: random.Random, _number: str) -> Json:
    return {
        "name": rng.choice(COHORTS),
        "size": rng.randint(20, 35),
        "rankPercentile": round(rng.uniform(1, 99), 1),
    }


def _leaderboard(rng: random.Random, _number: str) -> Json:
    participants = rng.randint(200, 400)
    return {
        "rank": rng.randint(1, participants),
        "points": rng.randrange(0, 5000, 10),
        "participants": participants,
    }


def _ai_coach(rng: random.Random, _number: str) -> Json:
    recommendations = [
        {"title": f"Practise {skill}", "reason": f"Your {skill} level has room to grow this month."}
        for skill in rng.sample(SKILLS, rng.randint(1, 3))
    ]
    return {"recommendations": recommendations}


GENERATORS: dict[str, Callable[[random.Random, str], Json]] = {
    "talentscope": _talentscope,
    "coaching_os": _coaching_os,
    "missions": _missions,
    "portfolio": _portfolio,
    "cohort": _cohort,
    "leaderboard": _leaderboard,
    "ai_coach": _ai_coach,
}


def simulated_item(service: str, student_number: str) -> Json | None:
    """The item `service` answers for `student_number`, or None when it has nothing for them."""
    rng = _rng(service, student_number)
    if rng.random() < 0.1:
        return None
    return GENERATORS[service](rng, student_number)


# --- The HTTP app -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    mode: str
    delay: float


@dataclass
class SimulatorState:
    key: str
    calls: Counter[str] = field(default_factory=Counter)
    faults: dict[str, Fault] = field(default_factory=dict)
    notifications: deque[Json] = field(default_factory=lambda: deque(maxlen=1000))


def create_app(key: str = DEFAULT_KEY) -> Starlette:
    state = SimulatorState(key)

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {state.key}"

    async def misbehave(request: Request, service: str, ids: Sequence[str]) -> Response | None:
        """The answer a fault replaces the real one with, if any; "slow" only delays it."""
        fault = state.faults.get(service)
        if fault is None:
            return None
        if fault.mode == "slow":
            await _sleep_unless_disconnected(request, fault.delay)
            return None
        if fault.mode == "error":
            return JSONResponse({"error": "simulated failure"}, status_code=500)
        if fault.mode == "malformed":
            return Response('{"items": {"', media_type="application/json")
        return JSONResponse({"items": {number: {"unexpected": True} for number in ids}})  # wrong_shape

    async def read_students(request: Request) -> Response:
        service = request.path_params["service"]
        if service not in READ_SERVICES:
            return JSONResponse({"error": f"unknown service {service!r}"}, status_code=404)
        state.calls[service] += 1
        if not authorized(request):
            return JSONResponse({"error": "bad key"}, status_code=401)
        ids = [number for number in request.query_params.get("ids", "").split(",") if number]
        if len(ids) > MAX_IDS:
            return JSONResponse({"error": f"at most {MAX_IDS} ids a call"}, status_code=400)
        items = {number: item for number in ids if (item := simulated_item(service, number)) is not None}
        return await misbehave(request, service, ids) or JSONResponse({"items": items})

    async def receive_notification(request: Request) -> Response:
        state.calls["notifications"] += 1
        if not authorized(request):
            return JSONResponse({"error": "bad key"}, status_code=401)
        payload = await _json_body(request)
        if not isinstance(payload, dict) or not all(
            isinstance(payload.get(name), str) for name in NOTIFICATION_FIELDS
        ):
            return JSONResponse({"error": f"expected string fields {NOTIFICATION_FIELDS}"}, status_code=400)
        if failure := await misbehave(request, "notifications", ()):
            return failure
        state.notifications.append(payload)
        return JSONResponse({"accepted": payload["id"]}, status_code=202)

    async def list_notifications(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"error": "bad key"}, status_code=401)
        return JSONResponse({"notifications": list(state.notifications)})

    async def stats(_request: Request) -> Response:
        return JSONResponse({name: state.calls[name] for name in SERVICE_NAMES})

    async def reset(_request: Request) -> Response:
        state.calls.clear()
        state.faults.clear()
        state.notifications.clear()
        return JSONResponse({"ok": True})

    async def set_fault(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            body = {}
        service, mode, delay = body.get("service"), body.get("mode"), body.get("delay", 5.0)
        if service not in SERVICE_NAMES or mode not in FAULT_MODES or not isinstance(delay, int | float):
            return JSONResponse(
                {"error": f"expected service in {SERVICE_NAMES}, mode in {FAULT_MODES}, delay in seconds"},
                status_code=400,
            )
        if mode == "ok":
            state.faults.pop(service, None)
        else:
            state.faults[service] = Fault(mode, float(delay))
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/notifications/v1/notifications", receive_notification, methods=["POST"]),
            Route("/notifications/v1/notifications", list_notifications, methods=["GET"]),
            Route("/{service}/v1/students", read_students, methods=["GET"]),
            Route("/_stats", stats, methods=["GET"]),
            Route("/_reset", reset, methods=["POST"]),
            Route("/_faults", set_fault, methods=["POST"]),
        ]
    )


async def _json_body(request: Request) -> Any:
    """The request's JSON, or None when it is not JSON."""
    try:
        return await request.json()
    except ValueError:
        return None


async def _sleep_unless_disconnected(request: Request, seconds: float) -> None:
    """Sleeps, but stops once the client has hung up, so a slow call ends with the client's timeout
    and does not hold the server's shutdown for the whole delay."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)


# --- Running it ---------------------------------------------------------------------------------


def service_env(base_url: str, key: str = DEFAULT_KEY) -> dict[str, str]:
    """The 16 variables (`TALENTSCOPE_API_URL`, `TALENTSCOPE_API_KEY`...) pointing at a simulator."""
    base = base_url.rstrip("/")
    env: dict[str, str] = {}
    for name in SERVICE_NAMES:
        env[f"{name.upper()}_API_URL"] = f"{base}/{name}"
        env[f"{name.upper()}_API_KEY"] = key
    return env


def running_simulator(key: str = DEFAULT_KEY) -> AbstractAsyncContextManager[str]:
    """Serves the simulator on a free loopback port in this event loop; yields its base URL."""
    return serving(create_app(key))


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Serves any ASGI app (the simulator, a test's stand-in) on a free loopback port in this
    event loop; yields its base URL."""
    with bind("127.0.0.1", 0) as sock:
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, lifespan="off", ws="none", log_level="warning", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if task.done():
                    task.result()  # raises why it stopped
                    raise RuntimeError("the server stopped before it started")
                await asyncio.sleep(0.01)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (0: a free port), for uvicorn to listen on; SystemExit with
    one line when the port is taken or the address is not this machine's."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own sockets
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise SystemExit(
            f"simulator: cannot listen on {host}:{port}: {error.strerror} (--port 0 takes a free port)"
        ) from None
    return sock


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.simulator", description=DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: a free port")
    parser.add_argument("--key", default=DEFAULT_KEY, help="the bearer key every service expects")
    args = parser.parse_args(argv)
    sock = bind(args.host, args.port)
    base_url = f"http://{args.host}:{sock.getsockname()[1]}"
    for name, value in service_env(base_url, args.key).items():
        print(f"{name}={value}", flush=True)
    uvicorn.Server(uvicorn.Config(create_app(args.key), log_level="info")).run(sockets=[sock])


if __name__ == "__main__":
    main()

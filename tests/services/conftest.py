"""The simulator over real loopback HTTP (one per test session, reset before each test) and
ServiceClients pointed at it, with a fake clock for the circuit breakers' cool-down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from config import Settings
from services.clients import ServiceClients, create_http_client
from services.simulator import running_simulator, service_env

KEY = "test-key"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Simulator:
    """Controls the running simulator through its admin endpoints."""

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url
        self.http = http

    async def reset(self) -> None:
        (await self.http.post(f"{self.base_url}/_reset")).raise_for_status()

    async def calls(self) -> dict[str, int]:
        response = await self.http.get(f"{self.base_url}/_stats")
        response.raise_for_status()
        counts: dict[str, int] = response.json()
        return counts

    async def fault(self, service: str, mode: str, delay: float = 5.0) -> None:
        body = {"service": service, "mode": mode, "delay": delay}
        (await self.http.post(f"{self.base_url}/_faults", json=body)).raise_for_status()

    async def notifications(self) -> list[dict[str, Any]]:
        response = await self.http.get(
            f"{self.base_url}/notifications/v1/notifications", headers={"Authorization": f"Bearer {KEY}"}
        )
        response.raise_for_status()
        received: list[dict[str, Any]] = response.json()["notifications"]
        return received


@pytest.fixture(scope="session")
async def simulator() -> AsyncIterator[Simulator]:
    async with running_simulator(KEY) as base_url, httpx.AsyncClient() as http:
        yield Simulator(base_url, http)


@pytest.fixture
async def sim(simulator: Simulator) -> Simulator:
    """The simulator, its counts, faults and notifications cleared."""
    await simulator.reset()
    return simulator


@pytest.fixture
def settings_for(sim: Simulator) -> Callable[..., Settings]:
    """Settings with every service on the (freshly reset) simulator; keyword arguments override fields."""

    def build(**overrides: Any) -> Settings:
        fields: dict[str, Any] = {
            name.lower(): value for name, value in service_env(sim.base_url, KEY).items()
        }
        return Settings(environment="test", _env_file=None, **(fields | overrides))  # type: ignore[call-arg]

    return build


@pytest.fixture(scope="session")
async def service_http() -> AsyncIterator[httpx.AsyncClient]:
    """Shared by the whole session, as the server shares one client between requests."""
    async with create_http_client(Settings(environment="test", _env_file=None)) as http:  # type: ignore[call-arg]
        yield http


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_clients(
    settings_for: Callable[..., Settings], service_http: httpx.AsyncClient, clock: FakeClock
) -> Callable[..., ServiceClients]:
    """ServiceClients on the shared client and the fake clock; `cache_size=` or Settings overrides."""

    def build(cache_size: int = 5000, **overrides: Any) -> ServiceClients:
        return ServiceClients(settings_for(**overrides), service_http, clock=clock, cache_size=cache_size)

    return build


@pytest.fixture
def clients(make_clients: Callable[..., ServiceClients]) -> ServiceClients:
    return make_clients()

"""Calls to the eight microservices of services.md, over one shared, pooled httpx client.

Reads are batched (at most 100 student numbers a call, the calls of one batch in parallel),
bounded by `Settings.service_timeout_seconds` each, and guarded by a circuit breaker per
service. Every read says, per student, whether its data is fresh (OK), the last good value
of an earlier call (STALE), or missing because the service is off or failing (UNAVAILABLE).
Data is never made up: a student a service failed for, with no earlier good answer, gets none.

Breakers and last-good values live in this object, so in the process: one `ServiceClients`
per process (created with the app), shared by all requests. Dashboards shared between
processes are cached in Redis one level up; this only bridges a service's outages.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from config import SERVICE_NAMES, ServiceEndpoint, Settings
from services.breaker import BreakerState, CircuitBreaker, Clock
from services.cache import LastGood, LastGoodCache
from services.items import (
    ITEM_MODELS,
    AiCoachItem,
    CoachingOsItem,
    CohortItem,
    Envelope,
    Item,
    LeaderboardItem,
    MissionsItem,
    NotificationPayload,
    PortfolioItem,
    TalentScopeItem,
)

log = logging.getLogger(__name__)

MAX_IDS_PER_CALL = 100
DEFAULT_CACHE_SIZE = 5000  # students remembered per service

ItemT_co = TypeVar("ItemT_co", bound=Item, covariant=True)
T = TypeVar("T")


class SectionStatus(enum.StrEnum):
    """How a section of the student dashboard stands. A read gives OK, STALE or UNAVAILABLE
    (see Section); LOCKED is the caller's: a premium section of a free-tier student, whose
    service is never asked."""

    OK = "OK"
    STALE = "STALE"
    UNAVAILABLE = "UNAVAILABLE"
    LOCKED = "LOCKED"


@dataclass(frozen=True)
class Section(Generic[ItemT_co]):
    """What one service says about one student.

    OK: `data` is the service's item, or None when the service has nothing for the student
    (an empty section); `updated_at` is when it was fetched.
    STALE: the call failed or was not made (circuit open); `data` is the last good answer
    (None: it was "nothing"), fetched at `updated_at`.
    UNAVAILABLE: the service is off, or failed with nothing good to fall back on; no data.
    """

    status: SectionStatus
    data: ItemT_co | None = None
    updated_at: datetime | None = None


UNAVAILABLE: Section[Any] = Section(SectionStatus.UNAVAILABLE)


@dataclass(frozen=True)
class ServiceResult(Generic[ItemT_co]):
    """One service's answer for a batch of students: a section per student number asked for."""

    service: str
    sections: Mapping[str, Section[ItemT_co]]

    def __getitem__(self, student_number: str) -> Section[ItemT_co]:
        return self.sections[student_number]


HealthStatus = Literal["OK", "DEGRADED", "DOWN", "OFF"]


@dataclass(frozen=True)
class ServiceHealth:
    """For operators. OK: answering; DEGRADED: recent failures or probing after an outage;
    DOWN: circuit open (not called for now); OFF: not configured."""

    service: str
    status: HealthStatus
    latency_ms: float | None  # of the last call, successful or not
    last_error: str | None


class ServiceError(Exception):
    """A service could not do what was asked; `service` is its name in SERVICE_NAMES."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service


class ServiceDisabledError(ServiceError):
    """The service is not configured (its URL or key is unset): retrying will not help."""


class ServiceCallError(ServiceError):
    """The call failed (non-2xx, timeout, connection, malformed answer) or its circuit is open."""


def create_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one client all service calls share; open it with the app and `aclose()` it at shutdown."""
    return httpx.AsyncClient(
        timeout=settings.service_timeout_seconds,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


class ServiceClients:
    """The microservices as seen by the rest of the server. Does not own (close) `http`."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        failure_threshold: int = 3,
        cool_down_seconds: float = 30.0,
        clock: Clock = time.monotonic,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._endpoints = settings.services
        for endpoint in self._endpoints.values():
            _check_url(endpoint)
        self._http = http
        self._timeout = settings.service_timeout_seconds
        self._breakers = {
            name: CircuitBreaker(
                name, failure_threshold=failure_threshold, cool_down_seconds=cool_down_seconds, clock=clock
            )
            for name in SERVICE_NAMES
        }
        self._last_good: dict[str, LastGoodCache[Item | None]] = {
            name: LastGoodCache(cache_size) for name in ITEM_MODELS
        }

    def enabled(self, service: str) -> bool:
        return self._endpoints[service].enabled

    @overload
    async def fetch(
        self, service: Literal["talentscope"], student_numbers: Sequence[str]
    ) -> ServiceResult[TalentScopeItem]: ...
    @overload
    async def fetch(
        self, service: Literal["coaching_os"], student_numbers: Sequence[str]
    ) -> ServiceResult[CoachingOsItem]: ...
    @overload
    async def fetch(
        self, service: Literal["missions"], student_numbers: Sequence[str]
    ) -> ServiceResult[MissionsItem]: ...
    @overload
    async def fetch(
        self, service: Literal["portfolio"], student_numbers: Sequence[str]
    ) -> ServiceResult[PortfolioItem]: ...
    @overload
    async def fetch(
        self, service: Literal["cohort"], student_numbers: Sequence[str]
    ) -> ServiceResult[CohortItem]: ...
    @overload
    async def fetch(
        self, service: Literal["leaderboard"], student_numbers: Sequence[str]
    ) -> ServiceResult[LeaderboardItem]: ...
    @overload
    async def fetch(
        self, service: Literal["ai_coach"], student_numbers: Sequence[str]
    ) -> ServiceResult[AiCoachItem]: ...
    @overload
    async def fetch(self, service: str, student_numbers: Sequence[str]) -> ServiceResult[Item]: ...

    async def fetch(self, service: str, student_numbers: Sequence[str]) -> ServiceResult[Item]:
        """What `service` says about each of `student_numbers` (duplicates asked once)."""
        if service not in ITEM_MODELS:
            raise ValueError(f"{service!r} is not a read service: {', '.join(ITEM_MODELS)}")
        numbers = list(dict.fromkeys(student_numbers))
        endpoint = self._endpoints[service]
        if not endpoint.enabled:
            return ServiceResult(service, dict.fromkeys(numbers, UNAVAILABLE))
        chunks = [numbers[i : i + MAX_IDS_PER_CALL] for i in range(0, len(numbers), MAX_IDS_PER_CALL)]
        answers = await asyncio.gather(*(self._read(endpoint, chunk) for chunk in chunks))
        sections: dict[str, Section[Item]] = {}
        for answer in answers:
            sections |= answer
        return ServiceResult(service, sections)

    async def deliver_notification(self, payload: Mapping[str, Any]) -> None:
        """Hands a notification to the Notifications service (`POST /v1/notifications`).

        Raises ServiceCallError when it was not accepted (the outbox retries later),
        ServiceDisabledError when the service is not configured, and pydantic's
        ValidationError (a ValueError) when `payload` lacks a field of services.md.
        """
        endpoint = self._endpoints["notifications"]
        if not endpoint.enabled:
            raise ServiceDisabledError(endpoint.name, "not configured (NOTIFICATIONS_API_URL/_KEY)")
        body = NotificationPayload.model_validate(payload).model_dump(mode="json", by_alias=True)
        request = self._request(endpoint, "POST", f"{endpoint.url}/v1/notifications", json=body)
        await self._call(endpoint, request, lambda _response: None)

    def health(self) -> list[ServiceHealth]:
        return [self._health(name) for name in SERVICE_NAMES]

    async def _read(self, endpoint: ServiceEndpoint, numbers: list[str]) -> dict[str, Section[Item]]:
        """One call for at most 100 students, and what to serve each of them."""
        cache = self._last_good[endpoint.name]
        # Built by hand: httpx would send the commas as %2C, services.md shows them as they are.
        ids = ",".join(quote(number, safe="") for number in numbers)
        url = httpx.URL(f"{endpoint.url}/v1/students").copy_with(query=f"ids={ids}".encode())
        request = self._request(endpoint, "GET", url)
        model = ITEM_MODELS[endpoint.name]
        try:
            items = await self._call(endpoint, request, lambda response: _parse(response, model, numbers))
        except ServiceCallError:
            return {number: _fallback(cache.get(number)) for number in numbers}
        fetched_at = datetime.now(UTC)
        sections: dict[str, Section[Item]] = {}
        for number in numbers:
            item = items.get(number)
            cache.put(number, item, fetched_at)
            sections[number] = Section(SectionStatus.OK, item, fetched_at)
        return sections

    def _request(
        self, endpoint: ServiceEndpoint, method: str, url: httpx.URL | str, **kwargs: Any
    ) -> httpx.Request:
        headers = {"Authorization": f"Bearer {endpoint.key}"}
        return self._http.build_request(method, url, headers=headers, timeout=self._timeout, **kwargs)

    async def _call(
        self, endpoint: ServiceEndpoint, request: httpx.Request, parse: Callable[[httpx.Response], T]
    ) -> T:
        """Sends `request` through the service's breaker within the time budget and parses the answer.

        Any failure, parsing included, counts against the breaker and raises ServiceCallError.
        """
        breaker = self._breakers[endpoint.name]
        if not breaker.allow_request():
            raise ServiceCallError(endpoint.name, f"circuit open, last error: {breaker.last_error}")
        started = time.perf_counter()
        try:
            # httpx's timeout applies to each phase (connect, each read...); this bounds the whole call.
            async with asyncio.timeout(self._timeout):
                response = await self._http.send(request)
            response.raise_for_status()
            result = parse(response)
        except (httpx.HTTPError, TimeoutError, ValidationError) as error:
            message = _describe(error, self._timeout)
            breaker.record_failure(message, time.perf_counter() - started)
            log.warning("%s %s failed: %s", endpoint.name, request.method, message)
            raise ServiceCallError(endpoint.name, message) from error
        breaker.record_success(time.perf_counter() - started)
        return result

    def _health(self, service: str) -> ServiceHealth:
        if not self._endpoints[service].enabled:
            return ServiceHealth(service, "OFF", None, None)
        breaker = self._breakers[service]
        status: HealthStatus
        if breaker.state is BreakerState.OPEN:
            status = "DOWN"
        elif breaker.state is BreakerState.HALF_OPEN or breaker.consecutive_failures:
            status = "DEGRADED"
        else:
            status = "OK"
        latency = breaker.last_latency_seconds
        latency_ms = None if latency is None else round(latency * 1000, 1)
        return ServiceHealth(service, status, latency_ms, breaker.last_error)


def _check_url(endpoint: ServiceEndpoint) -> None:
    """Refuses a configured URL that can never work, at startup rather than on every call."""
    if not endpoint.enabled:
        return
    try:
        scheme = httpx.URL(endpoint.url or "").scheme
    except httpx.InvalidURL:
        scheme = ""
    if scheme not in ("http", "https"):
        raise ValueError(f"{endpoint.name.upper()}_API_URL is not an http(s) URL: {endpoint.url!r}")


def _parse(response: httpx.Response, model: type[Item], numbers: list[str]) -> dict[str, Item]:
    """The items of the students asked for; others the service sent are ignored."""
    items = Envelope.model_validate_json(response.content).items
    return {number: model.model_validate(items[number]) for number in numbers if number in items}


def _fallback(last_good: LastGood[Item | None] | None) -> Section[Item]:
    if last_good is None:
        return UNAVAILABLE
    return Section(SectionStatus.STALE, last_good.value, last_good.fetched_at)


def _describe(error: Exception, timeout: float) -> str:
    """A short, secret-free reason for logs and the operators' health view."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return f"malformed answer ({error.error_count()} problem(s)), {where}: {first['msg']}"
    return f"{type(error).__name__}: {error}"[:200]

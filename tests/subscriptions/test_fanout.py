"""Many subscribers of one class's gradebook: each receives every event, joins do not storm,
and subscribers whose results are equal share one execution per event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import pytest
import strawberry
from graphql import parse

from auth.identity import CurrentUser
from config import Settings
from context import AppState, Context, build_state, close_state
from models import User
from models.base import utcnow
from resolvers.ids import encode_id
from schema.execution import SharedEventExecutor
from subscriptions.channels import gradebook_channel
from subscriptions.events import FinalGradesCalculated, GradeSnapshot, GradeUpdated, UserRef
from tests.conftest import ThrowawayRedis
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from web.graphql import GraphQLApp

EVENTS = contract_operation("GradebookEvents")
WITH_RESOLVER = """
subscription ($classId: ID!) {
  gradebookEvents(classId: $classId) { __typename ... on GradeUpdated { grade { id updatedBy { name } } } }
}
"""
WAIT = 5.0


async def test_concurrent_first_subscribers_of_a_channel_all_receive(
    settings: Settings, throwaway_redis: ThrowawayRedis
) -> None:
    """broadcaster 0.3.1 kept only the last of the subscribers that arrived while the channel's
    SUBSCRIBE was under way: the others received nothing, silently."""
    state = build_state(settings.model_copy(update={"redis_url": throwaway_redis.url}))
    await state.bus.connect()
    try:
        subscribed = [asyncio.Event() for _ in range(30)]

        async def first_event(ready: asyncio.Event) -> FinalGradesCalculated:
            async with state.bus.subscribe("class:1", FinalGradesCalculated) as events:
                ready.set()
                async for event in events:
                    return event
            raise AssertionError("the subscription ended without an event")

        listeners = [asyncio.create_task(first_event(ready)) for ready in subscribed]
        await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in subscribed)), WAIT)
        event = FinalGradesCalculated(class_id=1, at=utcnow())
        await state.bus.publish("class:1", event)
        assert await asyncio.wait_for(asyncio.gather(*listeners), WAIT) == [event] * 30
    finally:
        await close_state(state)


async def test_a_burst_of_redis_commands_waits_for_free_connections(
    settings: Settings, throwaway_redis: ThrowawayRedis
) -> None:
    """redis-py's default pool raised MaxConnectionsError beyond 100 commands at once: joins
    failed, leaves left ghost editors and events went unpublished under a join storm."""
    state = build_state(settings.model_copy(update={"redis_url": throwaway_redis.url}))
    await state.bus.connect()
    try:
        await asyncio.gather(*(state.presence.join(1, f"tab {n}", n, f"Editor {n}") for n in range(300)))
        assert len(await state.presence.editors(1)) == 300
    finally:
        await close_state(state)


class Subscriber:
    """One gradebookEvents subscription through the app's schema, as its WebSocket runs it."""

    def __init__(self, results: AsyncIterator[Any]) -> None:
        self.results = results
        self.last: Any = None  # the last ExecutionResult

    @classmethod
    async def start(  # the subscription starts with the first `next()`
        cls, app: GraphQLApp, user: User, class_id: int, query: str = EVENTS
    ) -> Subscriber:
        context = Context(app=app.state, request=None, response=None, user=CurrentUser.from_model(user))
        results = await app.schema.subscribe(
            query, variable_values={"classId": encode_id("Class", class_id)}, context_value=context
        )
        assert not isinstance(results, Exception)
        return cls(results)  # type: ignore[arg-type]

    async def next(self) -> Any:
        self.last = await asyncio.wait_for(anext(self.results), WAIT)
        assert not self.last.errors, self.last.errors
        return self.last

    async def event(self) -> dict[str, Any]:
        data: dict[str, Any] = (await self.next()).data["gradebookEvents"]
        return data

    async def until(self, last: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """The events received up to the first for which `last` is true, that one included."""
        events = [await self.event()]
        while not last(events[-1]):
            events.append(await self.event())
        return events

    async def close(self) -> None:
        await self.results.aclose()  # type: ignore[attr-defined]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[GraphQLApp]:
    state: AppState = build_state(settings)
    await state.bus.connect()
    yield GraphQLApp(state)
    await close_state(state)


def names(event: dict[str, Any]) -> list[str]:
    return [editor["user"]["name"] for editor in event.get("editors", [])]


def is_marker(event: dict[str, Any]) -> bool:
    return bool(event["__typename"] == "FinalGradesCalculated")


async def publish_marker(app: GraphQLApp, north: SchoolData) -> None:
    """An event that every subscriber receives after what was published before it."""
    channel = gradebook_channel(north.klass.id)
    await app.state.bus.publish(channel, FinalGradesCalculated(class_id=north.klass.id, at=utcnow()))


async def test_tabs_of_one_editor_do_not_storm_and_each_starts_with_the_editors(
    app: GraphQLApp, factory: Factory
) -> None:
    """Each join used to send EditorsChanged to every subscriber (N^2/2 deliveries); now a join
    that changes nobody's view sends nothing, and one that does sends one event."""
    north = await factory.school("north")
    tabs = []
    for _ in range(10):
        tab = await Subscriber.start(app, north.teacher, north.klass.id)
        first = await tab.event()
        assert first["__typename"] == "EditorsChanged"
        assert names(first) == [north.teacher.name]
        tabs.append(tab)

    reader = await Subscriber.start(app, north.staff, north.klass.id)
    both = sorted([north.staff.name, north.teacher.name])
    assert sorted(names(await reader.event())) == both
    for tab in tabs:  # the staff member's join is news, told once; before it, at most the first join's
        heard = await tab.until(lambda event: sorted(names(event)) == both)
        assert {e["__typename"] for e in heard} == {"EditorsChanged"}
        assert len(heard) <= 2, heard

    await tabs.pop().close()  # another of the teacher's tabs remains: nothing to tell
    await publish_marker(app, north)
    for tab in tabs:
        assert [e["__typename"] for e in await tab.until(is_marker)] == ["FinalGradesCalculated"]
    *echo, _ = await reader.until(is_marker)  # its own join's announcement, at most
    assert len(echo) <= 1, echo
    assert all(sorted(names(event)) == both for event in echo), echo

    await reader.close()  # the staff member leaves: the teacher's tabs hear of it
    for tab in tabs:
        assert names((await tab.until(lambda event: "editors" in event))[-1]) == [north.teacher.name]
        await tab.close()


async def test_subscribers_share_an_events_execution_unless_a_field_has_a_resolver(
    app: GraphQLApp, factory: Factory
) -> None:
    """The contract's document reads only the event's own fields: one execution per event serves
    every subscriber of the process, whoever they are. `updatedBy` has a resolver, which could
    depend on the viewer: its subscribers execute their own."""
    north = await factory.school("north")
    viewers = (north.teacher, north.staff)
    plain = [await Subscriber.start(app, user, north.klass.id) for user in viewers]
    resolved = [await Subscriber.start(app, user, north.klass.id, WITH_RESOLVER) for user in viewers]
    for subscriber in plain + resolved:  # subscribed once the first event (the editors) is there
        await subscriber.next()
    grade = GradeSnapshot(id=7, score=9.5, version=3, letter="A", updated_at=utcnow())
    await app.state.bus.publish(
        gradebook_channel(north.klass.id),
        GradeUpdated(
            student_id=north.student.id,
            assignment_id=5,
            grade=grade,
            by=UserRef(id=north.teacher.id, name=north.teacher.name),
            lock=None,
        ),
    )
    for subscriber in plain + resolved:
        await subscriber.until(lambda event: event["__typename"] == "GradeUpdated")

    assert plain[0].last.data is plain[1].last.data
    assert plain[0].last.data["gradebookEvents"]["grade"] == {
        "id": encode_id("Grade", 7),
        "score": 9.5,
        "letter": "A",
        "version": 3,
    }
    assert resolved[0].last.data is not resolved[1].last.data
    for subscriber in resolved:
        assert subscriber.last.data["gradebookEvents"]["grade"]["updatedBy"] == {"name": north.teacher.name}
    for subscriber in plain + resolved:
        await subscriber.close()


@strawberry.type
class Tick:
    n: int


@strawberry.type
class Box:
    tick: Tick


@strawberry.type
class TickQuery:
    ready: bool = True


@strawberry.type
class TickSubscription:
    @strawberry.subscription
    async def boxes(self) -> AsyncGenerator[Box, None]:
        yield Box(tick=Tick(n=0))


def test_a_long_subscription_keeps_no_memory_per_event() -> None:
    """graphql-core 3.3's per-event executors shared the subscription's memo of subfields, keyed
    by lists made anew for each event: it grew with every event for as long as the socket lived."""
    schema = strawberry.Schema(query=TickQuery, subscription=TickSubscription)
    subscription = SharedEventExecutor.build(schema._schema, parse("subscription { boxes { tick { n } } }"))
    assert isinstance(subscription, SharedEventExecutor)
    for n in range(50):
        result = subscription.build_per_event_executor(Box(tick=Tick(n=n))).execute_operation(False)
        assert result.data == {"boxes": {"tick": {"n": n}}}
    assert subscription._relevant_sub_fields == {}

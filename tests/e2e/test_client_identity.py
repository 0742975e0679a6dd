"""What a client's normalized cache (Apollo, urql's graphcache, Relay) relies on, over real sockets:
text WebSocket frames in both protocols, one id and one type name per object, and cells, events
and people that carry the ids a cache needs to stay right after a mutation or an event."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from resolvers.ids import encode_id
from tests.clients import TransportWSClient, next_gradebook_event, post_graphql
from tests.contract.documents import contract_operation
from tests.e2e.test_live_grading import prepare
from tests.factories import Factory

EVENTS_WITH_IDS = """
subscription Events($classId: ID!) {
  gradebookEvents(classId: $classId) {
    __typename
    ... on GradeUpdated { id cell { id studentId assignmentId score version lock { holder { id } } } }
    ... on CellLocked { id holder { __typename id name } }
    ... on EditorsChanged { id editors { user { __typename id name } } }
  }
}
"""
SHEET_CELLS = """
query Sheet($classId: ID!) {
  gradebook(classId: $classId) { rows { student { id } cells { id studentId assignmentId score } } }
}
"""
UPDATE_WITH_CELL = """
mutation Update($input: UpdateGradeInput!) {
  updateGrade(input: $input) {
    grade { id version updatedBy { __typename id name } }
    cell { id score version lock { holder { __typename id } } }
    userErrors { code }
  }
}
"""
LOCK = contract_operation("LockGradeCell")


async def test_every_message_of_both_protocols_is_a_text_frame(start_server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    server = start_server()
    token = factory.token(north.teacher)
    subscription = {"query": contract_operation("GradebookEvents")}
    subscription["variables"] = {"classId": encode_id("Class", north.klass.id)}  # type: ignore[assignment]
    for protocol, start in (("graphql-transport-ws", "subscribe"), ("graphql-ws", "start")):
        async with websockets.connect(
            server.ws_url, subprotocols=[websockets.Subprotocol(protocol)]
        ) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {"accessToken": token}}))
            await socket.send(json.dumps({"id": "1", "type": start, "payload": subscription}))
            frames = [await socket.recv() for _ in range(2)]  # the ack, then the first event
        assert all(isinstance(frame, str) for frame in frames), (protocol, frames)
        assert json.loads(frames[0])["type"] == "connection_ack"
        assert json.loads(frames[1])["payload"]["data"]["gradebookEvents"]["__typename"] == "EditorsChanged"


async def test_cells_events_and_people_keep_one_identity(
    start_server: Any, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    quiz = await prepare(session_factory, north)
    server = start_server()
    teacher = factory.token(north.teacher)
    class_id = encode_id("Class", north.klass.id)
    student_id = encode_id("Student", north.student.id)
    watcher = await TransportWSClient.connect(server.ws_url, {"accessToken": teacher})
    await watcher.subscribe(EVENTS_WITH_IDS, {"classId": class_id})
    joined = await next_gradebook_event(watcher, "EditorsChanged")
    me = {"__typename": "User", "id": encode_id("User", north.teacher.id), "name": north.teacher.name}
    assert [editor["user"] for editor in joined["editors"]] == [me]

    sheet = await post_graphql(server.base_url, teacher, SHEET_CELLS, {"classId": class_id})
    row = next(r for r in sheet["gradebook"]["rows"] if r["student"]["id"] == student_id)
    sheet_cell = next(c for c in row["cells"] if c["assignmentId"] == quiz)
    assert sheet_cell["studentId"] == student_id
    all_ids = [c["id"] for r in sheet["gradebook"]["rows"] for c in r["cells"]]
    assert len(all_ids) == len(set(all_ids)), "one id per student and assignment"

    cell_input = {"studentId": student_id, "assignmentId": quiz}
    await post_graphql(server.base_url, teacher, LOCK, {"input": cell_input})
    locked = await next_gradebook_event(watcher, "CellLocked")
    assert locked["holder"] == me
    written = await post_graphql(
        server.base_url, teacher, UPDATE_WITH_CELL, {"input": cell_input | {"score": 9, "expectedVersion": 0}}
    )
    payload = written["updateGrade"]
    assert payload["grade"]["updatedBy"] == me
    assert payload["cell"] == {
        "id": sheet_cell["id"],
        "score": 9.0,
        "version": 1,
        "lock": {"holder": {"__typename": "User", "id": me["id"]}},
    }
    event = await next_gradebook_event(watcher, "GradeUpdated")
    assert event["cell"]["id"] == sheet_cell["id"]
    assert event["cell"]["score"] == 9.0
    assert event["cell"]["version"] == 1
    assert event["cell"]["lock"] == {"holder": {"id": me["id"]}}
    assert len({joined["id"], locked["id"], event["id"]}) == 3, "each event has its own id"

    node = await post_graphql(
        server.base_url, teacher, "query($id: ID!) { node(id: $id) { __typename id } }", {"id": me["id"]}
    )
    assert node["node"] == {"__typename": "User", "id": me["id"]}
    await watcher.close()


async def test_the_first_editors_changed_is_sent_once(start_server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    server = start_server()
    watcher = await TransportWSClient.connect(server.ws_url, {"accessToken": factory.token(north.teacher)})
    await watcher.subscribe(EVENTS_WITH_IDS, {"classId": encode_id("Class", north.klass.id)})
    await next_gradebook_event(watcher, "EditorsChanged")
    # The join's announcement reaches the bus a moment later; it must not arrive as a second event.
    try:
        message = await watcher.receive(wait=1.0)
    except TimeoutError:
        message = None
    assert message is None, message
    await watcher.close()


async def test_the_school_says_which_day_it_is(start_server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    server = start_server()
    me = await post_graphql(
        server.base_url,
        factory.token(north.teacher),
        "{ me { school { timeZone today } } }",
        {},
    )
    assert me["me"]["school"]["timeZone"] == north.school.timezone
    assert len(me["me"]["school"]["today"]) == 10


async def test_an_unknown_operation_name_over_a_websocket_is_the_clients_error(
    start_server: Any, factory: Factory
) -> None:
    """GraphiQL sends one when Execute is pressed while the query is still being edited. It was
    masked as an internal error (with a traceback in the log); graphql-transport-ws now closes
    with 4400 and the reason, as the protocol says for an invalid subscribe."""
    north = await factory.school("north")
    server = start_server()
    client = await TransportWSClient.connect(server.ws_url, {"accessToken": factory.token(north.teacher)})
    await client.send(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": "query Me { me { name } }", "operationName": "Other"},
        }
    )
    with pytest.raises(websockets.ConnectionClosedError) as closed:
        await client.receive()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    assert 'Unknown operation named "Other"' in closed.value.rcvd.reason
    assert "Traceback" not in server.log_path.read_text()

"""The issue's first "Must show", through real server processes, a real SMTP sink and (with
REDIS_URL) two processes: a teacher's announcement to a class, in the app and by e-mail, sent
through one process; its students hear of it on a WebSocket of the other (through Redis; without
it, of the same one) and find it in their feed; every recipient with an address gets one e-mail;
a guardian who turned e-mail off gets it in the app only (the e-mail delivery SKIPPED)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Enrollment, User
from resolvers.ids import encode_id
from tests.clients import TransportWSClient, post_graphql
from tests.contract.documents import contract_operation
from tests.factories import Factory
from tests.smtp_sink import SmtpSink

CREATE = contract_operation("CreateAnnouncement")
PUBLISH = contract_operation("PublishAnnouncement")
FEED = contract_operation("AnnouncementFeed")
RECIPIENTS = contract_operation("AnnouncementRecipients")
PUBLISHED = contract_operation("AnnouncementPublished")
PREFERENCES = contract_operation("UpdateNotificationPreferences")
TITLE = "Field trip on Friday"


async def mails_to(sink: SmtpSink, addresses: list[str], wait: float = 15.0) -> None:
    """Until each of `addresses` has received a message (the outbox sends within seconds)."""
    for _ in range(int(wait / 0.1)):
        if all(sink.to(address) for address in addresses):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"mailed: {[message['To'] for message in sink.messages]}")


async def test_a_class_announcement_in_the_app_and_by_email_reaches_everyone_as_they_chose(
    start_server: Any,
    factory: Factory,
    settings: Settings,
    sink: SmtpSink,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    north = await factory.school("north")
    second, no_address = await factory.students(north, ["Sara Second", "Noel Noaddress"])
    async with session_factory.begin() as session:
        session.add_all(Enrollment(class_id=north.klass.id, student_id=s.id) for s in (second, no_address))
        await session.execute(update(User).where(User.id == no_address.id).values(email=""))
    sender = start_server(**sink.env())
    listener = start_server(**sink.env()) if settings.redis_url else sender

    guardian = factory.token(north.guardian)
    turned_off = {"preferences": [{"category": "ANNOUNCEMENTS", "channel": "EMAIL", "enabled": False}]}
    answer = await post_graphql(listener.base_url, guardian, PREFERENCES, {"input": turned_off})
    assert answer["updateNotificationPreferences"]["userErrors"] == []

    students = [north.student, second, no_address]
    sockets = []
    for student in students:
        # One after the other: the Redis bus's first concurrent SUBSCRIBEs race (reported).
        socket = await TransportWSClient.connect(listener.ws_url, {"accessToken": factory.token(student)})
        await socket.subscribe(PUBLISHED)
        await asyncio.sleep(0.5)  # the subscription is on the bus
        sockets.append(socket)

    teacher = factory.token(north.teacher)
    input = {
        "audience": {
            "scope": "CLASS",
            "classId": encode_id("Class", north.klass.id),
            "includeGuardians": True,
        },
        "title": TITLE,
        "body": "Dear {{recipient.firstName}}, {{class.title}} visits the museum. Bring a lunch.",
        "channels": ["IN_APP", "EMAIL"],
    }
    created = (await post_graphql(sender.base_url, teacher, CREATE, {"input": input}))["createAnnouncement"]
    assert created["userErrors"] == []
    announcement_id = created["announcement"]["id"]
    published = await post_graphql(
        sender.base_url, teacher, PUBLISH, {"input": {"announcementId": announcement_id}}
    )
    assert published["publishAnnouncement"]["userErrors"] == []
    assert published["publishAnnouncement"]["announcement"]["recipientCount"] == 4

    for student, socket in zip(students, sockets, strict=True):
        message = await socket.receive(wait=5)
        assert message["type"] == "next", message
        pushed = message["payload"]["data"]["announcementPublished"]
        assert (pushed["title"], pushed["announcement"]["id"]) == (TITLE, announcement_id)
        assert (
            pushed["body"] == f"Dear {student.name.split()[0]}, Algebra A visits the museum. Bring a lunch."
        )
        assert pushed["sender"]["name"] == north.teacher.name
        await socket.close()

    addresses = ["student@north.test", second.email]
    await mails_to(sink, addresses)
    await asyncio.sleep(1.5)  # a round more of every process's outbox: nothing else goes out
    assert sorted(message["To"] for message in sink.messages) == sorted(addresses)
    for student in (north.student, second):
        (mail,) = sink.to(student.email)
        assert mail["Subject"] == TITLE
        body = mail.get_body(("plain",))
        assert body is not None
        assert f"Dear {student.name.split()[0]}, Algebra A visits the museum." in body.get_content()

    for token in [factory.token(student) for student in students] + [guardian]:
        feed = (await post_graphql(listener.base_url, token, FEED, {}))["announcements"]
        assert (feed["totalCount"], feed["unreadCount"]) == (1, 1)
        assert feed["nodes"][0]["title"] == TITLE

    found = await post_graphql(sender.base_url, teacher, RECIPIENTS, {"id": announcement_id})
    email = {
        node["recipient"]["name"]: next(d for d in node["deliveries"] if d["channel"] == "EMAIL")
        for node in found["announcement"]["recipients"]["nodes"]
    }
    assert {name: (d["status"], d["skipReason"]) for name, d in email.items()} == {
        north.guardian.name: ("SKIPPED", "PREFERENCE_OFF"),
        north.student.name: ("SENT", None),
        second.name: ("SENT", None),
        no_address.name: ("SKIPPED", "NO_ADDRESS"),
    }
    nodes = found["announcement"]["recipients"]["nodes"]
    in_app = [d["status"] for node in nodes for d in node["deliveries"] if d["channel"] == "IN_APP"]
    assert in_app == ["DELIVERED"] * 4

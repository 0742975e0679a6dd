from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models import School
from models.enums import CommunicationChannel, NotificationCategory
from models.preferences import NotificationSettings, NotificationSwitch
from resolvers.delivery_rules import RecipientRules, default_enabled, delivery_rules
from tests.factories import Factory

EMAIL, SMS, IN_APP = CommunicationChannel.EMAIL, CommunicationChannel.SMS, CommunicationChannel.IN_APP
GRADES, SAFETY = NotificationCategory.GRADES, NotificationCategory.SAFETY


def rules(time_zone: str, start: time | None, end: time | None) -> RecipientRules:
    return RecipientRules(
        user_id=1,
        language="en",
        time_zone=time_zone,
        email="a@b.test",
        phone=None,
        quiet_start=start,
        quiet_end=end,
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_defaults_until_changed() -> None:
    plain = rules("UTC", None, None)
    for category in NotificationCategory:
        assert plain.allows(category, IN_APP)
        assert plain.allows(category, EMAIL)
        assert plain.allows(category, SMS) is (category is SAFETY)
        assert default_enabled(category, SMS) is (category is SAFETY)
    off = RecipientRules(
        1,
        "en",
        "UTC",
        None,
        None,
        switches={(SAFETY, IN_APP): False, (GRADES, IN_APP): False, (GRADES, SMS): True},
    )
    assert off.allows(SAFETY, IN_APP)  # locked on
    assert not off.allows(GRADES, IN_APP)
    assert off.allows(GRADES, SMS)


def test_quiet_hours_across_midnight() -> None:
    night = rules("America/New_York", time(22, 0), time(7, 0))
    # 23:30 EST on 15 Jan is 04:30 UTC on the 16th: held until 07:00 EST = 12:00 UTC on the 16th.
    assert night.held_until(EMAIL, GRADES, at("2027-01-16T04:30:00+00:00")) == at("2027-01-16T12:00:00+00:00")
    # 05:00 EST (after midnight): until 07:00 the same morning.
    assert night.held_until(SMS, GRADES, at("2027-01-16T10:00:00+00:00")) == at("2027-01-16T12:00:00+00:00")
    # 22:00 sharp is quiet, 07:00 sharp is not.
    assert night.held_until(EMAIL, GRADES, at("2027-01-16T03:00:00+00:00")) == at("2027-01-16T12:00:00+00:00")
    assert night.held_until(EMAIL, GRADES, at("2027-01-16T12:00:00+00:00")) is None
    assert night.held_until(EMAIL, GRADES, at("2027-01-16T17:00:00+00:00")) is None  # noon
    # IN_APP and SAFETY never wait.
    assert night.held_until(IN_APP, GRADES, at("2027-01-16T04:30:00+00:00")) is None
    assert night.held_until(EMAIL, SAFETY, at("2027-01-16T04:30:00+00:00")) is None


def test_quiet_hours_within_a_day_and_none() -> None:
    lunch = rules("Europe/Berlin", time(12, 0), time(13, 30))
    assert lunch.held_until(EMAIL, GRADES, at("2027-01-10T11:15:00+00:00")) == at("2027-01-10T12:30:00+00:00")
    assert lunch.held_until(EMAIL, GRADES, at("2027-01-10T10:59:00+00:00")) is None
    assert (
        rules("UTC", time(9, 0), time(9, 0)).held_until(EMAIL, GRADES, at("2027-01-10T09:00:00+00:00"))
        is None
    )
    assert rules("UTC", None, None).held_until(EMAIL, GRADES, at("2027-01-10T09:00:00+00:00")) is None


def test_quiet_hours_over_daylight_saving_changes() -> None:
    night = rules("America/New_York", time(22, 0), time(7, 0))
    # Spring forward (14 March 2027, 02:00 → 03:00): 07:00 is EDT, UTC-4, that morning.
    assert night.held_until(EMAIL, GRADES, at("2027-03-14T03:30:00+00:00")) == at("2027-03-14T11:00:00+00:00")
    # Fall back (7 November 2027): 07:00 is EST, UTC-5.
    assert night.held_until(EMAIL, GRADES, at("2027-11-07T03:30:00+00:00")) == at("2027-11-07T12:00:00+00:00")
    # An end that does not exist that night (02:30 is skipped): the moment the clocks jump.
    early = rules("America/New_York", time(23, 0), time(2, 30))
    assert early.held_until(EMAIL, GRADES, at("2027-03-14T05:00:00+00:00")) == at("2027-03-14T07:00:00+00:00")
    # An end shown twice (01:30 on fall-back night): the first one, still EDT.
    twice = rules("America/New_York", time(23, 0), time(1, 30))
    assert twice.held_until(EMAIL, GRADES, at("2027-11-07T04:00:00+00:00")) == at("2027-11-07T05:30:00+00:00")


async def test_delivery_rules_read_preferences_in_two_statements(
    factory: Factory, engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    data = await factory.school("lincoln")
    async with session_factory.begin() as session:
        await session.execute(
            update(School).where(School.id == data.school.id).values(timezone="Europe/Paris")
        )
        session.add(
            NotificationSettings(
                user_id=data.guardian.id,
                language="es",
                time_zone="America/Chicago",
                phone_number="+15555550123",
                quiet_hours_enabled=True,
                quiet_start=time(21, 0),
                quiet_end=time(6, 0),
            )
        )
        session.add(
            NotificationSettings(
                user_id=data.teacher.id, quiet_hours_enabled=False, quiet_start=time(1), quiet_end=time(2)
            )
        )
        session.add(
            NotificationSwitch(user_id=data.guardian.id, category=GRADES, channel=EMAIL, enabled=False)
        )
    ids = [data.guardian.id, data.student.id, data.teacher.id, 999_999]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async with session_factory() as session:
        await session.connection()  # the session's own BEGIN is not counted
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            found = await delivery_rules(session, ids)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 2
    assert set(found) == {data.guardian.id, data.student.id, data.teacher.id}
    guardian = found[data.guardian.id]
    assert (guardian.language, guardian.time_zone, guardian.phone) == (
        "es",
        "America/Chicago",
        "+15555550123",
    )
    assert guardian.email == data.guardian.email
    assert not guardian.allows(GRADES, EMAIL)
    assert guardian.allows(NotificationCategory.ATTENDANCE, EMAIL)
    # 03:00 UTC = 21:00 CST: held until 06:00 CST = 12:00 UTC.
    assert guardian.held_until(EMAIL, GRADES, at("2027-01-10T03:00:00+00:00")) == at(
        "2027-01-10T12:00:00+00:00"
    )
    student = found[data.student.id]
    assert (student.language, student.time_zone, student.phone) == ("en", "Europe/Paris", None)
    assert student.held_until(EMAIL, GRADES, at("2027-01-10T03:00:00+00:00")) is None
    # Quiet hours turned off keep their times but hold nothing.
    assert found[data.teacher.id].held_until(EMAIL, GRADES, datetime(2027, 1, 10, 1, 30, tzinfo=UTC)) is None

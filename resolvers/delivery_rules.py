"""What each recipient's preferences say about a message: which (category, channel) switches are on,
where e-mail and SMS go, what language they read, and until when their quiet hours hold e-mail and
SMS back. One authority for announcements' copies, platform notices and the preferences screen.

Defaults, for a switch the user never set: IN_APP and EMAIL on, SMS off, except SAFETY SMS on.
SAFETY in the app is locked on. Quiet hours are wall-clock times in the user's time zone (the
school's until they choose one) and may wrap midnight (22:00-07:00); IN_APP and SAFETY never wait.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import School, User
from models.enums import CommunicationChannel, NotificationCategory
from models.preferences import NotificationSettings, NotificationSwitch

DEFAULT_LANGUAGE = "en"
# Ids per statement (well under the databases' bound parameter limits).
CHUNK = 5000

Switches = Mapping[tuple[NotificationCategory, CommunicationChannel], bool]


def default_enabled(category: NotificationCategory, channel: CommunicationChannel) -> bool:
    if channel is CommunicationChannel.SMS:
        return category is NotificationCategory.SAFETY
    return True


def locked(category: NotificationCategory, channel: CommunicationChannel) -> bool:
    """Switches no one can turn off: SAFETY in the app."""
    return category is NotificationCategory.SAFETY and channel is CommunicationChannel.IN_APP


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone `name`, or None for an unknown (or no) name."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class RecipientRules:
    user_id: int
    language: str
    time_zone: str
    email: str | None
    phone: str | None
    quiet_start: time | None = None
    quiet_end: time | None = None
    # The switches the user set; the others have their default.
    switches: Switches = field(default_factory=dict, hash=False)

    def allows(self, category: NotificationCategory, channel: CommunicationChannel) -> bool:
        if locked(category, channel):
            return True
        return self.switches.get((category, channel), default_enabled(category, channel))

    def held_until(
        self, channel: CommunicationChannel, category: NotificationCategory, now: datetime
    ) -> datetime | None:
        """When `now` (aware) is in the quiet hours: their end, as an aware UTC datetime; else None.
        IN_APP and SAFETY are never held."""
        if channel is CommunicationChannel.IN_APP or category is NotificationCategory.SAFETY:
            return None
        start, end = self.quiet_start, self.quiet_end
        if start is None or end is None or start == end:
            return None
        tz = zone(self.time_zone) or ZoneInfo("UTC")
        local = now.astimezone(tz)
        wall = local.replace(tzinfo=None)
        today = wall.date()
        if start < end:
            ends = datetime.combine(today, end) if start <= wall.time() < end else None
        elif wall.time() >= start:
            ends = datetime.combine(today + timedelta(days=1), end)
        else:
            ends = datetime.combine(today, end) if wall.time() < end else None
        return None if ends is None else _first_instant_at(ends, tz)


def _first_instant_at(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first moment (UTC) at which clocks in `tz` show `wall` or later. `wall` may not exist
    (skipped when clocks spring forward): then the moment of the jump. Of a time shown twice (when
    clocks fall back) the first."""
    candidate = wall.replace(tzinfo=tz).astimezone(UTC)
    if candidate.astimezone(tz).replace(tzinfo=None) == wall:
        return candidate
    # In a gap: fold=1 reads `wall` with the offset after the jump, giving a moment before it.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = candidate
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)  # jumps happen on whole seconds


async def delivery_rules(session: AsyncSession, user_ids: Collection[int]) -> dict[int, RecipientRules]:
    """The rules of each of `user_ids` that exists, in two statements per CHUNK ids."""
    ids = sorted(set(user_ids))
    rules: dict[int, RecipientRules] = {}
    for offset in range(0, len(ids), CHUNK):
        chunk = ids[offset : offset + CHUNK]
        switches: dict[int, dict[tuple[NotificationCategory, CommunicationChannel], bool]] = {}
        for switch in await session.scalars(
            select(NotificationSwitch).where(NotificationSwitch.user_id.in_(chunk))
        ):
            switches.setdefault(switch.user_id, {})[(switch.category, switch.channel)] = switch.enabled
        rows = await session.execute(
            select(User.id, User.email, School.timezone, NotificationSettings)
            .join(School, School.id == User.school_id)
            .outerjoin(NotificationSettings, NotificationSettings.user_id == User.id)
            .where(User.id.in_(chunk))
        )
        for user_id, email, school_zone, settings in rows:
            quiet = settings is not None and settings.quiet_hours_enabled
            rules[user_id] = RecipientRules(
                user_id=user_id,
                language=(settings.language if settings else None) or DEFAULT_LANGUAGE,
                time_zone=(settings.time_zone if settings else None) or school_zone or "UTC",
                email=email or None,
                phone=settings.phone_number if settings else None,
                quiet_start=settings.quiet_start if quiet and settings else None,
                quiet_end=settings.quiet_end if quiet and settings else None,
                switches=switches.get(user_id, {}),
            )
    return rules


async def muted_in_app(
    session: AsyncSession, user_ids: Collection[int], category: NotificationCategory
) -> set[int]:
    """Of `user_ids`, those who turned IN_APP off for `category` (no one for SAFETY): the platform
    makes them no notification of it. One statement per CHUNK ids (IN_APP is on by default, so
    only a switch set off counts)."""
    if locked(category, CommunicationChannel.IN_APP):
        return set()
    ids = sorted(set(user_ids))
    muted: set[int] = set()
    for offset in range(0, len(ids), CHUNK):
        muted.update(
            await session.scalars(
                select(NotificationSwitch.user_id).where(
                    NotificationSwitch.user_id.in_(ids[offset : offset + CHUNK]),
                    NotificationSwitch.category == category,
                    NotificationSwitch.channel == CommunicationChannel.IN_APP,
                    NotificationSwitch.enabled.is_(False),
                )
            )
        )
    return muted

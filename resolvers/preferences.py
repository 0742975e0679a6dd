"""The caller's notification preferences (notificationPreferences, updateNotificationPreferences) and
the languages to choose from (supportedLanguages). What the switches and quiet hours mean, and their
defaults, is resolvers/delivery_rules.py's; this module reads and changes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from errors import Problem
from models.base import utcnow
from models.enums import CommunicationChannel, NotificationCategory
from models.preferences import NotificationSettings, NotificationSwitch
from models.upsert import upsert_insert
from resolvers import audit
from resolvers.delivery_rules import RecipientRules, delivery_rules, locked, zone
from resolvers.policy import require_user
from services.translation import LANGUAGES_BY_CODE, SUPPORTED_LANGUAGES, Language

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from context import Context

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# What people write between a phone number's digits; dropped before the E.164 check.
PHONE_SEPARATORS = re.compile(r"[\s().-]")


@dataclass(frozen=True)
class Switch:
    category: NotificationCategory
    channel: CommunicationChannel
    enabled: bool
    locked: bool = False


@dataclass(frozen=True)
class Preferences:
    language: str
    time_zone: str
    email: str
    phone_number: str | None
    quiet_hours: tuple[time, time] | None
    switches: list[Switch]
    updated_at: datetime | None


@dataclass(frozen=True)
class QuietHoursChange:
    enabled: bool
    start: time | None = None
    end: time | None = None


@dataclass(frozen=True)
class PreferencesChange:
    """What updateNotificationPreferences changes; None: unchanged. `phone_given` with a None or
    empty `phone_number` removes the number."""

    language: str | None = None
    time_zone: str | None = None
    phone_number: str | None = None
    phone_given: bool = False
    quiet_hours: QuietHoursChange | None = None
    switches: list[tuple[NotificationCategory, CommunicationChannel, bool]] = field(default_factory=list)


@dataclass(frozen=True)
class LanguageChoice:
    language: Language
    translation_available: bool


async def supported_languages(ctx: Context) -> list[LanguageChoice]:
    targets = await ctx.app.translator.target_languages()
    return [LanguageChoice(language, language.code in targets) for language in SUPPORTED_LANGUAGES]


async def notification_preferences(ctx: Context) -> Preferences:
    user = require_user(ctx)
    async with ctx.session_factory() as session:
        return await _read(session, user.id)


async def update_notification_preferences(
    ctx: Context, change: PreferencesChange
) -> Preferences | list[Problem]:
    user = require_user(ctx)
    phone = _phone(change)
    problems = _problems(change, phone)
    if problems:
        return problems
    async with ctx.writer.begin() as session:
        values = _settings_values(change, phone)
        now = utcnow()
        # Two updates of one user at once both write: the later one's values win, field by field.
        insert = upsert_insert(session, NotificationSettings).values(
            user_id=user.id, updated_at=now, **values
        )
        await session.execute(
            insert.on_conflict_do_update(index_elements=["user_id"], set_={**values, "updated_at": now})
        )
        switches = {(category, channel): enabled for category, channel, enabled in change.switches}
        if switches:
            rows = [
                {"user_id": user.id, "category": category, "channel": channel, "enabled": enabled}
                for (category, channel), enabled in switches.items()
            ]
            insert = upsert_insert(session, NotificationSwitch).values(rows)
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=["user_id", "category", "channel"],
                    set_={"enabled": insert.excluded.enabled},
                )
            )
        audit.record(
            session,
            ctx,
            "notification_preferences.updated",
            "User",
            user.id,
            detail=_detail(values, switches),
        )
        return await _read(session, user.id)


async def _read(session: AsyncSession, user_id: int) -> Preferences:
    rules = (await delivery_rules(session, [user_id]))[user_id]
    updated_at = await session.scalar(
        select(NotificationSettings.updated_at).where(NotificationSettings.user_id == user_id)
    )
    return _preferences(rules, updated_at)


def _preferences(rules: RecipientRules, updated_at: datetime | None) -> Preferences:
    quiet = None
    if rules.quiet_start is not None and rules.quiet_end is not None:
        quiet = (rules.quiet_start, rules.quiet_end)
    switches = [
        Switch(category, channel, rules.allows(category, channel), locked(category, channel))
        for category in NotificationCategory
        for channel in CommunicationChannel
    ]
    return Preferences(
        language=rules.language,
        time_zone=rules.time_zone,
        email=rules.email or "",
        phone_number=rules.phone,
        quiet_hours=quiet,
        switches=switches,
        updated_at=updated_at,
    )


def _phone(change: PreferencesChange) -> str | None:
    if not change.phone_given:
        return None
    return PHONE_SEPARATORS.sub("", change.phone_number or "") or None


def _problems(change: PreferencesChange, phone: str | None) -> list[Problem]:
    problems: list[Problem] = []
    if change.language is not None and change.language not in LANGUAGES_BY_CODE:
        problems.append(Problem("Not one of the supported languages.", "INVALID", ("input", "language")))
    if change.time_zone is not None and zone(change.time_zone) is None:
        message = "Not a time zone (an IANA name such as America/Chicago)."
        problems.append(Problem(message, "INVALID", ("input", "timeZone")))
    if phone is not None and not E164.fullmatch(phone):
        message = "A phone number in international (E.164) form, such as +15555550123."
        problems.append(Problem(message, "INVALID", ("input", "phoneNumber")))
    quiet = change.quiet_hours
    if quiet is not None and quiet.enabled:
        if quiet.start is None or quiet.end is None:
            message = "Quiet hours need a start and an end."
            problems.append(Problem(message, "INVALID", ("input", "quietHours")))
        elif _minute(quiet.start) == _minute(quiet.end):
            message = "Quiet hours cannot start and end at the same time."
            problems.append(Problem(message, "INVALID", ("input", "quietHours")))
    for index, (category, channel, enabled) in enumerate(change.switches):
        if locked(category, channel) and not enabled:
            message = "Safety notices in the app cannot be turned off."
            problems.append(Problem(message, "LOCKED", ("input", "preferences", str(index))))
    return problems


def _minute(moment: time) -> time:
    """Quiet hours are kept to the minute, without a zone (they are the user's wall-clock times)."""
    return moment.replace(second=0, microsecond=0, tzinfo=None)


def _settings_values(change: PreferencesChange, phone: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if change.language is not None:
        values["language"] = change.language
    if change.time_zone is not None:
        values["time_zone"] = change.time_zone
    if change.phone_given:
        values["phone_number"] = phone
    quiet = change.quiet_hours
    if quiet is not None:
        values["quiet_hours_enabled"] = quiet.enabled
        if quiet.start is not None:
            values["quiet_start"] = _minute(quiet.start)
        if quiet.end is not None:
            values["quiet_end"] = _minute(quiet.end)
    return values


def _detail(
    values: dict[str, Any], switches: dict[tuple[NotificationCategory, CommunicationChannel], bool]
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        name: value.isoformat() if isinstance(value, time) else value
        for name, value in values.items()
        if name != "phone_number"
    }
    if "phone_number" in values:
        detail["phoneChanged"] = True
    if switches:
        detail["switches"] = [
            {"category": category.value, "channel": channel.value, "enabled": enabled}
            for (category, channel), enabled in switches.items()
        ]
    return detail

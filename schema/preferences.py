"""Notification preferences' roots: notificationPreferences, supportedLanguages and
updateNotificationPreferences."""

from __future__ import annotations

from datetime import datetime, time

import strawberry

from errors import Problem
from models.enums import CommunicationChannel, NotificationCategory
from resolvers import preferences
from resolvers.preferences import Preferences, PreferencesChange, QuietHoursChange
from schema.base import Info, UserError, user_errors


@strawberry.type
class QuietHours:
    start: time
    end: time


@strawberry.type
class NotificationPreference:
    category: NotificationCategory
    channel: CommunicationChannel
    enabled: bool
    locked: bool = strawberry.field(description="Cannot be turned off (SAFETY in the app).")


@strawberry.type
class NotificationPreferences:
    language: str = strawberry.field(description="BCP 47: what announcements are translated into.")
    time_zone: str = strawberry.field(description="IANA; the school's until the user sets one.")
    email: str = strawberry.field(description="Where e-mail goes: the account's address.")
    phone_number: str | None
    quiet_hours: QuietHours | None = strawberry.field(description="Null: no quiet hours.")
    preferences: list[NotificationPreference] = strawberry.field(
        description="Every (category, channel) pair. Until changed: IN_APP and EMAIL on, SMS off "
        "(SAFETY SMS on)."
    )
    updated_at: datetime | None

    @classmethod
    def of(cls, found: Preferences) -> NotificationPreferences:
        quiet = (
            QuietHours(start=found.quiet_hours[0], end=found.quiet_hours[1]) if found.quiet_hours else None
        )
        return cls(
            language=found.language,
            time_zone=found.time_zone,
            email=found.email,
            phone_number=found.phone_number,
            quiet_hours=quiet,
            preferences=[
                NotificationPreference(
                    category=switch.category,
                    channel=switch.channel,
                    enabled=switch.enabled,
                    locked=switch.locked,
                )
                for switch in found.switches
            ],
            updated_at=found.updated_at,
        )


@strawberry.type
class NotificationPreferencesPayload:
    preferences: NotificationPreferences | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: Preferences | list[Problem]) -> NotificationPreferencesPayload:
        if isinstance(result, list):
            return cls(preferences=None, user_errors=user_errors(result))
        return cls(preferences=NotificationPreferences.of(result), user_errors=[])


@strawberry.type
class Language:
    code: str = strawberry.field(description="BCP 47, e.g. es.")
    name: str = strawberry.field(description="In English, e.g. Spanish.")
    native_name: str = strawberry.field(description="In the language itself, e.g. Español.")
    translation_available: bool = strawberry.field(
        description="true when a translation provider is configured and translates into it."
    )


@strawberry.input
class NotificationPreferenceInput:
    category: NotificationCategory
    channel: CommunicationChannel
    enabled: bool


@strawberry.input(description="enabled: false turns quiet hours off; true needs start and end (not equal).")
class QuietHoursInput:
    enabled: bool
    start: time | None = None
    end: time | None = None


@strawberry.input(description="Only what is given changes; a null phoneNumber removes the number.")
class UpdateNotificationPreferencesInput:
    language: str | None = None
    time_zone: str | None = None
    phone_number: str | None = strawberry.UNSET
    quiet_hours: QuietHoursInput | None = None
    preferences: list[NotificationPreferenceInput] | None = None


@strawberry.type
class PreferenceQueries:
    @strawberry.field(description="The caller's notification preferences (any signed-in user).")
    async def notification_preferences(self, info: Info) -> NotificationPreferences:
        return NotificationPreferences.of(await preferences.notification_preferences(info.context))

    @strawberry.field(description="The languages a user may choose and messages may be written in.")
    async def supported_languages(self, info: Info) -> list[Language]:
        return [
            Language(
                code=choice.language.code,
                name=choice.language.name,
                native_name=choice.language.native_name,
                translation_available=choice.translation_available,
            )
            for choice in await preferences.supported_languages(info.context)
        ]


@strawberry.type
class PreferenceMutations:
    @strawberry.mutation(description="Changes the caller's own preferences; only what is given changes.")
    async def update_notification_preferences(
        self, info: Info, input: UpdateNotificationPreferencesInput
    ) -> NotificationPreferencesPayload:
        quiet = input.quiet_hours
        phone_given = input.phone_number is not strawberry.UNSET
        change = PreferencesChange(
            language=input.language,
            time_zone=input.time_zone,
            phone_number=input.phone_number if phone_given else None,
            phone_given=phone_given,
            quiet_hours=QuietHoursChange(quiet.enabled, quiet.start, quiet.end)
            if quiet is not None
            else None,
            switches=[(item.category, item.channel, item.enabled) for item in input.preferences or []],
        )
        return NotificationPreferencesPayload.of(
            await preferences.update_notification_preferences(info.context, change)
        )

"""The template calendar and `Calendar`, which moves it to the seeding day: the template's day
(TEMPLATE_TODAY), its two terms (FALL, the current one, and SPRING), the periods of the school day,
the holidays and breaks, and `utc` for the template's moments. The specs' other template dates are
kept with what they date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

TEMPLATE_TODAY = date(2026, 11, 23)  # the Monday the template dates are drawn around


@dataclass(frozen=True)
class TermSpec:
    starts_on: date
    ends_on: date

    @property
    def name(self) -> str:
        """After the season and year of its middle day: "Fall 2026", "Spring 2027", "Summer 2026"."""
        middle = self.starts_on + (self.ends_on - self.starts_on) / 2
        season = "Spring" if middle.month <= 5 else "Summer" if middle.month <= 7 else "Fall"
        return f"{season} {middle.year}"


@dataclass(frozen=True)
class Period:
    """A period of the school day (local time) and the weekdays its classes meet (0 = Monday)."""

    starts: time
    ends: time
    weekdays: tuple[int, ...]


FALL = TermSpec(date(2026, 9, 1), date(2027, 1, 31))  # the current term (of the template)
SPRING = TermSpec(date(2026, 1, 12), date(2026, 6, 12))  # last term
PERIODS = (
    Period(time(8, 0), time(8, 55), (0, 2, 4)),
    Period(time(9, 5), time(10, 0), (1, 3)),
    Period(time(10, 15), time(11, 10), (0, 2, 4)),
    Period(time(11, 20), time(12, 15), (1, 3)),
)
BREAKS = (  # as they fall in the template year
    (date(2026, 9, 7), date(2026, 9, 7)),  # Labor Day
    (date(2026, 10, 12), date(2026, 10, 12)),  # Indigenous Peoples' Day
    (date(2026, 11, 11), date(2026, 11, 11)),  # Veterans Day
    (date(2026, 11, 25), date(2026, 11, 27)),  # Thanksgiving
    (date(2026, 12, 21), date(2027, 1, 1)),  # Winter break
    (date(2027, 1, 18), date(2027, 1, 18)),  # Martin Luther King Jr. Day
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Calendar:
    """The template dates moved to a seeding day `today`.

    They move by whole weeks, so that `today` falls in the template's week of TEMPLATE_TODAY and
    every weekday stays as drawn: classes meet on their days, work is due and holidays fall on
    weekdays. The cut between past and upcoming is `today` itself (`now`), wherever in that week
    it falls; the steps that write the data compare with `now`, never with a template date.
    """

    today: date
    offset: timedelta

    @classmethod
    def on(cls, today: date) -> Calendar:
        return cls(today, timedelta(weeks=(today - TEMPLATE_TODAY).days // 7))

    @property
    def now(self) -> datetime:
        """The first moment of the seeding day (UTC), so nothing written as past is later than
        the moment the seed runs."""
        return datetime.combine(self.today, time(0), tzinfo=UTC)

    @property
    def term(self) -> TermSpec:
        """The current term: it contains `today`."""
        return TermSpec(self.day(FALL.starts_on), self.day(FALL.ends_on))

    @property
    def last_term(self) -> TermSpec:
        return TermSpec(self.day(SPRING.starts_on), self.day(SPRING.ends_on))

    def day(self, template: date) -> date:
        return template + self.offset

    def moment(self, template: datetime) -> datetime:
        return template + self.offset

    def school_days(self, first: date, last: date) -> list[date]:
        """Weekdays from first to last (inclusive) outside the holidays and breaks."""
        breaks = [(self.day(start), self.day(end)) for start, end in BREAKS]
        days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
        return [
            day for day in days if day.weekday() < 5 and not any(start <= day <= end for start, end in breaks)
        ]

"""Five-field cron schedules (minute hour day-of-month month day-of-week), as inject's ``crontab``.

Covers what Node-RED's inject editor writes: ``*``, numbers, ``a-b`` ranges, ``*/n`` and
``a-b/n`` steps and comma lists; day of week 0-6 from Sunday (7 is Sunday too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
#: A schedule that matches nothing within this many days is rejected (e.g. 31 February).
_HORIZON_DAYS = 366 * 4 + 1


@dataclass(frozen=True)
class Cron:
    """A parsed schedule; :meth:`next_after` gives the next matching minute."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        """Parse ``text``; raises ValueError naming the bad field."""
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(f"crontab {text!r} must have 5 fields (minute hour day month weekday)")
        sets = [_parse_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        minutes, hours, days, months, _ = sets
        cron = cls(minutes, hours, days, months, weekdays, parts[2] == "*", parts[4] == "*")
        cron.next_after(datetime(2000, 1, 1))  # rejects schedules that never fire
        return cron

    def matches_day(self, when: datetime) -> bool:
        """Cron's rule: with both day fields restricted, either may match."""
        dom, dow = when.day in self.days, (when.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def next_after(self, when: datetime) -> datetime:
        """The first matching minute strictly after ``when`` (naive local time)."""
        t = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = when + timedelta(days=_HORIZON_DAYS)
        while t <= limit:
            if t.month not in self.months or not self.matches_day(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        raise ValueError("crontab never matches a date")


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        values |= _parse_item(item, name, low, high)
    return frozenset(values)


def _parse_item(item: str, name: str, low: int, high: int) -> set[int]:
    span, _, step_text = item.partition("/")
    try:
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (int(x) for x in span.split("-", 1))
        else:
            first = last = int(span)
            if step_text:
                last = high
    except ValueError:
        raise ValueError(f"crontab {name} field: {item!r} is not a number, range or step") from None
    if step < 1 or not low <= first <= last <= high:
        raise ValueError(f"crontab {name} field: {item!r} outside {low}-{high}")
    return set(range(first, last + 1, step))

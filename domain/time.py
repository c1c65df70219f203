"""Instants in valid time: dates and UTC datetimes, parsed and written one way.

A date as `occurred_at` means the start of that day (UTC); a date as `as_of`
means the end of that day (UTC). Everything else in the domain works on aware
UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

Instant = date | datetime  # a datetime is also a date: test for datetime first

END_OF_DAY = time(23, 59, 59, 999999)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)  # the finest step between two datetimes


def parse_instant(text: str) -> Instant:
    """Parse an ISO 8601 date or datetime; datetimes become aware UTC.

    A naive datetime is read as UTC. Raises ValueError on anything else.
    """
    text = text.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    value = datetime.fromisoformat(text.replace("z", "Z"))
    return to_utc(value)


def parse_datetime(text: str) -> datetime:
    """Parse a datetime (a bare date means its start) as aware UTC."""
    value = parse_instant(text)
    return start_of(value)


def to_utc(value: datetime) -> datetime:
    """Return `value` as an aware UTC datetime (naive is taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def start_of(value: Instant) -> datetime:
    """The instant an `occurred_at` stands for: a date means its first moment."""
    if isinstance(value, datetime):
        return to_utc(value)
    return datetime.combine(value, time.min, tzinfo=UTC)


def end_of(value: Instant) -> datetime:
    """The instant an `as_of` stands for: a date means its last moment."""
    if isinstance(value, datetime):
        return to_utc(value)
    return datetime.combine(value, END_OF_DAY, tzinfo=UTC)


def format_instant(value: Instant) -> str:
    """Write a date as `YYYY-MM-DD` and a datetime as UTC with a `Z`."""
    if isinstance(value, datetime):
        text = to_utc(value).isoformat()
        return text.replace("+00:00", "Z")
    return value.isoformat()


def format_boundary(value: datetime) -> str:
    """Write an interval boundary: a bare date when it falls on midnight UTC."""
    value = to_utc(value)
    if value.timetz().replace(tzinfo=None) == time.min:
        return value.date().isoformat()
    return format_instant(value)


def days(n: int) -> timedelta:
    """A window of `n` days."""
    return timedelta(days=n)

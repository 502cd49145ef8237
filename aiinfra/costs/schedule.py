"""Instance-hours from scheduled scaling actions: how many instances run, averaged over a week."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HOURS_PER_WEEK = 168
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class ScheduledAction:
    """One recurring action: at `recurrence` (cron `M H * * DAYS`), desired capacity becomes `desired`."""

    recurrence: str
    desired: int


class ScheduleError(ValueError):
    pass


def _days(field: str) -> list[int]:
    if field in ("*", "?"):
        return list(range(7))
    out: list[int] = []
    for part in field.split(","):
        ends = part.split("-")
        idx = [_day(e) for e in ends]
        if len(idx) == 1:
            out.append(idx[0])
        else:
            a, b = idx
            out.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return sorted(set(out))


def _day(token: str) -> int:
    token = token.upper()
    if token.isdigit():
        return int(token) % 7
    if token not in _DAYS:
        raise ScheduleError(f"day {token!r} is not one of {', '.join(_DAYS)}")
    return _DAYS.index(token)


def _events(action: ScheduledAction) -> list[tuple[float, int]]:
    parts = action.recurrence.split()
    if len(parts) != 5 or parts[2] != "*" or parts[3] != "*":
        raise ScheduleError(f"recurrence {action.recurrence!r} is not a weekly 'M H * * DAYS' cron")
    try:
        minute, hour = int(parts[0]), int(parts[1])
    except ValueError:
        raise ScheduleError(f"recurrence {action.recurrence!r} needs a fixed minute and hour") from None
    return [(d * 24 + hour + minute / 60, action.desired) for d in _days(parts[4])]


def weekly_instance_hours(actions: Sequence[ScheduledAction]) -> float:
    """Instance-hours per week: the desired capacity each action sets, held until the next action.

    The week wraps: before the first action of the week, the last action's capacity holds.
    """
    events = sorted(e for a in actions for e in _events(a))
    if not events:
        raise ScheduleError("no scheduled actions")
    total = 0.0
    for i, (at, desired) in enumerate(events):
        nxt = events[i + 1][0] if i + 1 < len(events) else events[0][0] + HOURS_PER_WEEK
        total += desired * (nxt - at)
    return total

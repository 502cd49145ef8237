"""Weekly instance-hours from scheduled scaling actions."""

from __future__ import annotations

import pytest

from aiinfra.costs.schedule import ScheduledAction, ScheduleError, weekly_instance_hours


def test_working_hours_on_weekdays() -> None:
    actions = [ScheduledAction("0 8 * * MON-FRI", 2), ScheduledAction("0 20 * * MON-FRI", 0)]
    assert weekly_instance_hours(actions) == pytest.approx(2 * 12 * 5)


def test_overnight_window_wraps_the_day_and_week() -> None:
    actions = [ScheduledAction("0 22 * * *", 1), ScheduledAction("0 6 * * *", 0)]
    assert weekly_instance_hours(actions) == pytest.approx(8 * 7)


def test_half_hours_and_lists() -> None:
    actions = [ScheduledAction("30 7 * * MON,WED", 1), ScheduledAction("0 9 * * MON,WED", 0)]
    assert weekly_instance_hours(actions) == pytest.approx(3.0)


def test_non_weekly_cron_is_rejected() -> None:
    with pytest.raises(ScheduleError, match=r"recurrence '0 8 1 \* \*' is not a weekly 'M H \* \* DAYS' cron"):
        weekly_instance_hours([ScheduledAction("0 8 1 * *", 1)])

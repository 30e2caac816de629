"""Counting in time: hourly buckets and rolling-hour threshold crossings, by event time."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)


def hour_bucket(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start of the local hour `moment` falls in (aware, in `zone`)."""
    return moment.astimezone(zone).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Crossing:
    """A stretch of time in which the rolling count stayed above the threshold.

    `start` is the event that pushed the count over; `end` is when enough events had aged
    out of the window to bring it back to the threshold; `peak` is the highest count.
    """

    start: datetime
    end: datetime
    peak: int


def threshold_crossings(
    moments: Iterable[datetime], threshold: int, width: timedelta = HOUR
) -> list[Crossing]:
    """Every stretch where more than `threshold` events fell in a window of `width`.

    The window ending at t holds the events in (t - width, t].
    """
    window: deque[datetime] = deque()
    crossings: list[Crossing] = []
    start: datetime | None = None
    peak = 0
    for moment in sorted(moments):
        while window and window[0] <= moment - width:
            expired = window.popleft()
            if start is not None and len(window) <= threshold:
                crossings.append(Crossing(start, expired + width, peak))
                start = None
        window.append(moment)
        if len(window) > threshold:
            if start is None:
                start, peak = moment, 0
            peak = max(peak, len(window))
    if start is not None:
        crossings.append(Crossing(start, window[len(window) - threshold - 1] + width, peak))
    return crossings

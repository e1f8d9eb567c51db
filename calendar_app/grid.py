"""The calendar's time grid: which appointments go in which column, on which rows.

Pure arithmetic on appointments already loaded, so the page's query count does not
depend on how many there are. Rows are 15 minutes of the practice's wall clock; the grid
spans 07:00-20:00, widened to whole hours to show anything booked earlier or later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.formats import date_format

from calendar_app.models import Appointment, AppointmentStatus, Practitioner

SLOT_MINUTES = 15
DAY_START = 7 * 60
DAY_END = 20 * 60


@dataclass
class Block:
    appointment: Appointment
    row: int
    span: int
    starts: dt.datetime
    ends: dt.datetime

    @property
    def canceled(self) -> bool:
        return self.appointment.status == AppointmentStatus.CANCELED

    @property
    def short(self) -> bool:
        return self.span < 2


@dataclass
class Slot:
    row: int
    time: str  # "10:30"
    hour: bool


@dataclass
class Column:
    practitioner: Practitioner
    day: dt.date
    title: str
    is_today: bool
    create_query: str = ""
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Grid:
    columns: list[Column]
    first_minute: int
    rows: int
    hours: list[tuple[int, str]]
    slots: list[Slot]


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Aware start of `first` and start of the day after `last`, on the practice's clock."""
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min))
    return start, end


def _minutes_on(day: dt.date, moment: dt.datetime) -> int:
    """Minutes after midnight of `day` (clamped to 0..1440) of an aware datetime."""
    local = timezone.localtime(moment)
    if local.date() < day:
        return 0
    if local.date() > day:
        return 24 * 60
    return local.hour * 60 + local.minute


def build_grid(
    *,
    days: list[dt.date],
    practitioners: list[Practitioner],
    appointments: list[Appointment],
    by_day: bool,
    today: dt.date,
    location_id: int | None = None,
) -> Grid:
    """Columns are practitioners (day view: one day) or days (week view: one practitioner)."""
    if by_day:
        practitioner = practitioners[0]
        columns = [
            Column(
                practitioner=practitioner,
                day=day,
                title=date_format(day, "D j M"),
                is_today=day == today,
            )
            for day in days
        ]
    else:
        columns = [
            Column(practitioner=p, day=days[0], title=p.name, is_today=days[0] == today)
            for p in practitioners
        ]
    index = {(c.practitioner.pk, c.day): c for c in columns}

    first, last = DAY_START, DAY_END
    placed: list[tuple[Column, Appointment, int, int]] = []
    for appointment in appointments:
        for day in days:
            column = index.get((appointment.practitioner_id, day))
            if column is None:
                continue
            start = _minutes_on(day, appointment.starts_at)
            end = _minutes_on(day, appointment.ends_at)
            if end <= start:  # ends before this day starts, or starts after it ends
                continue
            placed.append((column, appointment, start, end))
            first = min(first, start // 60 * 60)
            last = max(last, -(-end // 60) * 60)

    for column, appointment, start, end in placed:
        row = (start - first) // SLOT_MINUTES + 1
        last_row = -(-(end - first) // SLOT_MINUTES)
        column.blocks.append(
            Block(
                appointment=appointment,
                row=row,
                span=max(1, last_row - row + 1),
                starts=appointment.starts_at,
                ends=appointment.ends_at,
            )
        )

    rows = (last - first) // SLOT_MINUTES
    slots = []
    for row in range(1, rows + 1):
        minute = first + (row - 1) * SLOT_MINUTES
        time = f"{minute // 60:02d}:{minute % 60:02d}"
        slots.append(Slot(row=row, time=time, hour=minute % 60 == 0))
    hours = [
        ((minute - first) // SLOT_MINUTES + 1, f"{minute // 60:02d}:00")
        for minute in range(first, last, 60)
    ]
    for column in columns:
        params = {"practitioner": column.practitioner.pk}
        if location_id:
            params["location"] = location_id
        column.create_query = f"{urlencode(params)}&start={column.day.isoformat()}T"
    return Grid(columns=columns, first_minute=first, rows=rows, hours=hours, slots=slots)

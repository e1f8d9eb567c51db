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

from calendar_app.models import Appointment, AppointmentStatus, Practitioner, WorkingHours

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
    # A class session shows as one block: its live attendees (the first is `appointment`).
    attendees: list[Appointment] = field(default_factory=list)

    @property
    def is_class(self) -> bool:
        return self.appointment.class_session_id is not None and not self.canceled

    @property
    def places(self) -> str:
        """ "5 of 8": the class session's live attendees of its capacity."""
        return f"{len(self.attendees)} of {self.appointment.service.capacity}"

    @property
    def canceled(self) -> bool:
        return self.appointment.status == AppointmentStatus.CANCELED

    @property
    def short(self) -> bool:
        return self.span < 2

    @property
    def start_value(self) -> str:
        """The start as the grid's drag sends it ("2026-12-07T10:30", local)."""
        return timezone.localtime(self.starts).strftime("%Y-%m-%dT%H:%M")

    @property
    def end_value(self) -> str:
        return timezone.localtime(self.ends).strftime("%Y-%m-%dT%H:%M")


@dataclass
class Slot:
    row: int
    time: str  # "10:30"
    hour: bool


@dataclass
class Cell:
    """One 15-minute slot of one column: closed outside the practitioner's working hours
    (when they have some); `query` is Create appointment's, with the location of the
    working hours that hold the slot."""

    row: int
    time: str
    hour: bool
    closed: bool
    query: str


@dataclass
class Column:
    practitioner: Practitioner
    day: dt.date
    title: str
    is_today: bool
    create_query: str = ""
    blocks: list[Block] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Grid:
    columns: list[Column]
    first_minute: int
    rows: int
    hours: list[tuple[int, str]]
    slots: list[Slot]
    now_row: int = 0  # the current-time line's 15-minute row (0: not in the grid)
    now_offset: int = 0  # minutes into that row, rounded down to 0, 5 or 10


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
    working_hours: dict[int, list[WorkingHours]] | None = None,
    now: dt.datetime | None = None,
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
    sessions = _class_sessions(appointments)
    for appointment in appointments:
        if appointment.pk in sessions.followers:
            continue  # shown in its class session's block
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
                attendees=sessions.attendees.get(appointment.pk, []),
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
    working_hours = working_hours or {}
    for column in columns:
        base = {"practitioner": column.practitioner.pk}
        if location_id:
            base["location"] = location_id
        column.create_query = f"{urlencode(base)}&start={column.day.isoformat()}T"
        column.cells = _cells(
            column, slots, first, working_hours.get(column.practitioner.pk, []), location_id
        )
    grid = Grid(columns=columns, first_minute=first, rows=rows, hours=hours, slots=slots)
    if now is not None:
        local = timezone.localtime(now)
        minute = local.hour * 60 + local.minute
        if today in days and first <= minute < last:
            grid.now_row = (minute - first) // SLOT_MINUTES + 1
            grid.now_offset = (minute - first) % SLOT_MINUTES // 5 * 5
    return grid


@dataclass
class _Sessions:
    attendees: dict[int, list[Appointment]]  # first attendee's pk -> all live attendees
    followers: set[int]  # the other attendees' pks (no block of their own)


def _class_sessions(appointments: list[Appointment]) -> _Sessions:
    """Group the live attendees of each class session under its first one. Canceled
    attendees keep their own (canceled) blocks when shown."""
    by_session: dict[int, list[Appointment]] = {}
    for appointment in appointments:
        if appointment.class_session_id and appointment.status != AppointmentStatus.CANCELED:
            by_session.setdefault(appointment.class_session_id, []).append(appointment)
    return _Sessions(
        attendees={group[0].pk: group for group in by_session.values()},
        followers={a.pk for group in by_session.values() for a in group[1:]},
    )


def _cells(
    column: Column,
    slots: list[Slot],
    first: int,
    hours: list[WorkingHours],
    location_id: int | None,
) -> list[Cell]:
    """The column's slots, closed outside the day's working hours (none set up: all
    open), each with the location its working hours give (else the filter's)."""
    weekday = column.day.weekday()
    stretches = [
        (h.starts.hour * 60 + h.starts.minute, h.ends.hour * 60 + h.ends.minute, h.location_id)
        for h in hours
        if h.weekday == weekday and (location_id is None or h.location_id == location_id)
    ]
    cells = []
    for slot in slots:
        minute = first + (slot.row - 1) * SLOT_MINUTES
        where = next((loc for start, end, loc in stretches if start <= minute < end), None)
        params: dict[str, int] = {"practitioner": column.practitioner.pk}
        if where or location_id:
            params["location"] = where or location_id  # type: ignore[assignment]
        query = f"{urlencode(params)}&start={column.day.isoformat()}T{slot.time}"
        cells.append(
            Cell(
                row=slot.row,
                time=slot.time,
                hour=slot.hour,
                closed=bool(hours) and where is None,
                query=query,
            )
        )
    return cells

"""The calendar's time grid: which appointments go in which column, on which rows.

Pure arithmetic on appointments already loaded, so the page's query count does not
depend on how many there are. Rows are 15 minutes of the practice's wall clock; the grid
spans 07:00-20:00, widened to whole hours to show anything booked earlier or later.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import itertools
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote_plus, urlencode

from django.http import QueryDict
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from calendar_app.models import AppointmentStatus, Practitioner
from calendar_app.selectors import CalendarAppointment, HoursRow, PractitionerRow
from clients.models import full_name
from kernel.templatetags.caspen_tags import badge

SLOT_MINUTES = 15
DAY_START = 7 * 60
DAY_END = 20 * 60


def escape(value: object) -> str:
    """Django's `escape` without its lazy-string wrapper (the same text: both are
    `html.escape`), called thousands of times a page."""
    return html.escape(str(value))


# "HH:MM" of each minute of the day (formatting two numbers per time, four times an
# appointment, was a measurable share of a busy day's blocks).
_HM = [f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(24 * 60)]


def _hm(moment: dt.datetime) -> str:
    """ "10:30" of a local datetime (an f-string: strftime costs several times more)."""
    return f"{moment.hour:02d}:{moment.minute:02d}"


def _grid_value(moment: dt.datetime) -> str:
    """ "2026-12-07T10:30" of a local datetime, as the grid's drag sends it."""
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{_hm(moment)}"


@dataclass
class Block:
    appointment: CalendarAppointment
    row: int
    span: int
    starts: dt.datetime
    ends: dt.datetime
    # A class session shows as one block: its live attendees (the first is `appointment`).
    attendees: list[CalendarAppointment] = field(default_factory=list)
    # `starts` and `ends` on the practice's clock (set by build_grid; else computed).
    local_starts: dt.datetime | None = None
    local_ends: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.local_starts is None:
            self.local_starts = timezone.localtime(self.starts)
        if self.local_ends is None:
            self.local_ends = timezone.localtime(self.ends)

    @property
    def is_class(self) -> bool:
        return self.appointment.class_session_id is not None and not self.canceled

    @property
    def places(self) -> str:
        """ "5 of 8": the class session's live attendees of its capacity."""
        return f"{len(self.attendees)} of {self.appointment.service_capacity}"

    @property
    def canceled(self) -> bool:
        return self.appointment.status == AppointmentStatus.CANCELED

    @property
    def short(self) -> bool:
        return self.span < 2

    @property
    def start_value(self) -> str:
        """The start as the grid's drag sends it ("2026-12-07T10:30", local)."""
        return _grid_value(self.local_starts)  # type: ignore[arg-type]

    @property
    def end_value(self) -> str:
        return _grid_value(self.local_ends)  # type: ignore[arg-type]


@dataclass
class Slot:
    row: int
    time: str  # "10:30"
    hour: bool


class Cell(NamedTuple):
    """One 15-minute slot of one column: closed outside the practitioner's working hours
    (when they have some); `query` is Create appointment's, with the location of the
    working hours that hold the slot (`prefix`, shared by the column's slots there)."""

    row: int
    time: str
    hour: bool
    closed: bool
    prefix: str

    @property
    def query(self) -> str:
        return self.prefix + self.time


class Run(NamedTuple):
    """Slots [low, high) of a column (indexes into the grid's slots) that share whether
    they are closed and their Create appointment query's `prefix`."""

    low: int
    high: int
    closed: bool
    prefix: str


@dataclass
class Column:
    practitioner: Practitioner | PractitionerRow
    day: dt.date
    title: str
    is_today: bool
    blocks: list[Block] = field(default_factory=list)
    # The column's slots as runs (a column has a few: its working hours' stretches) of
    # the grid's slots (shared by its columns).
    runs: list[Run] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)

    @property
    def cells(self) -> list[Cell]:
        """Each slot of the column as a `Cell`."""
        slots = self.slots
        return [
            Cell(slot.row, slot.time, slot.hour, run.closed, run.prefix)
            for run in self.runs
            for slot in slots[run.low : run.high]
        ]


@dataclass
class Grid:
    columns: list[Column]
    first_minute: int
    rows: int
    hours: list[tuple[int, str]]
    slots: list[Slot]
    now_row: int = 0  # the current-time line's 15-minute row (0: not in the grid)
    now_offset: int = 0  # minutes into that row, rounded down to 0, 5 or 10


def short_day(day: dt.date) -> str:
    """ "Mon 7 Dec" (date_format "D j M" in the active language): a week view writes a
    dozen, at ~25 us each, so each is formatted once per process and language."""
    return _short_day(day, get_language())


@functools.lru_cache(maxsize=1024)
def _short_day(day: dt.date, language: str | None) -> str:
    return date_format(day, "D j M")


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Aware start of `first` and start of the day after `last`, on the practice's clock."""
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min))
    return start, end


def _minutes_on(day: dt.date, local: dt.datetime) -> int:
    """Minutes after midnight of `day` (clamped to 0..1440) of a local datetime."""
    if local.date() < day:
        return 0
    if local.date() > day:
        return 24 * 60
    return local.hour * 60 + local.minute


def build_grid(
    *,
    days: list[dt.date],
    practitioners: list[Practitioner] | list[Practitioner | PractitionerRow],
    appointments: list[CalendarAppointment],
    by_day: bool,
    today: dt.date,
    location_id: int | None = None,
    working_hours: dict[int, list[HoursRow]] | None = None,
    now: dt.datetime | None = None,
) -> Grid:
    """Columns are practitioners (day view: one day) or days (week view: one practitioner)."""
    if by_day:
        practitioner = practitioners[0]
        columns = [
            Column(
                practitioner=practitioner,
                day=day,
                title=short_day(day),
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
    placed: list[tuple[Column, CalendarAppointment, int, int, dt.datetime, dt.datetime]] = []
    sessions = _class_sessions(appointments)
    tz = timezone.get_current_timezone()
    for appointment in appointments:
        if appointment.pk in sessions.followers:
            continue  # shown in its class session's block
        local_starts = appointment.starts_at.astimezone(tz)
        local_ends = appointment.ends_at.astimezone(tz)
        first_day = local_starts.date()
        if first_day == local_ends.date():  # the usual case: within one day
            column = index.get((appointment.practitioner_id, first_day))
            if column is None:
                continue
            start = local_starts.hour * 60 + local_starts.minute
            end = local_ends.hour * 60 + local_ends.minute
            if end <= start:
                continue
            placed.append((column, appointment, start, end, local_starts, local_ends))
            first = min(first, start // 60 * 60)
            last = max(last, -(-end // 60) * 60)
            continue
        # Only the days it touches (its start's to its end's): any other gives end <= start.
        touched = (local_ends.date() - first_day).days + 1
        for day in [first_day + dt.timedelta(days=n) for n in range(touched)]:
            column = index.get((appointment.practitioner_id, day))
            if column is None:
                continue
            start = _minutes_on(day, local_starts)
            end = _minutes_on(day, local_ends)
            if end <= start:  # ends before this day starts, or starts after it ends
                continue
            placed.append((column, appointment, start, end, local_starts, local_ends))
            first = min(first, start // 60 * 60)
            last = max(last, -(-end // 60) * 60)

    for column, appointment, start, end, local_starts, local_ends in placed:
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
                local_starts=local_starts,
                local_ends=local_ends,
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
        column.slots = slots
        column.runs = _runs(
            column, len(slots), first, working_hours.get(column.practitioner.pk, []), location_id
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
    attendees: dict[int, list[CalendarAppointment]]  # first attendee's pk -> all live attendees
    followers: set[int]  # the other attendees' pks (no block of their own)


def _class_sessions(appointments: list[CalendarAppointment]) -> _Sessions:
    """Group the live attendees of each class session under its first one. Canceled
    attendees keep their own (canceled) blocks when shown."""
    by_session: dict[int, list[CalendarAppointment]] = {}
    for appointment in appointments:
        if appointment.class_session_id and appointment.status != AppointmentStatus.CANCELED:
            by_session.setdefault(appointment.class_session_id, []).append(appointment)
    return _Sessions(
        attendees={group[0].pk: group for group in by_session.values()},
        followers={a.pk for group in by_session.values() for a in group[1:]},
    )


def _runs(
    column: Column,
    count: int,
    first: int,
    hours: list[HoursRow],
    location_id: int | None,
) -> list[Run]:
    """The column's `count` slots as runs, closed outside the day's working hours (none
    set up: all open), each with the location its working hours give (else the
    filter's) in its Create appointment query."""
    weekday = column.day.weekday()
    stretches = [
        (h.starts.hour * 60 + h.starts.minute, h.ends.hour * 60 + h.ends.minute, h.location_id)
        for h in hours
        if h.weekday == weekday and (location_id is None or h.location_id == location_id)
    ]
    # The location of each slot's working hours (the first that holds it), None outside.
    # Slot i starts at first + 15 i: those of [start, end) are i in [ceil((start - first)
    # / 15), ceil((end - first) / 15)), clamped to the grid.
    where: list[int | None] = [None] * count
    for start, end, location in reversed(stretches):
        low = min(max(-(-(start - first) // SLOT_MINUTES), 0), count)
        high = min(max(-(-(end - first) // SLOT_MINUTES), low), count)
        where[low:high] = [location] * (high - low)
    # One query prefix per location.
    prefixes: dict[int | None, str] = {}
    for location in set(where):
        params: dict[str, int] = {"practitioner": column.practitioner.pk}
        if location or location_id:
            params["location"] = location or location_id  # type: ignore[assignment]
        prefixes[location] = f"{urlencode(params)}&start={column.day.isoformat()}T"
    closed = bool(hours)
    if not stretches and count:  # no working hours this day (or none at all): one run
        return [Run(0, count, closed, prefixes[None])]
    runs: list[Run] = []
    low = 0
    for place, group in itertools.groupby(where):
        high = low + sum(1 for _ in group)
        runs.append(Run(low, high, closed and place is None, prefixes[place]))
        low = high
    return runs


def grid_html(
    grid: Grid,
    *,
    week: bool,
    query: QueryDict,
    create_url: str | None,
    detail_url: Callable[[int], str],
    move_url: Callable[[int], str] | None,
    session_url: Callable[[int], str],
) -> list[str | bytes]:
    """The grid's columns as markup, in pieces for `splice` (`week`: a column per day,
    else per practitioner): each with its header link, its slots (`slots_html`), the
    current-time line and its appointments (`blocks_html`), those two encoded already. The header links are the page's query string (`query`)
    with the view and that column's day or practitioner, as `{% query %}` writes them."""
    if week:
        link = _query_link(query, "date", view="day")
    else:
        link = _query_link(query, "practitioner", view="week")
    now = (
        f'<div class="cal__now cal-r{grid.now_row} cal__now--o{grid.now_offset}" '
        'data-cal-now aria-hidden="true"></div>'
        if grid.now_row
        else ""
    )
    parts: list[str | bytes] = []
    for column in grid.columns:
        pk, day, title = column.practitioner.pk, column.day.isoformat(), escape(column.title)
        if week:
            current, tag = (TODAY_LINK, TODAY_TAG) if column.is_today else ("", "")
            head = (
                f'<header class="cal__head"><a href="{link(day)}"{current}>{title}{tag}</a>'
                "</header>"
            )
        else:
            head = (
                f'<header class="cal__head cal__head--who cal-p{pk}"><a href="{link(str(pk))}" '
                f'title="Week of {escape(column.practitioner.name)}">{title}</a></header>'
            )
        parts += (
            f'<section class="cal__col{" cal__col--today" if week and column.is_today else ""}" '
            f'aria-label="{title}" data-cal-col data-day="{day}" data-practitioner="{pk}">'
            f'{head}<div class="cal__rows">',
            slots_html(column, create_url=create_url),
            now if column.is_today else "",
            blocks_html(column, detail_url=detail_url, move_url=move_url, session_url=session_url),
            "</div></section>",
        )
    return parts  # every text value escaped


TODAY_LINK = ' aria-current="date"'
TODAY_TAG = ' <span class="cal-today-tag">Today</span>'


def _query_link(query: QueryDict, key: str, **fixed: str) -> Callable[[str], str]:
    """`{% query **fixed key=value %}` (kernel's tag: the page's query string changed),
    escaped for an attribute, for many values of `key` at the cost of one urlencode."""
    params = query.copy()
    for name, value in fixed.items():
        params[name] = value
    marker = "918273645"
    params[key] = marker
    before, after = (escape(part) for part in f"?{params.urlencode()}".split(marker))
    return lambda value: f"{before}{quote_plus(value)}{after}"


def hours_html(grid: Grid) -> SafeString:
    """The time axis: a label on each hour's row."""
    return mark_safe(  # noqa: S308 - ints and "HH:00" built by build_grid
        "".join(f'<div class="cal__hour cal-r{row}">{label}</div>' for row, label in grid.hours)
    )


def legend_html(grid: Grid) -> SafeString:
    """The legend's practitioners: each column's, once per run of the same one."""
    parts: list[str] = []
    last = None
    for column in grid.columns:
        practitioner = column.practitioner
        if practitioner.pk != last:
            parts.append(
                f'<span class="cal-legend__item cal-legend__who cal-p{practitioner.pk}">'
                f"{escape(practitioner.name)}</span>"
            )
            last = practitioner.pk
    return mark_safe("".join(parts))  # noqa: S308 - every text value escaped


def slots_html(column: Column, *, create_url: str | None) -> bytes:
    """The column's empty slots as markup: links to Create appointment at each time
    (`create_url`), or plain boxes for someone who may not book (`None`).

    Built here, not in the template: a day view has a column per practitioner and ~50
    slots in each (over 16,000 at the large demo's 334 practitioners). The template loop
    cost 7-11 ms for a few columns, `format_html` ~35 us a cell; this ~1 us, and a run of
    slots already written by this process (the same column of the same day, shown again)
    costs one look-up (`_run_html`). Encoded (UTF-8) for `splice`."""
    if not column.slots:
        return b""
    time = column.slots[0].time  # "HH:MM" of the grid's first row
    first = int(time[:2]) * 60 + int(time[3:])
    title = escape(column.title)
    parts = []
    for run in column.runs:
        url = None if create_url is None else escape(f"{create_url}?{run.prefix}")
        parts.append(_run_html(first, run.low, run.high, run.closed, url, title))
    return b"".join(parts)  # every text value escaped


@functools.lru_cache(maxsize=512)
def _run_html(first: int, low: int, high: int, closed: bool, url: str | None, title: str) -> bytes:
    """The markup of slots [low, high) of a grid starting at minute `first`: links to
    `url` + time, titled `title` (both escaped), or plain boxes when `url` is None. A
    pure function of its arguments (no data read), so keeping its results per process
    can never show a stale value; a busy day's columns are shown again and again (each
    booking refreshes the calendar)."""
    minutes = range(first + low * SLOT_MINUTES, first + high * SLOT_MINUTES, SLOT_MINUTES)
    closed_class = _CLOSED if closed else ""
    if url is None:
        return "".join(
            f'<div class="cal__slot cal__slot--readonly cal-r{row}'
            f'{_HOUR if minute % 60 == 0 else ""}{closed_class}"></div>'
            for row, minute in enumerate(minutes, start=low + 1)
        ).encode()
    if closed:
        title = f"{title} (outside working hours)"
    parts = []
    for row, minute in enumerate(minutes, start=low + 1):
        time = _HM[minute]
        parts.append(
            f'<a class="cal__slot cal-r{row}{_HOUR if minute % 60 == 0 else ""}{closed_class}"'
            f' href="{url}{time}" hx-get="{url}{time}" tabindex="-1" data-row="{row}"'
            f' aria-label="Create appointment at {time}, {title}">'
            f"<span>{time}</span></a>"
        )
    return "".join(parts).encode()


_HOUR = " cal__slot--hour"
_CLOSED = " cal__slot--closed"


def blocks_html(
    column: Column,
    *,
    detail_url: Callable[[int], str],
    move_url: Callable[[int], str] | None,
    session_url: Callable[[int], str],
) -> bytes:
    """The column's appointments as markup (encoded, for `splice`) (links to their panel; with `move_url`, the
    drag and resize handles of those not canceled), a class session as one block
    ("5 of 8 booked") opening its panel (`session_url`). Built here for the same reason
    as `slots_html`: a day view of the large demo holds ~2,500 of them. Each block's
    markup is kept per process (`_block_html`)."""
    detail = _pk_url_parts(detail_url)
    move = _pk_url_parts(move_url) if move_url is not None else None
    tz = timezone.get_current_timezone()
    parts: list[bytes] = []
    for block in column.blocks:
        if block.is_class:
            parts.append(_class_block_html(block, session_url).encode())
            continue
        parts.append(_block_html(block.appointment, block.row, block.span, tz, detail, move))
    return b"".join(parts)  # every text value escaped


# How many appointments' markup (a block, a row of the list) each process keeps: a few
# busy weeks' worth, a few MB.
_KEPT_APPOINTMENTS = 4096


@functools.lru_cache(maxsize=_KEPT_APPOINTMENTS)
def _block_html(
    appt: CalendarAppointment,
    row: int,
    span: int,
    tz: dt.tzinfo,
    detail: tuple[str, str],
    move: tuple[str, str] | None,
) -> bytes:
    """One appointment's block (`blocks_html`): its panel link (`detail`, the escaped
    halves of its URL around the pk), on rows [row, row + span), its times on the clock
    of `tz`, with the drag and resize handles (`move`, as `detail`) unless canceled. A pure function of its arguments, which hold every value shown (the
    appointment's row as read, names and status included): a process keeps the markup
    of those shown again (every refresh of a busy calendar) without ever showing a
    stale one."""
    pk = int(appt.pk)
    url = f"{detail[0]}{pk}{detail[1]}"
    local_starts, local_ends = appt.starts_at.astimezone(tz), appt.ends_at.astimezone(tz)
    status = str(appt.status)
    label = escape(_STATUS_LABELS[status])
    client = escape(full_name(appt.client_first_name, appt.client_last_name))
    service, location = escape(appt.service_name), escape(appt.location_name)
    starts = _HM[local_starts.hour * 60 + local_starts.minute]
    ends = _HM[local_ends.hour * 60 + local_ends.minute]
    movable = move is not None and status != AppointmentStatus.CANCELED
    drag = ""
    if move is not None and movable:
        drag = (
            f' draggable="false" data-move="{move[0]}{pk}{move[1]}"'
            f' data-start="{_date_value(local_starts)}T{starts}"'
            f' data-end="{_date_value(local_ends)}T{ends}"'
        )
    state = (
        '<span class="visually-hidden">Booked, </span>'
        if status == AppointmentStatus.BOOKED
        else f'<span class="cal__appt-status">{label}</span> '
    )
    return (
        f'<a class="cal__appt cal__appt--{escape(status)} cal-p{appt.practitioner_id} '
        f'cal-r{row} cal-s{span}{" cal__appt--short" if span < 2 else ""}" '
        f'href="{url}" hx-get="{url}" data-row="{row}" data-span="{span}"{drag} '
        f'title="{starts}–{ends} {client}, {service}, {location} ({label})">'
        f'<span class="cal__appt-line"><span class="cal__appt-time">{starts}</span> '
        f'<span class="cal__appt-client">{client}</span></span> '
        f'<span class="cal__appt-service">{state}{service}'
        f"{' · package' if appt.client_package_id else ''}</span> "
        f'<span class="cal__appt-loc">{location}</span>'
        f"{' ' + RESIZE if movable else ''}</a>"
    ).encode()


# Each status's label (AppointmentStatus(status).label costs an enum lookup a row).
_STATUS_LABELS: dict[str, str] = {str(s.value): str(s.label) for s in AppointmentStatus}


def _pk_url_parts(url: Callable[[int], str]) -> tuple[str, str]:
    """A `pk_url`'s text before and after the pk, each escaped for an attribute: the
    escaped URL of pk n is before + str(n) + after (`escape` maps characters one by one
    and leaves digits alone)."""
    marker = 918273645
    before, after = url(marker).split(str(marker))
    return escape(before), escape(after)


def _date_value(moment: dt.datetime) -> str:
    """ "2026-12-07" of a local datetime (the date part of `_grid_value`)."""
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


RESIZE = '<span class="cal__resize" data-cal-resize aria-hidden="true"></span>'


def _class_block_html(block: Block, session_url: Callable[[int], str]) -> str:
    """A class session's block: its service, "N of M booked" and location, a link to the
    class panel; never dragged (an attendee is moved from their own panel)."""
    appt = block.appointment
    session = int(appt.class_session_id)  # type: ignore[arg-type]
    url = escape(session_url(session))
    service, location = escape(appt.service_name), escape(appt.location_name)
    places = escape(block.places)
    starts, ends = _hm(block.local_starts), _hm(block.local_ends)  # type: ignore[arg-type]
    return (
        f'<a class="cal__appt cal__appt--class cal-p{appt.practitioner_id} '
        f'cal-r{block.row} cal-s{block.span}{" cal__appt--short" if block.short else ""}" '
        f'href="{url}" hx-get="{url}" data-row="{block.row}" data-span="{block.span}" '
        f'data-class-session="{session}" '
        f'title="{starts}–{ends} {service}: {places} booked, {location}">'
        f'<span class="cal__appt-line"><span class="cal__appt-time">{starts}</span> '
        f'<span class="cal__appt-client">{service}</span></span> '
        f'<span class="cal__appt-service cal__appt-places">{places} booked</span> '
        f'<span class="cal__appt-loc">{location}</span></a>'
    )


def appointment_rows_html(
    appointments: list[CalendarAppointment],
    *,
    detail_url: Callable[[int], str],
    with_day: bool,
) -> list[bytes]:
    """The rows of the calendar's "List of appointments" table (the grid's appointments
    again, as a table for screen readers and small screens), built like `blocks_html`:
    a piece of markup each (encoded), for `splice`."""
    parts: list[bytes] = []
    tz = timezone.get_current_timezone()
    days: dict[dt.date, str] = {}  # "Mon 7 Dec, " per day (date_format is slow)
    detail = _pk_url_parts(detail_url)
    for appt in appointments:
        day = ""
        if with_day:
            date = appt.starts_at.astimezone(tz).date()
            day = days.get(date) or days.setdefault(date, f"{short_day(date)}, ")
        parts.append(_row_html(appt, tz, day, detail))
    return parts  # every text value escaped


@functools.lru_cache(maxsize=_KEPT_APPOINTMENTS)
def _row_html(appt: CalendarAppointment, tz: dt.tzinfo, day: str, detail: tuple[str, str]) -> bytes:
    """One appointment's row of the list (`appointment_rows_html`): its times on the
    clock of `tz` after `day` ("Mon 7 Dec, " or ""), its panel link (`detail`, as
    `_block_html`). A pure function of its arguments, kept as `_block_html` is."""
    url = f"{detail[0]}{int(appt.pk)}{detail[1]}"
    starts, ends = appt.starts_at.astimezone(tz), appt.ends_at.astimezone(tz)
    return (
        f'<tr><td class="nowrap"><a href="{url}" hx-get="{url}" hx-target="#modal-body">'
        f"{day}{_HM[starts.hour * 60 + starts.minute]}–{_HM[ends.hour * 60 + ends.minute]}"
        "</a></td>"
        f'<td data-label="Client">'
        f"{escape(full_name(appt.client_first_name, appt.client_last_name))}</td>"
        f'<td data-label="Service">{escape(appt.service_name)}</td>'
        f'<td data-label="Practitioner">{escape(appt.practitioner_name)}</td>'
        f'<td data-label="Location">{escape(appt.location_name)}</td>'
        f'<td data-label="Status">{badge(_STATUS_LABELS[appt.status])}</td></tr>'
    ).encode()


# Large markup is put into the rendered page by `splice`, where the template shows its
# `placeholder`: a comment with a token made per process (text escaped for the page never
# holds "<!--", and no one can guess the token).
_TOKEN = secrets.token_hex(8)
_PLACEHOLDER = re.compile(rb"<!--" + _TOKEN.encode() + rb" (\w+)-->")


def placeholder(name: str) -> SafeString:
    return mark_safe(f"<!--{_TOKEN} {name}-->")  # noqa: S308 - a constant and a name


def splice(content: bytes, markup: Mapping[str, Sequence[str | bytes]]) -> bytes:
    """`content` (a rendered page) with each placeholder replaced by its pieces of markup
    (escaped already; text, or encoded in UTF-8 as the page is): the page is copied once, where each template level the markup
    passed through copied it again (~0.3 ms a copy of a busy day's 300 KB)."""
    pieces: list[bytes] = []
    # split() alternates: the text between placeholders, then a placeholder's name.
    for index, part in enumerate(_PLACEHOLDER.split(content)):
        if index % 2:
            pieces.extend(
                piece if isinstance(piece, bytes) else piece.encode()
                for piece in markup[part.decode()]
            )
        else:
            pieces.append(part)
    return b"".join(pieces)

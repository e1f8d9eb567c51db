"""Calendar and appointment pages.

Views stay thin: access (staff_view + get_object_or_404), a form, a service from
`calendar_app.services` / `packages.services` / `invoicing.services`, then a partial (for
HTMX, in the popup) or a redirect (plain form posts). Every popup URL also renders a full
page, so each flow works without JavaScript.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from calendar_app import selectors
from calendar_app.forms import (
    WEEKDAYS,
    AppointmentForm,
    CalendarFilterForm,
    CancelForm,
    EditAppointmentForm,
    LinkPackageForm,
    MissedForm,
    MoveForm,
    PackageAreaForm,
    booking_choices_ahead,
    parse_link_choice,
    parse_local_datetime,
    service_label,
)
from calendar_app.grid import (
    appointment_rows_html,
    build_grid,
    day_bounds,
    grid_html,
    hours_html,
    legend_html,
    placeholder,
    splice,
)
from calendar_app.models import (
    Appointment,
    AppointmentStatus,
    CancellationReason,
    ClassSession,
    Practitioner,
)
from calendar_app.selectors import cancellation_outcome, missed_outcome
from calendar_app.services import (
    COLOUR,
    appointment_book,
    appointment_book_series,
    appointment_delete,
    appointment_edit,
    appointment_link,
    appointment_mark_arrived,
    appointment_unlink_and_edit,
    class_session_mark_arrived,
)
from catalog.models import Service
from clients import selectors as client_selectors
from clients.models import Client
from documents.selectors import appointment_emails
from invoicing.rules import why_not_invoice_appointment
from invoicing.selectors import (
    PACKAGE_PAYMENT_STATUSES,
    client_packages_add_payment,
    current_invoice_for_appointment,
)
from invoicing.services import (
    appointment_cancel_by_rules,
    appointment_missed_by_rules,
    invoice_for_appointment,
)
from kernel.errors import DomainError
from kernel.web import (
    close_popup,
    named_url,
    pk_url,
    posted,
    render_page,
    render_popup,
    safe_next,
    staff_view,
    submit,
)
from packages.models import ClientPackage
from packages.selectors import client_package_match_names, client_package_matches
from practice.models import PracticeSettings

CALENDAR = "calendar_app/calendar.html"
FORM = "calendar_app/appointment_form.html"
PANEL = "calendar_app/appointment.html"
EDIT = "calendar_app/appointment_edit.html"
LINK = "calendar_app/appointment_link.html"
CANCEL = "calendar_app/appointment_cancel.html"
MISSED = "calendar_app/appointment_missed.html"
DELETE = "calendar_app/appointment_delete.html"

CLASS_PANEL = "calendar_app/class_session.html"

CLIENT_RESULTS = 8
# Where a refusal is shown: beside the field it concerns, else above the form.
FIELD_FOR_CODE = {
    "overlap": "start_time",
    "time_in_dst_gap": "start_time",
    "time_ambiguous": "start_time",
    "reason_required": "unlink_reason",  # Edit details: unlinking an Arrived appointment
    "invalid_time": "end_time",
    "client_archived": "client",
    "practitioner_archived": "practitioner",
    "location_archived": "location",
    "service_archived": "service",
}


def _calendar_url(*, day: dt.date | None = None, practitioner_id: int | None = None) -> str:
    params = QueryDict(mutable=True)
    if day:
        params["date"] = day.isoformat()
    if practitioner_id:
        params["practitioner"] = practitioner_id
    query = params.urlencode()
    return reverse("calendar_app:calendar") + (f"?{query}" if query else "")


def _calendar_url_for(appointment: Appointment) -> str:
    return _calendar_url(
        day=timezone.localdate(appointment.starts_at), practitioner_id=appointment.practitioner_id
    )


def _closing(response: HttpResponse) -> HttpResponse:
    """Close the popup and refresh the calendar behind it (HTMX)."""
    return close_popup(response, events=("calendarChanged",))


def _changed(response: HttpResponse) -> HttpResponse:
    """The calendar behind the popup shows the change at once."""
    return trigger_client_event(response, "calendarChanged")


# --------------------------------------------------------------------------- calendar


@staff_view("calendar_app.view_appointment")
def calendar(request: HttpRequest) -> HttpResponse:
    """Day view (practitioners as columns) or week view (days of one practitioner)."""
    filters = CalendarFilterForm(request.GET).values()
    today = timezone.localdate()
    day = filters["date"] or today
    view, location, chosen = filters["view"], filters["location"], filters["practitioner"]

    if view == "week":
        first = day - dt.timedelta(days=day.weekday())
        days = [first + dt.timedelta(days=i) for i in range(7)]
        step = dt.timedelta(days=7)
    else:
        days = [day]
        step = dt.timedelta(days=1)
    start, end = day_bounds(days[0], days[-1])
    # Active practitioners and anyone archived with an appointment shown (one query).
    practitioners = selectors.calendar_practitioners(
        start=start, end=end, location=location, canceled=filters["canceled"]
    )
    active = [p for p in practitioners if not p.archived]
    if view == "week" and chosen is None:
        # The user's own practitioner (one at most), from the list already read.
        user_id = request.user.pk
        own = next((p for p in active if p.user_id == user_id), None)
        default = own or (active[0] if active else None)
        chosen = default.model() if default is not None else None

    # The day view of every practitioner shows them a page of columns at a time: a
    # practice of hundreds would otherwise be one page of hundreds of columns, each
    # with its slots and appointments (the large demo's 334: 5 MB, 0.3 s).
    # The columns' practitioners: the rows read (pk, name, colour: all the grid uses).
    pages = ColumnPages(0, 0, 0)
    shown: list[Practitioner | selectors.PractitionerRow]
    if chosen is not None:
        shown = [chosen]
    else:
        columns = selectors.calendar_columns(practitioners)
        pages = ColumnPages.of(request.GET.get("page"), len(columns))
        shown = list(columns[pages.first : pages.last])

    locations = selectors.calendar_locations()
    appointments: list[selectors.CalendarAppointment] = []
    if shown:
        appointments = selectors.calendar_appointments(
            start=start,
            end=end,
            practitioner=chosen,
            practitioners=None if chosen is not None or not pages.paged else shown,
            location=location,
            canceled=filters["canceled"],
            practitioner_names={p.pk: p.name for p in practitioners},
            location_names={pk: name for pk, name, _ in locations},
        )

    grid = (
        build_grid(
            days=days,
            practitioners=shown,
            appointments=appointments,
            by_day=view == "week",
            today=today,
            location_id=location.pk if location else None,
            working_hours=selectors.calendar_working_hours([p.pk for p in shown]),
            now=timezone.now(),
        )
        if shown
        else None
    )
    # The repeated markup is built in Python (calendar_app.grid explains why).
    can_move = request.user.has_perm("calendar_app.change_appointment")
    detail_url = pk_url("calendar_app:detail")
    # The two large pieces (hundreds of KB) go into the rendered page at the end
    # (calendar_app.grid.splice), not through the template.
    large: dict[str, Sequence[str | bytes]] = {
        "appointment_rows": appointment_rows_html(
            appointments, detail_url=detail_url, with_day=view == "week"
        )
    }
    markup = {}
    if grid is not None:
        can_add = request.user.has_perm("calendar_app.add_appointment")
        large["grid_html"] = grid_html(
            grid,
            week=view == "week",
            query=request.GET,
            create_url=named_url("calendar_app:create") if can_add else None,
            detail_url=detail_url,
            move_url=pk_url("calendar_app:move") if can_move else None,
            session_url=pk_url("calendar_app:class_session"),
        )
        markup = {
            "hours_html": hours_html(grid),
            "legend_html": legend_html(grid),
        }
    if view == "week":
        title = f"{date_format(days[0], 'j M')} – {date_format(days[-1], 'j M Y')}"
    else:
        title = date_format(day, "l j M Y")
    filter_form = CalendarFilterForm(
        initial={
            "view": view,
            "date": day,
            "practitioner": chosen.pk if chosen else None,
            "location": location.pk if location else None,
            "canceled": filters["canceled"],
        }
    )
    # The practitioner list from the practitioners already read (not a query and a model
    # per option again); the field still checks a submitted value against the database.
    # So is the location list, from the locations read for the appointments' names.
    filter_form.fields["practitioner"].widget.choices = (
        [] if view == "week" else [("", "All practitioners")]
    ) + [(p.pk, p.name) for p in active]
    filter_form.fields["location"].widget.choices = [
        ("", "All locations"),
        *((pk, name) for pk, name, archived in locations if not archived),
    ]
    context = {
        "grid": grid,
        "view": view,
        "day": day,
        "days": days,
        "title": title,
        "today": today,
        "is_current": today in days,
        "previous": (day - step).isoformat(),
        "next": (day + step).isoformat(),
        "appointments": appointments,
        "filter_form": filter_form,
        "location": location,
        "chosen": chosen,
        "show_canceled": filters["canceled"],
        "has_practitioners": bool(active),
        "pages": pages,
        "colours_version": _colours_version(shown),
        "can_move": can_move,
        **markup,
        **{name: placeholder(name) for name in large},
    }
    response = render_page(request, CALENDAR, context, partial="calendar")
    response.content = splice(response.content, large)
    return response


@dataclass(frozen=True)
class ColumnPages:
    """Which of the day view's practitioner columns show: [first, last) of `total`."""

    number: int
    first: int
    total: int
    size: int = 12

    @classmethod
    def of(cls, raw: str | None, total: int) -> ColumnPages:
        count = max(1, -(-total // cls.size))
        try:
            number = min(max(int(raw or 1), 1), count)
        except ValueError:
            number = 1  # junk in the query string: the first page, never an error
        return cls(number=number, first=(number - 1) * cls.size, total=total)

    @property
    def last(self) -> int:
        return min(self.first + self.size, self.total)

    @property
    def paged(self) -> bool:
        return self.total > self.size

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.last < self.total else None


def _colours_version(practitioners) -> str:
    """Changes when a shown practitioner's colour does, so the stylesheet can be cached."""
    text = ",".join(f"{p.pk}:{p.colour}" for p in practitioners)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:10]


@staff_view("calendar_app.view_appointment")
def practitioner_colours(request: HttpRequest) -> HttpResponse:
    """The practitioners' Settings colours as CSS classes (.cal-p<pk>): the blocks use
    them without inline styles, which the Content-Security-Policy forbids. Colours are
    checked (#rrggbb) when saved; anything else is left out."""
    lines = [
        f".cal-p{pk} {{ --cal-colour: {colour}; }}"
        for pk, colour in selectors.practitioner_colours()
        if COLOUR.match(colour or "")
    ]
    response = HttpResponse("\n".join(lines) + "\n", content_type="text/css; charset=utf-8")
    # The page links it with ?v=<version of the colours>: a changed colour is a new URL.
    response["Cache-Control"] = "private, max-age=86400"
    return response


# ------------------------------------------------------------------ create appointment


class AreaState(StrEnum):
    """The steps of the package part of Create appointment (the template compares them
    as strings)."""

    OFF = "off"  # no permission, or no client chosen yet
    REPEAT = "repeat"  # Repeat is on: say why no package
    BANNER = "banner"  # "X package matches — View"
    LINK = "link"  # the Link package choices
    CHOSEN = "chosen"  # "Linked to package: NAME"


@dataclass
class PackageArea:
    """What the package part of Create appointment shows (see AreaState)."""

    state: AreaState = AreaState.OFF
    count: int = 0
    choices: list = field(default_factory=list)
    chosen: ClientPackage | None = None
    chosen_service: Service | None = None
    error: str = ""
    message: str = selectors.REPEAT_NO_PACKAGE
    note: str = ""  # the service changed with the package chosen: say so
    new_end: dt.time | None = None  # ...and the End typed before moved with it
    unpaid: list[str] = field(default_factory=list)  # matching packages not paid in full


@dataclass
class ServiceChoice:
    value: str  # "<client package>:<service>"
    name: str
    meta: str
    disabled: bool
    checked: bool


@dataclass
class PackageChoice:
    package: ClientPackage
    meta: str
    services: list[ServiceChoice]
    checked: bool


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def package_choices(
    packages: list[ClientPackage], chosen: str = "", *, service_id: int | None = None
) -> list[PackageChoice]:
    """The Link package list: fixed packages show each service's allowance ("0 of 3
    used"; a service with none left is disabled); flexible ones the package's remaining
    credits. Uses the services prefetched by `client_package_matches`.

    With `service_id` (the booking's service is chosen), each package offers only that
    service: picking another covered service would change the booking (issue 11)."""
    result = []
    for package in packages:
        remaining = _plural(package.remaining, "credit") + " remaining"
        expires = (
            f"Expires {date_format(package.expires_on, 'j M Y')}"
            if package.expires_on
            else "No expiry"
        )
        kind = "Fixed" if package.is_fixed else "Flexible"
        services = []
        for covered in package.services.all():
            if service_id is not None and covered.service_id != service_id:
                continue
            value = f"{package.pk}:{covered.service_id}"
            left = covered.remaining
            services.append(
                ServiceChoice(
                    value=value,
                    name=covered.name,
                    meta=(covered.usage_label + (" · none left" if left == 0 else ""))
                    if package.is_fixed
                    else remaining,
                    disabled=left == 0,
                    checked=value == chosen,
                )
            )
        result.append(
            PackageChoice(
                package=package,
                meta=f"{kind} · {remaining} · {expires}",
                services=services,
                checked=chosen.startswith(f"{package.pk}:") or len(packages) == 1,
            )
        )
    return result


def _package_area(data, user, step: str = "") -> PackageArea:
    """Work out the package part from the form's current values (bound or typed)."""
    if not user.has_perm("packages.link_clientpackage"):
        return PackageArea()
    values = PackageAreaForm(data).values()
    if values["repeat"]:
        return PackageArea(state=AreaState.REPEAT)
    client, day, service = values["client"], values["date"], values["service"]
    if client is None or day is None:
        return PackageArea()
    error = ""
    if step == "use_package":
        package, chosen_service = parse_link_choice(values["link_choice"], client.pk)
        if package is not None and (
            client_package_matches(client=client, on_date=day, service=chosen_service)
            .filter(pk=package.pk)
            .exists()
        ):
            note, new_end = "", None
            if service is None or service.pk != chosen_service.pk:
                was = f" (was {service_label(service)})" if service is not None else ""
                note = f"The service is now {service_label(chosen_service)}{was}."
                start, end = values["start_time"], values["end_time"]
                if start is not None and end is not None:
                    # A typed End would keep the old length: it moves with the service.
                    length = dt.timedelta(minutes=chosen_service.duration_minutes)
                    new_end = (dt.datetime.combine(day, start) + length).time()
                    note += f" It now ends at {new_end:%H:%M}."
            return PackageArea(
                state=AreaState.CHOSEN,
                chosen=package,
                chosen_service=chosen_service,
                note=note,
                new_end=new_end,
            )
        error = "Select a package, then the service it covers."
        step = "link"
    if step == "link":
        found = list(client_package_matches(client=client, on_date=day, service=service))
        if found:
            choices = package_choices(
                found, values["link_choice"] or "", service_id=service.pk if service else None
            )
            return PackageArea(state=AreaState.LINK, count=len(found), choices=choices, error=error)
    elif step != "clear_package" and values["client_package"]:
        package = (
            client_package_matches(client=client, on_date=day, service=service)
            .filter(pk=values["client_package"])
            .first()
        )
        if package is not None:
            return PackageArea(state=AreaState.CHOSEN, chosen=package, chosen_service=service)
        # The client, service or date changed so that the package no longer pays: say so
        # plainly, naming the package and what it does not cover.
        dropped = ClientPackage.objects.filter(pk=values["client_package"]).first()
        name = dropped.name if dropped is not None else "The package"
        if service is not None and dropped is not None:
            error = (
                f"The package link was removed: {name} doesn't cover {service.name} on this date."
            )
        else:
            error = f"The package link was removed: {name} doesn't cover this booking."
    # The matches' names (SQL built once per process), then (for those who may see
    # invoices) their payment state in one plain query: the annotations of
    # `client_packages_with_payment` cost far more to compile than to run (issue 10);
    # `client_packages_add_payment` gives the same.
    rows = client_package_match_names(client=client, on_date=day, service=service)
    unpaid = []
    if rows and user.has_perm("invoicing.view_invoice"):
        # Issue 13: booking against a package nobody has paid for yet is worth a word.
        unpaid = [
            f"{row.name} ({PACKAGE_PAYMENT_STATUSES[row.payment_status]})"
            for row in client_packages_add_payment(rows)
            if row.payment_status != "paid"
        ]
    count = len(rows)
    return PackageArea(
        state=AreaState.BANNER if count else AreaState.OFF,
        count=count,
        error=error,
        unpaid=unpaid,
    )


def _query(data) -> str:
    """The client search as typed: at most 100 characters, no NUL (PostgreSQL refuses it)."""
    return (data.get("client_query") or "").replace("\x00", "").strip()[:100]


def _chosen_client(data) -> Client | None:
    """`PackageAreaForm(data).values()["client"]`, without making the whole form (the
    client search, read as you type, needs no other value): the field's own cleaning."""
    try:
        return PackageAreaForm.base_fields["client"].clean(data.get("client"))
    except ValidationError:
        return None


def _client_choices(query: str, selected: Client | None) -> list[Client]:
    """Up to 8 bookable clients for `query` (the Clients page's search: every word in the
    name, phone or email); the selected client first, so a new search never drops it."""
    words = query.split()[:6]
    found: list[Client] = []
    if words:
        # Through the list's SQL built once per process when a word narrows the search;
        # compiling `client_search` was most of this partial's time (issue 10).
        first = client_selectors.client_search_first_page(words, per_page=CLIENT_RESULTS)
        if first is not None:
            found = first[0]
        else:
            found = list(client_selectors.client_search(words)[:CLIENT_RESULTS])
    if selected is not None:
        found = [selected, *(c for c in found if c.pk != selected.pk)]
    return found


def _wire(form: AppointmentForm) -> AppointmentForm:
    """Changing the service, date or Repeat refreshes the package part (HTMX). The
    Service list put off by a booking's POST is made now: the form is being shown."""
    form.offer_services_now()
    attrs = {
        "hx-get": reverse("calendar_app:matches"),
        "hx-trigger": "change",
        "hx-include": "closest form",
        "hx-target": "#package-area",
        "hx-swap": "innerHTML",
        "hx-sync": "#package-area:replace",
    }
    for name in ("service", "date", "repeat"):
        form.fields[name].widget.attrs.update(attrs)
    return _wire_places(form)


def _wire_places(form, appointment: Appointment | None = None):
    """Changing the practitioner or location reloads the Service list (only what that
    practitioner provides there), keeping the rest of the form as typed (HTMX)."""
    url = reverse("calendar_app:service_options")
    if appointment is not None:
        url += f"?appointment={appointment.pk}"
    attrs = {
        "hx-get": url,
        "hx-trigger": "change",
        "hx-include": "closest form",
        "hx-target": "#service-field",
        "hx-swap": "outerHTML",
        "hx-sync": "#service-field:replace",
    }
    for name in ("practitioner", "location"):
        form.fields[name].widget.attrs.update(attrs)
    return form


def _typed(data: QueryDict) -> dict:
    """What was typed, as initial values: re-renders the form without judging it."""
    initial = {key: data.get(key) for key in data if key not in ("csrfmiddlewaretoken", "step")}
    initial["weekdays"] = data.getlist("weekdays")
    return initial


def _form_context(request, form, data, *, step: str = "", area: PackageArea | None = None):
    values = PackageAreaForm(data).values()
    client = values["client"]
    query = _query(data)
    fallback_day = values["date"]
    # Once a client is chosen, the other search results make way (until a new search).
    picked = client is not None and step != "search"
    return {
        "form": _wire(form),
        "area": area or _package_area(data, request.user, step),
        "clients": [client] if picked else _client_choices(query, client),
        "picked": picked,
        "client_query": query,
        "selected_client": client,
        "in_modal": bool(request.htmx),
        "back_url": safe_next(request, _calendar_url(day=fallback_day)),
    }


def _booking_ahead(request: HttpRequest) -> list[tuple[str, list]]:
    """Create appointment's first read for a booking (none for the form's other steps)."""
    if request.POST.get("step", ""):
        return []
    return booking_choices_ahead(request.POST)


@staff_view("calendar_app.add_appointment", ahead=_booking_ahead)
def appointment_create(request: HttpRequest) -> HttpResponse:
    """Create appointment: one booking (optionally using a package credit) or a series.

    Besides "Create appointment", the form's buttons without JavaScript re-render it:
    step=search (client search), link (View → Link package), use_package, clear_package.
    """
    if request.method != "POST":
        initial = _initial_from_query(request)
        data = QueryDict(mutable=True)
        data.update({k: str(v) for k, v in initial.items() if v is not None and k != "weekdays"})
        return render_popup(
            request,
            FORM,
            _form_context(request, AppointmentForm(initial=initial), data),
            partial="form",
        )

    step = request.POST.get("step", "")
    if step in ("search", "link", "use_package", "clear_package", "refresh"):
        initial = _typed(request.POST)
        area = _package_area(request.POST, request.user, step)
        if area.state == AreaState.CHOSEN:
            initial["client_package"] = area.chosen.pk
            if area.chosen_service is not None:
                initial["service"] = area.chosen_service.pk
            if area.new_end is not None:
                initial["end_time"] = area.new_end.strftime("%H:%M")
        elif step == "clear_package":
            initial["client_package"] = None
        form = AppointmentForm(initial=initial)
        context = _form_context(request, form, request.POST, step=step, area=area)
        return render_popup(request, FORM, context, partial="form")

    # The Service list is made only if the form is shown again (`_wire`).
    form = AppointmentForm(request.POST, listed=False)
    outside = _outside_hours_question(request, form)
    if outside:
        # Issue 11: outside the practitioner's working hours, ask first ("Book anyway").
        context = _form_context(request, form, request.POST)
        context["outside_hours"] = outside
        return render_popup(request, FORM, context, partial="form", status=409)

    def book(data):
        common = {
            "client": data["client"],
            "practitioner": data["practitioner"],
            "location": data["location"],
            "service": data["service"],
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "notes": data["notes"],
            "by": request.user,
        }
        if data["repeat"]:
            series = appointment_book_series(
                **common,
                every_weeks=data["every_weeks"],
                weekdays=data["weekdays"],
                count=data["count"],
            )
            first = series.appointments.order_by("starts_at").first()
            return first, f"{data['count']} repeating appointments created.", False
        booked = appointment_book(
            **common, client_package=data["client_package"], known=form.place_facts
        )
        # As saved, with the client, service, practitioner, location and the package as
        # the credit left it: the panel needs no second read (issue 10).
        return booked, "Appointment created.", True

    sent = submit(form, book, fields_by_code=FIELD_FOR_CODE)
    if sent.ok:
        appointment, note, loaded = sent.result
        messages.success(request, note)
        if request.htmx:
            return _changed(_panel(request, appointment, loaded=loaded))
        return redirect("calendar_app:detail", pk=appointment.pk)
    context = _form_context(request, form, request.POST)
    return render_popup(request, FORM, context, partial="form", status=sent.status)


def _outside_hours_question(request: HttpRequest, form: AppointmentForm) -> str | None:
    """Why the booking in `form` is outside its practitioner's working hours (the
    question Create appointment asks before booking), unless staff already answered
    "Book anyway" (outside_hours_ok) or the form has errors of its own."""
    if request.POST.get("outside_hours_ok") or not form.is_valid():
        return None
    data = form.cleaned_data
    starts_at = data["starts_at"]
    ends_at = data.get("ends_at") or starts_at + dt.timedelta(
        minutes=data["service"].duration_minutes
    )
    return selectors.outside_working_hours(
        practitioner=data["practitioner"],
        location=data["location"],
        starts_at=starts_at,
        ends_at=ends_at,
        # None: read them (the form knows only that the practitioner has some).
        hours=[] if form.practitioner_has_hours is False else None,
    )


def _initial_from_query(request: HttpRequest) -> dict:
    """?client=&practitioner=&location=&service=&start=2026-11-24T10:30 (junk is ignored)."""
    initial: dict = {"every_weeks": 1, "count": 6}

    def pk(name):
        value = request.GET.get(name, "")
        return int(value) if value.isdigit() and len(value) < 18 else None

    client_id = pk("client")
    if client_id and Client.objects.filter(pk=client_id, archived=False).exists():
        initial["client"] = client_id
    service_id = pk("service")
    if service_id and Service.objects.filter(pk=service_id, archived=False).exists():
        initial["service"] = service_id
    initial.update(
        selectors.practitioner_and_location_defaults(
            request.user, practitioner_id=pk("practitioner"), location_id=pk("location")
        )
    )
    start = parse_local_datetime(request.GET.get("start"))
    if start is not None:
        initial["date"] = start.date().isoformat()
        initial["start_time"] = start.strftime("%H:%M")
        initial["weekdays"] = [str(start.weekday())]
        end = parse_local_datetime(request.GET.get("end"))  # a class session's own end
        if end is not None and end.date() == start.date() and end > start:
            initial["end_time"] = end.strftime("%H:%M")
    else:
        initial["date"] = timezone.localdate().isoformat()
    return initial


@staff_view("calendar_app.add_appointment")
def client_search(request: HttpRequest) -> HttpResponse:
    """Search as you type: the clients to pick from (name, phone), archived excluded."""
    selected = _chosen_client(request.GET)
    query = _query(request.GET)
    context = {
        "clients": _client_choices(query, selected),
        "client_query": query,
        "selected_client": selected,
    }
    return render(request, f"{FORM}#client_results", context)


@staff_view("calendar_app.add_appointment")
def appointment_matches(request: HttpRequest) -> HttpResponse:
    """The package part of Create appointment for the form's current values (HTMX):
    the "X package matches — View" banner, the Link package choices, or the chosen one."""
    step = request.GET.get("step", "")
    area = _package_area(request.GET, request.user, step)
    html = render_to_string(f"{FORM}#package_area", {"area": area}, request)
    if request.htmx.trigger_name == "client":
        # A client was picked: the other search results make way for the form.
        selected = PackageAreaForm(request.GET).values()["client"]
        if selected is not None:
            context = {"clients": [selected], "selected_client": selected, "picked": True}
            results = render_to_string(f"{FORM}#client_results", context, request)
            html += format_html(
                '<div id="client-results" hx-swap-oob="innerHTML">{}</div>', results
            )

    if area.state == AreaState.CHOSEN and area.chosen_service is not None:
        # The Service select follows the service chosen in Link package.
        form = _wire(AppointmentForm(initial={"service": area.chosen_service.pk}))
        html += render_to_string(f"{FORM}#service_field", {"form": form, "oob": True}, request)
        if area.new_end is not None:
            # The End field follows the service's length (issue 11: never silently kept).
            end = AppointmentForm(initial={"end_time": area.new_end})["end_time"]
            html += end.as_widget(attrs={"hx-swap-oob": "true"})
    return HttpResponse(html)


@staff_view("calendar_app.view_appointment")
def service_options(request: HttpRequest) -> HttpResponse:
    """The Service field for the chosen practitioner and location (HTMX): Create
    appointment, or Edit details of `?appointment=`."""
    appointment_id = request.GET.get("appointment", "")
    initial = _typed(request.GET)
    if appointment_id.isdigit() and len(appointment_id) < 18:
        appointment = _load(int(appointment_id))
        form = EditAppointmentForm(initial=initial, appointment=appointment, user=request.user)
    else:
        form = _wire(AppointmentForm(initial=initial))
    return render(request, "calendar_app/includes/service_field.html", {"form": form})


# ------------------------------------------------------------- the information panel


def _load(pk: int) -> Appointment:
    return get_object_or_404(
        Appointment.objects.select_related(
            "client",
            "service",
            "practitioner",
            "location",
            "client_package",
            "series",
            "cancellation_reason",
        ),
        pk=pk,
    )


def _series_text(appointment: Appointment) -> str:
    series = appointment.series
    if series is None:
        return ""
    names = dict(WEEKDAYS)
    days = ", ".join(names[d] for d in sorted(series.weekdays) if d in names)
    every = "every week" if series.every_weeks == 1 else f"every {series.every_weeks} weeks"
    return f"Repeats {every} on {days}"


def _panel_context(
    request: HttpRequest, appointment: Appointment, *, booked: bool = False, **extra
) -> dict:
    """`booked`: the appointment was created in this request's transaction, so no invoice
    holds it yet (two queries fewer while a package booking holds the package's lock)."""
    user = request.user
    # What the panel offers is what the services would accept now (one rule, one place).
    actions = selectors.appointment_actions(appointment, user, invoiced=False if booked else None)
    invoice = None if booked else current_invoice_for_appointment(appointment)
    package, usage = appointment.client_package, None
    if package is not None:
        usage = next(
            (s for s in package.services.all() if s.service_id == appointment.service_id), None
        )
    matches = 0
    if actions.link:
        matches = client_package_matches(
            client=appointment.client,
            on_date=timezone.localdate(appointment.starts_at),
            service=appointment.service,
        ).count()
    class_places = ""
    if appointment.class_session_id is not None:
        live = selectors.class_session_live_count(appointment.class_session_id)
        class_places = f"{live} of {appointment.service.capacity}"
    return {
        "appointment": appointment,
        "class_places": class_places,
        "package": package,
        "usage": usage,
        "matches": matches,
        "series_text": _series_text(appointment),
        "invoice": invoice,
        # A booking of this transaction has sent no email yet (its confirmation is a
        # job run after COMMIT): one query fewer under the package's lock.
        "emails": [] if booked else appointment_emails(appointment),
        "can_edit": actions.edit,
        "can_arrive": actions.arrive,
        "can_miss": actions.miss,
        "can_cancel": actions.cancel,
        "can_delete": actions.delete,
        "can_invoice": user.has_perm("invoicing.add_invoice")
        and why_not_invoice_appointment(appointment, current=invoice) is None,
        "calendar_url": _calendar_url_for(appointment),
        "in_modal": bool(request.htmx),
        **extra,
    }


def _panel(
    request: HttpRequest,
    appointment: Appointment,
    *,
    status: int = 200,
    error: str = "",
    loaded: bool = False,
):
    """The appointment's panel, read again unless `loaded`: the caller's copy is a
    booking just made in this transaction, as saved, with its relations."""
    fresh = appointment if loaded else _load(appointment.pk)
    context = _panel_context(request, fresh, booked=loaded, error=error)
    return render_popup(request, PANEL, context, partial="panel", status=status)


def _done(request: HttpRequest, appointment: Appointment, note: str) -> HttpResponse:
    """After a change: the refreshed panel in the popup (HTMX), else the panel's page."""
    messages.success(request, note)
    if request.htmx:
        return _changed(_panel(request, appointment))
    return redirect("calendar_app:detail", pk=appointment.pk)


def _refused(request: HttpRequest, appointment: Appointment, exc: DomainError) -> HttpResponse:
    status = 403 if exc.code == "permission_denied" else 409
    if request.htmx:
        return _panel(request, appointment, status=status, error=exc.message)
    messages.error(request, exc.message)
    return redirect("calendar_app:detail", pk=appointment.pk)


@staff_view("calendar_app.view_appointment")
def appointment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The appointment information panel (a popup; a page without JavaScript)."""
    appointment = _load(pk)
    return render_popup(request, PANEL, _panel_context(request, appointment), partial="panel")


@staff_view("calendar_app.change_appointment")
@require_POST
def appointment_arrived(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _load(pk)
    try:
        appointment_mark_arrived(appointment=appointment, by=request.user)
    except DomainError as exc:
        return _refused(request, appointment, exc)
    return _done(request, appointment, "Marked as Arrived.")


# ------------------------------------------------------------------ class sessions (issue 12)


def _class_panel(
    request: HttpRequest, pk: int, *, status: int = 200, error: str = ""
) -> HttpResponse:
    session = get_object_or_404(
        ClassSession.objects.select_related("practitioner", "location", "service"), pk=pk
    )
    attendees = selectors.class_session_attendees(session.pk)
    now = timezone.now()
    can_change = request.user.has_perm("calendar_app.change_appointment")
    rows = [
        {
            "appointment": attendee,
            "can_arrive": can_change
            and attendee.status == AppointmentStatus.BOOKED
            and selectors.appointment_refusal(attendee, selectors.ARRIVE, now=now) is None,
        }
        for attendee in attendees
    ]
    live = sum(a.status != AppointmentStatus.CANCELED for a in attendees)
    capacity = session.service.capacity
    add_url = ""
    if request.user.has_perm("calendar_app.add_appointment") and live < capacity:
        query = QueryDict(mutable=True)
        query.update(
            {
                "practitioner": session.practitioner_id,
                "location": session.location_id,
                "service": session.service_id,
                "start": timezone.localtime(session.starts_at).strftime("%Y-%m-%dT%H:%M"),
                "end": timezone.localtime(session.ends_at).strftime("%Y-%m-%dT%H:%M"),
            }
        )
        add_url = f"{reverse('calendar_app:create')}?{query.urlencode()}"
    context = {
        "session": session,
        "rows": rows,
        "live": live,
        "capacity": capacity,
        "full": live >= capacity,
        "add_url": add_url,
        "can_all_arrive": sum(row["can_arrive"] for row in rows) > 1,
        "calendar_url": _calendar_url(
            day=timezone.localdate(session.starts_at), practitioner_id=session.practitioner_id
        ),
        "in_modal": bool(request.htmx),
        "error": error,
    }
    return render_popup(request, CLASS_PANEL, context, partial="panel", status=status)


@staff_view("calendar_app.view_appointment")
def class_session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A class session's panel: "5 of 8 booked", its attendees (each with their own
    status and package), Add attendee, and attendance for all or per person."""
    return _class_panel(request, pk)


@staff_view("calendar_app.change_appointment")
@require_POST
def class_session_arrived(request: HttpRequest, pk: int) -> HttpResponse:
    """ "All arrived", or one attendee (`attendee`) Arrived, from the class panel."""
    session = get_object_or_404(ClassSession, pk=pk)
    attendee_id = request.POST.get("attendee", "")
    try:
        if attendee_id:
            attendee = get_object_or_404(
                Appointment,
                pk=int(attendee_id) if attendee_id.isdigit() and len(attendee_id) < 18 else 0,
                class_session=session,
            )
            appointment_mark_arrived(appointment=attendee, by=request.user)
            note = f"{attendee.client.full_name} marked as Arrived."
        else:
            marked = class_session_mark_arrived(session=session, by=request.user)
            note = f"{_plural(len(marked), 'attendee')} marked as Arrived."
    except DomainError as exc:
        if request.htmx:
            return _class_panel(request, pk, status=409, error=exc.message)
        messages.error(request, exc.message)
        return redirect("calendar_app:class_session", pk=pk)
    messages.success(request, note)
    if request.htmx:
        return _changed(_class_panel(request, pk))
    return redirect("calendar_app:class_session", pk=pk)


@staff_view("calendar_app.change_appointment")
def appointment_missed(request: HttpRequest, pk: int) -> HttpResponse:
    """Missed: a popup that shows the practice's no-show rule (keep the credit, or charge
    a fee) before staff confirm; POST marks it, applying the rule (issue 13)."""
    appointment = _load(pk)
    outcome = missed_outcome(appointment, PracticeSettings.load())
    can_waive = request.user.has_perm(WAIVE_FEE)
    form = MissedForm(posted(request), outcome=outcome, can_waive_fee=can_waive)
    status = 200
    if request.method == "POST":
        sent = submit(
            form,
            lambda data: appointment_missed_by_rules(
                appointment=appointment,
                charge_fee=data.get("charge_fee") if "charge_fee" in form.fields else None,
                by=request.user,
            ),
        )
        if sent.ok:
            return _done(request, appointment, f"Marked as Missed. {_applied_note(sent.result)}")
        status = sent.status
    context = {
        "appointment": appointment,
        "form": form,
        "outcome": outcome,
        "in_modal": bool(request.htmx),
    }
    return render_popup(request, MISSED, context, partial="missed", status=status)


@staff_view(("calendar_app.view_appointment", "invoicing.add_invoice"))
@require_POST
def appointment_invoice(request: HttpRequest, pk: int) -> HttpResponse:
    """Create invoice: a draft with the appointment's line, then the invoice's page."""
    appointment = _load(pk)
    try:
        invoice = invoice_for_appointment(appointment=appointment, by=request.user)
    except DomainError as exc:
        existing = exc.context.get("invoice") if exc.code == "already_invoiced" else None
        if existing is None:
            return _refused(request, appointment, exc)
        messages.info(request, exc.message)
        invoice = existing
    else:
        messages.success(request, "Invoice created.")
    try:
        target = reverse("invoicing:detail", args=[invoice.pk])
    except NoReverseMatch:  # the invoice pages are not there yet: stay on the panel
        target = reverse("calendar_app:detail", args=[appointment.pk])
        if request.htmx:
            return _changed(_panel(request, appointment))
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


# --------------------------------------------------------------------- Edit details


def _edit_render(request, appointment, form, *, unlink: bool, status: int = 200) -> HttpResponse:
    context = {
        "appointment": appointment,
        "form": _wire_places(form, appointment),
        "unlink": unlink,
        "in_modal": bool(request.htmx),
        "calendar_url": _calendar_url_for(appointment),
    }
    return render_popup(request, EDIT, context, partial="edit", status=status)


@staff_view("calendar_app.change_appointment")
def appointment_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit details. The X beside "Linked to package" marks the link for removal; it is
    removed on Update appointment, together with the other changes (all or nothing)."""
    appointment = _load(pk)
    refusal = selectors.appointment_refusal(appointment, selectors.EDIT)
    if refusal is not None:
        return _refused(request, appointment, refusal)
    if request.method != "POST":
        form = EditAppointmentForm(appointment=appointment, user=request.user)
        return _edit_render(request, appointment, form, unlink=False)

    step = request.POST.get("step", "")
    if step in ("unlink", "keep"):
        initial = _typed(request.POST)
        form = EditAppointmentForm(initial=initial, appointment=appointment, user=request.user)
        unlink = step == "unlink" and appointment.client_package_id is not None
        # Arrived or Missed: only an Admin may give the used credit back (with a reason).
        refusal = selectors.used_credit_refusal(appointment, selectors.UNLINK, request.user)
        if unlink and refusal is not None and refusal.code == "credit_used":
            form = EditAppointmentForm(request.POST, appointment=appointment, user=request.user)
            form.is_valid()  # bound, to carry the message; what was typed stays
            form.add_error(None, refusal.message)
            return _edit_render(request, appointment, form, unlink=False, status=409)
        return _edit_render(request, appointment, form, unlink=unlink)

    form = EditAppointmentForm(request.POST, appointment=appointment, user=request.user)
    unlink_asked = bool(request.POST.get("unlink_package"))
    unlink = unlink_asked and appointment.client_package_id is not None

    def update(data):
        changes = form.changes()  # against the appointment as the form showed it
        scope = data.get("scope") or "this"
        if unlink_asked:
            # Unlinked meanwhile (a second tab, a double submit): the service says so,
            # rather than "Appointment updated." for a link that was not there.
            appointment_unlink_and_edit(
                appointment=appointment,
                scope=scope,
                reason=data.get("unlink_reason", ""),
                by=request.user,
                **changes,
            )
        elif changes:
            appointment_edit(appointment=appointment, scope=scope, by=request.user, **changes)

    sent = submit(form, update, fields_by_code=FIELD_FOR_CODE)
    if not sent.ok:
        return _edit_render(request, appointment, form, unlink=unlink, status=sent.status)
    note = "Appointment updated."
    if unlink_asked:
        # Never silently: the service (perhaps chosen when linking) stays after an unlink.
        service = form.cleaned_data["service"]
        note = (
            "Appointment updated. The package link was removed and its credit given back; "
            f"the service stays {service_label(service)}."
        )
    return _done(request, appointment, note)


# ------------------------------------------------------------ drag on the calendar (issue 11)

MOVE_STATUS = f"{CALENDAR}#move_status"


def _grid_value(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _move_status(request: HttpRequest, context: dict, *, status: int = 200) -> HttpResponse:
    """The line above the calendar that tells what a drag did (#cal-status)."""
    return render(request, MOVE_STATUS, context, status=status)


def _moved_note(appointment: Appointment, changes: dict, *, undo: bool) -> str:
    if undo:
        return "Move undone."
    who = appointment.client.full_name
    start = timezone.localtime(appointment.starts_at)
    if set(changes) == {"ends_at"}:
        return f"{who}'s appointment now ends at {timezone.localtime(appointment.ends_at):%H:%M}."
    at = date_format(start, "D j M, H:i")
    with_whom = f" with {appointment.practitioner.name}" if "practitioner" in changes else ""
    return f"Moved {who}'s appointment to {at}{with_whom}."


@staff_view("calendar_app.change_appointment")
@require_POST
def appointment_move(request: HttpRequest, pk: int) -> HttpResponse:
    """A drag on the calendar (a move to another time, day or practitioner, or a resize),
    through Edit details' service: its overlap, package and daylight-saving rules apply.

    Answers with the status line above the calendar: the confirmation with Undo (which
    moves it back through this same view), the refusal and its reason, or, outside the
    practitioner's working hours, the question (Move anyway / Don't move). After a move
    or a refusal the calendar refreshes itself (calendarChanged), so a refused drag
    snaps back. Without JavaScript (the Undo button), a message and the calendar."""
    appointment = _load(pk)
    form = MoveForm(request.POST)
    move_url = reverse("calendar_app:move", args=[appointment.pk])
    context: dict = {"appointment": appointment, "move_url": move_url}

    def answer(status: int = 200, *, refresh: bool = True) -> HttpResponse:
        if not request.htmx:
            if context.get("error"):
                messages.error(request, context["error"])
            elif context.get("note"):
                messages.success(request, context["note"])
            return redirect(_calendar_url_for(_load(pk)))
        response = _move_status(request, context, status=status)
        return _changed(response) if refresh else response

    if not form.is_valid():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        context["error"] = " ".join(errors)
        return answer(400)
    data = form.cleaned_data
    changes = form.changes(appointment)
    if not changes:
        return answer(refresh=True)  # dropped where it was
    practitioner = changes.get("practitioner", appointment.practitioner)
    starts_at = changes.get("starts_at", appointment.starts_at)
    ends_at = changes.get("ends_at") or starts_at + (appointment.ends_at - appointment.starts_at)
    if not (data["outside_ok"] or data["undo"]):
        outside = selectors.outside_working_hours(
            practitioner=practitioner,
            location=appointment.location,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        if outside:
            context.update(ask=outside, values=request.POST)
            return answer(refresh=False)  # the block stays where it was dropped meanwhile
    before = {
        "start": _grid_value(appointment.starts_at),
        "end": _grid_value(appointment.ends_at),
        "practitioner": appointment.practitioner_id,
    }
    try:
        appointment_edit(appointment=appointment, scope="this", by=request.user, **changes)
    except DomainError as exc:
        context["error"] = exc.message
        return answer(403 if exc.code == "permission_denied" else 409)
    moved = _load(pk)
    context.update(
        appointment=moved,
        note=_moved_note(moved, changes, undo=data["undo"]),
        undo=None if data["undo"] else before,
    )
    return answer()


# --------------------------------------------------------------------- Link package


@staff_view(("calendar_app.view_appointment", "packages.link_clientpackage"))
def appointment_link_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Link package for a booked appointment: the package, then the Service it covers."""
    appointment = _load(pk)
    form = LinkPackageForm(posted(request), client_id=appointment.client_id)
    status = 200
    if request.method == "POST":
        sent = submit(
            form,
            lambda data: appointment_link(
                appointment=appointment,
                client_package=data["client_package"],
                service=data["service"],
                by=request.user,
            ),
        )
        if sent.ok:
            package = form.cleaned_data["client_package"]
            return _done(request, appointment, f"Linked to package: {package.name}.")
        status = sent.status
    matches = client_package_matches(
        client=appointment.client,
        on_date=timezone.localdate(appointment.starts_at),
        service=appointment.service,
    )
    context = {
        "appointment": appointment,
        "form": form,
        "choices": package_choices(
            list(matches), form.data.get("link_choice", ""), service_id=appointment.service_id
        ),
        "in_modal": bool(request.htmx),
    }
    return render_popup(request, LINK, context, partial="link", status=status)


# --------------------------------------------------------------------- Cancel, Delete


WAIVE_FEE = "invoicing.change_invoice"  # see invoicing.services._check_fee_override


def _chosen_reason(value) -> CancellationReason | None:
    try:
        return CancellationReason.objects.filter(pk=int(value), archived=False).first()
    except (TypeError, ValueError):
        return None


def _applied_note(applied) -> str:
    note = applied.why
    if applied.invoice is not None:
        note += f" The fee is on draft invoice #{applied.invoice.pk}."
    return note


@staff_view("calendar_app.change_appointment")
def appointment_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel: choosing a reason shows its rule (notice window, credit, fee) and sets the
    checkboxes from it before staff confirm (issue 13). Without JavaScript, confirming a
    reason with a notice window whose rule was not shown yet shows it first instead of
    canceling."""
    appointment = _load(pk)
    can_waive = request.user.has_perm(WAIVE_FEE)
    source = request.POST if request.method == "POST" else request.GET
    reason = _chosen_reason(source.get("reason"))
    outcome = cancellation_outcome(appointment, reason) if reason is not None else None
    defaults = {
        "reason": reason.pk if reason else None,
        "keep_credit": bool(outcome and outcome.keep_credit),
        "charge_fee": True,
        "rule_seen": reason.pk if reason else None,
        "scope": source.get("scope") or "this",
    }

    def form_for(data):
        return CancelForm(
            data,
            appointment=appointment,
            outcome=outcome,
            can_waive_fee=can_waive,
            initial=defaults,
            refresh_url=request.path,
        )

    form = form_for(posted(request))
    status = 200
    # A reason without a notice window only releases (as before rules existed): nothing
    # to show first.
    unseen = (
        request.method == "POST"
        and reason is not None
        and reason.notice_hours is not None
        and request.POST.get("rule_seen") != str(reason.pk)
    )
    if unseen:
        form = form_for(None)
    elif request.method == "POST":
        sent = submit(
            form,
            lambda data: appointment_cancel_by_rules(
                appointment=appointment,
                reason=data["reason"],
                keep_credit=data.get("keep_credit") if "keep_credit" in form.fields else None,
                charge_fee=data.get("charge_fee") if "charge_fee" in form.fields else None,
                scope=data.get("scope") or "this",
                by=request.user,
            ),
        )
        if sent.ok:
            return _done(
                request, appointment, f"Appointment canceled. {_applied_note(sent.result)}"
            )
        status = sent.status
    context = {
        "appointment": appointment,
        "form": form,
        "outcome": outcome,
        "unseen": unseen,
        # Choosing a reason refreshes the popup in place (#cancel-popup), in the dialog or
        # on the page without it: only the dialog's copy says it is in the dialog.
        "in_modal": bool(request.htmx)
        and (request.htmx.target != "cancel-popup" or source.get("in_modal") == "1"),
    }
    return render_popup(request, CANCEL, context, partial="cancel", status=status)


@staff_view("calendar_app.delete_appointment")
def appointment_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete (a booking made by mistake), after a confirmation. POST only deletes."""
    appointment = _load(pk)
    context = {"appointment": appointment, "in_modal": bool(request.htmx), "error": ""}
    status = 200
    if request.method == "POST":
        back = _calendar_url_for(appointment)
        try:
            appointment_delete(appointment=appointment, by=request.user)
        except DomainError as exc:
            context["error"] = exc.message
            status = 403 if exc.code == "permission_denied" else 409
        else:
            messages.success(request, "Appointment deleted.")
            if request.htmx:
                return _closing(HttpResponse())
            return redirect(back)
    return render_popup(request, DELETE, context, partial="delete", status=status)

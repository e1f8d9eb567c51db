"""The Activity page (Admin): every audited change, newest first, in plain language,
filtered by person, object type and dates; and the Activity tabs of a client and a client
package, which show the changes of that record and of the rows that refer to it.

The words come from each app's `audit_events.py` (kernel.audit.activity_rows): one query
for the page of events, one for the people and one per kind of row the sentences name,
however many events the page holds.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from pghistory.core import event_models
from pghistory.models import Events

from kernel.audit import (
    BASELINE,
    activity_kinds,
    activity_rows,
    event_keys,
    history_for,
    load_events,
    silent_event_models,
)
from kernel.web import paginate, render_page, staff_view

# Who may read the whole practice's activity: the Admin role (it alone changes settings).
ACTIVITY_PERM = "caspen.change_practicesettings"
EVENTS_PER_PAGE = 50


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def _sane_date(value: dt.date) -> None:
    if not (dt.date(2000, 1, 1) <= value <= dt.date(2999, 12, 31)):
        raise forms.ValidationError("Enter a real date, such as 24/11/2026.")


class ActivityFilterForm(forms.Form):
    """The Activity page's filters; an invalid value is reported beside its field."""

    person = forms.ModelChoiceField(
        label="Person",
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="Everyone",
    )
    kind = forms.ChoiceField(label="Object type", required=False)
    date_from = forms.DateField(
        label="From", required=False, widget=DateInput(), validators=[_sane_date]
    )
    date_to = forms.DateField(
        label="To", required=False, widget=DateInput(), validators=[_sane_date]
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = get_user_model().objects.order_by(
            "first_name", "last_name", "username"
        )
        self.fields["person"].label_from_instance = lambda u: u.get_full_name() or u.username
        self.fields["kind"].choices = [("", "Everything"), *((k, k) for k in activity_kinds())]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def activity_events(*, person=None, kind: str = "", date_from=None, date_to=None):
    """Every audit event matching the filters, newest first (baseline copies left out)."""
    quiet = set(silent_event_models())
    if kind:
        events = Events.objects.across(
            *[model for model in activity_kinds().get(kind, []) if model not in quiet]
        )
    else:
        events = Events.objects.across(
            *[model for model in event_models() if model._meta.label not in quiet]
        )
    events = events.exclude(pgh_label=BASELINE)
    if person is not None:
        events = events.filter(pgh_context__user=person.pk)
    if date_from:
        events = events.filter(pgh_created_at__gte=_day_start(date_from))
    if date_to:
        events = events.filter(pgh_created_at__lt=_day_start(date_to + dt.timedelta(days=1)))
    return events.order_by("-pgh_created_at", "-pgh_id")


@staff_view(ACTIVITY_PERM)
def activity(request: HttpRequest) -> HttpResponse:
    form = ActivityFilterForm(request.GET or None)
    filters: dict = {}
    if form.is_bound:
        form.is_valid()
        # Valid filters apply; an invalid one is shown beside its field and ignored.
        filters = {
            name: form.cleaned_data[name]
            for name in ("person", "kind", "date_from", "date_to")
            if name in form.cleaned_data and not form.has_error(name)
        }
    page = paginate(request, event_keys(activity_events(**filters)), per_page=EVENTS_PER_PAGE)
    context = {
        "form": form,
        "page": page,
        "rows": activity_rows(load_events(page.object_list)),
        "is_filtered": any(filters.values()),
    }
    return render_page(request, "practice/activity.html", context)


def record_activity(request: HttpRequest, obj, *, also=None) -> dict:
    """The Activity tab of one record (a client, a client package): the events of the
    record and of the rows that refer to it, and with `also` (rows of one model, such as
    the client's invoices) the events of the rows that refer to those (their payments,
    refunds and lines); a page of them and their rows."""
    quiet = silent_event_models()

    def keys_of(target):
        events = history_for(target).exclude(pgh_label=BASELINE).exclude(pgh_model__in=quiet)
        return event_keys(events.order_by())

    keys = keys_of(obj)
    if also is not None:
        also = list(also)
        if also:
            # UNION (not ALL): an invoice's own events refer to both and are listed once.
            keys = keys.union(keys_of(also))
    keys = keys.order_by("-pgh_created_at", "-pgh_id")
    page = paginate(request, keys, per_page=EVENTS_PER_PAGE)
    return {"page": page, "rows": activity_rows(load_events(page.object_list))}

"""The filters of the reports (one form: the page, its CSV and the API read it alike)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.db import connection
from django.forms.models import ModelChoiceIterator
from django.utils import timezone

from calendar_app.models import Location, Practitioner
from kernel.time import DATE_RANGE_MESSAGE, EARLIEST_DATE, LATEST_DATE
from kernel.web import QuickSelect
from practice import versions


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def _in_range(value: dt.date) -> None:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise forms.ValidationError(DATE_RANGE_MESSAGE, code="invalid_date")


def last_month(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The first and last day of the month before `today` (the practice's today)."""
    today = today or timezone.localdate()
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


# The options of the Location and Practitioner lists together, in one query: each
# list as its field's queryset orders it (by name, then id).
_NAMES_SQL = f"""
SELECT 'location', id, name FROM {Location._meta.db_table}
UNION ALL
SELECT 'practitioner', id, name FROM {Practitioner._meta.db_table}
ORDER BY 1, 3, 2
"""  # noqa: S608 - table names from the models


def _read_names() -> dict[str, tuple[tuple[int, str], ...]]:
    """Both lists' options, in one query: kept per process under the settings version,
    which triggers bump with any change of locations or practitioners (practice.versions)."""
    lists: dict[str, list[tuple[int, str]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(_NAMES_SQL)
        for kind, pk, name in cursor.fetchall():
            lists.setdefault(kind, []).append((pk, name))
    return {kind: tuple(options) for kind, options in lists.items()}


class _NameChoices(ModelChoiceIterator):
    """The options of a location or practitioner list: (pk, name) read as values, not
    hundreds of model instances (the label is the instance's `__str__`, its name). In a
    `ReportFilterForm` both lists come from one query, made when the first is shown."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        lists = self.field.lists
        if lists is None:
            yield from self.queryset.values_list("pk", "name")
            return
        if not lists:
            lists.update(versions.kept("report:filter names", _read_names))
        yield from lists.get(self.field.list_name, ())


class NameChoiceField(forms.ModelChoiceField):
    iterator = _NameChoices
    lists: dict | None = None  # shared by the form's lists: all read in one query
    list_name = ""


class ReportFilterForm(forms.Form):
    """What every report's filters share: one location and one practitioner (optional),
    and defaults (`defaults()`) for the fields a request leaves missing or empty, so a
    bare page shows something sensible."""

    location = NameChoiceField(
        label="Location",
        queryset=Location.objects.order_by("name", "pk"),
        required=False,
        empty_label="All locations",
        widget=QuickSelect,  # its options built in Python: hundreds in one step
    )
    practitioner = NameChoiceField(
        label="Practitioner",
        queryset=Practitioner.objects.order_by("name", "pk"),
        required=False,
        empty_label="All practitioners",
        widget=QuickSelect,
    )

    def defaults(self) -> dict[str, str]:
        return {}

    def __init__(self, data=None, **kwargs):
        kwargs.setdefault("label_suffix", "")
        values = self.defaults()
        for key, value in (data or {}).items():
            if value not in (None, ""):
                values[key] = value
        super().__init__(values, **kwargs)
        # Both lists from one query, when shown (`_NameChoices`); this form's own.
        lists: dict = {}
        for name in ("location", "practitioner"):
            field = self.fields[name]
            if isinstance(field, NameChoiceField):
                field.lists, field.list_name = lists, name

    def filters(self) -> dict:
        data = self.cleaned_data
        return {"location": data.get("location"), "practitioner": data.get("practitioner")}


class LiabilityFilterForm(ReportFilterForm):
    """Start and End (inclusive days; last month by default), optionally one location and
    one practitioner."""

    start = forms.DateField(label="Start", widget=DateInput(), validators=[_in_range])
    end = forms.DateField(label="End", widget=DateInput(), validators=[_in_range])
    field_order = ["start", "end", "location", "practitioner"]

    def defaults(self) -> dict[str, str]:
        start, end = last_month()
        return {"start": start.isoformat(), "end": end.isoformat()}

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        return data

    def filters(self) -> dict:
        data = self.cleaned_data
        return {"start": data["start"], "end": data["end"], **super().filters()}


def last_twelve_months(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The first day of the 12th full month before `today` and the last day of last month."""
    first, end = last_month(today)
    index = first.year * 12 + first.month - 1 - 11
    return dt.date(index // 12, index % 12 + 1, 1), end


class RevenueFilterForm(LiabilityFilterForm):
    """Report 5, Revenue: Start and End (default: the last 12 full months), Group by
    (month, practitioner, location, service or package), one location, one practitioner."""

    # The keys of reports.selectors.revenue.REVENUE_GROUPINGS (a test checks they agree).
    group_by = forms.ChoiceField(
        label="Group by",
        choices=[
            ("month", "Month"),
            ("practitioner", "Practitioner"),
            ("location", "Location"),
            ("item", "Service or package"),
        ],
        initial="month",
    )

    field_order = ["start", "end", "group_by", "location", "practitioner"]

    def defaults(self) -> dict[str, str]:
        start, end = last_twelve_months()
        return {"start": start.isoformat(), "end": end.isoformat(), "group_by": "month"}

    def clean(self):
        # Imported here so this module's top stays as it was (one report per section).
        from reports.selectors.revenue import MAX_MONTHS, month_count

        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if (
            start
            and end
            and end >= start
            and data.get("group_by") == "month"
            and month_count(start, end) > MAX_MONTHS
        ):
            self.add_error(
                "end",
                f"Grouped by month, the period can cover at most {MAX_MONTHS} months "
                "(10 years). Choose a later start or another grouping.",
            )
        return data

    def filters(self) -> dict:
        return {**super().filters(), "group_by": self.cleaned_data["group_by"]}


class ExpiringFilterForm(ReportFilterForm):
    """Expiring soon: within 7, 30 or 60 days (30 when missing or empty), optionally one
    location and one practitioner."""

    WITHIN_CHOICES = ((7, "7 days"), (30, "30 days"), (60, "60 days"))
    DEFAULT_WITHIN = 30

    within = forms.TypedChoiceField(
        label="Expiring within",
        choices=WITHIN_CHOICES,
        coerce=int,
        error_messages={"invalid_choice": "Choose 7, 30 or 60 days."},
    )
    field_order = ["within", "location", "practitioner"]

    def defaults(self) -> dict[str, str]:
        return {"within": str(self.DEFAULT_WITHIN)}

    def filters(self) -> dict:
        return {"within_days": self.cleaned_data["within"], **super().filters()}


class AgedReceivablesFilterForm(ReportFilterForm):
    """As of (a day, the practice's today by default), optionally one location and one
    practitioner."""

    on = forms.DateField(label="As of", widget=DateInput(), validators=[_in_range])
    field_order = ["on", "location", "practitioner"]

    def defaults(self) -> dict[str, str]:
        return {"on": timezone.localdate().isoformat()}

    def filters(self) -> dict:
        return {"on": self.cleaned_data["on"], **super().filters()}


SALES_GROUP_BY = {"package": "Package", "month": "Month", "seller": "Sold by"}


class PackageSalesFilterForm(LiabilityFilterForm):
    """The liability report's filters (last month by default), and what to group by."""

    group_by = forms.ChoiceField(
        label="Group by", choices=list(SALES_GROUP_BY.items()), initial="package"
    )
    field_order = ["start", "end", "group_by", "location", "practitioner"]

    def defaults(self) -> dict[str, str]:
        return {**super().defaults(), "group_by": "package"}

    def filters(self) -> dict:
        return {**super().filters(), "group_by": self.cleaned_data["group_by"]}

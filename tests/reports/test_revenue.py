"""Issue 15, report 5, Revenue: the selector with worked numbers, the page, its CSV, the
API (all equal), roles, bad input and a query count that does not grow with the data."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoicing.models import Invoice
from invoicing.selectors import invoices_summary
from invoicing.services import (
    invoice_create,
    invoice_finalize,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from practice.models import PracticeSettings
from reports.forms import RevenueFilterForm, last_twelve_months
from reports.selectors.revenue import REVENUE_GROUPINGS, revenue, revenue_by_month
from tests.api.conftest import api_client
from tests.factories import (
    ClientFactory,
    LocationFactory,
    PaymentMethodFactory,
    PractitionerFactory,
    TaxRateFactory,
)

pytestmark = pytest.mark.django_db

PAGE = "/reports/revenue/"
CSV = "/reports/revenue/csv/"
API = "/api/v1/reports/revenue/"
MARCH_APRIL = {"start": "2026-03-01", "end": "2026-04-30"}
D = Decimal


def _prices_include_tax(value: bool) -> None:
    PracticeSettings.objects.filter(pk=1).update(prices_include_tax=value)


def _invoice(by, *, client, practitioner, location, issued, lines):
    invoice = invoice_create(
        client=client,
        practitioner=practitioner,
        location=location,
        issue_date=issued,
        lines=lines,
        by=by,
    )
    return invoice_finalize(invoice=invoice, by=by)


@pytest.fixture
def book(practice, admin_user, reception):
    """Worked example (GST 10%), March and April 2026:

    A, 10 Mar, Sam at Main Street, prices INCLUDE tax: the Flexi 5 package at 110.00
      (net 100.00, tax 10.00) and a typed line, 2 × 5.50 massage oil (net 10.00, tax
      1.00): net 110.00, tax 11.00, total 121.00. Paid 60.00 on 12 Mar (part payment),
      61.00 on 2 Apr (a payment in a later month than its invoice). A 5.00 payment
      recorded by mistake on 11 Mar is voided.
    B, 20 Mar, Kim at Harbour Rd, prices EXCLUDE tax: a physio follow-up appointment at
      80.00 (net 80.00, tax 8.00, total 88.00). Paid 88.00 on 25 Mar; 20.00 refunded on
      5 Apr.
    C, 15 Mar, 50.00, voided: left out. D, a draft of 70.00: left out.
    """
    gst = TaxRateFactory(name="GST", rate=D("10.00"))
    cash = PaymentMethodFactory()
    kim = PractitionerFactory(name="Kim Osteo")
    harbour = LocationFactory(name="Harbour Rd")
    practice.follow_up.price = D("80.00")
    practice.follow_up.tax_rate = gst
    practice.follow_up.save()
    flexi = practice.sell(practice.flexible, by=admin_user)
    appointment = practice.book(by=reception)

    _prices_include_tax(True)
    a = _invoice(
        admin_user,
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        issued=dt.date(2026, 3, 10),
        lines=[
            {
                "description": "Flexi 5",
                "quantity": 1,
                "unit_price": D("110.00"),
                "tax_rate": gst,
                "client_package": flexi,
            },
            {"description": "Massage oil", "quantity": 2, "unit_price": D("5.50"), "tax_rate": gst},
        ],
    )
    mistake = payment_record(
        invoice=a, amount="5.00", method=cash, date=dt.date(2026, 3, 11), by=admin_user
    )
    payment_void(payment=mistake, reason="Wrong invoice", by=admin_user)
    payment_record(invoice=a, amount="60.00", method=cash, date=dt.date(2026, 3, 12), by=admin_user)
    payment_record(invoice=a, amount="61.00", method=cash, date=dt.date(2026, 4, 2), by=admin_user)

    _prices_include_tax(False)
    b = _invoice(
        admin_user,
        client=practice.client,
        practitioner=kim,
        location=harbour,
        issued=dt.date(2026, 3, 20),
        lines=[
            {
                "description": "Physio follow-up",
                "quantity": 1,
                "unit_price": D("80.00"),
                "tax_rate": gst,
                "appointment": appointment,
            }
        ],
    )
    paid_b = payment_record(
        invoice=b, amount="88.00", method=cash, date=dt.date(2026, 3, 25), by=admin_user
    )
    payment_refund(
        payment=paid_b, amount="20.00", reason="Goodwill", date=dt.date(2026, 4, 5), by=admin_user
    )

    c = _invoice(
        admin_user,
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        issued=dt.date(2026, 3, 15),
        lines=[{"description": "Consult", "quantity": 1, "unit_price": D("50.00")}],
    )
    invoice_void(invoice=c, reason="Duplicate", by=admin_user)
    invoice_create(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        issue_date=dt.date(2026, 3, 16),
        lines=[{"description": "Consult", "quantity": 1, "unit_price": D("70.00")}],
        by=admin_user,
    )
    return {"a": a, "b": b, "kim": kim, "harbour": harbour, "flexi": flexi, "gst": gst}


def figures(row) -> tuple:
    def s(value):
        return None if value is None else str(value)

    return (row.label, s(row.invoiced), s(row.tax), s(row.total), s(row.paid), s(row.refunded))


# ------------------------------------------------------------------ selector, worked numbers


def test_by_month_worked_numbers(book):
    report = revenue(dt.date(2026, 3, 1), dt.date(2026, 4, 30), group_by="month")
    assert [r.key for r in report.rows] == ["2026-03", "2026-04"]
    assert [figures(r) for r in report.rows] == [
        ("Mar 2026", "190.00", "19.00", "209.00", "148.00", "0.00"),
        ("Apr 2026", "0.00", "0.00", "0.00", "61.00", "20.00"),
    ]
    assert figures(report.totals) == ("Total", "190.00", "19.00", "209.00", "209.00", "20.00")
    assert report.currency == PracticeSettings.load().currency
    # Invoiced is what invoicing's own totals say for the invoices issued in the period.
    summary = invoices_summary(
        Invoice.objects.filter(issue_date__range=(dt.date(2026, 3, 1), dt.date(2026, 4, 30)))
    )
    assert (summary.subtotal, summary.tax, summary.total) == (
        report.totals.invoiced,
        report.totals.tax,
        report.totals.total,
    )


def test_months_with_nothing_are_zero_rows_and_part_months_count_their_days(book):
    report = revenue(dt.date(2026, 1, 15), dt.date(2026, 3, 11), group_by="month")
    assert [r.key for r in report.rows] == ["2026-01", "2026-02", "2026-03"]
    assert figures(report.rows[0]) == ("Jan 2026", "0.00", "0.00", "0.00", "0.00", "0.00")
    # 10 Mar's invoice A counts; the voided 5.00 of 11 Mar does not; 12 Mar is outside.
    assert figures(report.rows[2]) == ("Mar 2026", "110.00", "11.00", "121.00", "0.00", "0.00")


def test_by_practitioner_and_location(book):
    by_practitioner = revenue(dt.date(2026, 3, 1), dt.date(2026, 4, 30), group_by="practitioner")
    assert [figures(r) for r in by_practitioner.rows] == [
        ("Kim Osteo", "80.00", "8.00", "88.00", "88.00", "20.00"),
        ("Sam Physio", "110.00", "11.00", "121.00", "121.00", "0.00"),
    ]
    assert by_practitioner.rows[0].key == str(book["kim"].pk)
    by_location = revenue(dt.date(2026, 3, 1), dt.date(2026, 4, 30), group_by="location")
    assert [figures(r) for r in by_location.rows] == [
        ("Harbour Rd", "80.00", "8.00", "88.00", "88.00", "20.00"),
        ("Main Street", "110.00", "11.00", "121.00", "121.00", "0.00"),
    ]
    assert figures(by_location.totals) == figures(by_practitioner.totals)


def test_by_item_shows_invoiced_only(book, practice):
    report = revenue(dt.date(2026, 3, 1), dt.date(2026, 4, 30), group_by="item")
    assert not report.splits_payments
    assert [(r.key, r.kind) for r in report.rows] == [
        (f"package:{practice.flexible.pk}", "Package"),
        (f"service:{practice.follow_up.pk}", "Service"),
        ("other", ""),
    ]
    assert [figures(r) for r in report.rows] == [
        ("Flexi 5", "100.00", "10.00", "110.00", None, None),
        ("Physio follow-up", "80.00", "8.00", "88.00", None, None),
        ("Other lines (typed on the invoice)", "10.00", "1.00", "11.00", None, None),
    ]
    assert figures(report.totals) == ("Total", "190.00", "19.00", "209.00", None, None)


def test_filters_keep_the_invoices_payments_and_refunds_of_one_location_or_practitioner(book):
    start, end = dt.date(2026, 3, 1), dt.date(2026, 4, 30)
    harbour = revenue(start, end, group_by="month", location=book["harbour"])
    assert figures(harbour.totals) == ("Total", "80.00", "8.00", "88.00", "88.00", "20.00")
    kim = revenue(start, end, group_by="item", practitioner=book["kim"].pk)
    assert [r.label for r in kim.rows] == ["Physio follow-up"]
    nobody = revenue(start, end, group_by="practitioner", location=LocationFactory())
    assert nobody.rows == [] and figures(nobody.totals)[1:] == (
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    )


def test_a_voided_invoice_leaves_the_report(book, admin_user):
    start, end = dt.date(2026, 3, 1), dt.date(2026, 3, 31)
    before = revenue(start, end, group_by="month").totals
    b = book["b"]
    payment = b.payments.get()
    payment_refund(payment=payment, amount="68.00", reason="All back", by=admin_user)
    invoice_void(invoice=Invoice.objects.get(pk=b.pk), reason="Wrong client", by=admin_user)
    after = revenue(start, end, group_by="month").totals
    assert before.invoiced - after.invoiced == D("80.00")
    assert before.tax - after.tax == D("8.00")
    # The money did move: its payment still counts, its refunds count when made.
    assert after.paid == before.paid == D("148.00")


def test_revenue_by_month_for_the_dashboard(book):
    months = revenue_by_month(on=dt.date(2026, 4, 17))
    assert len(months) == 12
    assert months[0].month == dt.date(2025, 5, 1) and months[-1].month == dt.date(2026, 4, 1)
    assert months[-2][:3] == (dt.date(2026, 3, 1), D("190.00"), D("148.00"))
    assert months[-1][:3] == (dt.date(2026, 4, 1), D("0.00"), D("61.00"))
    march = revenue(dt.date(2026, 3, 1), dt.date(2026, 3, 31), group_by="month")
    assert months[-2].invoiced_total == march.totals.total > months[-2].invoiced
    assert all(m.invoiced == m.paid == D("0.00") for m in months[:-2])
    with CaptureQueriesContext(connection) as ctx:
        three = revenue_by_month(3, on=dt.date(2026, 4, 1))
    assert len(ctx) <= 3  # invoiced, credited, paid
    # Up to and including `on`: the payment of 2 Apr is after 1 Apr.
    assert [m.month.month for m in three] == [2, 3, 4] and three[-1].paid == D("0.00")
    with time_machine.travel(dt.datetime(2026, 4, 30, 3, tzinfo=dt.UTC), tick=False):
        assert revenue_by_month()[-1].paid == D("61.00")
    # 30 Apr 15:00 UTC is already 1 May in Sydney (the practice's time zone): May is the
    # current month, April the one before.
    with time_machine.travel(dt.datetime(2026, 4, 30, 15, tzinfo=dt.UTC), tick=False):
        months = revenue_by_month(2)
    assert [m.month for m in months] == [dt.date(2026, 4, 1), dt.date(2026, 5, 1)]
    assert months[0].paid == D("61.00")


def test_selector_refuses_what_the_forms_refuse():
    with pytest.raises(ValueError):
        revenue(dt.date(2026, 3, 1), dt.date(2026, 3, 31), group_by="week")
    with pytest.raises(ValueError):
        revenue(dt.date(2026, 3, 31), dt.date(2026, 3, 1))
    with pytest.raises(ValueError):
        revenue(dt.date(2000, 1, 1), dt.date(2026, 3, 1), group_by="month")
    # By practitioner a long period is fine.
    assert revenue(dt.date(2000, 1, 1), dt.date(2026, 3, 1), group_by="practitioner").rows == []


def test_the_form_offers_the_selectors_groupings():
    form = RevenueFilterForm({})
    assert [key for key, _ in form.fields["group_by"].choices] == list(REVENUE_GROUPINGS)
    assert [label for _, label in form.fields["group_by"].choices] == list(
        REVENUE_GROUPINGS.values()
    )


# ------------------------------------------------------------------ page, CSV, API


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def page_cells(html: str, key: str) -> str:
    start = html.index(f'data-row="{key}"')
    return html[start : html.index("</tr>", start)]


def money(value: str) -> str:
    return f"${D(value):,.2f}"


def test_page_defaults_to_the_last_twelve_full_months(client, accountant):
    client.force_login(accountant)
    with time_machine.travel(dt.datetime(2026, 3, 15, 1, tzinfo=dt.UTC), tick=False):
        assert last_twelve_months() == (dt.date(2025, 3, 1), dt.date(2026, 2, 28))
        response = client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="2025-03-01"' in html and 'value="2026-02-28"' in html
    assert html.count('data-row="20') == 12
    assert "Mar 2025" in html and "Feb 2026" in html


@pytest.mark.parametrize("group_by", list(REVENUE_GROUPINGS))
def test_page_equals_csv_equals_api(client, admin_user, book, group_by):
    params = {**MARCH_APRIL, "group_by": group_by}
    body = api_client(admin_user).get(API, params).json()
    client.force_login(admin_user)
    page = client.get(PAGE, params)
    assert page.status_code == 200
    html = page.content.decode()
    rows = csv_rows(client.get(CSV, params))
    assert rows[0] == ["Revenue", "2026-03-01", "2026-04-30"]
    assert rows[1] == ["Group by", REVENUE_GROUPINGS[group_by]]
    by_item = group_by == "item"
    header, *lines = rows[4:]
    if by_item:
        assert lines[-1] == ["Payments are not split by item."]
        lines = lines[:-1]
        assert "Paid" not in header and "Payments are not split by item" in html
    else:
        assert header[-2:] == ["Paid", "Refunded"]
        assert "Payments are not split by item" not in html
    api_rows = [*body["rows"], {"key": "total", "label": "Total", **body["totals"]}]
    assert len(lines) == len(api_rows)
    fields = ["invoiced", "tax", "total"] + ([] if by_item else ["paid", "refunded"])
    for line, row in zip(lines, api_rows, strict=True):
        amounts = line[2:] if by_item else line[1:]
        assert line[0] == row["label"]
        assert amounts == [row[f] for f in fields]
        if by_item:
            assert row["paid"] is None and row["refunded"] is None
        cells = page_cells(html, row["key"])
        assert row["label"] in cells
        for f in fields:
            assert money(row[f]) in cells, (f, cells)


def test_api_shape(accountant, book):
    response = api_client(accountant).get(API, MARCH_APRIL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"start", "end", "currency", "group_by", "rows", "totals"}
    assert body["group_by"] == "month"
    assert list(body["rows"][0]) == [
        "key",
        "label",
        "invoiced",
        "tax",
        "total",
        "paid",
        "refunded",
    ]
    assert body["rows"][0] == {
        "key": "2026-03",
        "label": "Mar 2026",
        "invoiced": "190.00",
        "tax": "19.00",
        "total": "209.00",
        "paid": "148.00",
        "refunded": "0.00",
    }
    assert body["totals"] == {
        "invoiced": "190.00",
        "tax": "19.00",
        "total": "209.00",
        "paid": "209.00",
        "refunded": "20.00",
    }


def test_csv_quotes_names_that_look_like_formulas(client, accountant, book):
    book["kim"].name = "=cmd()"
    book["kim"].save()
    client.force_login(accountant)
    rows = csv_rows(client.get(CSV, {**MARCH_APRIL, "group_by": "practitioner"}))
    assert ["'=cmd()", "80.00", "8.00", "88.00", "88.00", "20.00"] in rows


def test_empty_state(client, accountant, practice):
    client.force_login(accountant)
    html = client.get(PAGE, {**MARCH_APRIL, "group_by": "location"}).content.decode()
    assert "Nothing was invoiced, paid or refunded in this period." in html


@pytest.mark.parametrize("url", [PAGE, CSV])
def test_reception_and_practitioner_get_403(client, reception, practitioner_user, url):
    for user in (reception, practitioner_user):
        client.force_login(user)
        assert client.get(url).status_code == 403


def test_api_refuses_reception_practitioner_and_anonymous(reception, practitioner_user):
    assert api_client(reception).get(API, MARCH_APRIL).status_code == 403
    assert api_client(practitioner_user).get(API, MARCH_APRIL).status_code == 403
    assert api_client().get(API, MARCH_APRIL).status_code == 401
    assert api_client(reception).post(API, {}, format="json").status_code == 403


def test_admin_and_accountant_see_it(client, admin_user, accountant):
    for user in (admin_user, accountant):
        client.force_login(user)
        assert client.get(PAGE).status_code == 200
        assert client.get(CSV).status_code == 200
        assert api_client(user).get(API, MARCH_APRIL).status_code == 200
    assert api_client(admin_user).post(API, {}, format="json").status_code == 405


BAD = [
    ({"start": "2026-03-10", "end": "2026-03-01"}, "end", "The end date is before the start"),
    ({"start": "1800-01-01", "end": "2026-03-01"}, "start", "Enter a date between 1900"),
    ({"start": "2026-03-01", "end": "2999-01-01"}, "end", "Enter a date between 1900"),
    ({"start": "not a date", "end": "2026-03-01"}, "start", "Enter a valid date"),
    ({"start": "2000-01-01", "end": "2026-03-01"}, "end", "at most 120 months"),
    ({"start": "2026-03-01", "end": "2026-03-02", "group_by": "week"}, "group_by", ""),
    ({"start": "2026-03-01", "end": "2026-03-02", "location": "999999"}, "location", ""),
    ({"start": "2026-03-01", "end": "2026-03-02", "practitioner": "x"}, "practitioner", ""),
]


@pytest.mark.parametrize(("params", "field", "message"), BAD)
def test_bad_filters_are_shown_beside_the_field(client, accountant, params, field, message):
    client.force_login(accountant)
    for url in (PAGE, CSV):
        response = client.get(url, params)
        assert response.status_code == 400
        html = response.content.decode()
        assert f'id="id_{field}_error"' in html
        assert message in html
        assert "Download CSV" not in html


@pytest.mark.parametrize(("params", "field", "message"), BAD)
def test_api_bad_input_is_400_by_field(accountant, params, field, message):
    response = api_client(accountant).get(API, params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field] and body[field][0]
    if message != "Enter a valid date":  # DRF words that one its own way
        assert message in body[field][0]


def test_api_needs_start_and_end(accountant):
    for params, field in (({"end": "2026-03-31"}, "start"), ({"start": "2026-03-01"}, "end")):
        response = api_client(accountant).get(API, params)
        assert response.status_code == 400 and list(response.json()) == [field]


def test_a_long_period_is_fine_when_not_grouped_by_month(client, accountant):
    client.force_login(accountant)
    params = {"start": "2000-01-01", "end": "2026-03-01", "group_by": "location"}
    assert client.get(PAGE, params).status_code == 200
    assert api_client(accountant).get(API, params).status_code == 200


def test_in_the_openapi_schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    text = response.content.decode()
    assert "/api/v1/reports/revenue/" in text and "Payments are not split by item" in text


# ------------------------------------------------------------------ queries


def _more_data(practice, admin_user, n: int) -> None:
    cash = PaymentMethodFactory()
    for i in range(n):
        practitioner = PractitionerFactory()
        location = LocationFactory()
        invoice = _invoice(
            admin_user,
            client=ClientFactory(),
            practitioner=practitioner,
            location=location,
            issued=dt.date(2026, 3, 1 + i),
            lines=[
                {"description": f"Item {i}", "quantity": 1, "unit_price": D("30.00")},
                {"description": "Extra", "quantity": 1, "unit_price": D("5.00")},
            ],
        )
        paid = payment_record(
            invoice=invoice, amount="35.00", method=cash, date=dt.date(2026, 4, 1), by=admin_user
        )
        payment_refund(payment=paid, amount="1.00", reason="Rounding", by=admin_user)


@pytest.mark.parametrize("group_by", list(REVENUE_GROUPINGS))
def test_query_count_does_not_grow_with_the_data(
    client, accountant, practice, admin_user, group_by
):
    client.force_login(accountant)
    api = api_client(accountant)
    params = {**MARCH_APRIL, "group_by": group_by}

    def count() -> tuple[int, int, int, int]:
        with CaptureQueriesContext(connection) as ctx:
            revenue(dt.date(2026, 3, 1), dt.date(2026, 4, 30), group_by=group_by)
        selector = len(ctx)
        counts = [selector]
        for call in (lambda: client.get(PAGE, params), lambda: client.get(CSV, params)):
            with CaptureQueriesContext(connection) as ctx:
                assert call().status_code == 200
            counts.append(len(ctx))
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(API, params).status_code == 200
        counts.append(len(ctx))
        return tuple(counts)

    _more_data(practice, admin_user, 1)
    count()
    small = count()
    _more_data(practice, admin_user, 12)
    count()  # its new locations and practitioners read once, then kept (practice.versions)
    assert count() == small
    # Settings, then by item one GROUP BY query for each of invoiced and credited; else
    # one over the kept revenue figures (reports.models.RevenueDay).
    assert small[0] == (3 if group_by == "item" else 2)


# ------------------------------------------------------------------ credit notes (issue 13)


def test_credit_notes_are_taken_off_invoiced_in_their_month(book, admin_user):
    from invoicing.services import credit_note_issue

    # B (88.00 incl. 8.00 tax) has 20.00 owing after its refund: credited on 6 Apr, with
    # the tax in proportion to the invoice's (20.00 x 8/88 = 1.82).
    credit_note_issue(
        invoice=book["b"], amount="20.00", reason="Waived", date=dt.date(2026, 4, 6), by=admin_user
    )
    report = revenue(dt.date(2026, 3, 1), dt.date(2026, 4, 30), group_by="month")
    assert [figures(r) for r in report.rows] == [
        ("Mar 2026", "190.00", "19.00", "209.00", "148.00", "0.00"),
        ("Apr 2026", "-18.18", "-1.82", "-20.00", "61.00", "20.00"),
    ]
    by_practitioner = revenue(dt.date(2026, 3, 1), dt.date(2026, 4, 30), group_by="practitioner")
    assert figures(by_practitioner.rows[0]) == (
        "Kim Osteo",
        "61.82",
        "6.18",
        "68.00",
        "88.00",
        "20.00",
    )
    # Billed less credited is what the invoices keep: their payments less refunds.
    assert by_practitioner.rows[0].total == D("88.00") - D("20.00")
    months = revenue_by_month(2, on=dt.date(2026, 4, 30))
    assert months[-1].invoiced_total == report.rows[1].total

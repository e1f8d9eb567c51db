"""Issue 15, report 4: the Aged receivables page, its CSV, its API and who may see them."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoicing.services import payment_record
from reports.selectors.receivables import aged_receivables
from tests.api.conftest import api_client
from tests.factories import ClientFactory, LocationFactory, PaymentMethodFactory
from tests.reports.test_receivables_and_expiring import ON, invoice
from tests.reports.test_reports_pages import csv_rows

pytestmark = pytest.mark.django_db

PAGE = "/reports/aged-receivables/"
CSV = "/reports/aged-receivables/csv/"
API = "/api/v1/reports/aged-receivables/"
API_INVOICES = "/api/v1/reports/aged-receivables/invoices/"
PARAMS = {"on": ON.isoformat()}
BUCKETS = ("current", "d1_30", "d31_60", "d61_90", "d90_plus")
LABELS = ("Current", "1–30 days", "31–60 days", "61–90 days", "Over 90 days", "Total")


@pytest.fixture
def owed(practice, admin_user):
    """Five invoices, one per bucket (days overdue -5, 10, 45, 75, 120), the 10-day one
    part paid; a sixth fully paid (left out)."""
    made = {}
    for days, amount, first in [
        (-5, "10.00", "Ava"),
        (10, "100.00", "Ben"),
        (45, "45.00", "Cy"),
        (75, "75.00", "Di"),
        (120, "120.00", "Ed"),
    ]:
        client = ClientFactory(first_name=first, last_name="Owes")
        made[days] = invoice(practice, admin_user, amount, days, client=client)
    cash = PaymentMethodFactory()
    payment_record(invoice=made[10], amount="40.00", method=cash, by=admin_user)
    paid = invoice(practice, admin_user, "30.00", 20)
    payment_record(invoice=paid, amount="30.00", method=cash, by=admin_user)
    return made


def summary_cells(html: str) -> dict[str, str]:
    cells = {}
    for key in (*BUCKETS, "total"):
        start = html.index(f'data-bucket="{key}"')
        cells[key] = html[start : html.index("</div>", start)]
    return cells


def page_rows(html: str) -> list[str]:
    rows, start = [], html.find("<tr data-invoice=")
    while start != -1:
        rows.append(html[start : html.index("</tr>", start)])
        start = html.find("<tr data-invoice=", start + 1)
    return rows


def test_page_shows_buckets_and_invoices_most_overdue_first(client, accountant, owed):
    client.force_login(accountant)
    response = client.get(PAGE, PARAMS)
    assert response.status_code == 200
    html = response.content.decode()
    cells = summary_cells(html)
    assert "$10.00" in cells["current"] and "1 invoice<" in cells["current"]
    assert "$60.00" in cells["d1_30"]
    assert "$45.00" in cells["d31_60"] and "$75.00" in cells["d61_90"]
    assert "$120.00" in cells["d90_plus"]
    assert "$310.00" in cells["total"] and "5 invoices" in cells["total"]
    rows = page_rows(html)
    assert [r.split('data-invoice="')[1].split('"')[0] for r in rows] == [
        str(owed[d].pk) for d in (120, 75, 45, 10, -5)
    ]
    first = rows[0]
    assert f'href="/clients/{owed[120].client_id}/"' in first and "Ed Owes" in first
    assert f'href="/billing/{owed[120].pk}/"' in first and owed[120].number in first
    assert ">120<" in first and "Over 90 days" in first and "$120.00" in first
    # Not yet due: 0 days overdue, Current.
    assert ">0<" in rows[-1] and "Current" in rows[-1]
    assert "Download CSV (all 5 invoices)" in html


def test_as_of_defaults_to_today(client, accountant):
    client.force_login(accountant)
    with time_machine.travel(dt.datetime(2026, 3, 15, 1, tzinfo=dt.UTC), tick=False):
        response = client.get(PAGE)
    assert response.status_code == 200
    assert 'value="2026-03-15"' in response.content.decode()


def test_empty_state(client, accountant):
    client.force_login(accountant)
    html = client.get(PAGE, PARAMS).content.decode()
    assert "No open invoices with a balance" in html
    assert "Download CSV (all 0 invoices)" in html


def test_pages_of_25_and_the_csv_has_every_invoice(client, accountant, practice, admin_user):
    for days in range(30):
        invoice(practice, admin_user, "1.00", days + 1, client=ClientFactory())
    client.force_login(accountant)
    first = page_rows(client.get(PAGE, PARAMS).content.decode())
    second = page_rows(client.get(PAGE, {**PARAMS, "page": 2}).content.decode())
    assert (len(first), len(second)) == (25, 5)
    assert ">30<" in first[0] and ">1<" in second[-1]
    rows = csv_rows(client.get(CSV, PARAMS))
    invoices = rows[
        rows.index(["Client", "Invoice", "Due date", "Days overdue", "Age", "Balance (AUD)"]) + 1 :
    ]
    assert len(invoices) == 30


def test_csv_equals_the_page(client, accountant, owed):
    client.force_login(accountant)
    html = client.get(PAGE, PARAMS).content.decode()
    response = client.get(CSV, PARAMS)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "aged-receivables-2026-03-31.csv" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[:4] == [
        ["Aged receivables", "As of", "2026-03-31"],
        ["Location", "All locations"],
        ["Practitioner", "All practitioners"],
        [],
    ]
    assert rows[4] == ["Age", "Invoices", "Balance (AUD)"]
    totals = rows[5:11]
    assert totals == [
        ["Current", "1", "10.00"],
        ["1–30 days", "1", "60.00"],
        ["31–60 days", "1", "45.00"],
        ["61–90 days", "1", "75.00"],
        ["Over 90 days", "1", "120.00"],
        ["Total", "5", "310.00"],
    ]
    cells = summary_cells(html)
    for key, (label, count, balance) in zip((*BUCKETS, "total"), totals, strict=True):
        assert label in cells[key] and f"${Decimal(balance):,.2f}" in cells[key]
        assert f">{count} invoice" in cells[key]
    assert rows[11] == []
    assert rows[12] == ["Client", "Invoice", "Due date", "Days overdue", "Age", "Balance (AUD)"]
    body = rows[13:]
    for line, cells_ in zip(body, page_rows(html), strict=True):
        name, number, due, days, age, balance = line
        assert name in cells_ and number in cells_ and age in cells_
        assert f">{days}<" in cells_ and f"${Decimal(balance):,.2f}" in cells_
        assert dt.date.fromisoformat(due).strftime("%-d %b %Y") in cells_
    assert body[0] == ["Ed Owes", owed[120].number, "2025-12-01", "120", "Over 90 days", "120.00"]


def test_csv_link_keeps_the_filters_but_not_the_page(client, accountant, practice):
    client.force_login(accountant)
    params = {**PARAMS, "location": str(practice.location.pk), "page": "2"}
    html = client.get(PAGE, params).content.decode()
    assert f'{CSV}?on=2026-03-31&amp;location={practice.location.pk}"' in html


def test_filters_by_location_and_practitioner(client, accountant, owed, practice):
    client.force_login(accountant)
    elsewhere = LocationFactory(name="Elsewhere")
    html = client.get(PAGE, {**PARAMS, "location": elsewhere.pk}).content.decode()
    assert "No open invoices with a balance" in html and "for these filters" in html
    here = {**PARAMS, "location": practice.location.pk, "practitioner": practice.practitioner.pk}
    assert len(page_rows(client.get(PAGE, here).content.decode())) == 5
    rows = csv_rows(client.get(CSV, {**PARAMS, "location": elsewhere.pk}))
    assert rows[1] == ["Location", "Elsewhere"] and rows[10] == ["Total", "0", "0.00"]


def test_csv_quotes_a_client_name_that_looks_like_a_formula(
    client, accountant, practice, admin_user
):
    invoice(practice, admin_user, "5.00", 3, client=ClientFactory(first_name="=cmd", last_name="x"))
    client.force_login(accountant)
    rows = csv_rows(client.get(CSV, PARAMS))
    assert rows[-1][0] == "'=cmd x"


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"on": "1800-01-01"}, "on", "Enter a date between 1900"),
        ({"on": "soon"}, "on", "Enter a valid date"),
        ({"on": "2026-03-31", "location": "999999"}, "location", ""),
        ({"on": "2026-03-31", "practitioner": "x"}, "practitioner", ""),
    ],
)
def test_bad_filters_are_shown_beside_the_field(client, accountant, params, field, message):
    client.force_login(accountant)
    for url in (PAGE, CSV):
        response = client.get(url, params)
        assert response.status_code == 400
        html = response.content.decode()
        assert f'id="id_{field}_error"' in html
        assert message in html
        assert "data-bucket" not in html
    response = api_client(accountant).get(API, params)
    assert response.status_code == 400 and list(response.json()) == [field]
    response = api_client(accountant).get(API_INVOICES, params)
    assert response.status_code == 400 and list(response.json()) == [field]


def test_a_junk_page_number_gives_the_nearest_page(client, accountant, owed):
    client.force_login(accountant)
    for page in ("0", "99", "x"):
        assert client.get(PAGE, {**PARAMS, "page": page}).status_code == 200


@pytest.mark.parametrize("url", [PAGE, CSV])
def test_reception_and_practitioner_get_403(client, reception, practitioner_user, url):
    for user in (reception, practitioner_user):
        client.force_login(user)
        assert client.get(url, PARAMS).status_code == 403


def test_admin_sees_the_page(client, admin_user, owed):
    client.force_login(admin_user)
    assert client.get(PAGE, PARAMS).status_code == 200
    assert client.get(CSV, PARAMS).status_code == 200


# ------------------------------------------------------------------------------ API


def test_api_summary_equals_the_page(client, accountant, owed):
    response = api_client(accountant).get(API, PARAMS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"on", "currency", "buckets", "total"}
    assert body["on"] == "2026-03-31" and body["currency"] == "AUD"
    assert body["buckets"] == {
        "current": {"count": 1, "balance": "10.00"},
        "d1_30": {"count": 1, "balance": "60.00"},
        "d31_60": {"count": 1, "balance": "45.00"},
        "d61_90": {"count": 1, "balance": "75.00"},
        "d90_plus": {"count": 1, "balance": "120.00"},
    }
    assert body["total"] == {"count": 5, "balance": "310.00"}
    client.force_login(accountant)
    rows = csv_rows(client.get(CSV, PARAMS))[5:11]
    api = [body["buckets"][k] for k in BUCKETS] + [body["total"]]
    assert [[str(b["count"]), b["balance"]] for b in api] == [r[1:] for r in rows]


def test_api_invoices_equal_the_csv_rows(client, accountant, owed):
    body = api_client(accountant).get(API_INVOICES, {**PARAMS, "page_size": 2}).json()
    assert body["count"] == 5 and body["next"] and body["previous"] is None
    assert body["results"][0] == {
        "id": owed[120].pk,
        "number": owed[120].number,
        "client": owed[120].client_id,
        "client_name": "Ed Owes",
        "due_date": "2025-12-01",
        "days_overdue": 120,
        "bucket": "d90_plus",
        "balance": "120.00",
    }
    every = api_client(accountant).get(API_INVOICES, PARAMS).json()["results"]
    client.force_login(accountant)
    rows = csv_rows(client.get(CSV, PARAMS))[13:]
    from reports.selectors.receivables import AGE_BUCKETS

    assert [
        [
            r["client_name"],
            r["number"],
            r["due_date"],
            str(r["days_overdue"]),
            AGE_BUCKETS[r["bucket"]],
            r["balance"],
        ]
        for r in every
    ] == rows
    assert every[-1]["days_overdue"] == 0 and every[-1]["bucket"] == "current"


def test_api_defaults_to_today(accountant):
    with time_machine.travel(dt.datetime(2026, 3, 15, 1, tzinfo=dt.UTC), tick=False):
        body = api_client(accountant).get(API).json()
    assert body["on"] == "2026-03-15" and body["total"] == {"count": 0, "balance": "0.00"}


def test_api_refuses_reception_practitioner_and_anonymous(reception, practitioner_user):
    for url in (API, API_INVOICES):
        assert api_client(reception).get(url, PARAMS).status_code == 403
        assert api_client(practitioner_user).get(url, PARAMS).status_code == 403
        assert api_client().get(url, PARAMS).status_code == 401


def test_api_is_read_only(admin_user):
    for url in (API, API_INVOICES):
        assert api_client(admin_user).post(url, {}, format="json").status_code == 405


def test_api_bad_page_size_is_400(accountant):
    response = api_client(accountant).get(API_INVOICES, {**PARAMS, "page_size": "500"})
    assert response.status_code == 400 and list(response.json()) == ["page_size"]


def test_both_api_paths_in_the_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    summary = schema["paths"][API]["get"]
    invoices = schema["paths"][API_INVOICES]["get"]
    assert {"on", "location", "practitioner"} <= {p["name"] for p in summary["parameters"]}
    assert {"on", "page", "page_size"} <= {p["name"] for p in invoices["parameters"]}
    assert "Aged receivables" in summary["summary"] and "d90_plus" in summary["description"]
    ok = invoices["responses"]["200"]["content"]["application/json"]["schema"]
    assert "Paginated" in ok["$ref"]


# ---------------------------------------------------------------------- query count


def test_query_counts_do_not_grow_with_the_data(client, accountant, practice, admin_user):
    client.force_login(accountant)
    api = api_client(accountant)

    def counts() -> tuple[int, ...]:
        found = []
        for get, url in (
            (client.get, PAGE),
            (client.get, CSV),
            (api.get, API),
            (api.get, API_INVOICES),
        ):
            with CaptureQueriesContext(connection) as ctx:
                assert get(url, PARAMS).status_code == 200
            found.append(len(ctx))
        return tuple(found)

    invoice(practice, admin_user, "1.00", 5)
    counts()
    few = counts()
    for days in range(40):
        invoice(practice, admin_user, "2.00", days * 3, client=ClientFactory())
    assert counts() == few
    assert aged_receivables(ON).total.count == 41

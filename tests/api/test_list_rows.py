"""The client-packages and invoices lists write their rows directly from plain rows
(packages.api.client_package_list_rows, invoicing.api.invoice_list_rows), not through
their output serializers: each row must be, byte for byte, what ClientPackageOut and
InvoiceOut give for the same package or invoice (the detail's path), on every kind of
row, with the filters and orderings the lists accept, and in the order the FilterSet
gives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from invoicing.api import InvoiceFilter, InvoiceOut, invoices_for_output
from invoicing.models import Invoice
from invoicing.services import (
    credit_note_issue,
    invoice_create,
    invoice_finalize,
    invoice_for_client_package,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from packages.api import ClientPackageFilter, ClientPackageOut, client_packages_for_output
from packages.models import ClientPackage
from packages.selectors import client_packages_with_status
from packages.services import client_package_adjust, client_package_cancel
from tests.factories import ClientFactory, InvoiceFactory, PackageFactory, TaxRateFactory
from tests.invoicing.helpers import cash, sold_and_paid

V1 = "/api/v1"


def _json(value) -> bytes:
    return JSONRenderer().render(value)


@pytest.fixture
def varied(practice, admin_user):
    """Packages in every status and both kinds (with uses, a tax rate, invoices void and
    current, paid, part paid and unpaid), and invoices in every status with discounts,
    tax, payments (void ones too), refunds and credit notes."""
    tax = TaxRateFactory(rate=Decimal("10.00"))
    other = ClientFactory(first_name="Al", last_name="Other")
    taxed = PackageFactory(
        name="Taxed Seven",
        credits=7,
        price=Decimal("123.45"),
        tax_rate=tax,
        services=[practice.follow_up, practice.initial],
    )
    # Fixed, used once; flexible, used twice.
    fixed = practice.sell(practice.fixed)
    practice.book(by=None, days=3, hour=8, client_package=fixed, service=practice.initial)
    flexi = practice.sell(practice.flexible, client=other)
    practice.book(by=None, days=4, hour=8, client=other, client_package=flexi)
    practice.book(
        by=None, days=5, hour=8, client=other, client_package=flexi, service=practice.initial
    )
    # Canceled; completed (every credit used); expired (started long ago).
    canceled = practice.sell(taxed)
    client_package_cancel(client_package=canceled, reason="Moved away", by=None)
    completed = practice.sell(taxed, client=other)
    client_package_adjust(client_package=completed, quantity=-7, reason="Used up", by=admin_user)
    practice.sell(practice.fixed, start_date=timezone.localdate() - dt.timedelta(days=200))
    # Invoiced: void then current and part paid; paid in full with a refund and a credit.
    invoiced = practice.sell(taxed)
    first = invoice_finalize(
        invoice=invoice_for_client_package(
            client_package=invoiced,
            practitioner=practice.practitioner,
            location=practice.location,
            by=None,
        ),
        by=None,
    )
    invoice_void(invoice=first, reason="Wrong price", by=admin_user)
    current = invoice_finalize(
        invoice=invoice_for_client_package(
            client_package=invoiced,
            practitioner=practice.practitioner,
            location=practice.location,
            by=None,
        ),
        by=None,
    )
    payment_record(invoice=current, amount=Decimal("20.05"), method=cash(), by=None)
    _, paid = sold_and_paid(practice, by=admin_user, paid="110.00")
    sold_and_paid(practice, by=admin_user, used=0, paid="110.00")  # paid, kept
    payment = paid.payments.get()
    payment_refund(payment=payment, amount=Decimal("10.00"), reason="Sorry", by=admin_user)
    # Invoices of their own: a draft without lines, one with a discount and tax, a
    # voided payment, a credit note, overdue.
    invoice_create(
        client=other, practitioner=practice.practitioner, location=practice.location, by=None
    )
    discounted = invoice_finalize(
        invoice=invoice_create(
            client=other,
            practitioner=practice.practitioner,
            location=practice.location,
            notes="Two lines",
            lines=[
                {
                    "description": "Massage",
                    "quantity": Decimal("1.50"),
                    "unit_price": Decimal("80.00"),
                    "discount_percent": Decimal("12.50"),
                    "tax_rate": tax,
                },
                {"description": "Towel", "quantity": 2, "unit_price": Decimal("3.33")},
            ],
            by=None,
        ),
        by=None,
    )
    wrong = payment_record(invoice=discounted, amount=Decimal("5.00"), method=cash(), by=None)
    payment_void(payment=wrong, reason="Entered twice", by=admin_user)
    payment_record(invoice=discounted, amount=Decimal("15.00"), method=cash(), by=None)
    credit_note_issue(invoice=discounted, amount=Decimal("7.77"), reason="Goodwill", by=admin_user)
    overdue = invoice_finalize(
        invoice=invoice_create(
            client=other,
            practitioner=practice.practitioner,
            location=practice.location,
            lines=[{"description": "Late", "quantity": 1, "unit_price": Decimal("42")}],
            by=None,
        ),
        by=None,
    )
    Invoice.objects.filter(pk=overdue.pk).update(
        issue_date=timezone.localdate() - dt.timedelta(days=20),
        due_date=timezone.localdate() - dt.timedelta(days=3),
    )
    return {"client": practice.client, "other": other, "taxed": taxed}


PACKAGE_QUERIES = [
    {},
    {"page_size": 3},
    {"page_size": 3, "page": 2},
    {"status": "active"},
    {"status": "canceled"},
    {"status": "completed"},
    {"status": "expired"},
    {"kind": "flexible"},
    {"ordering": "expires_on"},
    {"ordering": "-updated_at,start_date", "page_size": 4, "page": 2},
    {"start_after": "2000-01-01", "ordering": "start_date"},
]

INVOICE_QUERIES = [
    {},
    {"page_size": 2, "page": 3},
    {"status": "draft"},
    {"status": "open"},
    {"status": "paid"},
    {"status": "void"},
    {"ordering": "number"},
    {"ordering": "-due_date,issue_date", "page_size": 3, "page": 2},
    {"issued_after": "2000-01-01", "ordering": "-number"},
    {"updated_since": "2000-01-01T00:00:00Z"},
]


def _compare_pages(as_admin, varied, params, *, path, filterset, ordered, serialized):
    """For the list `path` asked with `params` (alone, then for each client): the page's
    ids are the FilterSet's, in its order, and each row is the serializer's, byte for
    byte (`serialized(ids)` gives the serializer's rows)."""
    size = int(params.get("page_size", 50))
    start = (int(params.get("page", 1)) - 1) * size
    for client in (None, varied["client"], varied["other"]):
        query = {**params, **({"client": client.pk} if client else {})}
        response = as_admin.get(f"{V1}/{path}/", query)
        page = [row.pk for row in filterset(query, queryset=ordered).qs[start : start + size]]
        if not page and "page" in query:
            assert response.status_code == 404
            continue
        assert response.status_code == 200, response.content
        rows = response.json()["results"]
        ids = [row["id"] for row in rows]
        assert ids == page
        assert _json(rows) == _json(serialized(ids))


def _packages_out(ids: list[int]) -> list:
    by_id = {p.pk: p for p in client_packages_for_output(ClientPackage.objects.filter(pk__in=ids))}
    return [ClientPackageOut(by_id[pk]).data for pk in ids]


def _invoices_out(ids: list[int]) -> list:
    by_id = {i.pk: i for i in invoices_for_output(Invoice.objects.filter(pk__in=ids))}
    return [InvoiceOut(by_id[pk]).data for pk in ids]


@pytest.mark.parametrize("params", PACKAGE_QUERIES)
def test_client_package_rows_are_the_serializers(as_admin, varied, params):
    ordered = client_packages_with_status(ClientPackage.objects.order_by("-start_date", "-id"))
    _compare_pages(
        as_admin,
        varied,
        params,
        path="client-packages",
        filterset=ClientPackageFilter,
        ordered=ordered,
        serialized=_packages_out,
    )
    assert ClientPackage.objects.count() >= 7


@pytest.mark.parametrize("params", INVOICE_QUERIES)
def test_invoice_rows_are_the_serializers(as_admin, varied, params):
    _compare_pages(
        as_admin,
        varied,
        params,
        path="invoices",
        filterset=InvoiceFilter,
        ordered=Invoice.objects.order_by("-created_at", "-id"),
        serialized=_invoices_out,
    )
    assert Invoice.objects.count() >= 6


def test_the_varied_rows_have_every_kind(as_admin, varied):
    """The fixture gives the comparisons above something to compare."""
    packages = as_admin.get(f"{V1}/client-packages/").json()["results"]
    assert {row["status"] for row in packages} == {"active", "canceled", "completed", "expired"}
    assert {row["payment_status"] for row in packages} >= {"paid", "part_paid", "not_invoiced"}
    assert any(len(row["invoices"]) == 2 for row in packages)
    assert any(row["appointments"] for row in packages)
    invoices = as_admin.get(f"{V1}/invoices/").json()["results"]
    assert {row["display_status"] for row in invoices} >= {"Draft", "Overdue", "Void"}
    assert any(row["credit_notes"] for row in invoices)
    assert any(p["refunds"] for row in invoices for p in row["payments"])
    assert any(p["status"] == "void" for row in invoices for p in row["payments"])


def _payment_reads(queries) -> int:
    return sum("invoicing_payment" in q["sql"] for q in queries)


def test_a_page_of_packages_never_invoiced_reads_no_payments(as_admin, practice):
    """The page reads each package's invoices with its row: a package with none is
    "not_invoiced" without a look-up, and a page of only such packages makes none."""
    never = [practice.sell(practice.flexible) for _ in range(2)]
    with CaptureQueriesContext(connection) as queries:
        rows = as_admin.get(f"{V1}/client-packages/").json()["results"]
    assert {row["id"] for row in rows} == {p.pk for p in never}
    assert {row["payment_status"] for row in rows} == {"not_invoiced"}
    assert _payment_reads(queries.captured_queries) == 0
    # Once one of them is invoiced, the page looks its payment up (and only then).
    invoice_for_client_package(
        client_package=never[0],
        practitioner=practice.practitioner,
        location=practice.location,
        by=None,
    )
    with CaptureQueriesContext(connection) as queries:
        rows = as_admin.get(f"{V1}/client-packages/").json()["results"]
    assert _payment_reads(queries.captured_queries) == 1
    assert _json(rows) == _json(_packages_out([row["id"] for row in rows]))
    assert {row["id"]: row["payment_status"] for row in rows}[never[0].pk] == "unpaid"


def _first_pages(practice, list_path: str) -> list[int]:
    """Five rows of `list_path`'s list, newest first."""
    if list_path == "client-packages":
        return [practice.sell(practice.flexible).pk for _ in range(5)][::-1]
    return [InvoiceFactory(client=ClientFactory()).pk for _ in range(5)][::-1]


@pytest.mark.parametrize(
    ("list_path", "counter"),
    [
        ("client-packages", "packages_clientpackagecount"),
        ("invoices", "invoicing_invoicecount"),
    ],
)
def test_the_unfiltered_first_page_reads_its_rows_and_the_count_in_one_statement(
    as_admin, practice, list_path, counter
):
    newest_first = _first_pages(practice, list_path)
    with CaptureQueriesContext(connection) as queries:
        body = as_admin.get(f"{V1}/{list_path}/?page_size=2").json()
    assert body["count"] == 5 and body["next"] and body["previous"] is None
    assert [row["id"] for row in body["results"]] == newest_first[:2]
    (read,) = [q["sql"] for q in queries.captured_queries if counter in q["sql"]]
    assert "LIMIT 2" in read  # the page's own statement
    # Another page counts apart, with the same answer.
    body = as_admin.get(f"{V1}/{list_path}/?page_size=2&page=3").json()
    assert body["count"] == 5 and [row["id"] for row in body["results"]] == newest_first[4:]
    assert body["next"] is None


@pytest.mark.parametrize("list_path", ["client-packages", "invoices"])
def test_an_empty_list_counts_nothing(as_admin, db, list_path):
    body = as_admin.get(f"{V1}/{list_path}/").json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}

"""Class credits in the reports (issue 12): each attendee linked to their pass redeems one
credit of it, valued and counted in the package liability like any appointment; the sale
of the pass is a sale like any other."""

from decimal import Decimal

import pytest

from calendar_app.services import appointment_cancel
from invoicing.services import invoice_finalize, invoice_for_client_package
from reports.selectors.sales import package_sales
from tests.factories import ClientFactory, PackageFactory, ServiceFactory
from tests.reports.test_package_liability import d, figures, on, row

pytestmark = pytest.mark.django_db


def test_class_credits_count_in_liability_and_sales(practice, reception, admin_user):
    pilates = ServiceFactory(name="Clinical pilates class", duration_minutes=60, capacity=8)
    pass_ = PackageFactory(
        name="Pilates 10-class pass", credits=10, price=Decimal("200.00"), services=[pilates]
    )
    with on(2):
        passes = [practice.sell(pass_, client=ClientFactory(), by=admin_user) for _ in range(3)]
        for sold in passes:
            invoice_finalize(
                invoice=invoice_for_client_package(
                    client_package=sold,
                    practitioner=practice.practitioner,
                    location=practice.location,
                    by=admin_user,
                ),
                by=admin_user,
            )
    with on(3):
        # one class session, 3 attendees on their passes and one paying on the day
        attendees = [
            practice.book(
                by=reception,
                service=pilates,
                client=sold.client,
                client_package=sold,
                hour=18,
                days=1,
            )
            for sold in passes
        ]
        practice.book(by=reception, service=pilates, client=ClientFactory(), hour=18, days=1)
        assert len({a.class_session_id for a in attendees}) == 1
    assert figures(d(2), d(2)) == row(sold=(30, "600.00"), closing=(30, "600.00"))
    assert figures(d(3), d(3)) == row(
        opening=(30, "600.00"), redeemed=(3, "60.00"), closing=(27, "540.00")
    )
    with on(3):  # a canceled attendee's credit comes back
        appointment_cancel(appointment=attendees[0], reason=practice.reason, by=reception)
    assert figures(d(3), d(3)) == row(
        opening=(30, "600.00"), redeemed=(2, "40.00"), closing=(28, "560.00")
    )
    report = package_sales(d(1), d(31), group_by="package")
    assert [(r.label, r.count, r.credits, str(r.revenue)) for r in report.rows] == [
        ("Pilates 10-class pass", 3, 30, "600.00")
    ]

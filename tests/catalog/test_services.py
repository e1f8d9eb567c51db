"""catalog.services: the writes for tax rates, categories, services and packages."""

from decimal import Decimal

import pytest

from calendar_app.services import appointment_link
from catalog import services
from catalog.models import Package, PackageKind, PeriodUnit, Service, ServiceCategory, TaxRate
from kernel.errors import DomainError, NotAllowed
from packages.services import client_package_assign
from tests.factories import ClientFactory, ServiceFactory, TaxRateFactory

pytestmark = pytest.mark.django_db


def _fixed(practice, by, **overrides):
    kwargs = {
        "name": "Physio Starter Pack",
        "credits": 4,
        "price": Decimal("400.00"),
        "services": [practice.initial, practice.follow_up],
        "quantities": {practice.initial: 1, practice.follow_up: 3},
        "expires_after": (3, PeriodUnit.MONTHS),
        "by": by,
    }
    return services.package_create(**{**kwargs, **overrides})


# ------------------------------------------------------------------------ packages


def test_fixed_package_gets_one_allowance_per_service(practice, admin_user):
    package = _fixed(practice, admin_user, name="Starter")

    assert package.kind == PackageKind.FIXED
    assert package.credits == 4
    assert package.expiry_label == "3 months"
    assert {ps.service: ps.allowance for ps in package.package_services.all()} == {
        practice.initial: 1,
        practice.follow_up: 3,
    }


def test_flexible_package_shares_its_credits(practice, admin_user):
    package = services.package_create(
        name="Flexi 10",
        credits=10,
        price=Decimal("800"),
        services=[practice.initial, practice.follow_up],
        by=admin_user,
    )

    assert package.kind == PackageKind.FLEXIBLE
    assert not package.expires
    assert set(package.package_services.values_list("allowance", flat=True)) == {None}


def test_quantities_must_add_up_to_the_credits(practice, admin_user):
    with pytest.raises(DomainError) as refused:
        _fixed(practice, admin_user, quantities={practice.initial: 2, practice.follow_up: 3})

    assert refused.value.message == "The quantities add up to 5 but the package has 4 credits."
    assert refused.value.context["field"] == "define_quantities"
    assert (
        not Package.objects.filter(name="Physio Starter Pack", credits=4)
        .exclude(pk=practice.fixed.pk)
        .exists()
    )


def test_each_quantity_must_be_at_least_one(practice, admin_user):
    with pytest.raises(DomainError, match="at least 1"):
        _fixed(
            practice,
            admin_user,
            credits=3,
            quantities={practice.initial: 0, practice.follow_up: 3},
        )


def test_a_chosen_service_without_quantity_is_refused(practice, admin_user):
    with pytest.raises(DomainError, match="at least 1"):
        _fixed(practice, admin_user, quantities={practice.follow_up: 4})


def test_a_package_needs_a_service(admin_user):
    with pytest.raises(DomainError, match="at least one service"):
        services.package_create(
            name="Empty", credits=1, price=Decimal("1"), services=[], by=admin_user
        )


def test_archived_services_cannot_join_a_package_on_sale(practice, admin_user):
    old = ServiceFactory(name="Old therapy", archived=True)
    with pytest.raises(DomainError, match="Old therapy is archived"):
        services.package_create(
            name="Pack", credits=2, price=Decimal("10"), services=[old], by=admin_user
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", Decimal("-1")),
        ("price", Decimal("10.005")),
        ("price", Decimal("99999999999")),
        ("credits", 0),
        ("credits", 1001),
        ("name", "   "),
    ],
)
def test_bad_input_is_refused_and_names_its_field(practice, admin_user, field, value):
    kwargs = {
        "name": "Pack",
        "credits": 2,
        "price": Decimal("10"),
        "services": [practice.massage],
        "by": admin_user,
    }
    with pytest.raises(DomainError) as refused:
        services.package_create(**{**kwargs, field: value})
    assert refused.value.context["field"] == field


def test_expiry_period_needs_a_known_unit(practice, admin_user):
    with pytest.raises(DomainError, match="days, weeks, months or years"):
        services.package_create(
            name="Pack",
            credits=2,
            price=Decimal("10"),
            services=[practice.massage],
            expires_after=(3, "fortnights"),
            by=admin_user,
        )


def test_update_rewrites_the_services_but_never_a_package_already_sold(practice, admin_user):
    sold = client_package_assign(client=practice.client, package=practice.fixed, by=None)

    services.package_update(
        package=practice.fixed,
        name="Physio Pack 6",
        credits=6,
        price=Decimal("550"),
        services=[practice.follow_up, practice.massage],
        quantities={practice.follow_up: 4, practice.massage: 2},
        by=admin_user,
    )

    practice.fixed.refresh_from_db()
    assert practice.fixed.name == "Physio Pack 6"
    assert not practice.fixed.expires
    assert {ps.service: ps.allowance for ps in practice.fixed.package_services.all()} == {
        practice.follow_up: 4,
        practice.massage: 2,
    }
    sold.refresh_from_db()
    assert (sold.name, sold.credits, sold.price) == ("Physio Starter Pack", 4, Decimal("400.00"))
    assert {s.name: s.allowance for s in sold.services.all()} == {
        "Physio initial consultation": 1,
        "Physio follow-up": 3,
    }


def test_update_from_fixed_to_flexible_clears_the_allowances(practice, admin_user):
    services.package_update(
        package=practice.fixed,
        name="Physio flexi",
        credits=4,
        price=Decimal("400"),
        services=[practice.initial, practice.follow_up],
        by=admin_user,
    )
    practice.fixed.refresh_from_db()
    assert practice.fixed.kind == PackageKind.FLEXIBLE
    assert set(practice.fixed.package_services.values_list("allowance", flat=True)) == {None}


def test_archived_packages_cannot_be_sold_and_sold_ones_keep_working(practice, admin_user):
    sold = client_package_assign(client=practice.client, package=practice.fixed, by=None)

    services.package_archive(package=practice.fixed, by=admin_user)

    with pytest.raises(DomainError, match="archived"):
        client_package_assign(client=ClientFactory(), package=practice.fixed, by=None)
    # The package already sold still pays for a booking.
    appointment = practice.book(by=None, service=practice.follow_up)
    appointment_link(
        appointment=appointment, client_package=sold, service=practice.follow_up, by=None
    )
    sold.refresh_from_db()
    assert sold.consumed == 1

    services.package_restore(package=practice.fixed, by=admin_user)
    assert client_package_assign(client=ClientFactory(), package=practice.fixed, by=None)


def test_a_package_with_an_archived_service_cannot_be_restored(practice, admin_user):
    services.package_archive(package=practice.fixed, by=admin_user)
    services.package_archive(package=practice.flexible, by=admin_user)
    services.service_archive(service=practice.initial, by=admin_user)

    with pytest.raises(DomainError, match="Physio initial consultation"):
        services.package_restore(package=practice.fixed, by=admin_user)
    assert Package.objects.get(pk=practice.fixed.pk).archived


# ------------------------------------------------------------------------ services


def test_service_create_update_archive_restore(admin_user):
    category = services.category_create(name="Physiotherapy", by=admin_user)
    gst = TaxRateFactory(name="GST")
    service = services.service_create(
        name="Dry needling",
        category=category,
        duration_minutes=20,
        price=Decimal("60"),
        tax_rate=gst,
        by=admin_user,
    )
    assert (service.duration_minutes, service.price, service.tax_rate) == (
        20,
        Decimal("60.00"),
        gst,
    )

    services.service_update(
        service=service,
        name="Dry needling (short)",
        category=None,
        duration_minutes=15,
        price=Decimal("45.50"),
        tax_rate=None,
        by=admin_user,
    )
    service.refresh_from_db()
    assert (service.name, service.category, service.price) == (
        "Dry needling (short)",
        None,
        Decimal("45.50"),
    )

    services.service_archive(service=service, by=admin_user)
    assert Service.objects.get(pk=service.pk).archived
    services.service_restore(service=service, by=admin_user)
    assert not Service.objects.get(pk=service.pk).archived


def test_a_service_in_a_package_on_sale_cannot_be_archived(practice, admin_user):
    with pytest.raises(DomainError, match="Physio Starter Pack"):
        services.service_archive(service=practice.initial, by=admin_user)
    assert not Service.objects.get(pk=practice.initial.pk).archived


def test_an_archived_tax_rate_cannot_be_newly_chosen_but_may_stay(admin_user):
    rate = TaxRateFactory(name="Old GST")
    service = services.service_create(
        name="Massage",
        category=None,
        duration_minutes=60,
        price=Decimal("100"),
        tax_rate=rate,
        by=admin_user,
    )
    services.tax_rate_archive(tax_rate=rate, by=admin_user)

    # Editing the service keeps its (now archived) rate...
    services.service_update(
        service=service,
        name="Massage 60",
        category=None,
        duration_minutes=60,
        price=Decimal("100"),
        tax_rate=rate,
        by=admin_user,
    )
    # ...but a new service cannot take it.
    with pytest.raises(DomainError, match="archived"):
        services.service_create(
            name="Other",
            category=None,
            duration_minutes=30,
            price=Decimal("1"),
            tax_rate=rate,
            by=admin_user,
        )


@pytest.mark.parametrize("minutes", [0, 1441, True])
def test_duration_must_be_between_1_and_1440_minutes(admin_user, minutes):
    with pytest.raises(DomainError):
        services.service_create(
            name="X", category=None, duration_minutes=minutes, price=Decimal("1"), by=admin_user
        )


def test_category_names_are_unique_whatever_the_case(admin_user):
    services.category_create(name="Massage", by=admin_user)
    with pytest.raises(DomainError, match="already a category"):
        services.category_create(name="massage ", by=admin_user)
    other = services.category_create(name="Pilates", by=admin_user)
    with pytest.raises(DomainError):
        services.category_update(category=other, name="MASSAGE", by=admin_user)
    assert (
        services.category_update(category=other, name="Clinical pilates", by=admin_user).name
        == "Clinical pilates"
    )
    assert ServiceCategory.objects.count() == 2


# ------------------------------------------------------------------------ tax rates


def test_tax_rate_create_update_archive_restore(admin_user):
    rate = services.tax_rate_create(name="GST", rate=Decimal("10"), by=admin_user)
    services.tax_rate_update(tax_rate=rate, name="GST 15", rate=Decimal("15"), by=admin_user)
    rate.refresh_from_db()
    assert (rate.name, rate.rate) == ("GST 15", Decimal("15.00"))
    services.tax_rate_archive(tax_rate=rate, by=admin_user)
    assert TaxRate.objects.get(pk=rate.pk).archived
    services.tax_rate_restore(tax_rate=rate, by=admin_user)
    assert not TaxRate.objects.get(pk=rate.pk).archived


@pytest.mark.parametrize("rate", [Decimal("-1"), Decimal("100.01"), Decimal("12.345"), "abc"])
def test_tax_rate_must_be_a_percentage(admin_user, rate):
    with pytest.raises(DomainError) as refused:
        services.tax_rate_create(name="Bad", rate=rate, by=admin_user)
    assert refused.value.context["field"] == "rate"


# ------------------------------------------------------------------------ permissions


@pytest.mark.parametrize("persona", ["reception", "practitioner_user", "accountant"])
def test_only_admin_changes_the_catalog(request, practice, persona):
    user = request.getfixturevalue(persona)
    attempts = [
        lambda: _fixed(practice, user, name="Nope"),
        lambda: services.package_update(
            package=practice.flexible,
            name="X",
            credits=1,
            price=Decimal("1"),
            services=[practice.initial],
            by=user,
        ),
        lambda: services.package_archive(package=practice.flexible, by=user),
        lambda: services.package_restore(package=practice.flexible, by=user),
        lambda: services.service_create(
            name="X", category=None, duration_minutes=30, price=Decimal("1"), by=user
        ),
        lambda: services.service_archive(service=practice.massage, by=user),
        lambda: services.category_create(name="X", by=user),
        lambda: services.tax_rate_create(name="X", rate=Decimal("1"), by=user),
    ]
    for attempt in attempts:
        with pytest.raises(NotAllowed):
            attempt()
    practice.flexible.refresh_from_db()
    assert practice.flexible.name == "Flexi 5" and not practice.flexible.archived

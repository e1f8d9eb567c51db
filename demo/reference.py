"""The practice's reference data, written through each app's services (`by=None`, the
system): its details, locations, staff users in their roles, practitioners, service
categories, services and packages. What already exists under the same name is reused,
so a database that had only reference data can still be seeded."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model

from calendar_app.models import CancellationReason, Location, Practitioner
from calendar_app.services import (
    location_create,
    practitioner_create,
    practitioner_services_set,
    working_hours_set,
)
from catalog.models import Package, PackageKind, Service, ServiceCategory, TaxRate
from catalog.services import category_create, package_archive, package_create, service_create
from demo.data import (
    CLASS_CAPACITY,
    DEMO_PASSWORD,
    GST,
    GST_FREE,
    LOCATIONS,
    PACKAGES,
    PRACTICE,
    SERVICES,
    STAFF,
    PackageSpec,
)
from invoicing.models import PaymentMethod
from practice import roles
from practice.models import PracticeSettings
from practice.services import practice_details_update, staff_user_create


@dataclass
class Reference:
    """The reference rows the rest of the demo refers to, by their demo names."""

    locations: dict[str, Location] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)
    practitioners: dict[str, Practitioner] = field(default_factory=dict)
    home: dict[int, Location] = field(default_factory=dict)  # practitioner pk: location
    services: dict[str, Service] = field(default_factory=dict)
    provides: dict[int, list[Service]] = field(default_factory=lambda: defaultdict(list))
    packages: dict[str, Package] = field(default_factory=dict)
    package_specs: dict[str, PackageSpec] = field(default_factory=dict)
    reasons: list[CancellationReason] = field(default_factory=list)
    methods: list[PaymentMethod] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.locations)} locations, {len(self.practitioners)} practitioners, "
            f"{len(self.users)} staff users, {len(self.services)} services, "
            f"{len(self.packages)} packages"
        )


def build_reference(*, demo_passwords: bool) -> Reference:
    ref = Reference()
    practice_details_update(**PRACTICE, currency=PracticeSettings.load().currency, by=None)

    for key, (name, address) in LOCATIONS.items():
        ref.locations[key] = Location.objects.filter(name=name).first() or location_create(
            name=name, address=address, by=None
        )

    for username, first, last, role, calendar in STAFF:
        user = _staff_user(username, first, last, role, demo_passwords)
        ref.users[username] = user
        if calendar is not None:
            colour, home = calendar
            practitioner = Practitioner.objects.filter(user=user).first() or practitioner_create(
                name=f"{first} {last}", colour=colour, user=user, by=None
            )
            ref.practitioners[username] = practitioner
            ref.home[practitioner.pk] = ref.locations[home]
            if not practitioner.working_hours.exists():
                # Issue 11: weekdays 08:00-18:00 at their home location (the demo's
                # bookings fall in these hours); weekends shaded as closed.
                working_hours_set(
                    practitioner=practitioner,
                    hours=[
                        (weekday, ref.locations[home], dt.time(8), dt.time(18))
                        for weekday in range(5)
                    ],
                    by=None,
                )

    taxes = {name: TaxRate.objects.get(name=name) for name in (GST, GST_FREE)}
    categories: dict[str, ServiceCategory] = {}
    for name, (category, minutes, price, tax, who) in SERVICES.items():
        if category not in categories:
            categories[category] = ServiceCategory.objects.filter(
                name=category
            ).first() or category_create(name=category, by=None)
        service = Service.objects.filter(name=name).first() or service_create(
            name=name,
            category=categories[category],
            duration_minutes=minutes,
            price=Decimal(price),
            tax_rate=taxes[tax],
            capacity=CLASS_CAPACITY.get(name, 1),
            by=None,
        )
        ref.services[name] = service
        for username in who:
            ref.provides[ref.practitioners[username].pk].append(service)

    # Each practitioner provides their own services at their home location (Settings ›
    # Practitioners › Services); elsewhere nothing is set up, so everything is offered.
    for practitioner_pk, provided in ref.provides.items():
        practitioner = Practitioner.objects.get(pk=practitioner_pk)
        practitioner_services_set(
            practitioner=practitioner,
            location=ref.home[practitioner_pk],
            services=provided,
            by=None,
        )

    for spec in PACKAGES:
        package = Package.objects.filter(name=spec.name).first()
        if package is None:
            included = [ref.services[name] for name in spec.services]
            package = package_create(
                name=spec.name,
                description=spec.description,
                credits=spec.credits,
                price=Decimal(spec.price),
                tax_rate=taxes[spec.tax],
                services=included,
                quantities=(
                    {ref.services[name]: n for name, n in spec.services.items()}
                    if spec.kind == PackageKind.FIXED
                    else None
                ),
                expires_after=spec.expires,
                by=None,
            )
        if spec.archived and not package.archived:
            package = package_archive(package=package, by=None)
        ref.packages[spec.name] = package
        ref.package_specs[spec.name] = spec
    ref.reasons = list(CancellationReason.objects.filter(archived=False))
    ref.methods = list(PaymentMethod.objects.filter(archived=False))
    return ref


def _staff_user(username: str, first: str, last: str, role: str, demo_passwords: bool):
    """A staff user in `role`: with the demo password, or an unusable one (a new user
    is created with a random password no one knows, then made unusable).

    Only the Admin may use the Django admin (is_staff), as `staff_user_create` decides
    for a new user; a demo user left from an older seed is put right too.
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is not None and not user.is_superuser and user.is_staff != (role == roles.ADMIN):
        user.is_staff = role == roles.ADMIN
        user.save(update_fields=["is_staff"])
    if user is None:
        user = staff_user_create(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@harbourphysio.example",
            role=role,
            password=DEMO_PASSWORD if demo_passwords else secrets.token_urlsafe(24),
            by=None,
        )
        if demo_passwords:
            return user
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif demo_passwords:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user

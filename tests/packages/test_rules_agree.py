"""Client package status and package matching are written twice: in Python
(`ClientPackage.status_on`, `packages.services.check_package_covers`, which the link
services refuse with) and in SQL (`packages.selectors.status_condition`,
`client_packages_with_status`, `client_package_matches` and its prepared twin
`client_package_match_names`, which lists and the Create appointment banner filter on).
Over every combination of their inputs, they agree.
"""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from kernel.errors import DomainError
from packages.models import ClientPackage, ClientPackageStatus
from packages.selectors import (
    client_package_match_names,
    client_package_matches,
    client_packages_with_status,
    status_condition,
)
from packages.services import check_package_covers

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 10)
START = dt.date(2026, 5, 1)
EXPIRIES = [None, TODAY - dt.timedelta(days=1), TODAY, TODAY + dt.timedelta(days=10)]
ON_DATES = [
    TODAY - dt.timedelta(days=3),
    TODAY,
    TODAY + dt.timedelta(days=10),
    TODAY + dt.timedelta(days=11),
]


@pytest.fixture
def every_package(practice):
    """One client package per combination of kind, canceled, use of each service and
    expiry date (the counters set directly: this is about reading them)."""
    fixed_uses = list(itertools.product((0, 1), (0, 3)))  # (initial of 1, follow-ups of 3)
    flexible_uses = [(0,), (4,), (5,)]  # of 5 shared credits
    combos = []
    for kind, uses_list in (("fixed", fixed_uses), ("flexible", flexible_uses)):
        for uses, canceled, expires_on in itertools.product(uses_list, (False, True), EXPIRIES):
            combos.append((kind, uses, canceled, expires_on))
    packages = []
    for kind, uses, canceled, expires_on in combos:
        sold = practice.sell(practice.fixed if kind == "fixed" else practice.flexible)
        ClientPackage.objects.filter(pk=sold.pk).update(
            start_date=START,
            expires_on=expires_on,
            consumed=sum(uses),
            canceled_at=timezone.now() if canceled else None,
            cancel_reason="Moved away" if canceled else "",
        )
        if kind == "fixed":
            for service, used in zip((practice.initial, practice.follow_up), uses, strict=True):
                sold.services.filter(service=service).update(used=used)
        packages.append(ClientPackage.objects.prefetch_related("services").get(pk=sold.pk))
    return packages


def test_status_in_python_and_in_sql_agree(every_package):
    annotated = dict(client_packages_with_status(today=TODAY).values_list("pk", "status_value"))
    seen = set()
    for cp in every_package:
        status = cp.status_on(TODAY)
        seen.add(status)
        assert annotated[cp.pk] == status, (cp.kind, cp.consumed, cp.canceled_at, cp.expires_on)
        conditions = {
            s
            for s in ClientPackageStatus.values
            if ClientPackage.objects.filter(status_condition(s, TODAY), pk=cp.pk).exists()
        }
        assert conditions == {status}
    assert seen == set(ClientPackageStatus.values)  # every status was met


def _python_match(cp, *, client_id, service, on_date) -> bool:
    if service is None:  # no service chosen yet: Active, and on or before the expiry
        return cp.status_on(TODAY) == ClientPackageStatus.ACTIVE and (
            cp.expires_on is None or on_date <= cp.expires_on
        )
    try:
        check_package_covers(
            client_package=cp, client_id=client_id, service=service, on_date=on_date, today=TODAY
        )
    except DomainError:
        return False
    return True


def test_matching_in_python_and_in_sql_agree(every_package, practice):
    services = [None, practice.initial, practice.follow_up, practice.massage]
    matched = 0
    for service, on_date in itertools.product(services, ON_DATES):
        in_order = list(
            client_package_matches(
                client=practice.client, on_date=on_date, service=service, today=TODAY
            ).values_list("pk", flat=True)
        )
        in_sql = set(in_order)
        # The banner's read (its SQL built once): the same packages in the same order.
        names = client_package_match_names(
            client=practice.client, on_date=on_date, service=service, today=TODAY
        )
        assert [cp.pk for cp in names] == in_order
        assert all(cp.name for cp in names)
        for cp in every_package:
            in_python = _python_match(
                cp, client_id=practice.client.pk, service=service, on_date=on_date
            )
            assert (cp.pk in in_sql) == in_python, (
                cp.kind,
                [(s.service_id, s.used) for s in cp.services.all()],
                cp.consumed,
                cp.canceled_at is not None,
                cp.expires_on,
                service,
                on_date,
            )
            matched += in_python
    assert matched  # some combinations match, some do not

"""Thirty receptionists and integrators race for the eight places of one class (issue 12,
done when): gunicorn's worker processes book at once, half through the page, half through
the API with each client's own package. Exactly eight win, the rest hear "class full", and
the credits consumed are exactly those of the linked attendees."""

from __future__ import annotations

import pytest
from django.utils import timezone

from calendar_app.models import Appointment, AppointmentStatus, ClassSession
from packages.models import ClientPackage
from packages.selectors import ledger_discrepancies
from tests.factories import ClientFactory, PackageFactory, ServiceFactory, next_local
from tests.trust.conftest import PATHS, fire
from tests.trust.test_races import REQUEST_TIMEOUT, _outcome, users  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.parametrize("database_path", PATHS, indirect=True),
]


def test_thirty_bookings_for_eight_places_exactly_eight_win(server, practice, users):  # noqa: F811
    pilates = ServiceFactory(name="Clinical pilates class", duration_minutes=60, capacity=8)
    pass_ = PackageFactory(name="Pilates 10-class pass", credits=10, services=[pilates])
    start = timezone.localtime(next_local(days=3, hour=9))
    clients = [ClientFactory() for _ in range(30)]
    passes = {client.pk: practice.sell(pass_, client=client) for client in clients}
    page = server.session_for(users["reception"])
    api = server.api_for(users["practitioner"])
    where = {
        "service": pilates.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
    }
    sends = []
    for index, client in enumerate(clients):
        if index % 2 == 0:
            data = {
                **where,
                "client": client.pk,
                "date": start.date().isoformat(),
                "start_time": start.strftime("%H:%M"),
            }
            sends.append(
                lambda data=data: page.post(
                    f"{server.url}/calendar/new/",
                    data=data,
                    allow_redirects=False,
                    timeout=REQUEST_TIMEOUT,
                )
            )
        else:
            body = {
                **where,
                "client": client.pk,
                "starts_at": start.isoformat(),
                "client_package": passes[client.pk].pk,
            }
            sends.append(
                lambda body=body: api.post(
                    f"{server.url}/api/v1/appointments/", json=body, timeout=REQUEST_TIMEOUT
                )
            )

    responses = fire(sends, workers=30)
    outcomes = [_outcome(r) for r in responses]

    assert outcomes.count("ok") == 8, outcomes
    assert set(outcomes) - {"ok"} <= {"class_full", "refused-page"}, outcomes
    pages_refused = [r for r, o in zip(responses, outcomes, strict=True) if o == "refused-page"]
    assert all("This class is full (8 of 8)" in r.text for r in pages_refused)
    api_refused = [r for r, o in zip(responses, outcomes, strict=True) if o == "class_full"]
    assert all(r.json()["detail"] == "This class is full (8 of 8)." for r in api_refused)

    assert ClassSession.objects.count() == 1
    attendees = Appointment.objects.filter(service=pilates).exclude(
        status=AppointmentStatus.CANCELED
    )
    assert attendees.count() == 8
    assert attendees.values("class_session").distinct().count() == 1
    linked = attendees.filter(client_package__isnull=False).count()
    consumed = sum(ClientPackage.objects.filter(package=pass_).values_list("consumed", flat=True))
    assert consumed == linked
    assert ledger_discrepancies() == []

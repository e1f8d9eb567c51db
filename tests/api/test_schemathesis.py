"""Fuzz every operation of `/api/schema/` with schemathesis, as every role (Admin,
Reception, Practitioner, Accountant): each operation is one test per role.

Checks: all of schemathesis's (`--checks all`): no server error (5xx) for any input,
every status code documented, every response (its content type, headers and body) as the
schema says, invalid input refused, valid input not refused for its form (see
ACCEPTED_STATUSES), missing required headers and unsupported methods refused, ... Generated ids and
references are biased towards rows that exist, so the fuzzer reaches the services and
their refusals, not only 404s and 400s.

Runs in `make test` (in one pytest-xdist worker of its own, `xdist_group("fuzz")`, next
to the rest of the suite); run it alone with `pytest -m fuzz`. The examples per
operation and role are bounded (10: about 2,000 requests, 1-2 minutes on 2 cores); more
with `API_FUZZ_EXAMPLES=200 pytest -m fuzz`, one role with `API_FUZZ_ROLES=reception`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import is_check_class, max_response_time
from schemathesis.config._checks import PositiveDataAcceptanceConfig

from caspen.wsgi import application
from tests.api.conftest import api_client

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db, pytest.mark.xdist_group("fuzz")]

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "10"))
ROLES = {
    "admin": "admin_user",
    "reception": "reception",
    "practitioner": "practitioner_user",
    "accountant": "accountant",
}
FUZZ_ROLES = os.environ.get("API_FUZZ_ROLES", ",".join(ROLES)).split(",")
# `--checks all`: every check schemathesis has (no server error; status codes, content
# types, headers and bodies as documented; invalid input refused and valid input
# accepted; a missing required header or an unsupported method refused; the Allow
# header; authentication never ignored; ...), except the response time limit.
CHECKS = [
    check
    for check in REGISTERED_CHECKS.get_all()
    if not is_check_class(check) and check is not max_response_time
]
# Input the schema allows is still refused when the data says no: an id that names no
# row (400 on the field, 404 in the path) or a rule (409). Valid input must never get
# 405, 415 or 422 (nor a 5xx, which `not_a_server_error` checks).
ACCEPTED_STATUSES = ["2xx", "400", "401", "403", "404", "409", "502"]

# Which existing rows an id in a path, a body or a query may point to.
REFERENCES = {
    "client": "clients",
    "practitioner": "practitioners",
    "location": "locations",
    "service": "services",
    "package": "packages",
    "client_package": "client-packages",
    "appointment": "appointments",
    "tax_rate": "tax-rates",
    "method": "payment-methods",
    "invoice": "invoices",
}
_known_ids: dict[str, list[int]] = {}


def _resource_of(path: str) -> str:
    return path.removeprefix("/api/v1/").split("/", 1)[0]


def _ids(resource: str) -> list[int]:
    return _known_ids.get(resource, [])


def _bias(value, resource: str):
    """The generated value, or the id of an existing row (Hypothesis chooses)."""
    ids = _ids(resource)
    return st.sampled_from([value, *ids]) if ids else st.just(value)


def _bias_mapping(mapping, references: dict[str, str]):
    if not isinstance(mapping, dict):
        return st.just(mapping)
    keys = [key for key in mapping if key in references]
    if not keys:
        return st.just(mapping)
    return st.tuples(*(_bias(mapping[key], references[key]) for key in keys)).map(
        lambda values: {**mapping, **dict(zip(keys, values, strict=True))}
    )


@pytest.fixture
def seeded(practice, admin_user, reception):
    """A little practice with a row of each kind, ids remembered for the hooks."""
    from calendar_app.models import CancellationReason
    from calendar_app.services import appointment_link
    from invoicing.models import PaymentMethod
    from invoicing.services import invoice_finalize, invoice_for_client_package, payment_record

    sold = practice.sell(practice.fixed, by=reception)
    flexi = practice.sell(practice.flexible, by=reception)
    linked = practice.book(by=reception, days=2)
    appointment_link(appointment=linked, client_package=sold, by=reception)
    practice.book(by=reception, days=3, hour=12)
    past = practice.book(by=reception, days=-1, hour=9)
    invoice = invoice_for_client_package(
        client_package=flexi,
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )
    invoice_finalize(invoice=invoice, by=reception)
    payment_record(
        invoice=invoice,
        amount=Decimal("50.00"),
        method=PaymentMethod.objects.get(name="Cash"),
        by=reception,
    )
    _known_ids.clear()
    _known_ids.update(
        {
            "clients": [practice.client.pk],
            "practitioners": [practice.practitioner.pk],
            "locations": [practice.location.pk],
            "services": [practice.initial.pk, practice.follow_up.pk, practice.massage.pk],
            "packages": [practice.fixed.pk, practice.flexible.pk],
            "client-packages": [sold.pk, flexi.pk],
            "appointments": [linked.pk, past.pk],
            "tax-rates": list(_tax_rate_ids()),
            "payment-methods": list(PaymentMethod.objects.values_list("pk", flat=True)[:2]),
            "cancellation-reasons": list(CancellationReason.objects.values_list("pk", flat=True)),
            "invoices": [invoice.pk],
            "payments": list(invoice.payments.values_list("pk", flat=True)),
        }
    )
    yield
    _known_ids.clear()


def _tax_rate_ids():
    from catalog.models import TaxRate

    return TaxRate.objects.values_list("pk", flat=True)[:2]


# Loaded at collection: generating the schema needs no database. (Loading it from a
# fixture, schemathesis.pytest.from_fixture, breaks on pytest 9.2.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# For Reception, Practitioner and Accountant: the same operations with generated cases
# only. The coverage phase's boundary values (many requests per operation) test the
# input validation, which comes after the role check and is the same for every role:
# Admin, who may call every operation, runs it.
light_schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
light_schema.config.phases.update(phases=["examples", "fuzzing"])
for _schema in (schema, light_schema):
    _schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=ACCEPTED_STATUSES
    )
_auth: dict[str, str] = {}


@light_schema.hook
@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters or "id" not in path_parameters:
        return st.just(path_parameters)
    return _bias_mapping(path_parameters, {"id": _resource_of(context.operation.path)})


@light_schema.hook
@schema.hook
def flatmap_body(context, body):
    return _bias_mapping(body, REFERENCES)


@light_schema.hook
@schema.hook
def flatmap_query(context, query):
    biased = _bias_mapping(query, REFERENCES)
    if isinstance(query, dict) and "date" in query:
        # matches/: a date when the seeded packages are usable.
        soon = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
        return biased.flatmap(lambda q: st.sampled_from([q, {**q, "date": soon}]))
    return biased


_statuses: Counter[tuple[str, int]] = Counter()


def summary() -> str | None:
    """How many requests got which status, for the end of the run (printed by
    tests/api/conftest.py), to show the fuzzer got past authentication and validation
    into the services."""
    if not _statuses:
        return None
    by_status: Counter[int] = Counter()
    for (_label, code), count in _statuses.items():
        by_status[code] += count
    operations = len({label for label, _code in _statuses})
    codes = ", ".join(f"{code}: {count}" for code, count in sorted(by_status.items()))
    return f"schemathesis: {sum(by_status.values())} requests, {operations} operations ({codes})"


@pytest.fixture
def role(request):
    """The role the case is sent as (one test per operation and role), skipped when
    API_FUZZ_ROLES leaves it out."""
    if request.param not in FUZZ_ROLES:
        pytest.skip(f"API_FUZZ_ROLES leaves out {request.param}")
    return request.param


@pytest.fixture(autouse=True)
def fuzzing(request, seeded, role, settings):
    # The throttle counts every request of the run; keep it out of the way here.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1000000/min"},
    }
    user = request.getfixturevalue(ROLES[role])
    _auth["Authorization"] = api_client(user)._credentials["HTTP_AUTHORIZATION"]
    # Like Django's test client: a request must not close the test's connection (and
    # with it the transaction holding the fixtures).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        _auth.clear()


def _fuzz(case, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="kernel.api"):
        # Authenticated whatever the case generated for the security schemes: the
        # point is to reach the views (401 for bad tokens has its own tests).
        response = case.call(headers=_auth)
        _statuses[(case.operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)
    # The exception handler's safety nets (database errors) must never be needed.
    assert not [r for r in caplog.records if r.name == "kernel.api"], caplog.text


@pytest.mark.parametrize("role", ["admin"], indirect=True)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema_and_never_fails(case, caplog):
    _fuzz(case, caplog)


@pytest.mark.parametrize("role", ["reception", "practitioner", "accountant"], indirect=True)
@light_schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_for_the_other_roles(case, caplog):
    _fuzz(case, caplog)

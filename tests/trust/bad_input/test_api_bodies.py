"""Bad input sent in REST API bodies and headers: text, numbers, amounts, dates and
rules, other content types, JSON nested 10,000 deep, unlinking twice, the hour that
repeats, odd Idempotency-Key headers.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest

from tests.trust.bad_input.api_endpoints import (
    ENDPOINTS,
    V1,
    _errors_at,
    refused_api,
    send,
)
from tests.trust.bad_input.common import (
    BAD_IDS,
    DEEP,
    DST_GAP_DAY,
    DST_GAP_TIME,
    LONG,
    NUL,
    SCRIPT,
    fingerprint,
    stored,
)

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------ text fields (API)

BLANK = "This field may not be blank."


@dataclass(frozen=True)
class ApiText:
    endpoint: str
    path: str  # in the body: "lines.0.description"
    max_length: int
    required: bool = False
    script_status: int = 0  # 0: `<script>…` is accepted; else the refusal's status
    script_message: str = ""


API_TEXT_FIELDS = [
    ApiText("client-create", "first_name", 100, True),
    ApiText("client-create", "last_name", 100, True),
    ApiText(
        "client-create",
        "email",
        254,
        script_status=400,
        script_message="Enter a valid email address.",
    ),
    ApiText(
        "client-create",
        "phone",
        40,
        script_status=400,
        script_message="Enter a phone number using digits, spaces, +, - or brackets.",
    ),
    ApiText("client-create", "notes", 5000),
    ApiText("client-patch", "first_name", 100, True),
    ApiText("client-patch", "notes", 5000),
    ApiText("service-create", "name", 200, True),
    ApiText("service-create", "category", 100),
    ApiText("package-create", "name", 200, True),
    ApiText("package-create", "description", 5000),
    ApiText("tax-rate-create", "name", 100, True),
    ApiText("location-create", "name", 200, True),
    ApiText("location-create", "address", 5000),
    ApiText("practitioner-create", "name", 200, True),
    ApiText("payment-method-create", "name", 100, True),
    ApiText("cancellation-reason-create", "name", 200, True),
    ApiText("extend", "reason", 2000, True),
    ApiText("package-cancel", "reason", 2000, True),
    ApiText("adjust", "reason", 2000, True),
    ApiText("book", "notes", 5000),
    ApiText("appointment-patch", "notes", 5000),
    ApiText("invoice-create", "notes", 5000),
    ApiText("invoice-create", "lines.0.description", 500, True),
    ApiText("invoice-patch", "notes", 5000),
    ApiText("pay", "reference", 200),
    ApiText("refund", "reason", 5000, True),
    ApiText("invoice-void", "reason", 5000),
    ApiText("payment-void", "reason", 5000),
]


def _api_text_cases():
    for f in API_TEXT_FIELDS:
        name = f"{f.endpoint}-{f.path}"
        yield pytest.param(f, NUL, "Null characters are not allowed.", id=f"{name}-nul")
        yield pytest.param(
            f,
            LONG,
            f"Ensure this field has no more than {f.max_length} characters.",
            id=f"{name}-10000-chars",
        )
        if f.required:
            yield pytest.param(f, "", BLANK, id=f"{name}-empty")


@pytest.mark.parametrize(("text_field", "value", "message"), list(_api_text_cases()))
def test_api_refuses_empty_overlong_and_nul_text(api, world, text_field, value, message):
    response = refused_api(
        api, world, text_field.endpoint, 400, **{text_field.path.replace(".", "__"): value}
    )
    assert message in _errors_at(response.json(), text_field.path)


@pytest.mark.parametrize(
    "text_field", API_TEXT_FIELDS, ids=[f"{f.endpoint}-{f.path}" for f in API_TEXT_FIELDS]
)
def test_api_takes_script_in_every_text_field_as_data(api, world, text_field):
    changes = {text_field.path.replace(".", "__"): SCRIPT}
    if text_field.script_status:
        response = refused_api(api, world, text_field.endpoint, text_field.script_status, **changes)
        body = response.json()
        found = body.get("detail") or _errors_at(body, text_field.path)
        assert text_field.script_message in found
        return
    response = send(api, world, text_field.endpoint, **changes)
    assert response.status_code in (200, 201), response.json()
    assert response["Content-Type"] == "application/json"
    assert stored(SCRIPT), "the value was not stored as typed"
    reasons = ("refund", "payment-void", "invoice-void", "package-cancel", "extend", "adjust")
    if text_field.endpoint not in reasons:
        # The resource comes back with the value verbatim (reasons live elsewhere).
        assert SCRIPT in json.dumps(response.json(), ensure_ascii=False)


# ------------------------------------- numbers, amounts, dates and rules (API)

API_TWO_PLACES = "Ensure that there are no more than 2 decimal places."
API_NUMBER = "A valid number is required."
API_INTEGER = "A valid integer is required."
API_DATE = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
API_DATETIME = "Datetime has wrong format."


def api_refusal(endpoint, changes, status, expected, *, id):
    """One refused API call: `changes` ({"lines__0__unit_price": "NaN"}, or a function of
    the world) to the valid body of `endpoint`; `expected` is {"path": "message"} for a
    400 or the rule's code for a 409."""
    return pytest.param(endpoint, changes, status, expected, id=id)


def _api_amounts(endpoint, path, max_digits=12, values=None):
    cases = {
        "10.005": ("three-decimals", API_TWO_PLACES),
        "1e20": ("1e20", f"Ensure that there are no more than {max_digits} digits in total."),
        "99999999999999": (
            "fourteen-nines",
            f"Ensure that there are no more than {max_digits} digits in total.",
        ),
        "NaN": ("nan", API_NUMBER),
        "Infinity": ("infinity", API_NUMBER),
    }
    for value in values or cases:
        tag, message = cases[value]
        yield api_refusal(
            endpoint, {path: value}, 400, {path: message}, id=f"{endpoint}-{path}-{tag}"
        )


def _api_whole(endpoint, path, low=1, zero=None, values=("0", "-1", "1.5")):
    for value in values:
        if value == "1.5":
            message, tag = API_INTEGER, "one-and-a-half"
        elif value == "0" and zero:
            message, tag = zero, "zero"
        else:
            message = f"Ensure this value is greater than or equal to {low}."
            tag = "zero" if value == "0" else "minus-one"
        number = float(value) if value == "1.5" else int(value)
        yield api_refusal(
            endpoint, {path: number}, 400, {path: message}, id=f"{endpoint}-{path}-{tag}"
        )


def _api_ids(endpoint, path):
    for tag, value in BAD_IDS.items():
        message = "Incorrect type" if value == "abc" else "object does not exist"
        yield api_refusal(
            endpoint, {path: value}, 400, {path: message}, id=f"{endpoint}-{path}-{tag}"
        )


DST_GAP = "02:30 does not exist on 4 Oct 2026: the clocks go forward from 02:00 to 03:00."

API_REFUSALS = [
    # Credits and other whole numbers.
    *_api_whole("package-create", "credits"),
    *_api_whole("package-create-fixed", "services__0__allowance"),
    *_api_whole("package-create-fixed", "expires_after__value"),
    *_api_whole(
        "adjust", "quantity", zero="Enter a whole number of credits other than 0.", values=("0",)
    ),
    api_refusal("adjust-completed", {}, 409, "adjust_below_consumed", id="adjust-below-consumed"),
    *_api_whole("service-create", "duration_minutes"),
    api_refusal(
        "book",
        {"repeat": {"every_weeks": 0, "weekdays": [7], "count": 1.5}},
        400,
        {
            "repeat.every_weeks": "greater than or equal to 1",
            "repeat.weekdays.0": "less than or equal to 6",
            "repeat.count": API_INTEGER,
        },
        id="book-repeat-out-of-range",
    ),
    # Amounts of money (and rates).
    *_api_amounts("service-create", "price"),
    *_api_amounts("package-create", "price"),
    *_api_amounts("invoice-create", "lines__0__unit_price"),
    *_api_amounts("invoice-create", "lines__0__quantity", max_digits=10),
    *_api_amounts("refund", "amount"),
    *_api_amounts("pay", "amount", values=("10.005", "1e20", "99999999999999")),
    *_api_amounts("tax-rate-create", "rate", max_digits=5),
    api_refusal(
        "invoice-create",
        {"lines__0__discount": "100.01"},
        400,
        {"lines__0__discount": "less than or equal to 100"},
        id="invoice-line-discount-above-100",
    ),
    # Impossible dates, and times that do not exist on the practice's clock.
    api_refusal(
        "client-create",
        {"date_of_birth": "2026-02-30"},
        400,
        {"date_of_birth": API_DATE},
        id="client-date-of-birth-feb-30",
    ),
    api_refusal(
        "extend", {"expires_on": "2026-02-30"}, 400, {"expires_on": API_DATE}, id="extend-feb-30"
    ),
    api_refusal(
        "invoice-create",
        {"issue_date": "2026-02-30"},
        400,
        {"issue_date": API_DATE},
        id="invoice-issue-date-feb-30",
    ),
    api_refusal("pay", {"date": "2026-02-30"}, 400, {"date": API_DATE}, id="pay-feb-30"),
    api_refusal("refund", {"date": "2026-02-30"}, 400, {"date": API_DATE}, id="refund-feb-30"),
    api_refusal(
        "book",
        {"starts_at": "2026-02-30T10:00:00"},
        400,
        {"starts_at": API_DATETIME},
        id="book-feb-30",
    ),
    api_refusal(
        "book",
        {"starts_at": f"{DST_GAP_DAY}T{DST_GAP_TIME}:00"},
        400,
        {"starts_at": DST_GAP},
        id="book-start-in-dst-gap",
    ),
    api_refusal(
        "book",
        {"starts_at": f"{DST_GAP_DAY}T01:30:00", "ends_at": f"{DST_GAP_DAY}T02:30:00"},
        400,
        {"ends_at": DST_GAP},
        id="book-end-in-dst-gap",
    ),
    api_refusal(
        "appointment-patch",
        {"starts_at": f"{DST_GAP_DAY}T{DST_GAP_TIME}"},
        400,
        {"starts_at": DST_GAP},
        id="move-start-into-dst-gap",
    ),
    api_refusal(
        "book",
        {"starts_at": "2026-12-01T10:00:00", "ends_at": "2026-12-01T09:00:00"},
        400,
        {"ends_at": "The appointment must end after it starts."},
        id="book-end-before-start",
    ),
    # Expiry before start.
    api_refusal(
        "extend",
        lambda w: {"expires_on": (w.fixed.start_date - dt.timedelta(days=1)).isoformat()},
        409,
        "expiry_before_start",
        id="extend-expiry-before-start",
    ),
    # Money rules.
    api_refusal(
        "refund",
        {"amount": "40.01"},
        409,
        "amount_exceeds_refundable",
        id="refund-above-the-paid-amount",
    ),
    api_refusal(
        "pay", {"amount": "90.01"}, 409, "amount_exceeds_balance", id="pay-above-the-balance"
    ),
    api_refusal("pay-void-invoice", {}, 409, "invoice_not_open", id="pay-a-void-invoice"),
    api_refusal("invoice-patch-open", {}, 409, "invoice_not_draft", id="edit-an-open-invoice"),
    api_refusal(
        "package-cancel-canceled", {}, 409, "package_canceled", id="cancel-a-canceled-package"
    ),
    # Linking: expired, completed, canceled, someone else's, not covered, already linked.
    *[
        api_refusal(
            "link",
            lambda w, state=state: {"client_package": getattr(w, state).pk},
            409,
            code,
            id=f"link-{state}-package",
        )
        for state, code in (
            ("expired", "package_expired"),
            ("completed", "no_credits_left"),
            ("canceled", "package_not_eligible"),
            ("others", "package_other_client"),
        )
    ],
    api_refusal(
        "link",
        lambda w: {"client_package": w.flexi.pk, "service": w.practice.massage.pk},
        409,
        "service_not_covered",
        id="link-a-service-not-covered",
    ),
    api_refusal("link-linked", {}, 409, "already_linked", id="link-an-already-linked-appointment"),
    *[
        api_refusal(
            "book",
            lambda w, state=state: {"client_package": getattr(w, state).pk},
            409,
            code,
            id=f"book-with-{state}-package",
        )
        for state, code in (
            ("expired", "package_expired"),
            ("completed", "no_credits_left"),
            ("others", "package_other_client"),
        )
    ],
    api_refusal("unlink-unlinked", {}, 409, "not_linked", id="unlink-an-unlinked-appointment"),
    # Ids that do not exist or are out of range, in JSON bodies.
    *_api_ids("sell", "client"),
    *_api_ids("sell", "package"),
    *_api_ids("book", "client"),
    *_api_ids("book", "service"),
    *_api_ids("book", "client_package"),
    *_api_ids("link", "client_package"),
    *_api_ids("appointment-cancel", "reason"),
    *_api_ids("invoice-create", "practitioner"),
    *_api_ids("invoice-create", "lines__0__tax_rate"),
    *_api_ids("package-invoice", "location"),
    *_api_ids("pay", "method"),
    *_api_ids("package-create", "services__0__service"),
    *_api_ids("service-create", "tax_rate"),
]


@pytest.mark.parametrize(("endpoint", "changes", "status", "expected"), API_REFUSALS)
def test_api_refuses_bad_input(api, world, endpoint, changes, status, expected):
    changes = changes(world) if callable(changes) else changes
    response = refused_api(api, world, endpoint, status, **changes)
    body = response.json()
    if status == 409:
        assert body["code"] == expected
        assert body["detail"]
    else:
        for path, message in expected.items():
            assert message in _errors_at(body, path.replace("__", ".")), body


# ----------------------------------------- wrong content type and deep JSON (API)

BODY_ENDPOINTS = [
    "client-create",
    "client-patch",
    "package-create",
    "sell",
    "adjust",
    "book",
    "link",
    "invoice-create",
    "pay",
    "refund",
]
WRONG_TYPES = {
    "text-plain": ("text/plain", lambda body: json.dumps(body)),
    "form-encoded": (
        "application/x-www-form-urlencoded",
        lambda body: "&".join(f"{key}={value}" for key, value in body.items()),
    ),
    "xml": ("application/xml", lambda body: "<client><first_name>Ann</first_name></client>"),
}


@pytest.mark.parametrize("kind", WRONG_TYPES, ids=WRONG_TYPES.keys())
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_api_refuses_other_content_types_with_415(api, world, endpoint, kind):
    content_type, encode = WRONG_TYPES[kind]
    raw = encode(ENDPOINTS[endpoint].body(world))
    response = refused_api(api, world, endpoint, 415, raw=raw, content_type=content_type)
    assert response.json()["code"] == "unsupported_media_type"
    assert content_type in response.json()["detail"]


NESTINGS = {
    "array": "[" * DEEP + "]" * DEEP,
    "object": '{"a":' * DEEP + "1" + "}" * DEEP,
    "inside-a-field": '{"notes": ' + "[" * DEEP + "]" * DEEP + "}",
}


@pytest.mark.parametrize("nesting", NESTINGS.values(), ids=NESTINGS.keys())
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_api_refuses_json_nested_10000_deep_with_400(api, world, endpoint, nesting):
    response = refused_api(api, world, endpoint, 400, raw=nesting, content_type="application/json")
    assert response.json() == {
        "detail": "JSON parse error - the body is nested too deeply.",
        "code": "parse_error",
    }


# ------------------------------------------------------------------ unlinking twice


def test_unlinking_twice_through_the_api_is_409_the_second_time(api, world):
    http = api("reception")
    url = f"{V1}/appointments/{world.linked.pk}/unlink/"
    assert http.post(url, format="json").status_code == 200
    before = fingerprint()
    again = http.post(url, format="json")
    assert again.status_code == 409
    assert again.json() == {
        "detail": "This appointment is not linked to a package.",
        "code": "not_linked",
    }
    assert fingerprint() == before


# 2026-04-05 03:00 in Sydney the clocks go back to 02:00: 02:00-03:00 happens twice. The
# API takes such a time only with its offset (tests/trust/hardening/test_dst_ambiguous.py).
REPEATED_HOUR = "2026-04-05T02:30:00+11:00"


def test_a_booking_in_the_hour_that_repeats_lasts_its_real_duration_in_the_api(api, world):
    response = send(api, world, "book", starts_at=REPEATED_HOUR)
    assert response.status_code == 201, response.json()
    booked = response.json()
    assert (booked["starts_at"], booked["ends_at"]) == (
        "2026-04-05T02:30:00+11:00",
        "2026-04-05T02:00:00+10:00",
    )


# --------------------------------------------------------- odd Idempotency-Key headers

ODD_KEYS = {
    "nul": ("a\x00b", 400),
    "10000-chars": (LONG, 400),
    "emoji": ("key-😀", 400),
    "empty": ("", 400),
}


@pytest.mark.parametrize(("key", "status"), ODD_KEYS.values(), ids=ODD_KEYS.keys())
def test_api_refuses_odd_idempotency_keys(api, world, key, status):
    http = api("reception")
    before = fingerprint()
    response = http.post(
        f"{V1}/clients/",
        {"first_name": "Ann", "last_name": "Lee"},
        format="json",
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == status
    assert "Use 1 to 255 printable ASCII characters" in response.json()["Idempotency-Key"][0]
    assert fingerprint() == before


def test_api_refuses_an_idempotency_key_reused_for_another_body_with_422(api, world):
    http = api("reception")
    first = http.post(
        f"{V1}/clients/",
        {"first_name": "Ann", "last_name": "Lee"},
        format="json",
        headers={"Idempotency-Key": "k-1"},
    )
    assert first.status_code == 201
    before = fingerprint()
    again = http.post(
        f"{V1}/clients/",
        {"first_name": "Bob", "last_name": "Lee"},
        format="json",
        headers={"Idempotency-Key": "k-1"},
    )
    assert again.status_code == 422
    assert again.json()["code"] == "idempotency_key_reused"
    assert fingerprint() == before

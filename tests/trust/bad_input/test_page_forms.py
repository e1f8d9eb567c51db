"""Bad input posted to the staff page forms: text, numbers, amounts, dates and rules,
JSON instead of a form, the wrong role, unlinking twice, the hour that repeats.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from django.urls import reverse

from tests.trust.bad_input.common import (
    BAD_IDS,
    DST_GAP_DAY,
    DST_GAP_TIME,
    LONG,
    NUL,
    SCRIPT,
    assert_escaped,
    beside,
    fingerprint,
    stored,
    visible,
)
from tests.trust.bad_input.page_forms import (
    PAGE_FORMS,
    _day,
    _latest,
    post_form,
    refused_page,
)

pytestmark = pytest.mark.django_db


# ------------------------------------------------- text fields of the page forms

REQUIRED = "This field is required."


@dataclass(frozen=True)
class TextField:
    form: str
    name: str  # as posted (with the form's prefix)
    max_length: int | None
    required: str | None = None  # the message for an empty value; None: optional
    script: str | None = None  # why `<script>…` is refused; None: it is accepted
    too_long: str | None = None  # the message for 10,000 characters, when not the usual


TEXT_FIELDS = [
    TextField("client-add", "first_name", 100, REQUIRED),
    TextField("client-add", "last_name", 100, REQUIRED),
    TextField("client-add", "email", 254, script="Enter a valid email address."),
    TextField("client-add", "phone", 40, script="Use digits, spaces, +, - or brackets."),
    TextField("client-add", "notes", 5000),
    TextField("client-edit", "first_name", 100, REQUIRED),
    TextField("client-edit", "last_name", 100, REQUIRED),
    TextField("client-edit", "notes", 5000),
    TextField("service-add", "name", 200, REQUIRED),
    TextField("category-add", "name", 100, REQUIRED),
    TextField("package-add", "name", 200, REQUIRED),
    TextField("package-add", "description", 5000),
    TextField("package-edit", "name", 200, REQUIRED),
    TextField("package-edit", "description", 5000),
    TextField("package-cancel", "reason", 500, "Give a reason for canceling the package."),
    TextField("package-adjust", "reason", 500, "Give a reason for the adjustment."),
    TextField("package-extend", "reason", 500, "Give a reason for changing the expiry date."),
    TextField("appointment-create", "notes", 5000),
    TextField("appointment-edit", "notes", 5000),
    TextField("invoice-details", "notes", 5000),
    TextField("line-add", "add-description", 500, REQUIRED),
    TextField("line-edit", "line-description", 500, REQUIRED),
    TextField("pay", "reference", 200),
    TextField("refund", "reason", 2000, "Enter a reason for the refund."),
    TextField("invoice-void", "reason", 2000),
    TextField("payment-void", "reason", 2000),
    TextField("practice", "practice-name", 200, REQUIRED),
    TextField("practice", "practice-address", 5000),
    TextField("practice", "practice-phone", 40),
    TextField("practice", "practice-email", 320, script="Enter a valid email address."),
    TextField("practice", "practice-tax_id", 40),
    TextField(
        "practice",
        "practice-currency",
        3,
        REQUIRED,
        script="Ensure this value has at most 3 characters (it has 25).",
    ),
    TextField(
        "invoice-settings",
        "invoices-invoice_prefix",
        20,
        script="Ensure this value has at most 20 characters (it has 25).",
    ),
    TextField("tax-rate-add", "name", 100, REQUIRED),
    TextField("payment-method-add", "name", 100, REQUIRED),
    TextField("cancellation-reason-add", "name", 100, REQUIRED),
    TextField("location-add", "name", 200, REQUIRED),
    TextField("location-add", "address", 5000),
    TextField("practitioner-add", "name", 200, REQUIRED),
    TextField(
        "practitioner-add",
        "colour",
        None,
        REQUIRED,
        script="Choose a colour such as #2f7d6d.",
        too_long="Choose a colour such as #2f7d6d.",
    ),
    TextField("staff-add", "first_name", 150),
    TextField("staff-add", "last_name", 150),
    TextField(
        "staff-add",
        "username",
        150,
        REQUIRED,
        script="Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
    ),
    TextField("staff-add", "email", 320, script="Enter a valid email address."),
]


def _text_cases():
    for f in TEXT_FIELDS:
        too_long = (
            f.too_long or f"Ensure this value has at most {f.max_length} characters (it has 10000)."
        )
        yield pytest.param(f, NUL, "Null characters are not allowed.", id=f"{f.form}-{f.name}-nul")
        yield pytest.param(f, LONG, too_long, id=f"{f.form}-{f.name}-10000-chars")
        if f.required:
            yield pytest.param(f, "", f.required, id=f"{f.form}-{f.name}-empty")


@pytest.mark.parametrize(("text_field", "value", "message"), list(_text_cases()))
def test_page_forms_refuse_empty_overlong_and_nul_text(pages, world, text_field, value, message):
    response = refused_page(pages, world, text_field.form, 400, **{text_field.name: value})
    form = PAGE_FORMS[text_field.form]
    assert message in beside(response, form.id_prefix + text_field.name)


@pytest.mark.parametrize("text_field", TEXT_FIELDS, ids=[f"{f.form}-{f.name}" for f in TEXT_FIELDS])
def test_script_in_every_page_text_field_is_stored_as_typed_and_escaped(pages, world, text_field):
    form = PAGE_FORMS[text_field.form]
    if text_field.script is not None:
        # Refused (an email, a phone, a code): the form shows the typed value, escaped.
        response = refused_page(pages, world, text_field.form, 400, **{text_field.name: SCRIPT})
        assert text_field.script in beside(response, form.id_prefix + text_field.name)
        assert_escaped(response)
        return
    response = post_form(pages, world, text_field.form, **{text_field.name: SCRIPT})
    assert response.status_code == 302, visible(response)[:2000]
    assert stored(SCRIPT), "the value was not stored as typed"
    shown = pages(form.role).get(form.shows(world))
    assert shown.status_code == 200
    assert_escaped(shown)


# -------------------------------------- numbers, amounts, dates and rules (pages)

INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."
WHOLE = "Enter a whole number."
NUMBER = "Enter a number."
VALID_DATE = "Enter a valid date."
TWO_PLACES = "Ensure that there are no more than 2 decimal places."


def digits(n: int) -> str:
    return f"Ensure that there are no more than {n} digits in total."


def refusal(form, changes, status, message, where=None, *, id):
    """One refused page submission: `changes` (a dict, or a function of the world) made
    to the valid data of `form`; the `status` and `message` expected, beside the field
    `where` (its posted name) or anywhere on the page."""
    return pytest.param(form, changes, status, message, where, id=id)


def _qty(w):
    return f"qty_{w.practice.follow_up.pk}"


def _amounts(form, name, max_digits=12, low="0.01"):
    """The odd amounts, typed into the money field `name` of `form`."""
    for value, message, tag in (
        ("10.005", TWO_PLACES, "three-decimals"),
        ("1e20", digits(max_digits), "1e20"),
        ("99999999999999", digits(max_digits), "fourteen-nines"),
        ("NaN", NUMBER, "nan"),
        ("Infinity", NUMBER, "infinity"),
        ("-1", f"Ensure this value is greater than or equal to {low}.", "minus-one"),
    ):
        yield refusal(form, {name: value}, 400, message, name, id=f"{form}-{name}-{tag}")


def _credits(form, name, low=1, zero=None):
    for value, message, tag in (
        ("0", zero or f"Ensure this value is greater than or equal to {low}.", "zero"),
        ("-1", f"Ensure this value is greater than or equal to {low}.", "minus-one"),
        ("1.5", WHOLE, "one-and-a-half"),
    ):
        if value == "-1" and low < 0:
            continue  # -1 removes a credit: valid (refused below what is used, see below)
        yield refusal(form, {name: value}, 400, message, name, id=f"{form}-{name}-{tag}")


def _ids(form, name, message=INVALID_CHOICE, where="field"):
    for tag, value in BAD_IDS.items():
        yield refusal(
            form,
            {name: value},
            400,
            message,
            name if where == "field" else None,
            id=f"{form}-{name}-{tag}",
        )


PAGE_REFUSALS = [
    # Credits and other whole numbers.
    *_credits("package-add", "credits"),
    *_credits("package-edit", "credits"),
    *[
        refusal(
            "package-add",
            lambda w, v=value: {"define_quantities": "on", _qty(w): v, "credits": "10"},
            400,
            message,
            lambda w: _qty(w),
            id=f"package-add-quantity-{tag}",
        )
        for value, message, tag in (
            ("0", "Ensure this value is greater than or equal to 1.", "zero"),
            ("-1", "Ensure this value is greater than or equal to 1.", "minus-one"),
            ("1.5", WHOLE, "one-and-a-half"),
        )
    ],
    *[
        refusal(
            "package-add",
            {"expires": "on", "expires_after_value": value},
            400,
            message,
            "expires_after_value",
            id=f"package-add-expires-after-{tag}",
        )
        for value, message, tag in (
            ("0", "Ensure this value is greater than or equal to 1.", "zero"),
            ("-1", "Ensure this value is greater than or equal to 1.", "minus-one"),
            ("1.5", WHOLE, "one-and-a-half"),
        )
    ],
    *_credits("package-adjust", "quantity", low=-1000, zero="Enter a number other than 0."),
    refusal(
        "package-adjust",
        {"quantity": "-1000000"},
        400,
        "Ensure this value is greater than or equal to -1000.",
        "quantity",
        id="package-adjust-quantity-minus-a-million",
    ),
    refusal(
        "package-adjust-completed",
        {},
        409,
        "Can't remove 1 credit(s): only 0 remain.",
        id="package-adjust-below-consumed",
    ),
    *_credits("service-add", "duration_minutes"),
    *_credits("invoice-settings", "invoices-invoice_next_number"),
    # Amounts of money (and rates).
    *_amounts("service-add", "price", low="0"),
    *_amounts("package-add", "price", low="0"),
    *_amounts("line-add", "add-unit_price", low="0"),
    *_amounts("line-edit", "line-unit_price", low="0"),
    *_amounts("pay", "amount"),
    *_amounts("refund", "amount"),
    *_amounts("tax-rate-add", "rate", max_digits=5, low="0"),
    refusal(
        "line-add",
        {"add-quantity": "0"},
        400,
        "Ensure this value is greater than or equal to 0.01.",
        "add-quantity",
        id="line-add-quantity-zero",
    ),
    refusal(
        "line-add", {"add-quantity": "NaN"}, 400, NUMBER, "add-quantity", id="line-add-quantity-nan"
    ),
    refusal(
        "line-add",
        {"add-discount_percent": "10.005"},
        400,
        TWO_PLACES,
        "add-discount_percent",
        id="line-add-discount-three-decimals",
    ),
    refusal(
        "line-add",
        {"add-discount_percent": "Infinity"},
        400,
        NUMBER,
        "add-discount_percent",
        id="line-add-discount-infinity",
    ),
    # Impossible dates, and times that do not exist on the practice's clock.
    *[
        refusal(form, {name: "2026-02-30"}, 400, VALID_DATE, name, id=f"{form}-{name}-feb-30")
        for form, name in (
            ("client-add", "date_of_birth"),
            ("package-extend", "expires_on"),
            ("appointment-create", "date"),
            ("appointment-edit", "date"),
            ("invoice-details", "issue_date"),
            ("pay", "date"),
            ("refund", "date"),
        )
    ],
    refusal(
        "appointment-create",
        {"start_time": "25:00"},
        400,
        "Enter a valid time.",
        "start_time",
        id="appointment-create-hour-25",
    ),
    *[
        refusal(
            form,
            {"date": DST_GAP_DAY, "start_time": DST_GAP_TIME, "end_time": "03:30"},
            400,
            "02:30 does not exist on 4 Oct 2026: the clocks go forward from 02:00 to 03:00.",
            "start_time",
            id=f"{form}-start-in-dst-gap",
        )
        for form in ("appointment-create", "appointment-edit")
    ],
    refusal(
        "appointment-create",
        {"date": DST_GAP_DAY, "start_time": "01:30", "end_time": "02:15"},
        400,
        "02:15 does not exist on 4 Oct 2026: the clocks go forward from 02:00 to 03:00.",
        "end_time",
        id="appointment-create-end-in-dst-gap",
    ),
    refusal(
        "appointment-create",
        {"start_time": "11:00", "end_time": "10:00"},
        400,
        "The end must be after the start.",
        "end_time",
        id="appointment-create-end-before-start",
    ),
    # Expiry before start (and too far ahead).
    refusal(
        "package-extend",
        lambda w: {"expires_on": (w.fixed.start_date - dt.timedelta(days=1)).isoformat()},
        409,
        "The expiry date can't be before the start date",
        id="package-extend-expiry-before-start",
    ),
    refusal(
        "package-extend",
        {"expires_on": "2101-01-01"},
        400,
        "Check the year: that date is too far ahead.",
        "expires_on",
        id="package-extend-expiry-in-2101",
    ),
    # Money rules.
    refusal(
        "refund",
        {"amount": "40.01"},
        409,
        "The amount is more than what can still be refunded on this payment ($40.00).",
        id="refund-above-the-paid-amount",
    ),
    refusal(
        "refund-void-payment",
        {},
        409,
        "This payment is void and cannot be refunded.",
        id="refund-of-a-void-payment",
    ),
    refusal(
        "pay",
        {"amount": "90.01"},
        409,
        "The amount is more than the balance of $90.00.",
        id="pay-above-the-balance",
    ),
    refusal("pay-void-invoice", {}, 409, "is void.", id="pay-a-void-invoice"),
    refusal(
        "pay-draft-invoice",
        {},
        409,
        "Finalize the invoice before taking a payment.",
        id="pay-a-draft-invoice",
    ),
    refusal(
        "line-add-open-invoice",
        {},
        409,
        "is finalized and cannot be changed.",
        id="add-a-line-to-an-open-invoice",
    ),
    refusal(
        "invoice-void-paid",
        {},
        409,
        "Refund or void its payments",
        id="void-an-invoice-with-payments",
    ),
    refusal(
        "package-cancel-canceled", {}, 409, "is already canceled.", id="cancel-a-canceled-package"
    ),
    # Linking: expired, completed, canceled, someone else's, not covered, already linked.
    *[
        refusal(
            "appointment-link",
            lambda w, state=state: {
                "link_choice": f"{getattr(w, state).pk}:{w.practice.follow_up.pk}"
            },
            status,
            message,
            id=f"link-{state}-package",
        )
        for state, status, message in (
            ("expired", 409, "Physio Starter Pack expired on"),
            ("completed", 409, "No credits left in Single follow-up."),
            ("canceled", 409, "Flexi 5 is canceled and cannot be used."),
            ("others", 400, "Select a package, then the service it covers."),
        )
    ],
    refusal(
        "appointment-link",
        lambda w: {"link_choice": f"{w.flexi.pk}:{w.practice.massage.pk}"},
        400,
        "Select a package, then the service it covers.",
        id="link-a-service-not-covered",
    ),
    *[
        refusal(
            "appointment-link",
            {"link_choice": choice},
            400,
            "Select a package, then the service it covers.",
            id=f"link-choice-{tag}",
        )
        for tag, choice in (
            ("abc", "abc"),
            ("zero", "0:0"),
            ("minus-one", "-1:-1"),
            ("two-to-the-63", f"{2**63}:{2**63}"),
            ("empty", ""),
        )
    ],
    refusal(
        "appointment-link",
        {"link_choice": "1\x00:1"},
        400,
        "Null characters are not allowed.",
        id="link-choice-nul",
    ),
    refusal(
        "appointment-link-linked",
        {},
        409,
        "already linked to a package. Unlink it first",
        id="link-an-already-linked-appointment",
    ),
    *[
        refusal(
            "appointment-create",
            lambda w, state=state: {"client_package": getattr(w, state).pk},
            status,
            message,
            id=f"book-with-{state}-package",
        )
        for state, status, message in (
            ("expired", 409, "Physio Starter Pack expired on"),
            ("completed", 409, "No credits left in Single follow-up."),
            ("canceled", 409, "Flexi 5 is canceled and cannot be used."),
            ("others", 400, "That package belongs to another client; choose the package again."),
        )
    ],
    # Unlinking twice: the appointment is no longer linked.
    refusal(
        "appointment-edit",
        {"unlink_package": "1"},
        409,
        "This appointment is not linked to a package.",
        id="unlink-twice",
    ),
    # Ids that do not exist or are out of range, in form fields.
    *_ids("appointment-create", "client", "That client can't be booked; choose another."),
    *_ids("appointment-create", "service"),
    *_ids("appointment-create", "practitioner"),
    *_ids("appointment-create", "location"),
    *_ids(
        "appointment-create",
        "client_package",
        "That package can't be used here; choose it again under “View”.",
        where="page",
    ),
    *_ids("appointment-edit", "service"),
    *_ids("appointment-cancel", "reason"),
    *_ids("invoice-new", "client", "That client no longer exists. Search again."),
    *_ids("invoice-new", "practitioner"),
    *_ids("invoice-details", "location"),
    *_ids(
        "package-create",
        "package",
        "That package is no longer in the catalog; select another.",
        where="page",
    ),
    *_ids("package-invoice", "practitioner"),
    *_ids("package-adjust-fixed", "service"),
    *_ids("pay", "method"),
    *_ids("line-add", "add-tax_rate"),
    *_ids("service-add", "category"),
    *_ids("package-add", "services", "is not", where="page"),
    *_ids("practitioner-add", "user"),
]


@pytest.mark.parametrize(("form_key", "changes", "status", "message", "where"), PAGE_REFUSALS)
def test_page_forms_refuse_bad_input(pages, world, form_key, changes, status, message, where):
    changes = changes(world) if callable(changes) else changes
    response = refused_page(pages, world, form_key, status, **changes)
    if where is None:
        assert message in visible(response)
    else:
        name = where(world) if callable(where) else where
        assert message in beside(response, PAGE_FORMS[form_key].id_prefix + name)


# --------------------------------------- wrong content type and wrong role (pages)


@pytest.mark.parametrize(
    ("form_key", "message"),
    [
        ("client-add", "This field is required."),
        (
            "appointment-create",
            "Choose a client: type a name or phone number, then pick the client.",
        ),
        ("pay", "Choose a payment method."),
        ("line-add", "This field is required."),
    ],
)
def test_json_posted_to_a_page_form_is_400_with_messages(pages, world, form_key, message):
    form = PAGE_FORMS[form_key]
    http = pages(form.role)
    url, data = form.url(world), form.data(world)
    before = fingerprint()
    response = http.post(url, json.dumps(data), content_type="application/json")
    assert response.status_code == 400
    assert message in visible(response)
    assert fingerprint() == before


@pytest.mark.parametrize(
    ("form_key", "role"),
    [
        ("refund", "practitioner"),
        ("appointment-create", "accountant"),
        ("service-add", "reception"),
        ("package-adjust", "reception"),
        ("practice", "reception"),
        ("line-add", "practitioner"),
    ],
)
def test_page_forms_refuse_the_wrong_role_with_403(pages, world, form_key, role):
    form = PAGE_FORMS[form_key]
    http = pages(role)
    url, data = form.url(world), form.data(world)
    before = fingerprint()
    response = http.post(url, data)
    assert response.status_code == 403
    assert fingerprint() == before


# ------------------------------------------------------------------ unlinking twice


def test_unlinking_twice_on_the_page_is_refused_the_second_time(pages, world):
    http = pages("reception")
    appointment = world.linked
    data = PAGE_FORMS["appointment-edit"].data(world)
    data.update(date=_day(2), start_time="09:00", end_time="09:30", unlink_package="1")
    url = reverse("calendar_app:edit", args=[appointment.pk])
    assert http.post(url, data).status_code == 302
    world.fixed.refresh_from_db()
    assert world.fixed.consumed == 0
    before = fingerprint()
    again = http.post(url, data)
    assert again.status_code == 409
    assert "This appointment is not linked to a package." in visible(again)
    assert fingerprint() == before


# 2026-04-05 03:00 in Sydney the clocks go back to 02:00: 02:00-03:00 happens twice.
REPEATED_HOUR = "2026-04-05T02:30:00"


def test_a_booking_in_the_hour_that_repeats_lasts_its_real_duration_on_the_page(pages, world):
    """02:30 chosen as its first occurrence (the form asks: tests/trust/hardening/
    test_dst_ambiguous.py); 60 minutes later is the second 02:30 (an end computed on the
    wall clock, 03:30, would make it last two hours)."""
    http = pages("reception")
    data = PAGE_FORMS["appointment-create"].data(world)
    data.update(
        date="2026-04-05",
        start_time="02:30",
        start_occurrence="first",
        service=world.practice.massage.pk,
    )
    assert http.post(reverse("calendar_app:create"), data).status_code == 302
    booked = _latest("calendar_app.Appointment")
    assert booked.ends_at - booked.starts_at == dt.timedelta(minutes=60)

"""Pages: odd but valid names stored and shown as typed, `<script>` escaped wherever it
is shown, unknown ids in URLs, odd query strings.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client
from tests.trust.bad_input.common import (
    BAD_IDS,
    DST_GAP_DAY,
    DST_GAP_TIME,
    LONG,
    NAMES,
    NUL,
    assert_escaped,
    fingerprint,
    visible,
)

pytestmark = pytest.mark.django_db


# ------------------------------------------- odd but valid: stored and escaped


@pytest.mark.parametrize(("first", "last"), NAMES.values(), ids=NAMES.keys())
def test_page_stores_emoji_and_right_to_left_names_as_typed(pages, world, first, last):
    http = pages("reception")
    response = http.post(reverse("clients:add"), {"first_name": first, "last_name": last})
    assert response.status_code == 302
    client = Client.objects.get(first_name=first)
    assert (client.first_name, client.last_name) == (first, last)
    for url in (
        reverse("clients:detail", args=[client.pk]),
        reverse("clients:list"),
        reverse("clients:list") + "?" + f"q={first.split()[0]}",
    ):
        page = http.get(url)
        assert page.status_code == 200
        assert f"{first} {last}" in visible(page), url
        assert "<b>" not in page.content.decode()


SHOWN_ON = {
    "client-page": lambda s: reverse("clients:detail", args=[s.client.pk]),
    "client-list": lambda s: reverse("clients:list"),
    "client-list-search": lambda s: reverse("clients:list") + "?q=script",
    "client-appointments": lambda s: reverse("clients:appointments", args=[s.client.pk]),
    "client-invoices": lambda s: reverse("clients:invoices", args=[s.client.pk]),
    "client-edit-form": lambda s: reverse("clients:edit", args=[s.client.pk]),
    "package-page": lambda s: reverse("packages:detail", args=[s.package.pk]),
    "canceled-package-page": lambda s: reverse("packages:detail", args=[s.canceled.pk]),
    "catalog": lambda s: reverse("catalog:index"),
    "catalog-package": lambda s: reverse("catalog:package_detail", args=[s.package.package_id]),
    "calendar-day": lambda s: (
        reverse("calendar_app:calendar")
        + f"?date={timezone.localdate(s.appointment.starts_at).isoformat()}"
    ),
    "calendar-panel": lambda s: reverse("calendar_app:detail", args=[s.appointment.pk]),
    "calendar-edit-form": lambda s: reverse("calendar_app:edit", args=[s.appointment.pk]),
    "invoice-page": lambda s: reverse("invoicing:detail", args=[s.invoice.pk]),
    "invoice-print": lambda s: reverse("invoicing:print", args=[s.invoice.pk]),
    "invoice-list": lambda s: reverse("invoicing:list"),
    "payment-void-popup": lambda s: reverse("invoicing:payment_void", args=[s.payment.pk]),
    "settings": lambda s: reverse("settings:index"),
}


@pytest.mark.parametrize("where", SHOWN_ON.values(), ids=SHOWN_ON.keys())
def test_script_is_escaped_wherever_it_is_shown(pages, scripted, where):
    response = pages("admin").get(where(scripted))
    assert response.status_code == 200
    assert_escaped(response)


def test_script_in_an_htmx_fragment_is_escaped_too(pages, scripted):
    response = pages("admin").get(
        reverse("clients:list"), {"q": "script"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert_escaped(response)


# ------------------------------------------------------- unknown ids in page URLs

PAGE_URLS = {
    # path template (the id goes in {}), method
    "client": ("/clients/{}/", "get"),
    "client-edit": ("/clients/{}/edit/", "post"),
    "package-create": ("/packages/new/for-client/{}/", "post"),
    "package": ("/packages/{}/", "get"),
    "package-cancel": ("/packages/{}/cancel/", "post"),
    "package-adjust": ("/packages/{}/adjust/", "post"),
    "catalog-package-edit": ("/catalog/packages/{}/edit/", "post"),
    "service-edit": ("/catalog/services/{}/edit/", "post"),
    "appointment": ("/calendar/{}/", "get"),
    "appointment-edit": ("/calendar/{}/edit/", "post"),
    "appointment-link": ("/calendar/{}/link/", "post"),
    "appointment-cancel": ("/calendar/{}/cancel/", "post"),
    "appointment-invoice": ("/calendar/{}/invoice/", "post"),
    "invoice": ("/billing/{}/", "get"),
    "invoice-pay": ("/billing/{}/pay/", "post"),
    "invoice-line-edit": (lambda w: f"/billing/{w.draft.pk}/lines/{{}}/edit/", "post"),
    "payment-refund": ("/billing/payments/{}/refund/", "post"),
    "payment-void": ("/billing/payments/{}/void/", "post"),
    "location-edit": ("/settings/locations/{}/edit/", "post"),
    "staff-deactivate": ("/settings/staff/{}/deactivate/", "post"),
}


@pytest.mark.parametrize("bad_id", BAD_IDS.values(), ids=BAD_IDS.keys())
@pytest.mark.parametrize(("path", "method"), PAGE_URLS.values(), ids=PAGE_URLS.keys())
def test_unknown_ids_in_page_urls_are_404(pages, world, path, method, bad_id):
    path = path(world) if callable(path) else path
    http = pages("admin")
    before = fingerprint()
    response = getattr(http, method)(path.format(bad_id), {"reason": "x", "quantity": "1"})
    assert response.status_code == 404
    assert "Page not found" in visible(response) or "not found" in visible(response).lower()
    assert fingerprint() == before


# --------------------------------------------------- odd query strings on pages

PAGE_QUERIES = [
    ("/clients/", {"q": LONG}, 400, "at most 100 characters"),
    ("/catalog/", {"q": NUL}, 200, None),
    ("/catalog/", {"q": LONG, "page": "abc"}, 200, None),
    ("/catalog/services/", {"q": NUL, "category": str(2**63)}, 200, None),
    ("/billing/", {"q": NUL}, 200, "Null characters are not allowed."),
    ("/billing/", {"issued_from": "2026-02-30"}, 200, "Enter a valid date."),
    ("/billing/new/", {"q": NUL, "client": "abc"}, 200, None),
    ("/billing/new/", {"q": LONG, "client": str(2**63)}, 200, None),
    (
        "/calendar/",
        {"date": "2026-02-30", "practitioner": "abc", "location": str(2**63)},
        200,
        None,
    ),
    ("/calendar/", {"date": DST_GAP_DAY, "view": "week"}, 200, None),
    ("/calendar/new/", {"start": f"{DST_GAP_DAY}T{DST_GAP_TIME}", "client": "-1"}, 200, None),
    ("/calendar/new/", {"start": NUL, "service": "abc"}, 200, None),
    ("/calendar/new/clients/", {"client_query": NUL}, 200, None),
    (
        "/calendar/new/packages/",
        {"client": "abc", "date": "2026-02-30", "service": str(2**63)},
        200,
        None,
    ),
    (lambda w: f"/clients/{w.client.pk}/", {"page": str(2**63)}, 200, None),
    (lambda w: f"/packages/{w.fixed.pk}/", {"page": NUL, "appointments_page": "-1"}, 200, None),
]


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    PAGE_QUERIES,
    ids=[
        f"{path if isinstance(path, str) else 'detail'}-{'-'.join(params)}"
        for path, params, _, _ in PAGE_QUERIES
    ],
)
def test_odd_query_strings_on_pages_are_answered(pages, world, path, params, status, message):
    path = path(world) if callable(path) else path
    http = pages("reception")
    before = fingerprint()
    response = http.get(path, params, headers={"HX-Request": "true"} if "/new/" in path else {})
    assert response.status_code == status
    if message:
        assert message in visible(response)
    assert fingerprint() == before

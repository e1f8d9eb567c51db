"""Public links to an invoice: signed, unguessable, expiring, revocable; the client views
and downloads the invoice without signing in; every other token gets a plain refusal
that tells nothing about the invoice."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from documents.links import token_hash
from documents.models import InvoiceLink
from documents.services import invoice_link_create, invoice_link_revoke
from invoicing.services import invoice_void
from kernel.errors import NotAllowed
from tests import refusals
from tests.documents.conftest import pdf_text
from tests.invoicing.helpers import draft


def public(token: str) -> str:
    return reverse("public:invoice", args=[token])


def test_the_client_views_and_downloads_the_invoice_without_signing_in(billed, client, reception):
    link, token = invoice_link_create(invoice=billed.invoice, by=reception)
    assert link.expires_at - link.created_at == dt.timedelta(days=30)
    assert link.token_hash == token_hash(token.split(":")[0]) and token not in link.token_hash
    page = client.get(public(token))
    assert page.status_code == 200
    text = page.content.decode()
    assert billed.invoice.number in text and "Jo Citizen" in text and "BSB: 062-000" in text
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    pdf = client.get(reverse("public:invoice_pdf", args=[token]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert billed.invoice.number in pdf_text(pdf.content)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: "nonsense",
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature altered
        lambda token: ("Y" if token[0] == "X" else "X") + token[1:],  # random part altered
        lambda token: token.split(":")[0],  # signature missing
    ],
    ids=["random", "bad-signature", "bad-token", "unsigned"],
)
def test_a_wrong_token_is_not_found(billed, client, reception, mangle):
    _link, token = invoice_link_create(invoice=billed.invoice, by=reception)
    for url in (public(mangle(token)), reverse("public:invoice_pdf", args=[mangle(token)])):
        response = client.get(url)
        assert response.status_code == 404
        assert billed.invoice.number.encode() not in response.content
        assert b"Jo Citizen" not in response.content


def test_an_expired_link_is_gone(billed, client, reception):
    _link, token = invoice_link_create(invoice=billed.invoice, days=2, by=reception)
    with time_machine.travel(timezone.now() + dt.timedelta(days=2, seconds=1)):
        response = client.get(public(token))
        assert response.status_code == 410
        assert b"Link expired" in response.content
        assert b"Jo Citizen" not in response.content
        assert client.get(reverse("public:invoice_pdf", args=[token])).status_code == 410
    assert client.get(public(token)).status_code == 200  # a day before, still fine


def test_a_revoked_link_is_gone(billed, client, reception):
    link, token = invoice_link_create(invoice=billed.invoice, by=reception)
    invoice_link_revoke(link=link, by=reception)
    response = client.get(public(token))
    assert response.status_code == 410 and b"Link withdrawn" in response.content
    assert billed.invoice.number.encode() not in response.content
    with refusals.refused("link_already_revoked"):
        invoice_link_revoke(link=link, by=reception)


def test_voiding_the_invoice_withdraws_its_links(practice, client, reception, admin_user):
    from tests.invoicing.helpers import open_invoice

    invoice = open_invoice("90.00", client=practice.client)
    _link, token = invoice_link_create(invoice=invoice, by=reception)
    invoice_void(invoice=invoice, reason="Entered twice", by=admin_user)
    assert client.get(public(token)).status_code == 410


def test_drafts_are_not_shared_and_days_are_bounded(practice, billed, reception):
    with refusals.refused("invoice_not_shareable"):
        invoice_link_create(invoice=draft("10.00", client=practice.client), by=reception)
    for days in (0, 366):
        with refusals.refused("invalid_link_days"):
            invoice_link_create(invoice=billed.invoice, days=days, by=reception)


def test_who_shares_and_revokes(billed, practitioner_user, accountant, reception):
    with pytest.raises(NotAllowed):
        invoice_link_create(invoice=billed.invoice, by=practitioner_user)
    with pytest.raises(NotAllowed):
        invoice_link_create(invoice=billed.invoice, by=accountant)
    link, _token = invoice_link_create(invoice=billed.invoice, by=reception)
    with pytest.raises(NotAllowed):
        invoice_link_revoke(link=link, by=accountant)
    assert InvoiceLink.objects.get().revoked_at is None


def test_share_and_revoke_on_the_invoice_page(billed, client, reception):
    client.force_login(reception)
    page_url = reverse("documents:page", args=["invoice", billed.invoice.pk])
    assert b"Share link" in client.get(page_url).content
    created = client.post(reverse("documents:link_create", args=[billed.invoice.pk]))
    assert created.status_code == 200
    url = created.context["url"]
    assert "/d/" in url and url.encode() in created.content
    link = InvoiceLink.objects.get()
    page = client.get(page_url)
    assert b"Revoke" in page.content and b"Active" in page.content
    assert url.encode() not in page.content  # shown once, never again
    revoked = client.post(reverse("documents:link_revoke", args=[link.pk]))
    assert revoked.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None and link.revoked_by == reception
    client.logout()
    token = url.rsplit("/d/", 1)[1].strip("/")
    assert client.get(public(token)).status_code == 410


def test_the_share_pages_are_refused_without_the_permission(billed, client, accountant):
    client.force_login(accountant)
    assert (
        client.post(reverse("documents:link_create", args=[billed.invoice.pk])).status_code == 403
    )
    assert not InvoiceLink.objects.exists()

"""Sendings, links and document settings are audited as every other change: the Activity
page tells who did what."""

from __future__ import annotations

import pghistory
from django.urls import reverse

from documents.selectors import invoice_document
from documents.services import document_send, invoice_link_create, invoice_link_revoke
from practice.services import document_settings_update
from tests.documents.conftest import tiny_png


def _sentences(client) -> list[str]:
    response = client.get(reverse("settings:activity"))
    return [row["sentence"] for row in response.context["rows"]]


def test_the_activity_tells_sendings_links_and_settings(billed, refusing_smtp, client, admin_user):
    admin_user.first_name, admin_user.last_name = "Jo", "Admin"
    admin_user.save()
    number = billed.invoice.number
    with pghistory.context(user=admin_user.pk):
        document_send(document=invoice_document(billed.invoice), by=admin_user)
        link, _token = invoice_link_create(invoice=billed.invoice, by=admin_user)
        invoice_link_revoke(link=link, by=admin_user)
        document_settings_update(payment_instructions="BSB 1", logo=tiny_png(), by=admin_user)
    client.force_login(admin_user)
    said = _sentences(client)
    assert any(
        s.startswith(f"Jo Admin tried to email invoice {number} of Jo Citizen to jo@example.com")
        and "550" in s
        for s in said
    ), said
    assert f"Jo Admin shared a public link to invoice {number}" in said
    assert f"Jo Admin revoked a public link to invoice {number}" in said
    assert "Jo Admin changed the practice's logo" in said  # the fixture uploaded one
    assert any("payment instructions" in s for s in said)

"""Issue 9, finding 5: the Django admin's history was raw JSON with no "who" column. Its
Events list now reads like the Activity page: when, who, from where, what happened in
words and what changed, filtered to one row from that row's change form."""

from __future__ import annotations

from decimal import Decimal

import pghistory
import pytest

from catalog import services as catalog_services

pytestmark = pytest.mark.django_db

EVENTS = "/admin/pghistory/events/"


@pytest.fixture
def jo(admin_user):
    admin_user.first_name, admin_user.last_name = "Jo", "Admin"
    admin_user.save()
    return admin_user


def _reprice(service, price, by):
    catalog_services.service_update(
        service=service,
        name=service.name,
        category=service.category,
        duration_minutes=service.duration_minutes,
        price=Decimal(price),
        tax_rate=service.tax_rate,
        by=by,
    )


def test_the_admin_history_says_who_from_where_and_what_changed(client, jo, practice):
    old = f"{practice.massage.price:.2f}"
    with pghistory.context(user=jo.pk, ip="192.0.2.50", url="/catalog/", method="POST"):
        _reprice(practice.massage, "95", jo)
    client.force_login(jo)
    response = client.get(
        EVENTS, {"method": "tracks", "obj": f"catalog.Service:{practice.massage.pk}"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    for header in ("When", "Who", "From", "What happened", "What changed"):
        assert f">{header}<" in html or f">{header}</a>" in html, header
    assert f"Jo Admin changed the price of service Remedial massage from {old} to 95.00" in html
    assert f"price: {old} → 95.00" in html
    assert "192.0.2.50 · POST /catalog/" in html
    assert "pgh_diff" not in html and "{&quot;" not in html  # no raw JSON


def test_the_change_form_links_to_the_rows_events(client, jo, practice):
    client.force_login(jo)
    html = client.get(f"/admin/catalog/service/{practice.massage.pk}/change/").content.decode()
    assert f"{EVENTS}?method=tracks&obj=catalog.Service:{practice.massage.pk}" in html
    assert ">Audit history</a>" in html


def test_the_admin_history_queries_do_not_grow_with_the_events(
    client, jo, practice, django_assert_max_num_queries
):
    client.force_login(jo)
    with pghistory.context(user=jo.pk):
        _reprice(practice.massage, "91", jo)
    client.get(EVENTS)
    with django_assert_max_num_queries(100) as few:
        client.get(EVENTS)
    for price in range(92, 120):
        with pghistory.context(user=jo.pk):
            _reprice(practice.massage, str(price), jo)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(EVENTS)
    assert "from 118.00 to 119.00" in response.content.decode()


def test_only_the_admin_role_reads_the_admin_history(client, jo, reception):
    client.force_login(jo)
    assert not jo.is_superuser
    assert client.get(EVENTS).status_code == 200
    reception.is_staff = True
    reception.save()
    client.force_login(reception)
    assert client.get(EVENTS).status_code == 403

"""The catalog pages: packages, services, categories (read by all roles, changed by Admin)."""

import html
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Package, PackageKind, PeriodUnit, Service, ServiceCategory
from packages.services import client_package_assign
from tests.factories import ClientFactory, PackageFactory, ServiceFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    return html.unescape(response.content.decode())


def field_errors(response, field: str) -> str:
    """The text of the error list Django renders beside `field` ('' when none)."""
    match = re.search(
        rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', response.content.decode(), re.S
    )
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))) if match else ""


def package_post(practice, **changes):
    data = {
        "name": "Physio Starter Pack",
        "description": "For new physio clients",
        "credits": "4",
        "price": "400.00",
        "tax_rate": "",
        "services": [str(practice.initial.pk), str(practice.follow_up.pk)],
        "define_quantities": "on",
        f"qty_{practice.initial.pk}": "1",
        f"qty_{practice.follow_up.pk}": "3",
        "expires": "on",
        "expires_after_value": "3",
        "expires_after_unit": "months",
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


# ------------------------------------------------------------------------ access


def test_anonymous_goes_to_sign_in(client):
    response = client.get(reverse("catalog:index"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["admin_user", "reception", "practitioner_user", "accountant"])
def test_every_role_reads_the_catalog(request, client, practice, persona):
    client.force_login(request.getfixturevalue(persona))
    for url in (
        reverse("catalog:index"),
        reverse("catalog:package_detail", args=[practice.fixed.pk]),
        reverse("catalog:services"),
        reverse("catalog:categories"),
    ):
        assert client.get(url).status_code == 200, url
    page = client.get(reverse("catalog:index")).content.decode()
    assert "Physio Starter Pack" in page
    assert ("Add a package" in page) == (persona == "admin_user")
    assert (reverse("catalog:package_edit", args=[practice.fixed.pk]) in page) == (
        persona == "admin_user"
    )


@pytest.mark.parametrize("persona", ["reception", "practitioner_user", "accountant"])
def test_only_admin_changes_the_catalog(request, client, practice, persona):
    client.force_login(request.getfixturevalue(persona))
    category = practice.initial.category
    urls = [
        reverse("catalog:package_add"),
        reverse("catalog:package_edit", args=[practice.fixed.pk]),
        reverse("catalog:package_archive", args=[practice.fixed.pk]),
        reverse("catalog:package_restore", args=[practice.fixed.pk]),
        reverse("catalog:service_add"),
        reverse("catalog:service_edit", args=[practice.massage.pk]),
        reverse("catalog:service_archive", args=[practice.massage.pk]),
        reverse("catalog:service_restore", args=[practice.massage.pk]),
        reverse("catalog:category_add"),
        reverse("catalog:category_edit", args=[category.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code in (403, 405), url
        assert client.post(url, package_post(practice, name="Hacked")).status_code == 403, url
    assert not Package.objects.filter(name="Hacked").exists()
    assert not Package.objects.get(pk=practice.fixed.pk).archived


def test_unknown_objects_are_404(admin_client):
    assert admin_client.get(reverse("catalog:package_detail", args=[999999])).status_code == 404
    assert admin_client.get(reverse("catalog:package_edit", args=[999999])).status_code == 404
    assert admin_client.get(reverse("catalog:service_edit", args=[999999])).status_code == 404


# ------------------------------------------------------------------------ packages list


def test_packages_list_shows_kind_credits_amount_services_expiry_sold_status(
    admin_client, practice
):
    client_package_assign(client=practice.client, package=practice.fixed, by=None)
    client_package_assign(client=ClientFactory(), package=practice.fixed, by=None)

    page = admin_client.get(reverse("catalog:index")).content.decode()
    row = page[page.index("Physio Starter Pack") :]
    row = row[: row.index("</tr>")]
    for text in (
        "Fixed",
        ">4<",
        "$400.00",
        "1 × Physio initial consultation",
        "3 × Physio follow-up",
        "3 months",
        ">2<",
        "Active",
    ):
        assert text in row, text
    flexi = page[page.index("Flexi 5") :]
    flexi = flexi[: flexi.index("</tr>")]
    assert "Flexible" in flexi and "Never" in flexi


def test_archived_packages_show_under_archived(admin_client, practice):
    PackageFactory(name="Old pack", archived=True)
    active = admin_client.get(reverse("catalog:index")).content.decode()
    archived = admin_client.get(reverse("catalog:index") + "?show=archived").content.decode()
    assert "Old pack" not in active and "Old pack" in archived
    assert "Physio Starter Pack" not in archived


def test_search_and_odd_query_strings_never_fail(admin_client, practice):
    for query in ("?q=starter", "?page=abc", "?page=999", "?show=nonsense", "?q=" + "x" * 500):
        response = admin_client.get(reverse("catalog:index") + query)
        assert response.status_code == 200, query
    assert (
        "Flexi 5" not in admin_client.get(reverse("catalog:index") + "?q=starter").content.decode()
    )
    for query in ("?category=abc", "?category=none", "?category=99999", "?show=all&q=physio"):
        assert admin_client.get(reverse("catalog:services") + query).status_code == 200


def test_htmx_filter_gets_the_list_partial(admin_client, practice):
    response = admin_client.get(reverse("catalog:index") + "?show=all", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="package-list"' in body and "<html" not in body


def _rows(n):
    services = [ServiceFactory() for _ in range(3)]
    for i in range(n):
        package = PackageFactory(name=f"Pack {i:03}", services=services)
        client_package_assign(client=ClientFactory(), package=package, by=None)
    PackageFactory(
        name="Fixed one",
        kind=PackageKind.FIXED,
        allowances={services[0]: 2, services[1]: 1},
        expires_after_value=2,
        expires_after_unit=PeriodUnit.WEEKS,
    )


def count_queries(client, url) -> int:
    # Once before counting: a process's first request fills what it keeps (permissions,
    # settings), which a later request reads from memory whatever the rows.
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_catalog_lists_query_count_does_not_grow_with_rows(admin_client):
    ServiceCategory.objects.all().delete()
    _rows(3)
    few = {
        u: count_queries(admin_client, u)
        for u in (
            reverse("catalog:index"),
            reverse("catalog:services"),
            reverse("catalog:categories"),
        )
    }
    _rows(27)
    for i in range(27):
        ServiceCategory.objects.create(name=f"Extra category {i}")
    many = {u: count_queries(admin_client, u) for u in few}
    assert many == few


# ------------------------------------------------------------------------ add / edit a package


def test_admin_adds_a_fixed_package(admin_client, practice):
    Package.objects.filter(name="Physio Starter Pack").update(name="Old starter")
    response = admin_client.post(reverse("catalog:package_add"), package_post(practice))
    assert response.status_code == 302
    assert response.url == reverse("catalog:index")

    package = Package.objects.get(name="Physio Starter Pack")
    assert package.kind == PackageKind.FIXED
    assert (package.credits, package.price, package.expiry_label) == (
        4,
        Decimal("400.00"),
        "3 months",
    )
    assert package.description == "For new physio clients"
    assert {ps.service: ps.allowance for ps in package.package_services.all()} == {
        practice.initial: 1,
        practice.follow_up: 3,
    }
    page = admin_client.get(response.url).content.decode()
    assert "Package Physio Starter Pack added." in page


def test_htmx_add_redirects_the_browser(admin_client, practice):
    response = admin_client.post(
        reverse("catalog:package_add"), package_post(practice, name="Via htmx"), **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("catalog:index")


def test_quantities_that_do_not_add_up_are_refused_beside_define_quantities(admin_client, practice):
    data = package_post(practice, name="Too many", **{f"qty_{practice.initial.pk}": "2"})
    response = admin_client.post(reverse("catalog:package_add"), data)

    assert response.status_code == 400
    assert "The quantities add up to 5 but the package has 4 credits." in field_errors(
        response, "define_quantities"
    )
    body = response.content.decode()
    assert 'value="Too many"' in body  # everything typed is kept
    assert f'name="qty_{practice.initial.pk}" value="2"' in body
    assert not Package.objects.filter(name="Too many").exists()


def test_a_chosen_service_needs_a_quantity(admin_client, practice):
    data = package_post(practice, name="Missing qty", **{f"qty_{practice.follow_up.pk}": ""})
    response = admin_client.post(reverse("catalog:package_add"), data)
    assert response.status_code == 400
    assert "at least 1" in field_errors(response, f"qty_{practice.follow_up.pk}")


def test_without_define_quantities_the_quantities_are_ignored(admin_client, practice):
    """The no-JavaScript fallback: quantity inputs are always there; unticked, they don't count."""
    data = package_post(
        practice,
        name="Shared pool",
        define_quantities=None,
        expires=None,
        expires_after_value="junk",
        **{f"qty_{practice.initial.pk}": "abc", f"qty_{practice.massage.pk}": "7"},
    )
    response = admin_client.post(reverse("catalog:package_add"), data)
    assert response.status_code == 302, field_errors(response, f"qty_{practice.initial.pk}")
    package = Package.objects.get(name="Shared pool")
    assert package.kind == PackageKind.FLEXIBLE and not package.expires
    assert set(package.package_services.values_list("allowance", flat=True)) == {None}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "required"),
        ({"credits": "0"}, "credits", "greater than or equal to 1"),
        ({"credits": "99999999999999999999"}, "credits", "less than or equal to 1000"),
        ({"price": "-5"}, "price", "greater than or equal to 0"),
        ({"price": "12.345"}, "price", "decimal places"),
        ({"services": []}, "services", "Choose at least one service."),
        ({"services": ["abc"]}, "services", ""),
        ({"expires_after_value": ""}, "expires_after_value", "Enter how long"),
        ({"expires_after_unit": "fortnights"}, "expires_after_unit", "valid choice"),
        ({"tax_rate": "999999"}, "tax_rate", "valid choice"),
    ],
)
def test_invalid_package_input_is_shown_beside_the_field(
    admin_client, practice, changes, field, message
):
    response = admin_client.post(
        reverse("catalog:package_add"), package_post(practice, **{"name": "Bad", **changes})
    )
    assert response.status_code == 400
    assert field_errors(response, field), field
    assert message in field_errors(response, field)
    assert not Package.objects.filter(name__in=["Bad", ""]).exists()


def test_edit_form_says_sold_packages_never_change_and_saves(admin_client, practice):
    sold = client_package_assign(client=practice.client, package=practice.fixed, by=None)
    url = reverse("catalog:package_edit", args=[practice.fixed.pk])

    form = admin_client.get(url).content.decode()
    assert "Editing a package never changes packages already sold" in form
    assert f'name="qty_{practice.follow_up.pk}" value="3"' in form

    data = package_post(
        practice, name="Physio Pack", credits="5", **{f"qty_{practice.follow_up.pk}": "4"}
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302
    practice.fixed.refresh_from_db()
    assert (practice.fixed.name, practice.fixed.credits) == ("Physio Pack", 5)
    sold.refresh_from_db()
    assert (sold.name, sold.credits) == ("Physio Starter Pack", 4)


def test_archive_asks_first_then_restore(admin_client, practice):
    url = reverse("catalog:package_archive", args=[practice.fixed.pk])
    confirm = admin_client.get(url, **HTMX)
    assert "Archived packages can't be sold; packages already sold keep working." in text(confirm)
    assert not Package.objects.get(pk=practice.fixed.pk).archived

    response = admin_client.post(url, **HTMX)
    assert response["HX-Redirect"] == reverse("catalog:index")
    assert Package.objects.get(pk=practice.fixed.pk).archived

    response = admin_client.post(reverse("catalog:package_restore", args=[practice.fixed.pk]))
    assert response.status_code == 302
    assert not Package.objects.get(pk=practice.fixed.pk).archived


# ------------------------------------------------------------------------ services, categories


def test_service_popup_add_and_errors(admin_client, practice):
    url = reverse("catalog:service_add")
    popup = admin_client.get(url, **HTMX).content.decode()
    assert 'class="modal__header"' in popup and "<html" not in popup

    response = admin_client.post(url, {"name": "", "duration_minutes": "0", "price": "abc"}, **HTMX)
    assert response.status_code == 400
    assert field_errors(response, "name") and field_errors(response, "duration_minutes")
    assert field_errors(response, "price")

    response = admin_client.post(
        url,
        {
            "name": "Dry needling",
            "category": practice.initial.category_id,
            "duration_minutes": "20",
            "price": "60",
        },
        **HTMX,
    )
    assert response["HX-Redirect"] == reverse("catalog:services")
    assert Service.objects.get(name="Dry needling").duration_minutes == 20


def test_service_popup_works_as_a_page_without_javascript(admin_client, practice):
    url = reverse("catalog:service_edit", args=[practice.massage.pk])
    page = admin_client.get(url).content.decode()
    assert "<html" in page and 'value="Remedial massage"' in page
    response = admin_client.post(
        url, {"name": "Massage 60", "duration_minutes": "60", "price": "110"}
    )
    assert response.status_code == 302 and response.url == reverse("catalog:services")
    practice.massage.refresh_from_db()
    assert (practice.massage.name, practice.massage.price) == ("Massage 60", Decimal("110.00"))


def test_archiving_a_service_in_a_package_on_sale_is_refused_with_the_reason(
    admin_client, practice
):
    response = admin_client.post(
        reverse("catalog:service_archive", args=[practice.initial.pk]), **HTMX
    )
    assert response.status_code == 409
    assert "Physio Starter Pack" in response.content.decode()
    assert not Service.objects.get(pk=practice.initial.pk).archived

    response = admin_client.post(reverse("catalog:service_archive", args=[practice.massage.pk]))
    assert response.status_code == 302
    assert Service.objects.get(pk=practice.massage.pk).archived


def test_duplicate_category_is_refused_beside_the_name(admin_client, practice):
    existing = practice.initial.category.name
    response = admin_client.post(reverse("catalog:category_add"), {"name": existing.upper()})
    assert response.status_code == 409
    assert "already a category" in field_errors(response, "name")
    assert f'value="{existing.upper()}"' in response.content.decode()


def test_service_popup_sets_the_capacity_of_a_class(admin_client, practice):
    url = reverse("catalog:service_add")
    popup = admin_client.get(url, **HTMX).content.decode()
    assert 'name="capacity"' in popup and "Capacity" in popup
    for bad in ("0", "-1", "1001", "eight"):
        response = admin_client.post(
            url,
            {"name": "Pilates", "duration_minutes": "60", "price": "35", "capacity": bad},
            **HTMX,
        )
        assert response.status_code == 400, bad
        assert field_errors(response, "capacity"), bad
    assert not Service.objects.filter(name="Pilates").exists()
    admin_client.post(
        url, {"name": "Pilates", "duration_minutes": "60", "price": "35", "capacity": "8"}, **HTMX
    )
    pilates = Service.objects.get(name="Pilates")
    assert pilates.capacity == 8
    edit = reverse("catalog:service_edit", args=[pilates.pk])
    assert 'value="8"' in admin_client.get(edit, **HTMX).content.decode()
    admin_client.post(
        edit, {"name": "Pilates", "duration_minutes": "60", "price": "35", "capacity": "6"}, **HTMX
    )
    pilates.refresh_from_db()
    assert pilates.capacity == 6
